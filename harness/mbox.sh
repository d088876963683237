#!/usr/bin/env bash
# "make mbox": one mbox per topic series of patches/series ("# [slug] title"
# headings), each with its cover letter patches/cover-<slug>.txt (first
# line: subject; then a blank line and the body), addressed with
# scripts/get_maintainer.pl --nogit for the files of that topic only.
# Written to $MBOX_DIR (default build/mbox/) as <n>-<slug>.mbox, n the
# topic's place in the merge order, and as the directory <n>-<slug>/ of
# one file per mail, which is what git send-email takes.  Every mbox names the base commit, and
# a later topic lists the patches of the earlier ones it needs as
# prerequisite-patch-id lines (git format-patch --base).
STAGE=mbox
. "$(dirname "$0")/lib.sh"
need_tree

st=$("$TOP/harness/status.sh")
case $st in
"status: clean:"*) ;;
*) printf '%s\n' "$st" >&2; die "the work tree and patches/ differ; the mbox must be what patches/ holds" ;;
esac
mapfile -t commits < <(g rev-list --reverse base..HEAD)
[ ${#commits[@]} -gt 0 ] || die "the series is empty"
mapfile -t topics < <(python3 "$TOP/harness/topics.py" list "$SERIES") ||
	die "patches/series: bad topic headings"
last=$(printf '%s\n' "${topics[@]}" | tail -1 | cut -f3)
[ "$last" -eq ${#commits[@]} ] || die "patches/series names $last patches, the work tree has ${#commits[@]}"

out=${MBOX_DIR:-$B/mbox}
rm -rf "$out"
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
gm=(perl "$SRC/scripts/get_maintainer.pl" --nogit --nogit-fallback --norolestats --no-tree -f)
n=0
for t in "${topics[@]}"; do
	IFS=$'\t' read -r slug first lastp _ <<<"$t"
	n=$((n + 1))
	cover=$PATCHES/cover-$slug.txt
	[ -f "$cover" ] || die "no $cover for topic [$slug]"
	from=${commits[$((first - 1))]}
	to=${commits[$((lastp - 1))]}
	files=$(g diff --name-only "$from^" "$to")
	args=()
	while read -r a; do [ -n "$a" ] && args+=(--to="$a"); done < <(cd "$SRC" && printf '%s\n' $files | xargs "${gm[@]}" --nol --no-multiline 2>/dev/null | tr ',' '\n' | sed 's/^ *//' | sort -u)
	while read -r a; do [ -n "$a" ] && args+=(--cc="$a"); done < <(cd "$SRC" && printf '%s\n' $files | xargs "${gm[@]}" --nom --nor --no-multiline 2>/dev/null | tr ',' '\n' | sed 's/^ *//' | sort -u)
	d=$tmp/$slug
	# git names a cover letter's Message-Id after the second it is made
	# in: two topics formatted within one second would share it (seen).
	[ "$n" -eq 1 ] || sleep 1
	g format-patch --quiet --cover-letter --thread=shallow --numbered \
		--no-signature --from="$IDENT_NAME <$IDENT_EMAIL>" --base=base \
		"${args[@]}" -o "$d" "$from^..$to"
	python3 - "$d"/0000-cover-letter.patch "$cover" <<'PY'
import sys
letter, cover = sys.argv[1], open(sys.argv[2]).read()
subject, _, body = cover.partition('\n')
text = open(letter).read()
text = text.replace('*** SUBJECT HERE ***', subject.strip())
text = text.replace('*** BLURB HERE ***', body.strip('\n'))
open(letter, 'w').write(text)
PY
	cat "$d"/*.patch >"$out/$n-$slug.mbox"
	mv "$d" "$out/$n-$slug"
	say "$out/$n-$slug.mbox: cover letter + $((lastp - first + 1)) patches (${#args[@]} addresses)"
done
say "base $PKG $(base_version); send with: git send-email $out/1-*/ (then 2-*/, ...)"
