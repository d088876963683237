#!/usr/bin/env bash
# Stage "base": unpack Debian's linux-source-6.12 into a git work tree and
# commit it as the tagged base.  The base commit gets fixed dates so that it,
# and every commit applied on it, has the same id on every machine.
STAGE=base
. "$(dirname "$0")/lib.sh"

ver=$(dpkg-query -W -f='${Version}' "$PKG" 2>/dev/null) ||
	die "$PKG is not installed (run harness/deps.sh)"

if [ -d "$SRC/.git" ]; then
	have=$(base_version)
	[ "$have" = "$ver" ] && exit 0
	die "work tree base is $PKG $have but $ver is installed; export your work
  (make export), then remove $SRC to rebase the series on $ver"
fi
[ -e "$SRC" ] && die "$SRC exists but is not a git tree; remove it yourself"

say "unpacking $TARBALL ($ver)"
tmp=$B/.base.tmp
rm -rf "$tmp"
mkdir -p "$tmp"
tar -C "$tmp" -xf "$TARBALL"
[ -d "$tmp/$PKG" ] || die "unexpected layout in $TARBALL"

# Debian's top-level .gitignore ignores every new top-level path ("/*"), so
# new files (a new test, say) would be invisible to git status and to the
# harness's checks for uncommitted work.  Drop that rule from the checked-out
# file only, and keep git from reporting the edit; no patch touches it.
unignore() {
	sed -i '/^# Debian packaging: ignore everything/,/^!\/debian\/$/{/^\/\*$/d; /^!\/debian\/$/d}' .gitignore
	git update-index --skip-worktree .gitignore
}

date="@$(stat -c %Y "$TARBALL") +0000"
(
	cd "$tmp/$PKG"
	git init -q -b "$BRANCH"
	git config core.abbrev 12
	# Keep git from rewriting anything: the tree is exactly the tarball.
	git add -A -f .
	GIT_AUTHOR_DATE=$date GIT_COMMITTER_DATE=$date \
		git commit -q -m "Debian $PKG $ver" --no-verify
	GIT_COMMITTER_DATE=$date git tag -a base -m "Debian $PKG $ver"
	unignore
)
mv "$tmp/$PKG" "$SRC"
rmdir "$tmp"
: >"$APPLIED"
say "base $(g rev-parse --short base) tagged 'base': $PKG $ver"
