#!/usr/bin/env bash
# "make bench": benchmark the test_hmm paths (migrate to device memory, CPU
# fault back, mirror read, snapshot, device-exclusive) on the base kernel
# (tag "base", no series) and on the patched kernel (build/linux HEAD), with
# the same production config (base + hmm + bench fragments) and the same
# bench/hmm-bench binary, one QEMU boot each.  Prints one table and writes
# CSV and a PNG plot under build/bench/.  Not a pass/fail gate: it fails only
# when it cannot produce figures (build error, guest died).
#   harness/bench.sh [all|build|run|report]       default: all
# Environment:
#   BENCH_REPS      repetitions per case (default 5; median, min, max)
#   BENCH_SIZES     hmm-bench -s list (default: its own, 4K..256M)
#   BENCH_TIMEOUT   seconds per guest boot (default 780)
#   QEMU_ACCEL      kvm|tcg: as for boot.sh; both boots use the same one
STAGE=bench
. "$(dirname "$0")/lib.sh"
need_tree

BASE_SRC=$B/bench-base			# git worktree of tag "base"
OBJ_BASE=$B/obj/bench-base
OBJ_PATCHED=$B/obj/bench-patched
OUT=$B/bench
FRAGS=("$TOP/configs/base.config" "$TOP/configs/hmm.config" "$TOP/configs/bench.config")
REPS=${BENCH_REPS:-5}
TIMEOUT=${BENCH_TIMEOUT:-780}

# A detached worktree of tag "base", made once; never the work tree itself.
base_tree() {
	local want
	want=$(g rev-parse 'base^{commit}')
	if [ ! -e "$BASE_SRC/.git" ]; then
		say "creating base worktree $BASE_SRC"
		g worktree add -q --detach "$BASE_SRC" base
	fi
	[ "$(git -C "$BASE_SRC" rev-parse HEAD)" = "$want" ] ||
		die "$BASE_SRC is not at tag base; remove it (git -C $SRC worktree remove $BASE_SRC) and rerun"
	[ -z "$(git -C "$BASE_SRC" status --porcelain --untracked-files=no)" ] ||
		die "$BASE_SRC has local changes; remove it (git -C $SRC worktree remove --force $BASE_SRC) and rerun"
}

# Lines of the fragments that the .config in $1 does not honour.
mismatches() {
	local line sym
	while IFS= read -r line; do
		case $line in
		CONFIG_*=*) grep -qxF -- "$line" "$1/.config" || echo "not set as asked: $line" ;;
		"# CONFIG_"*" is not set")
			sym=${line#\# }; sym=${sym%% *}
			! grep -q "^$sym=" "$1/.config" || echo "not unset as asked: $sym" ;;
		esac
	done < <(cat "${FRAGS[@]}")
}

# kbuild SRC OBJ: configure (allnoconfig + FRAGS) and build like build.sh,
# every make under the build lock.
kbuild() {
	local src=$1 obj=$2 stamp bad
	mkdir -p "$obj"
	stamp=$(cat "${FRAGS[@]}" | sha1sum | cut -c1-40)
	if [ ! -f "$obj/.config" ] || [ "$(cat "$obj/.frag-stamp" 2>/dev/null)" != "$stamp" ] ||
		[ -n "$(mismatches "$obj")" ]; then
		say "configuring $obj from ${FRAGS[*]##*/}"
		(cd "$src" && scripts/kconfig/merge_config.sh -n -O "$obj" "${FRAGS[@]}" >"$obj/.merge.log" 2>&1) ||
			{ cat "$obj/.merge.log"; die "merge_config failed"; }
		bad=$(mismatches "$obj")
		[ -z "$bad" ] || { printf '%s\n' "$bad"; die "kernel config does not match the fragments"; }
		echo "$stamp" >"$obj/.frag-stamp"
	fi
	local mk=(flock "$B/.kbuild.lock" make -C "$src" O="$obj" -j"$JOBS" CC="ccache gcc" HOSTCC="ccache gcc" -s)
	say "building $obj from $src ($JOBS jobs, waits for the build lock)"
	"${mk[@]}" bzImage modules
	rm -rf "$obj/modroot"
	"${mk[@]}" INSTALL_MOD_PATH="$obj/modroot" INSTALL_MOD_STRIP=1 modules_install >/dev/null
	"${mk[@]}" INSTALL_HDR_PATH="$obj/usr" headers_install >/dev/null
	say "kernel $(cat "$obj/include/config/kernel.release") ready in $obj"
}

build() {
	base_tree
	kbuild "$BASE_SRC" "$OBJ_BASE"
	kbuild "$SRC" "$OBJ_PATCHED"
}

# gnuplot for the plot: the only package make bench needs beyond make's.
deps() {
	command -v gnuplot >/dev/null && return 0
	[ "$(id -u)" -eq 0 ] || { say "no gnuplot and not root: no plot"; return 0; }
	say "installing gnuplot-nox (for the plot)"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y --no-install-recommends gnuplot-nox >/dev/null ||
		{ apt-get update >/dev/null && apt-get install -y --no-install-recommends gnuplot-nox >/dev/null; } ||
		say "could not install gnuplot-nox: no plot"
}

# One static binary for both kernels, built against the base's headers (the
# test_hmm uapi is the same in both trees).
bench_binary() {
	mkdir -p "$OUT"
	cmp -s "$BASE_SRC/lib/test_hmm_uapi.h" "$SRC/lib/test_hmm_uapi.h" ||
		say "note: lib/test_hmm_uapi.h differs between base and patched; hmm-bench uses the base's"
	gcc -static -O2 -Wall -isystem "$OBJ_BASE/usr/include" -I"$BASE_SRC" \
		-o "$OUT/hmm-bench" "$TOP/bench/hmm-bench.c"
}

# pack OBJ: the guest image for the kernel in OBJ (where boot.sh looks for
# it): busybox, harness/guest/init, the kernel's modules and hmm-bench.
pack() {
	local obj=$1 root=$1/bench-initramfs
	rm -rf "$root"
	mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,tests,lib/modules}
	cp /bin/busybox "$root/bin/busybox"
	install -m 0755 "$TOP/harness/guest/init" "$root/init"
	find "$obj/modroot/lib/modules" -name '*.ko' -exec cp {} "$root/lib/modules/" \;
	install -m 0755 "$OUT/hmm-bench" "$root/tests/hmm-bench"
	(cd "$root" && find . | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0 | gzip -1) >"$obj/initramfs.cpio.gz"
}

# Boot both kernels at once, on the same accelerator: the two guests share
# whatever else the host runs, so that a change of host load shifts both
# figures alike.  boot.sh picks the accelerator (KVM probe, else TCG); a
# short boot finds it out once, unless QEMU_ACCEL is set.
run() {
	grep -q 'bench)' "$TOP/harness/guest/init" ||
		die "harness/guest/init has no 'bench' plan step"
	for o in "$OBJ_BASE" "$OBJ_PATCHED"; do
		[ -f "$o/arch/x86/boot/bzImage" ] || die "no kernel in $o; run '$0 build'"
	done
	bench_binary
	pack "$OBJ_BASE"
	pack "$OBJ_PATCHED"
	rm -f "$RES"/bench-probe.* "$RES"/bench-base.* "$RES"/bench-patched.*
	if [ -z "${QEMU_ACCEL:-}" ]; then
		OBJ=$OBJ_BASE BOOT_TIMEOUT=180 "$TOP/harness/boot.sh" bench-probe probe
		QEMU_ACCEL=$(sed -n 's/.*accel=\([a-z]*\).*/\1/p' "$RES/bench-probe.meta")
		grep -q GUEST-DONE "$RES/bench-probe.out" 2>/dev/null ||
			die "the base kernel did not boot; see $RES/bench-probe.console"
	fi
	export QEMU_ACCEL
	# Under TCG the clocksource watchdog finds the TSC skewed against
	# jiffies (timer ticks arrive late) and may drop it; QEMU derives the
	# guest TSC from the host clock: keep it.
	local args=(tsc=reliable bench_reps="$REPS") pids=()
	[ -n "${BENCH_SIZES:-}" ] && args+=(bench_sizes="$BENCH_SIZES")
	OBJ=$OBJ_BASE BOOT_TIMEOUT=$TIMEOUT "$TOP/harness/boot.sh" bench-base bench "${args[@]}" &
	pids+=($!)
	OBJ=$OBJ_PATCHED BOOT_TIMEOUT=$TIMEOUT "$TOP/harness/boot.sh" bench-patched bench "${args[@]}" &
	pids+=($!)
	wait "${pids[@]}"
	for n in bench-base bench-patched; do
		cp "$RES/$n.out" "$RES/$n.console" "$RES/$n.meta" "$OUT/"
	done
}

report() {
	local title
	title="$(date -u '+%Y-%m-%d %H:%M UTC'); base: tag base = $PKG $(base_version); patched: build/linux HEAD $(g rev-parse --short HEAD), $(g rev-list --count base..HEAD) commits on base"
	/usr/bin/python3 "$TOP/bench/report.py" --results "$OUT" --out "$OUT" --title "$title" |
		tee "$OUT/table.txt"
}

start=$(date +%s)
case ${1:-all} in
all) deps; build; run; report ;;
build) build ;;
run) deps; run; report ;;
report) deps; report ;;
*) die "usage: $0 [all|build|run|report]" ;;
esac
say "done in $(($(date +%s) - start)) s; results in $OUT"
