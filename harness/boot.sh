#!/usr/bin/env bash
# Stage "boot/run": boot the test kernel and initramfs under QEMU and collect
# the console log and the results channel.
#   harness/boot.sh NAME PLAN [extra kernel args]
# Writes $RES/NAME.console, $RES/NAME.out and $RES/NAME.meta, and after the
# one retry (early_flake() below) $RES/NAME.attempt1.{console,out} of the
# first attempt.  QEMU_ACCEL=kvm|tcg overrides the probe; BOOT_TIMEOUT
# (seconds) bounds the run; QEMU names the emulator (harness/boot-selftest.sh
# runs a fake one).
STAGE=boot
. "$(dirname "$0")/lib.sh"

name=$1 plan=$2
shift 2
kernel=$OBJ/arch/x86/boot/bzImage
initrd=$OBJ/initramfs.cpio.gz
[ -f "$kernel" ] && [ -f "$initrd" ] || die "no kernel or initramfs in $OBJ"
mkdir -p "$RES"

# Guest RAM must reach past 4.5 GiB: the device-coherent test_hmm variant
# uses the 512 MiB that memmap= reserves at 4 GiB.
CMDLINE="console=ttyS0 panic=-1 oops=panic panic_on_warn=1 memmap=512M\$0x100000000 hugepages=64 plan=$plan $*"

qemu() { # qemu ACCEL TIMEOUT CONSOLE OUT CMDLINE; in a subshell so a crash is not reported twice
	(timeout --foreground -k 5 "$2" "${QEMU:-qemu-system-x86_64}" -machine pc,accel="$1" \
		"${GUEST_MACHINE[@]}" -nographic -no-reboot -monitor none \
		-kernel "$kernel" -initrd "$initrd" -append "$5" \
		-serial "file:$3" -serial "file:$4" </dev/null >/dev/null 2>&1) 2>/dev/null
}

accel=${QEMU_ACCEL:-}
if [ -z "$accel" ]; then
	# A KVM guest hangs at boot on some machines: try it briefly, else TCG.
	accel=tcg
	if [ -w /dev/kvm ]; then
		p=$B/.kvm-probe
		qemu kvm 20 "$p.console" "$p.out" "console=ttyS0 panic=-1 plan=probe" 2>/dev/null || true
		grep -q GUEST-DONE "$p.out" 2>/dev/null && accel=kvm
		rm -f "$p.console" "$p.out"
	fi
fi

# early_flake: the boot died before init started (no GUEST-START on the
# results channel) with the one known early-boot flake of the 5-level test
# kernel (Makefile): KASAN's wild-memory-access report, identify_cpu() in
# its trace.  Nothing of the plan ran, so a second boot loses nothing.
early_flake() {
	! grep -q GUEST-START "$RES/$name.out" 2>/dev/null &&
		awk '/BUG: KASAN: wild-memory-access/ { r = 1 }
		     r && /identify_cpu/ { f = 1 }
		     r && /^=+\r?$/ { r = 0 }
		     END { exit !f }' "$RES/$name.console" 2>/dev/null
}

timeout=${BOOT_TIMEOUT:-1500}
rm -f "$RES/$name".attempt1.*
attempt=1 retried=
while :; do
	say "$name: booting (accel=$accel, plan=$plan, timeout ${timeout}s)"
	start=$(date +%s)
	rc=0
	qemu "$accel" "$timeout" "$RES/$name.console" "$RES/$name.out" "$CMDLINE" || rc=$?
	secs=$(($(date +%s) - start))
	say "$name: guest ran ${secs}s (accel=$accel, qemu exit $rc)"
	# One retry, for that flake only; its logs are kept and report.py
	# names it.  Any other death, or the flake twice, fails the boot.
	if [ "$attempt" != 1 ] || ! early_flake; then
		break
	fi
	mv "$RES/$name.console" "$RES/$name.attempt1.console"
	mv "$RES/$name.out" "$RES/$name.attempt1.out" 2>/dev/null || : >"$RES/$name.attempt1.out"
	retried=" retried=early-kasan-identify_cpu first_seconds=$secs first_qemu_rc=$rc"
	say "$name: died before init with the known identify_cpu() KASAN flake; booting once more"
	attempt=2
done
echo "accel=$accel seconds=$secs qemu_rc=$rc cpu=${GUEST_CPU:-max} prealloc=${GUEST_PREALLOC:-off}$retried" >"$RES/$name.meta"
