#!/usr/bin/env bash
# Stage "guest image": static selftests built against the tree's
# headers_install output, the built modules, busybox and harness/guest/init,
# packed as an initramfs.
STAGE=initramfs
. "$(dirname "$0")/lib.sh"
need_tree
[ -f "$OBJ/arch/x86/boot/bzImage" ] || die "no kernel in $OBJ; run harness/build.sh"

root=$OBJ/initramfs
out=$OBJ/initramfs.cpio.gz
sel=$SRC/tools/testing/selftests
rm -rf "$root"
mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,tests,lib/modules}

cp /bin/busybox "$root/bin/busybox"
# e2fsprogs' mke2fs for the "dax" step: busybox's makes ext2 only, and DAX
# PMD faults need ext4 (extents).  Debian has no static build: take the
# binary with the libraries it links.
mke2fs=$(command -v mke2fs) || die "no mke2fs: apt-get install e2fsprogs"
cp "$mke2fs" "$root/sbin/mke2fs"
for lib in $(ldd "$mke2fs" | grep -o '/[^ ]*'); do
	mkdir -p "$root$(dirname "$lib")"
	cp -L "$lib" "$root$lib"
done
install -m 0755 "$TOP/harness/guest/init" "$root/init"
# The modules as modules_install left them (modules.dep for modprobe and
# modinfo, which test_hmm.sh uses), and each also at /lib/modules/NAME.ko,
# where the guest's own steps insmod them.
rel=$(cat "$OBJ/include/config/kernel.release")
[ -f "$OBJ/modroot/lib/modules/$rel/modules.dep" ] || die "no modules.dep in $OBJ/modroot (depmod: kmod)"
cp -a "$OBJ/modroot/lib/modules/$rel" "$root/lib/modules/$rel"
(cd "$root/lib/modules" && find "$rel" -name '*.ko' -exec ln -s {} . \;)
# test_hmm.sh, as run_vmtests.sh runs it: bash, next to the programs
cp /bin/bash-static "$root/bin/bash"
install -m 0755 "$sel/mm/test_hmm.sh" "$root/tests/test_hmm.sh"

CFLAGS=(-static -O2 -Wall -isystem "$OBJ/usr/include" -I"$SRC" -I"$SRC/tools/include/uapi" -I"$sel")
LIBS=(-lpthread -lrt -lm)
# The selftests the guest runs; a program the tree does not have yet is left
# out, and the guest step that needs it fails.
for prog in hmm-tests hmm-badinput hmm-lifecycle hmm-stress hmm-faultinject; do
	[ -f "$sel/mm/$prog.c" ] || continue
	say "building $prog (static)"
	gcc "${CFLAGS[@]}" -o "$root/tests/$prog" "$sel/mm/$prog.c" "$sel/mm/vm_util.c" "${LIBS[@]}"
done
# The benchmark of make bench, for its quick functional check (bench-quick).
say "building hmm-bench (static)"
gcc "${CFLAGS[@]}" -o "$root/tests/hmm-bench" "$TOP/bench/hmm-bench.c"

(cd "$root" && find . | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0 | gzip -1) >"$out"
say "$out ($(du -h "$out" | cut -f1))"
