# shellcheck shell=bash
# Common settings for the harness stages.  Sourced, never run.

set -euo pipefail

# Debian's python3 first: kernel scripts (spdxcheck.py via checkpatch) need
# the python3-ply and python3-git packages installed for it.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
B=${B:-$TOP/build}
SRC=$B/linux			# kernel work tree (git)
OBJ=${OBJ:-$B/obj/test}		# object directory of the test kernel
RES=$B/results			# one KTAP file per check stage
PATCHES=$TOP/patches
SERIES=$PATCHES/series
PKG=linux-source-6.12
TARBALL=/usr/src/$PKG.tar.xz
BRANCH=series

# The one project identity used for authorship, sign-off and the base commit.
IDENT_NAME="HMM series"
IDENT_EMAIL="hmm-series@example.org"
export GIT_AUTHOR_NAME="$IDENT_NAME" GIT_AUTHOR_EMAIL="$IDENT_EMAIL"
export GIT_COMMITTER_NAME="$IDENT_NAME" GIT_COMMITTER_EMAIL="$IDENT_EMAIL"

JOBS=${JOBS:-$(nproc)}
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/hmm-series-ccache}
export CCACHE_BASEDIR=$B
export CCACHE_NOHASHDIR=1

# The machine has room for one kernel build at a time: every kernel make of
# the harness (and of anyone else who uses kmake) takes this lock.
kmake() {
	flock "$B/.kbuild.lock" make -C "$SRC" O="$OBJ" -j"$JOBS" \
		CC="ccache gcc" HOSTCC="ccache gcc" "$@"
}

# The test guest's machine (boot.sh, run.sh): 2 CPUs, 5 GiB in two NUMA
# nodes of 2.5 GiB with one CPU each, as the test kernel's NUMA support
# (configs/distro.config) needs something to place.  One socket per node:
# CPUs of one package on two nodes make the kernel warn (topology_sane()).
# GUEST_CPU picks the -cpu model (bench.sh sets one without "rep movsb").
# GUEST_PREALLOC=on has QEMU touch all guest memory before the guest starts
# (bench.sh sets it): here the first write to a guest page that no one has
# touched yet costs a host page fault, 4.5-6.8 ms per 2 MiB (an in-kernel
# timing of test_hmm's copy into a fresh 2 MiB block, 2026-12-07).
GUEST_MACHINE=(-cpu "${GUEST_CPU:-max}" -smp 2,sockets=2,cores=1,threads=1 -m 5G
	-object memory-backend-ram,id=m0,size=2560M,prealloc="${GUEST_PREALLOC:-off}"
	-object memory-backend-ram,id=m1,size=2560M,prealloc="${GUEST_PREALLOC:-off}"
	-numa node,nodeid=0,cpus=0,memdev=m0 -numa node,nodeid=1,cpus=1,memdev=m1)

say() { printf '%s: %s\n' "${STAGE:-harness}" "$*"; }
die() { printf '%s: error: %s\n' "${STAGE:-harness}" "$*" >&2; exit 1; }
case ${GUEST_PREALLOC:-off} in
on | off) ;;
*) die "GUEST_PREALLOC=$GUEST_PREALLOC: on or off" ;;
esac

g() { git -C "$SRC" "$@"; }

# Exact Debian version the work tree was made from (tag message of "base").
base_version() { g tag -l --format='%(contents:subject)' base | sed 's/.* //'; }

# Series file: one patch per line, blank lines and '#' headings ignored.
series_list() {
	[ -f "$SERIES" ] || return 0
	sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e '/^$/d' "$SERIES"
}

# Export base..$1 (default HEAD) as format-patch files into directory $2.
# Options are chosen so that an unchanged commit always exports to the same
# bytes: no commit id, no numbering, no git version signature.
export_to() {
	local rev=$1 dir=$2
	mkdir -p "$dir"
	g -c core.abbrev=12 -c diff.noprefix=false -c format.signoff=false \
		format-patch --quiet --zero-commit --no-signature --no-numbered \
		--no-cover-letter --abbrev=12 -o "$dir" "base..$rev" >/dev/null
}

# sha1 of each file's content, one per line: "hash name".
content_hashes() {
	local f
	for f in "$@"; do
		[ -f "$f" ] && printf '%s %s\n' "$(sha1sum <"$f" | cut -c1-40)" "$(basename "$f")"
	done
	return 0
}

APPLIED=$B/applied	# hashes of the patches/ files the work tree was built from

need_tree() {
	[ -d "$SRC/.git" ] || die "no kernel work tree at $SRC; run 'make tree' first"
}

# The lines of FRAGMENTS that OBJDIR/.config does not honour, one per line:
# options not set as asked, and "# CONFIG_X is not set" lines that are set.
# With CONF_LENIENT=1, an option the tree SRC does not define is not counted
# (the base lacks the series' own options, e.g. its KUnit suites).
# frag_mismatches SRC OBJDIR FRAGMENTS...
frag_mismatches() {
	local src=$1 obj=$2 line sym
	shift 2
	while IFS= read -r line; do
		case $line in
		CONFIG_*=*)
			grep -qxF -- "$line" "$obj/.config" 2>/dev/null && continue
			sym=${line%%=*}
			if [ -n "${CONF_LENIENT:-}" ] &&
				! grep -rqsE --include='Kconfig*' "^[[:space:]]*(menu)?config ${sym#CONFIG_}\$" "$src"; then
				continue
			fi
			echo "not set as asked: $line" ;;
		"# CONFIG_"*" is not set")
			sym=${line#\# }; sym=${sym%% *}
			! grep -q "^$sym=" "$obj/.config" 2>/dev/null || echo "not unset as asked: $sym" ;;
		esac
	done < <(cat "$@")
}

# Configure an objdir from fragments on allnoconfig, unless its .config
# was made from the same fragments and still honours them (a walk over
# older commits may have changed it).  The tree is CONF_SRC (default SRC);
# merge_config runs under the build lock.  Dies when the result does not
# honour the fragments (Kconfig dropped an option).
# configure OBJDIR MAKE-ARGS... -- FRAGMENTS...
configure() {
	local obj=$1 args=() frags=() seen=0 a src=${CONF_SRC:-$SRC}
	shift
	for a in "$@"; do
		if [ "$a" = -- ]; then seen=1; elif [ $seen -eq 0 ]; then args+=("$a"); else frags+=("$a"); fi
	done
	local stamp bad
	stamp=$(cat "${frags[@]}" | sha1sum | cut -c1-40)
	if [ -f "$obj/.config" ] && [ "$(cat "$obj/.frag-stamp" 2>/dev/null)" = "$stamp" ] &&
		[ -z "$(frag_mismatches "$src" "$obj" "${frags[@]}")" ]; then
		return 0
	fi
	say "configuring $obj from ${frags[*]##*/}"
	mkdir -p "$obj"
	(cd "$src" && env "${args[@]}" flock "$B/.kbuild.lock" \
		scripts/kconfig/merge_config.sh -n -O "$obj" "${frags[@]}") \
		>"$obj/.merge.log" 2>&1 || { cat "$obj/.merge.log"; die "merge_config failed for $obj"; }
	# not in a pipe: die must end the script, not a subshell
	bad=$(frag_mismatches "$src" "$obj" "${frags[@]}")
	[ -z "$bad" ] || { printf '%s: %s\n' "$obj" "$bad" >&2; die "$obj: config does not match the fragments"; }
	echo "$stamp" >"$obj/.frag-stamp"
}
