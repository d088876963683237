// SPDX-License-Identifier: GPL-2.0
/*
 * Shared body of the gpl/ and nongpl/ probe modules. Each directory's
 * hmm_probe.c defines HMM_PROBE_LICENSE and includes this file, so the
 * two modules differ only in their MODULE_LICENSE().
 *
 * The module references hmm_range_fault() and migrate_vma_setup() so
 * that modpost has to decide whether the license may use them. It is
 * not meant to be loaded; if it is, init does not call them.
 */
#include <linux/hmm.h>
#include <linux/migrate.h>
#include <linux/module.h>

static int __used hmm_probe_fault(struct hmm_range *range)
{
	return hmm_range_fault(range);
}

static int __used hmm_probe_migrate(struct migrate_vma *args)
{
	return migrate_vma_setup(args);
}

static int __init hmm_probe_init(void)
{
	return 0;
}
module_init(hmm_probe_init);

static void __exit hmm_probe_exit(void)
{
}
module_exit(hmm_probe_exit);

MODULE_DESCRIPTION("Reference GPL-only HMM helpers from a module");
MODULE_LICENSE(HMM_PROBE_LICENSE);
