#!/usr/bin/env bash
# make run [CMD='...']: the developer loop of "vng -r" upstream.  Boots the
# test kernel with the selftests (/tests, on PATH) and the built modules
# (/lib/modules/*.ko) and runs CMD in the guest, its output on stdout and
# its exit status as this command's; without CMD, a shell on the console.
# In CMD, $HMM_LOAD is the insmod line that loads test_hmm with both
# device variants.  Builds the kernel or the guest image first if they are
# missing or older than their sources.  Kernel messages: build/results/run.console.
#   make run CMD='$HMM_LOAD && hmm-tests -t migrate_two_opens'
STAGE=run
. "$(dirname "$0")/lib.sh"
need_tree

kernel=$OBJ/arch/x86/boot/bzImage
initrd=$OBJ/initramfs.cpio.gz
[ -f "$kernel" ] || "$TOP/harness/build.sh"
if [ ! -f "$initrd" ] || [ "$TOP/harness/guest/init" -nt "$initrd" ] ||
	[ "$kernel" -nt "$initrd" ]; then
	"$TOP/harness/initramfs.sh"
fi
mkdir -p "$RES"

accel=${QEMU_ACCEL:-tcg}
base="console=ttyS0 panic=-1 oops=panic panic_on_warn=1 memmap=512M\$0x100000000 hugepages=64"
qemu=(qemu-system-x86_64 -machine pc,accel="$accel" "${GUEST_MACHINE[@]}"
	-nographic -no-reboot -kernel "$kernel" -initrd "$initrd")

if [ -z "${CMD:-}" ]; then
	say "shell on the console (accel=$accel); 'exit' powers the guest off"
	exec "${qemu[@]}" -monitor none -serial mon:stdio -serial "file:$RES/run.out" \
		-append "$base plan=shell"
fi

cmd64=$(printf '%s' "$CMD" | base64 -w0)
say "running in the guest (accel=$accel): $CMD"
out=$RES/run.out
"${qemu[@]}" -monitor none -serial "file:$RES/run.console" -serial "file:$out" \
	-append "$base plan=cmd cmd64=$cmd64" </dev/null >/dev/null 2>&1 || true
sed -n '/^### BEGIN cmd/,/^### END cmd/{/^### /!p}' "$out" | tr -d '\r'
rc=$(sed -n 's/^### END cmd rc=\([0-9]*\).*/\1/p' "$out" | tr -d '\r')
if [ -z "$rc" ]; then
	say "the guest did not finish the command; see $RES/run.console"
	exit 1
fi
exit "$rc"
