#!/usr/bin/env bash
# Stage "series gates" of make check.  Each writes KTAP to $RES/<gate>.tap.
#   harness/gates.sh checkpatch   checkpatch.pl --strict on every patch file
#   harness/gates.sh fixes        every Fixes: tag is a verified upstream commit
#   harness/gates.sh order        topic series well formed; [fixes] first, each
#                                 fix applies to the base in order and names
#                                 its origin or says why not
#   harness/gates.sh roundtrip    make mbox, git send-email to an SMTP server
#                                 on 127.0.0.1, git am of what it received
#                                 gives HEAD's tree and messages
#   harness/gates.sh walk         build every commit base..HEAD on its own
#                                 (bisectability) and compare sparse (C=2)
#                                 warnings of the touched files, base vs HEAD;
#                                 a commit that changes only selftests,
#                                 Documentation/ or MAINTAINERS compiles the
#                                 selftest C files it touches instead
# The walk checks commits out in the work tree, which tree.sh has verified
# holds no uncommitted work, and returns to the branch at the end.
STAGE=gates
. "$(dirname "$0")/lib.sh"
need_tree
mkdir -p "$RES"

tap_begin() { exec 3>"$RES/$1.tap"; echo "KTAP version 1" >&3; echo "1..$2" >&3; T=0; }
tap() { # tap ok|not-ok NAME [detail file]
	T=$((T + 1))
	if [ "$1" = ok ]; then
		echo "ok $T $2" >&3
	else
		[ -n "${3:-}" ] && grep -v -e '^NOTE:' -e '^ *them to the maint' -e '^ *mechanically conv' "$3" |
			sed 's/^/# /' | head -60 >&3 || true
		echo "not ok $T $2" >&3
	fi
}

# Files a patch creates that no MAINTAINERS section other than THE REST
# covers in the patched tree.
unmaintained() {
	local f secs
	g apply --summary "$1" | sed -n 's/^ create mode [0-7]* //p' | while read -r f; do
		[ -f "$SRC/$f" ] || continue
		secs=$(cd "$SRC" && perl scripts/get_maintainer.pl --nogit --nogit-fallback \
			--norolestats --sections -f "$f" 2>/dev/null |
			grep -v -e '^[A-Z]:' -e '^$' -e '^THE REST$' || true)
		[ -n "$secs" ] || echo "NOT MAINTAINED: $f has no MAINTAINERS section"
	done
}

checkpatch() {
	mapfile -t ps < <(series_list)
	tap_begin checkpatch ${#ps[@]}
	local p log=$B/.checkpatch.log
	for p in "${ps[@]}"; do
		# The base is a tarball without upstream history, so checkpatch
		# cannot look up the commit a Fixes: tag names; that one check
		# is left out.  So is "Cc: stable without Fixes:": a fix whose
		# origin has no verified id says why in its message, which the
		# order gate checks for every patch of [fixes].
		(cd "$SRC" && scripts/checkpatch.pl --strict --showfile --color=never \
			--ignore UNKNOWN_COMMIT_ID,FILE_PATH_CHANGES,MISSING_FIXES_TAG \
			"$PATCHES/$p") >"$log" 2>&1 || true
		# checkpatch asks for a MAINTAINERS update whenever a file is
		# added; what matters is that a section covers it.
		unmaintained "$PATCHES/$p" >>"$log"
		if grep -q '^total: 0 errors, 0 warnings, 0 checks' "$log" &&
			! grep -q '^NOT MAINTAINED' "$log"; then
			tap ok "$p"
		else
			say "checkpatch: $p: $(grep '^total:' "$log")"
			tap not-ok "$p" "$log"
		fi
	done
	say "checkpatch: ${#ps[@]} patches checked"
}


# sparse warnings of the given .c files, positions stripped, sorted
sparse_of() {
	local out=$1 f
	shift
	: >"$out"
	for f in "$@"; do
		[ -f "$SRC/$f" ] || continue
		kmake -s C=2 "${f%.c}.o" 2>&1 |
			grep -E '(warning|error):' |
			sed -E "s|^$SRC/||; s|^([^:]+):[0-9]+:[0-9]+:|\1:|" >>"$out" || true
	done
	sort -o "$out" "$out"
}

# The walk builds in an objdir of its own with the production part of the
# test config (base + hmm, no debug options: faster, and the test kernel's
# objects stay untouched).  Results are kept per commit id and config
# (commit ids are the same on every machine, see base.sh): a commit that
# built once is not built again, so a warm run with no change checks
# nothing out.
# selftests_build FILES: compile the selftest C files among FILES (one
# path per line) in the work tree as checked out, warnings fatal.
selftests_build() {
	local f
	for f in $(grep -E '^tools/testing/selftests/.*\.c$' <<<"$1"); do
		echo "gcc -c $f"
		gcc -c -O2 -Wall -Werror -I"$SRC" -I"$SRC/tools/include/uapi" \
			-I"$SRC/tools/testing/selftests" -o /dev/null "$SRC/$f" || return 1
	done
}

walk() {
	[ -z "$(g status --porcelain --untracked-files=normal)" ] ||
		die "uncommitted changes in $SRC; the walk needs a clean tree"
	local branch commits c i=0 log=$B/.walk.log cache=$B/walk-cache stamp name
	branch=$(g symbolic-ref -q --short HEAD) || die "work tree is not on a branch"
	OBJ=$B/obj/walk
	configure "$OBJ" -- "$TOP/configs/base.config" "$TOP/configs/hmm.config" "$TOP/configs/distro.config"
	stamp=$(cat "$OBJ/.frag-stamp")
	mkdir -p "$cache"
	mapfile -t commits < <(g rev-list --reverse base..HEAD)
	local skey=$cache/sparse.$(g rev-parse base).$(g rev-parse HEAD).$stamp
	tap_begin bisect ${#commits[@]}
	trap 'g checkout -q "$branch"' EXIT
	for c in "${commits[@]}"; do
		i=$((i + 1))
		name=$(g log -1 --format='%s' "$c")
		if [ -f "$cache/$c.$stamp" ]; then
			tap ok "$i $name"
			continue
		fi
		g checkout -q --detach "$c"
		files=$(g diff --name-only "$c^" "$c")
		if ! grep -qvE '^(tools/testing/selftests/|Documentation/|MAINTAINERS$)' <<<"$files"; then
			# Nothing kbuild reads changed: the kernel is the one
			# the walk built last.  What such a commit can break is
			# its selftests: compile each C file it touches.
			say "[$i/${#commits[@]}] compiling the selftests of $name"
			if selftests_build "$files" >"$log" 2>&1; then
				tap ok "$i $name"
				touch "$cache/$c.$stamp"
			else
				tail -40 "$log" >"$log.tail"
				tap not-ok "$i $name" "$log.tail"
			fi
			continue
		fi
		say "[$i/${#commits[@]}] building $name"
		# An older commit may lack options of the fragments: take
		# Kconfig's defaults for them, without prompting.
		if kmake -s olddefconfig >"$log" 2>&1 &&
			kmake -s bzImage modules >>"$log" 2>&1; then
			tap ok "$i $name"
			touch "$cache/$c.$stamp"
		else
			tail -40 "$log" >"$log.tail"
			tap not-ok "$i $name" "$log.tail"
		fi
	done
	g checkout -q "$branch"
	exec 3>&-
	# touched C files that this config compiles (an object at HEAD)
	[ -f "$OBJ/vmlinux" ] || kmake -s olddefconfig bzImage modules >"$log" 2>&1 || true
	mapfile -t files < <(g diff --name-only base HEAD -- '*.c' |
		while read -r f; do [ -f "$OBJ/${f%.c}.o" ] && echo "$f"; done)
	tap_begin sparse ${#files[@]}
	if [ ${#files[@]} -gt 0 ] && [ ! -f "$skey.base" ]; then
		say "sparse: ${files[*]}"
		sparse_of "$skey.head.tmp" "${files[@]}"
		g checkout -q --detach base
		kmake -s olddefconfig >/dev/null 2>&1 || true
		sparse_of "$skey.base.tmp" "${files[@]}"
		g checkout -q "$branch"
		mv "$skey.head.tmp" "$skey.head"
		mv "$skey.base.tmp" "$skey.base"
	fi
	trap - EXIT
	local f
	for f in "${files[@]}"; do
		grep -F "$f:" "$skey.head" | grep -vxFf <(grep -F "$f:" "$skey.base") >"$B/.sparse.new" || true
		if [ -s "$B/.sparse.new" ]; then
			tap not-ok "$f" "$B/.sparse.new"
		else
			tap ok "$f"
		fi
	done
}

# The export checker the series adds, on the patched tree, and its own test
# (a planted unused export must be caught).
exports() {
	local chk=$SRC/scripts/check-zone-device-exports.py log=$B/.exports.log
	tap_begin exports 2
	if [ ! -f "$chk" ]; then
		echo "$chk: missing" >"$log"
		tap not-ok "in-tree users of every export" "$log"
		tap not-ok "planted unused export caught" "$log"
		return 0
	fi
	if python3 "$chk" --tree "$SRC" >"$log" 2>&1; then
		tap ok "in-tree users of every export"
	else
		tap not-ok "in-tree users of every export" "$log"
	fi
	if python3 "$chk" --tree "$SRC" --selftest >"$log" 2>&1; then
		tap ok "planted unused export caught"
	else
		tap not-ok "planted unused export caught" "$log"
	fi
	say "exports: $(grep -c . "$RES/exports.tap") lines"
}

# Every Fixes: tag names a CONFIRMED commit of harness/upstream-commits.tsv
# (a copy of the project's list of verified upstream ids and subjects) with
# its subject exactly as listed; fixes-selftest proves the check catches a
# wrong subject, an unlisted or unconfirmed id and a malformed tag.
fixes() {
	local list=$TOP/harness/upstream-commits.tsv p
	local -a files=()
	for p in $(series_list); do files+=("$PATCHES/$p"); done
	python3 "$TOP/harness/fixes.py" --list "$list" "${files[@]}" >"$RES/fixes.tap" ||
		say "fixes: a Fixes: tag is not in $list (see $RES/fixes.tap)"
	python3 "$TOP/harness/fixes.py" --list "$list" --selftest >"$RES/fixes-selftest.tap" ||
		say "fixes: the selftest failed"
}

# patches/series in merge order: see harness/topics.py.
order() {
	local -a a=(--series "$SERIES" --patches "$PATCHES" --repo "$SRC")
	python3 "$TOP/harness/topics.py" order "${a[@]}" >"$RES/order.tap" ||
		say "order: the topic series are not in merge order (see $RES/order.tap)"
	python3 "$TOP/harness/topics.py" order "${a[@]}" --selftest >"$RES/order-selftest.tap" ||
		say "order: the selftest failed"
}

# The maintainers' round trip: see harness/roundtrip.py.
roundtrip() {
	local dir=$B/.roundtrip-mbox
	if ! MBOX_DIR=$dir "$TOP/harness/mbox.sh" >"$B/.roundtrip.log" 2>&1; then
		{ echo "KTAP version 1"; echo "1..1"; sed 's/^/# /' "$B/.roundtrip.log"; echo "not ok 1 make mbox"; } >"$RES/roundtrip.tap"
		say "roundtrip: make mbox failed"
		return 0
	fi
	/usr/bin/python3 "$TOP/harness/roundtrip.py" --repo "$SRC" --mbox-dir "$dir" \
		--series "$SERIES" --from "$IDENT_NAME <$IDENT_EMAIL>" >"$RES/roundtrip.tap" ||
		say "roundtrip: the mails did not come back as the series (see $RES/roundtrip.tap)"
	rm -rf "$dir"
}

# A non-GPL module using the GPL-only helpers must fail at modpost; the same
# module under GPL must build.  Needs the built test kernel.
modpost() {
	KBUILD_LOCK=$B/.kbuild.lock "$TOP/tests/gpl-modpost/run.sh" "$OBJ" \
		CC="ccache gcc" HOSTCC="ccache gcc" >"$RES/gpl-modpost.tap" || true
	say "gpl-modpost: $(grep -c '^ok' "$RES/gpl-modpost.tap") of 2 ok"
}

case ${1:-} in
checkpatch) checkpatch ;;
walk) walk ;;
exports) exports ;;
modpost) modpost ;;
fixes) fixes ;;
order) order ;;
roundtrip) roundtrip ;;
*) die "usage: $0 checkpatch|walk|exports|modpost|fixes|order|roundtrip" ;;
esac
