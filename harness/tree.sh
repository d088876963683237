#!/usr/bin/env bash
# Stage "apply": make the work tree hold exactly the series in patches/, as
# commits on branch "series" over tag "base".  Never discards work: it
# refuses while the tree has uncommitted changes or commits not exported.
STAGE=tree
. "$(dirname "$0")/lib.sh"

"$TOP/harness/base.sh"

# Commits made by hand in the work tree carry the project identity too,
# whatever the developer's global git configuration says.
g config user.name "$IDENT_NAME"
g config user.email "$IDENT_EMAIL"

dirty=$(g status --porcelain --untracked-files=normal)
if [ -n "$dirty" ]; then
	printf '%s\n' "$dirty" | head -20 >&2 || true
	die "uncommitted changes in $SRC; commit them (then 'make export') or stash them; nothing was changed"
fi
branch=$(g symbolic-ref -q --short HEAD || true)
[ "$branch" = "$BRANCH" ] ||
	die "$SRC is not on branch '$BRANCH' (HEAD: ${branch:-detached}); 'git -C $SRC checkout $BRANCH' first"

# Compare by content: every commit of the tree must export to a file that is
# in patches/, otherwise it is unexported work.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export_to HEAD "$tmp/tree"
mapfile -t want < <(series_list)
for p in "${want[@]}"; do
	[ -f "$PATCHES/$p" ] || die "series names $p but patches/$p does not exist"
done
content_hashes "${want[@]/#/$PATCHES/}" >"$tmp/want"
content_hashes "$tmp"/tree/*.patch >"$tmp/have"

# A commit applied from an older patches/ (recorded in $APPLIED) is not work
# of its own: patches/ has moved on, e.g. after a git pull.
touch "$APPLIED"
unexported=$(awk 'FILENAME!=ARGV[3] {w[$1]; next} !($1 in w) {print "  not in patches/: " $2}' \
	"$tmp/want" "$APPLIED" "$tmp/have")
if [ -n "$unexported" ]; then
	printf '%s\n' "$unexported" >&2
	die "the work tree has commits that are not exported; run 'make export' (or drop them with git rebase -i); nothing was changed"
fi
if [ "$(cut -d' ' -f1 "$tmp/have")" = "$(cut -d' ' -f1 "$tmp/want")" ]; then
	cp "$tmp/want" "$APPLIED"
	say "work tree is at the series (${#want[@]} patches)"
	exit 0
fi

# Everything in the tree is in patches/: rebuild the branch from the series.
say "applying ${#want[@]} patches on base ($(base_version))"
g checkout -q -B "$BRANCH" base
: >"$APPLIED"
for p in "${want[@]}"; do
	if ! g am -q --committer-date-is-author-date "$PATCHES/$p" >"$tmp/am.log" 2>&1; then
		g am --abort >/dev/null 2>&1 || true
		echo "---- $p does not apply on $(base_version):" >&2
		g apply --check -v "$PATCHES/$p" 2>&1 | grep -A25 -E 'error:' | head -40 >&2 || cat "$tmp/am.log" >&2
		die "patch $p does not apply; the tree holds the patches before it"
	fi
	content_hashes "$PATCHES/$p" >>"$APPLIED"
done
say "work tree at $(g describe --always) with ${#want[@]} patches"
