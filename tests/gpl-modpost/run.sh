#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Check that modpost enforces the GPL-only exports of the HMM helpers.
#
# Usage: run.sh OBJDIR [MAKE ARGS...]
#
# OBJDIR is a built kernel object directory (vmlinux and Module.symvers
# present, e.g. after "make bzImage modules"). Extra arguments go to
# make, e.g. CC="ccache gcc". If KBUILD_LOCK names a file, the builds
# run under flock on it.
#
# nongpl/ and gpl/ build the same module (hmm_probe_body.c), which
# references hmm_range_fault() and migrate_vma_setup(), with
# MODULE_LICENSE("Proprietary") and MODULE_LICENSE("GPL"). The test
# passes if modpost rejects the first for both GPL-only symbols and the
# second builds. Builds happen in a temporary copy of this directory.
# Output is KTAP; the exit status is 0 only if both cases pass.

set -u

here=$(cd "$(dirname "$0")" && pwd)
symbols="hmm_range_fault migrate_vma_setup"

echo "KTAP version 1"

if [ $# -lt 1 ]; then
	echo "Bail out! usage: $0 OBJDIR [MAKE ARGS...]"
	exit 2
fi
objdir=$(cd "$1" 2>/dev/null && pwd) || {
	echo "Bail out! $1: no such directory"
	exit 2
}
shift
if [ ! -f "$objdir/Module.symvers" ] || [ ! -f "$objdir/vmlinux" ]; then
	echo "Bail out! $objdir has no vmlinux or Module.symvers; build it first"
	exit 2
fi

lock=${KBUILD_LOCK-}

work=$(mktemp -d "${TMPDIR:-/tmp}/gpl-modpost.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp -r "$here/hmm_probe_body.c" "$here/gpl" "$here/nongpl" "$work/"

build() {
	local dir=$1

	shift
	local cmd=(make -C "$objdir" M="$work/$dir" "$@" modules)

	if [ -n "$lock" ]; then
		flock "$lock" "${cmd[@]}"
	else
		"${cmd[@]}"
	fi
}

echo "1..2"
failed=0

# 1: the non-GPL module must fail at modpost, naming every symbol.
build nongpl "$@" >"$work/nongpl.log" 2>&1
rc=$?
ok=1
[ $rc -ne 0 ] || ok=0
for sym in $symbols; do
	pattern="modpost: GPL-incompatible module hmm_probe.ko uses GPL-only symbol '$sym'"
	grep -qF "$pattern" "$work/nongpl.log" || ok=0
done
grep 'ERROR: modpost:' "$work/nongpl.log" | sed 's/^/# /'
if [ $ok -eq 1 ]; then
	echo "ok 1 nongpl: modpost rejects GPL-only $(echo "$symbols" | sed 's/ /, /g')"
else
	sed 's/^/# /' "$work/nongpl.log" | tail -20
	echo "not ok 1 nongpl: modpost rejects GPL-only $(echo "$symbols" | sed 's/ /, /g') (make exit $rc)"
	failed=1
fi

# 2: the GPL module must build.
build gpl "$@" >"$work/gpl.log" 2>&1
rc=$?
if [ $rc -eq 0 ] && [ -f "$work/gpl/hmm_probe.ko" ]; then
	echo "ok 2 gpl: module builds and links against the GPL-only symbols"
else
	sed 's/^/# /' "$work/gpl.log" | tail -20
	echo "not ok 2 gpl: module builds and links against the GPL-only symbols (make exit $rc)"
	failed=1
fi

exit $failed
