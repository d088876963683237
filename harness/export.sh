#!/usr/bin/env bash
# "make export": write base..HEAD of the work tree back into patches/ and the
# series file.  Unchanged commits export to the same bytes, so only what was
# edited shows up in git diff.  Refuses while the tree has uncommitted
# changes, or while patches/ holds patches the tree has never seen.
STAGE=export
. "$(dirname "$0")/lib.sh"
need_tree

dirty=$(g status --porcelain --untracked-files=normal)
if [ -n "$dirty" ]; then
	printf '%s\n' "$dirty" | head -20 >&2 || true
	die "uncommitted changes in $SRC; commit them first (git commit / git commit --fixup + rebase); nothing was exported"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export_to HEAD "$tmp/new"
mapfile -t old < <(series_list)
touch "$APPLIED"
content_hashes "${old[@]/#/$PATCHES/}" >"$tmp/old"
content_hashes "$tmp"/new/*.patch >"$tmp/new.h"

# A patch in patches/ that the tree neither has nor was built from would be
# lost by overwriting: someone else's work arrived (git pull) or was edited
# in place.
lost=$(awk 'FILENAME!=ARGV[3] {k[$1]; next} !($1 in k) {print "  " $2}' \
	"$tmp/new.h" "$APPLIED" "$tmp/old")
if [ -n "$lost" ]; then
	printf '%s\n' "$lost" >&2
	die "patches/ has patches the work tree does not hold; apply them first (export nothing, 'make tree' after moving your commits aside) or drop them from series yourself; nothing was exported"
fi

mkdir -p "$PATCHES"
new=()
for f in "$tmp"/new/*.patch; do
	[ -f "$f" ] || continue
	b=$(basename "$f")
	new+=("$b")
	cmp -s "$f" "$PATCHES/$b" || cp "$f" "$PATCHES/$b"
done
# No pipe into "grep -q" here: under pipefail, grep leaving early makes the
# writer's SIGPIPE fail the test, and a patch that stays would be removed.
declare -A keep=()
for b in "${new[@]}"; do
	keep[$b]=1
done
for p in "${old[@]}"; do
	[ -n "${keep[$p]:-}" ] || rm -f "$PATCHES/$p"
done

# Rewrite the series file, keeping each '#' heading in front of the patch it
# stood before (matched by name without its number).
python3 - "$SERIES" "${new[@]}" <<'PY'
import re, sys
path, new = sys.argv[1], sys.argv[2:]
key = lambda p: re.sub(r'^\d+-', '', p)
heads, pending, tail = {}, [], []
try:
    for line in open(path):
        line = line.rstrip('\n')
        if not line.strip() or line.lstrip().startswith('#'):
            pending.append(line)
        else:
            heads[key(line.split('#')[0].strip())] = pending
            pending = []
    tail = pending
except FileNotFoundError:
    pass
out = []
for p in new:
    out += heads.get(key(p), []) + [p]
out += tail
open(path, 'w').write('\n'.join(out) + ('\n' if out else ''))
PY
cp "$tmp/new.h" "$APPLIED"
say "exported ${#new[@]} patches to patches/"
git -C "$TOP" status --short -- patches/ | sed 's/^/  /'
