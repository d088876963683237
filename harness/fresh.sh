#!/usr/bin/env bash
# "make fresh": what a newcomer's first "make" does on a new Debian bookworm
# machine, proved on one.  A minimal bookworm (debootstrap --variant=minbase
# from Debian's mirror) is made once and kept untouched as
# build/fresh/minbase.tar; every run unpacks a new copy, installs only git
# and make into it, clones this repository's HEAD and runs "make" there as
# README says.  The kernel builds inside share the host's ccache directory
# (bind-mounted); nothing else of the host is visible in the copy.  Prints
# the time taken and the last line of that "make".  Not part of make check.
#
#   FRESH_MIRROR   Debian mirror (default: the host's, else deb.debian.org)
#   FRESH_CMD      what to run in the clone (default: make)
#   FRESH_KEEP=1   keep the unpacked root afterwards (build/fresh/root)
STAGE=fresh
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, chroot, mounts)"
dirty=$(git -C "$TOP" status --porcelain --untracked-files=no)
[ -z "$dirty" ] || die "uncommitted changes in $TOP: make fresh tests what is committed (HEAD); commit first"

F=$B/fresh
ROOT=$F/root
TAR=$F/minbase.tar
LOG=$F/make.log
mirror=${FRESH_MIRROR:-$(sed -n 's/^URIs: *\(http[^ ]*debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)}
mirror=${mirror:-http://deb.debian.org/debian}
mkdir -p "$F"

mounted=()
cleanup() {
	local i
	for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
		umount -l "${mounted[$i]}" 2>/dev/null || true
	done
	if [ -z "${FRESH_KEEP:-}" ] && [ -d "$ROOT" ]; then
		rm -rf --one-file-system "$ROOT"
	fi
}
trap cleanup EXIT

if [ ! -s "$TAR" ]; then
	command -v debootstrap >/dev/null || {
		say "installing debootstrap"
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends debootstrap >/dev/null
	}
	say "debootstrap --variant=minbase bookworm from $mirror"
	rm -rf "$F/mk"
	debootstrap --variant=minbase bookworm "$F/mk" "$mirror" >"$F/debootstrap.log" 2>&1 ||
		{ tail -20 "$F/debootstrap.log" >&2; die "debootstrap failed (log: $F/debootstrap.log)"; }
	tar -C "$F/mk" -cf "$TAR.tmp" . && mv "$TAR.tmp" "$TAR"
	rm -rf "$F/mk"
fi

[ ! -e "$ROOT" ] || rm -rf --one-file-system "$ROOT"
mkdir -p "$ROOT"
tar -C "$ROOT" -xf "$TAR"
bind() { mkdir -p "$ROOT$2"; mount --bind "$1" "$ROOT$2"; mounted+=("$ROOT$2"); }
mount -t proc proc "$ROOT/proc" && mounted+=("$ROOT/proc")
mount -t sysfs sys "$ROOT/sys" && mounted+=("$ROOT/sys")
bind /dev /dev
bind /dev/pts /dev/pts
mkdir -p "$CCACHE_DIR"
bind "$CCACHE_DIR" /root/.cache/hmm-series-ccache
bind "$TOP" /mnt/origin
mount -o remount,bind,ro "$ROOT/mnt/origin"
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
# The sources a bookworm install from Debian's installer has; linux-source-6.12
# comes from bookworm-security.
cat >"$ROOT/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb ${mirror%/debian}/debian-security bookworm-security main
EOF

cmd=${FRESH_CMD:-make}
say "in a new bookworm: apt-get install git make; git clone; $cmd (log: $LOG)"
start=$(date +%s)
rc=0
chroot "$ROOT" /usr/bin/env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin TERM=dumb \
	QEMU_ACCEL="${QEMU_ACCEL:-tcg}" /bin/bash -ec "
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q --no-install-recommends git make ca-certificates
	git clone -q /mnt/origin /root/hmm-series
	cd /root/hmm-series
	$cmd
" >"$LOG" 2>&1 || rc=$?
secs=$(($(date +%s) - start))
say "rc=$rc after $((secs / 60)) min $((secs % 60)) s; last line of '$cmd':"
grep -v '^\s*$' "$LOG" | tail -1
[ "$rc" -eq 0 ] || { tail -30 "$LOG" >&2; die "'$cmd' failed in the fresh root (log: $LOG)"; }
