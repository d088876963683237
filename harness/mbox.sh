#!/usr/bin/env bash
# "make mbox": the series and its cover letter (patches/cover-letter.txt) as
# one mbox for git send-email, addressed with scripts/get_maintainer.pl --nogit.
STAGE=mbox
. "$(dirname "$0")/lib.sh"
need_tree

st=$("$TOP/harness/status.sh")
case $st in
"status: clean:"*) ;;
*) printf '%s\n' "$st" >&2; die "the work tree and patches/ differ; the mbox must be what patches/ holds" ;;
esac
n=$(g rev-list --count base..HEAD)
[ "$n" -gt 0 ] || die "the series is empty"
cover=$PATCHES/cover-letter.txt
[ -f "$cover" ] || die "no $cover (first line: subject; then a blank line and the body)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mapfile -t ps < <(series_list)
gm=(perl "$SRC/scripts/get_maintainer.pl" --nogit --nogit-fallback --norolestats --no-tree -f)
files=$(g diff --name-only base HEAD)
args=()
while read -r a; do [ -n "$a" ] && args+=(--to="$a"); done < <(cd "$SRC" && printf '%s\n' $files | xargs "${gm[@]}" --nol --no-multiline 2>/dev/null | tr ',' '\n' | sed 's/^ *//' | sort -u)
while read -r a; do [ -n "$a" ] && args+=(--cc="$a"); done < <(cd "$SRC" && printf '%s\n' $files | xargs "${gm[@]}" --nom --nor --no-multiline 2>/dev/null | tr ',' '\n' | sed 's/^ *//' | sort -u)

g format-patch --quiet --cover-letter --thread=shallow --numbered \
	--no-signature --from="$IDENT_NAME <$IDENT_EMAIL>" "${args[@]}" -o "$tmp" base..HEAD
python3 - "$tmp"/0000-cover-letter.patch "$cover" <<'PY'
import sys
letter, cover = sys.argv[1], open(sys.argv[2]).read()
subject, _, body = cover.partition('\n')
text = open(letter).read()
text = text.replace('*** SUBJECT HERE ***', subject.strip())
text = text.replace('*** BLURB HERE ***', body.strip('\n'))
open(letter, 'w').write(text)
PY
cat "$tmp"/*.patch >"$B/series.mbox"
say "$B/series.mbox: cover letter + $n patches; base $PKG $(base_version)"
say "send with: git send-email $B/series.mbox"
