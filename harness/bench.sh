#!/usr/bin/env bash
# "make bench": benchmark the test_hmm paths (migrate to device memory, CPU
# fault back, mirror read, snapshot, device-exclusive) on the base kernel
# (tag "base", no series) and on the patched kernel (build/linux HEAD), with
# the same production config (base + hmm + bench fragments) and the same
# bench/hmm-bench binary.  Prints one table and writes CSV and a PNG plot
# under build/bench/.  Not a pass/fail gate: it fails only when it cannot
# produce figures (build error, guest did not boot).
#   harness/bench.sh [all|build|run|report]       default: all
# Environment:
#   BENCH_REPS      rounds (default 9): one sample of each case per round,
#                   hmm-bench -k (5) below 1 MiB; median, quartiles, min, max
#   BENCH_ALT       alternating single-guest boots of each kernel after that
#                   (default 8; 0: none), over BENCH_ALT_SIZES (default
#                   4K,16K,64K,256K,2M), BENCH_ALT_TIMEOUT s each (default 120)
#   BENCH_SIZES     hmm-bench -s list (default: its own, 4K..256M)
#   BENCH_PATCHED   revision of build/linux to benchmark (default HEAD)
#   BENCH_TIMEOUT   seconds per guest (default 780)
#   QEMU_ACCEL      kvm|tcg: as for boot.sh; both guests use the same one
#   BENCH_SERIAL    set: boot the base guest, then the patched one (default:
#                   both at once)
#   BENCH_EXTRA     more kernel command line words for both guests, e.g.
#                   hmm_params=evict_on_close=0 (test_hmm parameters; the
#                   base's test_hmm ignores the ones it does not have)
STAGE=bench
. "$(dirname "$0")/lib.sh"
need_tree

# Both kernels build from worktrees of their own, detached at the commit
# benchmarked: the work tree may be checked out elsewhere meanwhile (the
# bisect walk of make check does that) without mixing sources into a build.
BASE_SRC=$B/bench-base
PATCHED_SRC=$B/bench-patched
OBJ_BASE=$B/obj/bench-base
OBJ_PATCHED=$B/obj/bench-patched
OUT=$B/bench
FRAGS=("$TOP/configs/base.config" "$TOP/configs/hmm.config" "$TOP/configs/bench.config")
REPS=${BENCH_REPS:-9}
ALT=${BENCH_ALT:-8}
ALT_SIZES=${BENCH_ALT_SIZES:-4K,16K,64K,256K,2M}
TIMEOUT=${BENCH_TIMEOUT:-780}
PATCHED_REV=${BENCH_PATCHED:-HEAD}

# worktree DIR COMMIT: a detached worktree of the work tree's repository at
# COMMIT, made on first use; only ever moved by this script.
worktree() {
	local dir=$1 want=$2
	if [ ! -e "$dir/.git" ]; then
		say "creating worktree $dir"
		g worktree add -q --detach "$dir" "$want"
	fi
	[ -z "$(git -C "$dir" status --porcelain --untracked-files=no)" ] ||
		die "$dir has local changes; remove it (git -C $SRC worktree remove --force $dir) and rerun"
	[ "$(git -C "$dir" rev-parse HEAD)" = "$want" ] || git -C "$dir" checkout -q --detach "$want"
}

# kbuild SRC OBJ: configure (allnoconfig + FRAGS) and build like build.sh
# does; every make holds the build lock.
kbuild() {
	local src=$1 obj=$2
	CONF_SRC=$src CONF_LENIENT=1 configure "$obj" -- "${FRAGS[@]}"
	local mk=(flock "$B/.kbuild.lock" make -C "$src" O="$obj" -j"$JOBS"
		CC="ccache gcc" HOSTCC="ccache gcc" -s)
	say "building $obj ($JOBS jobs; waits for the build lock)"
	"${mk[@]}" bzImage modules
	rm -rf "$obj/modroot"
	"${mk[@]}" INSTALL_MOD_PATH="$obj/modroot" INSTALL_MOD_STRIP=1 modules_install >/dev/null
	"${mk[@]}" INSTALL_HDR_PATH="$obj/usr" headers_install >/dev/null
	say "kernel $(cat "$obj/include/config/kernel.release") ready in $obj"
}

build() {
	local patched
	patched=$(g rev-parse --verify "$PATCHED_REV^{commit}") || die "no revision $PATCHED_REV in $SRC"
	if [ "$PATCHED_REV" = HEAD ]; then
		g symbolic-ref -q HEAD >/dev/null ||
			say "note: $SRC is detached at $(g log -1 --format='%h %s' HEAD) (a bisect walk?); benchmarking that"
		[ -z "$(g status --porcelain --untracked-files=no)" ] ||
			say "note: uncommitted changes in $SRC are not benchmarked, only HEAD"
	fi
	worktree "$BASE_SRC" "$(g rev-parse 'base^{commit}')"
	worktree "$PATCHED_SRC" "$patched"
	kbuild "$BASE_SRC" "$OBJ_BASE"
	kbuild "$PATCHED_SRC" "$OBJ_PATCHED"
}

# gnuplot for the plot, the one package make bench needs beyond make's own.
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
	cmp -s "$BASE_SRC/lib/test_hmm_uapi.h" "$PATCHED_SRC/lib/test_hmm_uapi.h" ||
		say "note: lib/test_hmm_uapi.h differs between base and patched; hmm-bench uses the base's"
	gcc -static -O2 -Wall -isystem "$OBJ_BASE/usr/include" -I"$BASE_SRC" \
		-o "$OUT/hmm-bench" "$TOP/bench/hmm-bench.c"
}

# pack OBJ: the guest image for the kernel in OBJ, where boot.sh looks for
# it: busybox, harness/guest/init, the kernel's modules and hmm-bench.
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
	local o
	for o in "$OBJ_BASE" "$OBJ_PATCHED"; do
		[ -f "$o/arch/x86/boot/bzImage" ] || die "no kernel in $o; run '$0 build'"
	done
	bench_binary
	pack "$OBJ_BASE"
	pack "$OBJ_PATCHED"
	mkdir -p "$RES"
	rm -f "$RES"/bench-probe.* "$RES"/bench-base.* "$RES"/bench-patched.*
	if [ -z "${QEMU_ACCEL:-}" ]; then
		OBJ=$OBJ_BASE BOOT_TIMEOUT=180 "$TOP/harness/boot.sh" bench-probe probe
		grep -q GUEST-DONE "$RES/bench-probe.out" 2>/dev/null ||
			die "the base kernel did not boot; see $RES/bench-probe.console"
		QEMU_ACCEL=$(sed -n 's/.*accel=\([a-z]*\).*/\1/p' "$RES/bench-probe.meta")
	fi
	export QEMU_ACCEL
	# Both guests without ERMS and FSRM: with them the kernel copies to
	# and from user space with "rep movsb", which TCG runs a byte at a
	# time (2 MiB copy_to_user() in 3.5 ms, 0.6 ms without): an emulator
	# artifact, which was half of the patched kernel's 2 MiB THP migrate
	# time, test_hmm's copy of the data back to the caller.  The memcpy
	# ceiling leaves "rep movsb" out for the same reason (hmm-bench.c).
	if [ "$QEMU_ACCEL" = tcg ]; then
		export GUEST_CPU=${GUEST_CPU:-max,erms=off,fsrm=off}
	fi
	# Guest memory touched before the guest starts: a 2 MiB block that the
	# guest had not written yet cost 4.5-6.8 ms on its first write (a host
	# page fault) and about 1 ms after that, and THP paths, which take
	# fresh 2 MiB blocks, drew that cost at random (harness/lib.sh).
	export GUEST_PREALLOC=${GUEST_PREALLOC:-on}
	# Under TCG the clocksource watchdog finds the TSC skewed against
	# jiffies (timer ticks arrive late) and may drop it, though QEMU
	# derives the guest TSC from the host clock: keep it.
	local args=(tsc=reliable bench_reps="$REPS") pids=()
	[ -n "${BENCH_SIZES:-}" ] && args+=(bench_sizes="$BENCH_SIZES")
	args+=(${BENCH_EXTRA:-})
	local name obj
	for name in bench-base bench-patched; do
		obj=$OBJ_BASE
		[ $name = bench-patched ] && obj=$OBJ_PATCHED
		OBJ=$obj BOOT_TIMEOUT=$TIMEOUT "$TOP/harness/boot.sh" $name bench "${args[@]}" &
		pids+=($!)
		[ -z "${BENCH_SERIAL:-}" ] || wait $!
	done
	wait "${pids[@]}"
	for o in bench-base bench-patched; do
		cp "$RES/$o.out" "$RES/$o.console" "$RES/$o.meta" "$OUT/"
	done
	alternate
}

# The small sizes and 2 MiB again, one guest at a time: BENCH_ALT boots of
# each kernel, in turn (ABBA), each a short hmm-bench run.  Two guests at
# once share the host's two cores unevenly, and calls of tens of us show
# it; a guest boots and runs this in a few seconds, so that alternating
# them follows the host's drift instead.  report.py prints the median over
# the boots as a second table.
alternate() {
	local i k name obj
	rm -rf "$OUT/alt"
	mkdir -p "$OUT/alt"
	[ "$ALT" -gt 0 ] || return 0
	say "alternating boots: $ALT of each kernel, sizes $ALT_SIZES"
	for ((i = 1; i <= ALT; i++)); do
		for k in 0 1; do
			name=base
			[ $((k ^ (i & 1))) = 1 ] || name=patched
			obj=$OBJ_BASE
			[ $name = patched ] && obj=$OBJ_PATCHED
			rm -f "$RES/bench-alt-$name.out"
			# shellcheck disable=SC2086 # BENCH_EXTRA is a list of words
			OBJ=$obj BOOT_TIMEOUT=${BENCH_ALT_TIMEOUT:-120} "$TOP/harness/boot.sh" bench-alt-$name bench \
				tsc=reliable bench_reps=3 bench_sizes="$ALT_SIZES" ${BENCH_EXTRA:-} >/dev/null || true
			# boot.sh returns 0 for a guest that crashed or timed out
			if grep -q '^### END hmm-bench' "$RES/bench-alt-$name.out" 2>/dev/null; then
				cp "$RES/bench-alt-$name.out" "$OUT/alt/$name-$i.out"
			else
				say "bench-alt-$name: boot $i did not finish hmm-bench; left out"
			fi
		done
	done
}

report() {
	local p title
	p=$(git -C "$PATCHED_SRC" rev-parse HEAD)
	title="$(date -u '+%Y-%m-%d %H:%M UTC'); base: tag base = $PKG $(base_version); patched: $(g log -1 --format='%h' "$p") = base + $(g rev-list --count "base..$p") commits ($PATCHED_REV of build/linux)"
	# The configs differ by the options only one tree has, if any.
	local only
	only=$(diff <(grep '^CONFIG_' "$OBJ_BASE/.config" | sort) <(grep '^CONFIG_' "$OBJ_PATCHED/.config" | sort) |
		sed -n 's/^< /base only: /p; s/^> /patched only: /p' | tr '\n' ' ' || true)
	/usr/bin/python3 "$TOP/bench/report.py" --results "$OUT" --out "$OUT" --title "$title" \
		--note "kernel configs: ${only:-identical}" --alt "$OUT/alt" | tee "$OUT/table.txt"
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
