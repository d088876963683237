#!/usr/bin/env bash
# Stage "deps": install the Debian packages the harness needs, only if missing.
STAGE=deps
. "$(dirname "$0")/lib.sh"

pkgs=(
	linux-source-6.12	# the base
	build-essential flex bison bc libelf-dev libssl-dev dwarves cpio rsync	# rsync: headers_install
	xz-utils kmod ccache sparse git git-email python3 python3-ply python3-git perl
	libmailtools-perl python3-aiosmtpd	# git send-email; the SMTP server of the round trip
	busybox-static bash-static qemu-system-x86 e2fsprogs	# guest; bash for test_hmm.sh
	gcc-powerpc64le-linux-gnu	# powerpc compile checks
)

missing=()
for p in "${pkgs[@]}"; do
	s=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$s" = installed ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

say "installing: ${missing[*]}"
[ "$(id -u)" -eq 0 ] || die "need root to apt-get install ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y --no-install-recommends "${missing[@]}"; then
	apt-get update
	apt-get install -y --no-install-recommends "${missing[@]}"
fi
