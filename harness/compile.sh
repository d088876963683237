#!/usr/bin/env bash
# Series gate "compile": the in-tree users of devm_memremap_pages() and of
# the HMM helpers that the test kernel does not build, compiled one object
# at a time on the patched tree.  Cheap on purpose: "make prepare" once per
# objdir, then only the objects below.  KTAP to $RES/compile.tap.
STAGE=compile
. "$(dirname "$0")/lib.sh"
need_tree
mkdir -p "$RES"

X86_OBJS=(
	lib/test_hmm.o mm/memremap.o mm/hmm.o mm/migrate_device.o
	drivers/gpu/drm/nouveau/nouveau_dmem.o drivers/gpu/drm/nouveau/nouveau_svm.o
	drivers/xen/unpopulated-alloc.o
	drivers/gpu/drm/amd/amdgpu/amdgpu_hmm.o drivers/gpu/drm/amd/amdkfd/kfd_migrate.o
	drivers/gpu/drm/amd/amdkfd/kfd_svm.o
	drivers/gpu/drm/xe/xe_hmm.o
	drivers/infiniband/core/umem_odp.o
	drivers/dax/device.o drivers/nvdimm/pmem.o drivers/pci/p2pdma.o fs/fuse/virtio_fs.o
)
PPC_OBJS=(arch/powerpc/kvm/book3s_hv_uvmem.o mm/memremap.o mm/migrate_device.o)


# objs NAME OBJDIR "MAKE ARGS" OBJECTS...
objs() {
	local name=$1 obj=$2 margs=$3 o log
	shift 3
	log=$obj/.compile.log
	# shellcheck disable=SC2086
	if ! flock "$B/.kbuild.lock" make -C "$SRC" O="$obj" -j"$JOBS" $margs -s prepare >"$log" 2>&1; then
		for o in "$@"; do tap not-ok "$name $o" "$log"; done
		return 0
	fi
	for o in "$@"; do
		local kcflags=
		# amdkfd's objects are linked into amdgpu, whose Makefile gives
		# them their include paths; a single-object build needs them too.
		case $o in
		drivers/gpu/drm/amd/amdkfd/*)
			local a=$SRC/drivers/gpu/drm/amd d=$SRC/drivers/gpu/drm/amd/display
			kcflags="-I$a/include/asic_reg -I$a/include -I$a/amdgpu -I$a/pm/inc"
			kcflags+=" -I$a/acp/include -I$d -I$d/include -I$d/modules/inc -I$d/dc"
			kcflags+=" -I$d/amdgpu_dm -I$a/amdkfd" ;;
		esac
		# shellcheck disable=SC2086
		if flock "$B/.kbuild.lock" make -C "$SRC" O="$obj" -j"$JOBS" $margs -s W=1 \
			KCFLAGS="$kcflags" "$o" >"$log" 2>&1 &&
			[ -f "$obj/$o" ] && ! grep -q 'warning:' "$log"; then
			tap ok "$name $o"
		else
			tap not-ok "$name $o" "$log"
		fi
	done
}

T=0
exec 3>"$RES/compile.tap"
echo "KTAP version 1" >&3
echo "1..$((${#X86_OBJS[@]} + ${#PPC_OBJS[@]}))" >&3
tap() {
	T=$((T + 1))
	if [ "$1" = ok ]; then
		echo "ok $T $2" >&3
	else
		[ -n "${3:-}" ] && tail -30 "$3" | sed 's/^/# /' >&3
		echo "not ok $T $2" >&3
	fi
}

X86=$B/obj/compile-x86
PPC=$B/obj/compile-ppc
# ccache through Debian's masquerade directory, for the cross compiler too
export PATH=/usr/lib/ccache:$PATH
configure "$X86" -- "$TOP/configs/base.config" "$TOP/configs/hmm.config" "$TOP/configs/compile-x86.config"
say "x86_64: ${#X86_OBJS[@]} objects"
objs x86_64 "$X86" "" "${X86_OBJS[@]}"
configure "$PPC" ARCH=powerpc CROSS_COMPILE=powerpc64le-linux-gnu- -- "$TOP/configs/compile-ppc.config"
say "powerpc64le: ${#PPC_OBJS[@]} objects"
objs ppc64le "$PPC" "ARCH=powerpc CROSS_COMPILE=powerpc64le-linux-gnu-" "${PPC_OBJS[@]}"
say "$(grep -c '^ok' "$RES/compile.tap") of $T objects compiled cleanly"
