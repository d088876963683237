#!/usr/bin/env bash
# Stage "boot-selftest": boot.sh's one retry, with a fake QEMU
# (tests/boot-retry/fake-qemu) in place of the guest.  boot.sh boots a
# second time only when the first boot died before init with the known
# early-boot flake of the 5-level test kernel (Makefile); every other death
# is the verdict.  Writes $RES/boot-selftest.tap.
STAGE=boot-selftest
. "$(dirname "$0")/lib.sh"
mkdir -p "$RES"

fix=$TOP/tests/boot-retry
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/obj/arch/x86/boot"
: >"$tmp/obj/arch/x86/boot/bzImage"
: >"$tmp/obj/initramfs.cpio.gz"
: >"$tmp/known"

# CASE: FAKE_PLAN | boots expected | exit status of report.py (0 = pass) |
# the report's cases that fail (none when it passes)
cases=(
	"flake ok|2|0|"
	"flake flake|2|1|completed no-splat"
	"other ok|1|1|completed no-splat"
	"late ok|1|1|completed no-splat"
	"warnflake ok|2|1|first-attempt"
	"ok|1|0|"
)
exec 3>"$RES/boot-selftest.tap"
echo "KTAP version 1" >&3
echo "1..${#cases[@]}" >&3
i=0 bad=0
for c in "${cases[@]}"; do
	IFS='|' read -r plan boots want fails <<<"$c"
	i=$((i + 1))
	b=$tmp/b$i
	mkdir -p "$b/results"
	# A first attempt's logs left by an earlier run must not survive.
	echo stale >"$b/results/t.attempt1.console"
	why=
	B=$b OBJ=$tmp/obj QEMU=$fix/fake-qemu QEMU_ACCEL=tcg FAKE_PLAN=$plan \
		FAKE_STATE=$b/n "$TOP/harness/boot.sh" t fake >"$b/log" 2>&1 ||
		why="boot.sh exited $?"
	got=$(cat "$b/n" 2>/dev/null || echo 0)
	[ -n "$why" ] || [ "$got" = "$boots" ] || why="booted $got times, expected $boots"
	if [ -z "$why" ] && [ "$boots" = 2 ]; then
		grep -q 'retried=' "$b/results/t.meta" || why="no retry in t.meta"
		f=${plan%% *}
		cmp -s "$fix/$f.console" "$b/results/t.attempt1.console" ||
			why="first attempt's console not kept"
		[ -e "$b/results/t.attempt1.out" ] || why="first attempt's results channel not kept"
		grep -q 'seconds=.* qemu_rc=0 .*first_qemu_rc=0' "$b/results/t.meta" ||
			why="t.meta: $(cat "$b/results/t.meta")"
	fi
	if [ -z "$why" ] && [ "$boots" = 1 ]; then
		! grep -q 'retried=' "$b/results/t.meta" || why="t.meta names a retry"
		[ ! -e "$b/results/t.attempt1.console" ] || why="stale or stray t.attempt1.console"
	fi
	if [ -z "$why" ]; then
		r=0
		python3 "$TOP/harness/report.py" --tree "$SRC" --results "$b/results" \
			--known "$tmp/known" --label t t >"$b/report" 2>&1 || r=$?
		[ "$r" = "$want" ] || why="report.py exited $r, expected $want"
		# The verdict's own failures, exactly those listed, and its summary.
		got=$(sed -n 's/^FAILED  boot:t\///p' "$b/report" | tr '\n' ' ' | sed 's/ $//')
		[ -n "$why" ] || [ "$got" = "$fails" ] || why="report fails [$got], expected [$fails]"
		grep -q '^t: [0-9]* passed, [0-9]* failed, 0 skipped$' "$b/report" ||
			why="${why:-report.py printed no summary}"
		if [ "$boots" = 2 ] && ! grep -q 'first attempt died before init' "$b/report"; then
			why="report.py does not name the retry"
		fi
	fi
	if [ -z "$why" ]; then
		echo "ok $i $plan" >&3
	else
		echo "# $why" >&3
		cat "$b/log" "$b/report" 2>/dev/null | sed 's/^/# /' | tail -20 >&3 || true
		echo "not ok $i $plan" >&3
		bad=1
	fi
done
exit $bad
