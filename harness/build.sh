#!/usr/bin/env bash
# Stage "build": configure (allnoconfig + fragments) and build the kernel in
# $OBJ from the work tree, then install modules and UAPI headers for the guest.
#   harness/build.sh [fragment...]     default: configs/{base,hmm,distro,debug,dax}.config
STAGE=build
. "$(dirname "$0")/lib.sh"
need_tree

frags=("$@")
[ ${#frags[@]} -gt 0 ] || frags=("$TOP/configs/base.config" "$TOP/configs/hmm.config" "$TOP/configs/distro.config" "$TOP/configs/debug.config" "$TOP/configs/dax.config")
mkdir -p "$OBJ"

# Reconfigured when the fragments change or the .config no longer honours
# them, so that an unchanged tree rebuilds nothing.
configure "$OBJ" -- "${frags[@]}"

say "building in $OBJ ($JOBS jobs)"
kmake -s bzImage modules
rm -rf "$OBJ/modroot"
kmake -s INSTALL_MOD_PATH="$OBJ/modroot" INSTALL_MOD_STRIP=1 modules_install >/dev/null
kmake -s INSTALL_HDR_PATH="$OBJ/usr" headers_install >/dev/null
say "kernel $(cat "$OBJ/include/config/kernel.release") ready"
