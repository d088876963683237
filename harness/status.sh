#!/usr/bin/env bash
# "make status": what the work tree holds that patches/ does not (commits not
# exported, uncommitted changes), and what patches/ holds that the tree does not.
STAGE=status
. "$(dirname "$0")/lib.sh"
if [ ! -d "$SRC/.git" ]; then
	echo "status: no work tree yet ($SRC); 'make tree' creates it"
	exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export_to HEAD "$tmp/tree"
mapfile -t want < <(series_list)
touch "$APPLIED"
content_hashes "${want[@]/#/$PATCHES/}" >"$tmp/want"
content_hashes "$tmp"/tree/*.patch >"$tmp/have"

n=0
branch=$(g symbolic-ref -q --short HEAD || echo "detached at $(g rev-parse --short HEAD)")
[ "$branch" = "$BRANCH" ] || { echo "status: work tree is on $branch, not $BRANCH"; n=1; }
for c in $(g rev-list --reverse base..HEAD); do
	i=$((${i:-0} + 1))
	h=$(sed -n "${i}p" "$tmp/have" | cut -d' ' -f1)
	grep -q "^$h " "$tmp/want" && continue
	echo "status: unexported commit $(g log -1 --format='%h %s' "$c")"
	n=1
done
awk 'FILENAME!=ARGV[3] {k[$1]; next} !($1 in k) {print "status: in patches/ but not in the work tree: " $2}' \
	"$tmp/have" "$APPLIED" "$tmp/want" | grep . && n=1
g status --porcelain --untracked-files=normal | sed 's/^/status: uncommitted: /' | grep . && n=1
if [ $n -eq 0 ]; then
	echo "status: clean: work tree = patches/ (${#want[@]} patches on $PKG $(base_version))"
else
	echo "status: run 'make export' to save commits into patches/, then commit patches/ in this repo"
fi
