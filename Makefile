# ZONE_DEVICE / HMM series harness.  See README.md.
#   make         dependencies, base, series, build, boot, hmm selftests, summary
#   make check   everything CI runs; last line "check: N passed, N failed, N skipped"
# Developer commands: tree, export, status, mbox, run; make bench: base vs patched figures.

H := harness
B := $(CURDIR)/build
RES := $(B)/results
STRESS_SECONDS ?= 60
REPORT = /usr/bin/python3 $(H)/report.py --tree $(B)/linux --results $(RES) --known known-failures

.PHONY: all check deps tree export status mbox kernel guest run bench fresh clean help

all: deps tree kernel guest
	@rm -f $(RES)/hmm.*
	$(H)/boot.sh hmm hmm
	@$(REPORT) --label hmm-tests hmm

# The test kernel has 5-level paging (configs/distro.config), which TCG's
# "-cpu max" runs.  One boot uses it, the others boot with 4 levels: with
# 5 levels, 6.12 with KASAN can report a wild access in an interrupt that
# arrives while identify_cpu() rebuilds the boot CPU's feature bits (LA57
# reads as clear for that moment; seen twice in about 25 checks, README).
# boot.sh boots once more when a boot dies before init with that report,
# and only then (boot-selftest checks it); the report names the retry.
NO5LVL := no5lvl

check: deps tree
	@rm -rf $(RES) && mkdir -p $(RES)
	$(H)/gates.sh checkpatch
	$(H)/gates.sh fixes
	$(H)/gates.sh order
	$(H)/gates.sh roundtrip
	$(H)/gates.sh walk
	$(MAKE) --no-print-directory kernel guest
	$(H)/gates.sh exports
	$(H)/gates.sh modpost
	$(H)/compile.sh
	$(H)/boot-selftest.sh || echo "boot-selftest: failed (see $(RES)/boot-selftest.tap)"
	$(H)/boot.sh thp-always distro,hmm,kunit,badinput,lifecycle,stress,stress-thp,faultinject,bench-quick,kmemleak \
		stress_seconds=$(STRESS_SECONDS) stress_thp_seconds=30 'faultinject_opts="-n0"' $(NO5LVL)
	$(H)/boot.sh thp-never distro,hmm,kunit transparent_hugepage=never $(NO5LVL)
	$(H)/boot.sh thp-madvise distro,hmm,kunit transparent_hugepage=madvise
	$(H)/boot.sh dax distro,dax 'memmap=512M!0x140000000' 'memmap=256M!0x170000000' $(NO5LVL)
	@$(REPORT) --label check checkpatch fixes fixes-selftest order order-selftest roundtrip bisect sparse exports gpl-modpost compile boot-selftest thp-always thp-never thp-madvise dax

deps:
	@$(H)/deps.sh

tree: deps
	@$(H)/tree.sh

kernel:
	@$(H)/build.sh

guest:
	@$(H)/initramfs.sh

export:
	@$(H)/export.sh

status:
	@$(H)/status.sh

mbox:
	@$(H)/mbox.sh

# One command in the test guest, or a shell: make run CMD='$$HMM_LOAD && hmm-tests'
# ($(value CMD): make must not expand the $ of guest variables).
run:
	@CMD='$(subst ','\'',$(value CMD))' $(H)/run.sh

# Figures, not a verdict: base vs patched kernel (build/linux HEAD), same
# production config; table, CSV and plot in build/bench/.
bench: deps
	@$(H)/bench.sh

# A newcomer's "make" in a new minimal bookworm (debootstrap), timed; not in
# make check.  See harness/fresh.sh.
fresh:
	@$(H)/fresh.sh

# Build outputs only; the work tree (build/linux) is never removed by make.
clean:
	rm -rf $(B)/obj $(RES)

help:
	@sed -n '1,5p' Makefile
