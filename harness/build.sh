#!/usr/bin/env bash
# Stage "build": configure (allnoconfig + fragments) and build the kernel in
# $OBJ from the work tree, then install modules and UAPI headers for the guest.
#   harness/build.sh [fragment...]     default: configs/{base,hmm,debug,dax}.config
STAGE=build
. "$(dirname "$0")/lib.sh"
need_tree

frags=("$@")
[ ${#frags[@]} -gt 0 ] || frags=("$TOP/configs/base.config" "$TOP/configs/hmm.config" "$TOP/configs/debug.config" "$TOP/configs/dax.config")
mkdir -p "$OBJ"

# Every option a fragment asks for must be in .config.  Lines that are not
# (Kconfig dropped them, or a walk over older commits did) are listed.
mismatches() {
	local line sym
	while IFS= read -r line; do
		case $line in
		CONFIG_*=*) grep -qxF -- "$line" "$OBJ/.config" || echo "not set as asked: $line" ;;
		"# CONFIG_"*" is not set")
			sym=${line#\# }; sym=${sym%% *}
			! grep -q "^$sym=" "$OBJ/.config" || echo "not unset as asked: $sym" ;;
		esac
	done < <(cat "${frags[@]}")
}

# Regenerate .config when the fragments change or it no longer matches them
# (the bisect walk builds older commits in the same objdir), so that an
# unchanged tree rebuilds nothing.
stamp=$(cat "${frags[@]}" | sha1sum | cut -c1-40)
if [ ! -f "$OBJ/.config" ] || [ "$(cat "$OBJ/.frag-stamp" 2>/dev/null)" != "$stamp" ] ||
	[ -n "$(mismatches)" ]; then
	say "configuring $OBJ from ${frags[*]##*/}"
	(cd "$SRC" && scripts/kconfig/merge_config.sh -n -O "$OBJ" "${frags[@]}" >"$OBJ/.merge.log" 2>&1) ||
		{ cat "$OBJ/.merge.log"; die "merge_config failed"; }
	bad=$(mismatches)
	[ -z "$bad" ] || { printf '%s\n' "$bad"; die "kernel config does not match the fragments"; }
	echo "$stamp" >"$OBJ/.frag-stamp"
fi

say "building in $OBJ ($JOBS jobs)"
kmake -s bzImage modules
rm -rf "$OBJ/modroot"
kmake -s INSTALL_MOD_PATH="$OBJ/modroot" INSTALL_MOD_STRIP=1 modules_install >/dev/null
kmake -s INSTALL_HDR_PATH="$OBJ/usr" headers_install >/dev/null
say "kernel $(cat "$OBJ/include/config/kernel.release") ready"
