// SPDX-License-Identifier: GPL-2.0
/*
 * hmm-bench: throughput of the HMM / device-private paths that test_hmm
 * exposes, next to what the same guest does with plain memory.
 *
 * For each size and THP mode (anonymous memory, 2 MiB aligned,
 * MADV_HUGEPAGE or MADV_NOHUGEPAGE) it times, one call over the whole range
 * per sample:
 *   touch      first-touch population (one write per 4 KiB page, fresh range)
 *   memcpy     memcpy() of the range into another populated range (ceiling)
 *   migrate    HMM_DMIRROR_MIGRATE_TO_DEV of a populated range
 *   fault      CPU read of one word per page of the migrated range, each
 *              page migrating back to RAM through dev_pagemap_ops
 *   move       migrate less its copy-back: the same sample's migrate time
 *              minus that of an HMM_DMIRROR_READ of the migrated range,
 *              timed right after it (the same two copies, from the device
 *              pages to the caller), so what the migration itself takes
 *   read       HMM_DMIRROR_READ of a populated range that the mirror has
 *              no entry for (hmm_range_fault with faulting, then the
 *              device copy)
 *   snapshot   HMM_DMIRROR_SNAPSHOT (hmm_range_fault without faulting)
 *   exclusive  HMM_DMIRROR_EXCLUSIVE (make_device_exclusive_range)
 *   evict      close() of a second device file after a migration of the
 *              range through it: test_hmm evicts the device's memory,
 *              migrate_device_range() over every pfn of its chunks and the
 *              copies back of the range's pages.  These samples are taken
 *              in rounds of their own after all the others, as the walk
 *              leaves the call after it to run cold (see dev())
 * migrate, read and exclusive include test_hmm copying the data back to the
 * caller (bounce buffer + copy_to_user), as the driver always does.
 *
 * Every sample is set up outside the timed part (a new range, which the
 * mirror has no entry for, except memcpy and snapshot, which use the
 * round's source range; one device file for the run, see dev()) and
 * its result is checked after it: page counts and the data, tagged per
 * page.  Nothing is judged by time.
 * The samples are taken in rounds, one of every case per round (-k of each
 * case below 1 MiB, the ops taken in turn), so that a stretch of noise from the host
 * costs each case a sample or a few, not a figure.
 * A case that fails once (an ioctl error, wrong data) stops there.
 *
 * Output: TAP (one case per op, size and THP mode) with one CSV line per
 * case as a "# csv: " diagnostic just before its result line; the column
 * names are on the "# csv-header: " line.  Times in µs per call: median,
 * min, max, quartiles; GB/s = bytes / median; then the median time of the
 * reference around the samples (cal_us, see cal_ns()) and the median and
 * quartiles of the samples in reference units (rel_*, each sample over the
 * mean of the references before and after it; for move, the mean of its
 * two calls' references).
 *
 * Build: gcc -static -O2 -isystem OBJ/usr/include -I TREE hmm-bench.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/utsname.h>

#include "lib/test_hmm_uapi.h"

#define KiB		1024UL
#define MiB		(1024 * KiB)
#define PMD_SIZE_	(2 * MiB)
#define MAX_REPS	101
#define MAX_SMALL	9	/* -k: samples per round of a small range */
#define MAX_SAMPLES	(MAX_REPS * MAX_SMALL)
/*
 * Ranges below this take -k samples per round: their calls are short
 * (about 0.1 ms at 4 KiB under TCG), so that the medians of these cases
 * vary most from run to run, and more samples cost little.
 */
#define SMALL_RANGE	MiB
#define MAX_SIZES	32
#define TRIES		3	/* attempts of a sample that fails transiently */

enum {
	TOUCH, MEMCPY, MIGRATE, FAULT, MOVE, READ, SNAPSHOT, EXCLUSIVE, EVICT,
	NOPS
};
static const char *const op_name[NOPS] = {
	"touch", "memcpy", "migrate", "fault", "move", "read", "snapshot",
	"exclusive", "evict",
};

static size_t page_size;
static const char *device = "/dev/hmm_dmirror0";
static int reps = 9;
static int small_reps = 5;

struct result {
	double ns[MAX_SAMPLES];	/* each sample's time */
	double cal[MAX_SAMPLES];	/* the reference's time around it, ns */
	double rel[MAX_SAMPLES];	/* the sample in reference units */
	int n;
	int nrel;		/* samples with a reference time (rel[]) */
	int retries;
	char status[64];	/* "" while fine, then "ok", "error:EBUSY",
				 * "bad-data:...", "skip:..." */
};

/* One group of cases: a size and a THP mode. */
struct group {
	size_t size;
	unsigned long npages;
	int thp;
	char *src;		/* populated, tagged; read, snapshot, memcpy source */
	char *out;		/* populated; ioctl output and memcpy destination */
	unsigned char *perm;	/* snapshot output */
	unsigned seed;
	int thp_pct;		/* AnonHugePages of src, % (lowest of the rounds) */
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/*
 * The emulated CPU's speed follows the host's, which on a shared machine
 * can change by nearly 2x from one stretch of tens of milliseconds to the
 * next: a 100 us call timed in a slow stretch of one guest and a fast one
 * of the other says little about the kernels.  So each timed call is
 * bracketed by a reference of fixed work, user code that no kernel runs
 * (four passes over a 16 KiB buffer), timed right before and right after
 * it.  The call's time over the mean of the two is its time in reference
 * units.  For a call short next to those stretches that moves less with
 * the host's speed than the time does, though not exactly with it; for a
 * long call two references at its ends say little about the speed in
 * between.  Both figures are reported.  The reference also leaves its
 * buffer in the cache before every call: nothing under TCG, which models
 * no cache, but on KVM small cases may differ from earlier runs.
 */
#define CAL_WORDS	2048
#define CAL_LOOPS	4
static uint64_t cal_buf[CAL_WORDS];
static volatile uint64_t cal_sink;

static uint64_t cal_ns(void)
{
	uint64_t t0 = now_ns(), x = 1;
	int i, j;

	for (j = 0; j < CAL_LOOPS; j++)
		for (i = 0; i < CAL_WORDS; i++)
			x += cal_buf[i] ^ (x >> 3);
	cal_sink = x;
	return now_ns() - t0;
}

/*
 * One timed call: its time and the mean of the references around it, both
 * in ns (cal is 0 when the clock is too coarse to time the reference).
 */
struct timing {
	uint64_t ns;
	uint64_t cal;
	uint64_t t0;	/* while timing: start of the call */
	uint64_t pre;	/* while timing: the reference before it */
};

static void timer_start(struct timing *t)
{
	t->pre = cal_ns();
	t->t0 = now_ns();
}

static void timer_stop(struct timing *t)
{
	t->ns = now_ns() - t->t0;
	t->cal = (t->pre + cal_ns()) / 2;
}

static const char *errname(int err)
{
	const char *s = strerrorname_np(err);

	return s ? s : "E?";
}

/* Anonymous private range of @size at a 2 MiB aligned address. */
static char *map_range(size_t size, int thp)
{
	size_t len = size + PMD_SIZE_;
	char *p, *a;

	p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	a = (char *)(((uintptr_t)p + PMD_SIZE_ - 1) & ~(PMD_SIZE_ - 1));
	if (a > p)
		munmap(p, a - p);
	if (p + len > a + size)
		munmap(a + size, p + len - (a + size));
	if (madvise(a, size, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE)) {
		munmap(a, size);
		return NULL;
	}
	return a;
}

static inline uint64_t tag(unsigned seed, unsigned long i)
{
	return ((uint64_t)seed << 32) | i;
}

/* Write the tag of each page into its first word: populates the range. */
static void populate(char *p, size_t size, unsigned seed)
{
	unsigned long i;

	for (i = 0; i < size / page_size; i++)
		*(volatile uint64_t *)(p + i * page_size) = tag(seed, i);
}

/* Index of the first page whose tag is wrong, or -1. */
static long check_tags(const char *p, size_t size, unsigned seed)
{
	unsigned long i;

	for (i = 0; i < size / page_size; i++)
		if (*(const uint64_t *)(p + i * page_size) != tag(seed, i))
			return i;
	return -1;
}

static void poison_tags(char *p, size_t size)
{
	populate(p, size, 0xdead);
}

/* AnonHugePages of the mapping that starts at @p, in percent of @size. */
static int thp_percent(const char *p, size_t size)
{
	char line[256];
	unsigned long start, end, kb;
	int in = 0, pct = -1;
	FILE *f = fopen("/proc/self/smaps", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2 && strchr(line, '-') < strchr(line, ' ')) {
			in = start <= (uintptr_t)p && (uintptr_t)p < end;
			continue;
		}
		if (in && sscanf(line, "AnonHugePages: %lu kB", &kb) == 1) {
			pct = (int)(kb * KiB * 100 / size);
			break;
		}
	}
	fclose(f);
	return pct;
}

/* test_hmm ioctl over @npages from @addr; 0 or -errno.  Retries EINTR. */
static int dmirror(int fd, unsigned long req, void *addr, void *ptr,
		   unsigned long npages, struct hmm_dmirror_cmd *cmd)
{
	memset(cmd, 0, sizeof(*cmd));
	cmd->addr = (uintptr_t)addr;
	cmd->ptr = (uintptr_t)ptr;
	cmd->npages = npages;
	while (ioctl(fd, req, cmd)) {
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}

/*
 * The device file, opened once for the whole run: closing a test_hmm file
 * evicts the device's memory, a walk over every pfn of its chunks (a few ms
 * under TCG), which leaves the next call to run cold; a 4 KiB touch took
 * four times as long right after a close as after another sample.  The
 * close would so be timed with the next small call, and it differs between
 * the kernels.  Every sample that mirrors or migrates works on a range
 * mapped afresh, which the mirror has no entry for (munmap() cleared those
 * of the last one), and leaves no page in device memory.  The first open
 * snapshots one page of a buffer of its own, so that the first call is not
 * the file's first.
 */
/* A new file of the device, or -errno; ENOENT (no device) is not transient */
static int open_device(void)
{
	int fd = open(device, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return errno == ENOENT ? -ENODEV : -errno;
	return fd;
}

static int dev(void)
{
	static unsigned char perm;
	static int fd = -1;
	struct hmm_dmirror_cmd cmd;
	char *warm;

	if (fd >= 0)
		return fd;
	fd = open_device();
	if (fd < 0)
		return fd;
	warm = mmap(NULL, page_size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (warm == MAP_FAILED) {
		close(fd);
		fd = -1;
		return -ENOMEM;
	}
	*(volatile char *)warm = 1;
	dmirror(fd, HMM_DMIRROR_SNAPSHOT, warm, &perm, 1, &cmd);
	munmap(warm, page_size);
	return fd;
}

/*
 * One sample of each op.  Returns 0, -errno (a failed call), or 1 with
 * @why set (the call worked but its result is wrong).  t[0] is the sample;
 * the migrate sample also times the fault back, in t[1].
 */
static char why[64];

static int bad(const char *what, long page)
{
	snprintf(why, sizeof(why), "bad-data:%s@page%ld", what, page);
	return 1;
}

static int sample_touch(struct group *g, struct timing *t)
{
	char *r = map_range(g->size, g->thp);

	if (!r)
		return -ENOMEM;
	timer_start(&t[0]);
	populate(r, g->size, ++g->seed);
	timer_stop(&t[0]);
	munmap(r, g->size);
	return 0;
}

static int sample_memcpy(struct group *g, struct timing *t)
{
	long b;

	poison_tags(g->out, g->size);
	timer_start(&t[0]);
	memcpy(g->out, g->src, g->size);
	asm volatile("" ::: "memory");
	timer_stop(&t[0]);
	b = check_tags(g->out, g->size, 1);
	return b < 0 ? 0 : bad("copy", b);
}

static int cpages_ok(struct hmm_dmirror_cmd *cmd, struct group *g, const char *what)
{
	if (cmd->cpages == g->npages)
		return 0;
	snprintf(why, sizeof(why), "bad-data:%s:cpages=%llu/%lu", what,
		 (unsigned long long)cmd->cpages, g->npages);
	return 1;
}

/*
 * Time one dmirror command that copies the g->npages pages at @addr into
 * g->out, and check that every page arrived with the tags of @seed.
 */
static int timed_copy(struct group *g, int fd, unsigned long req, char *addr,
		      unsigned seed, const char *what, struct timing *t)
{
	struct hmm_dmirror_cmd cmd;
	long b;
	int ret;

	poison_tags(g->out, g->size);
	timer_start(t);
	ret = dmirror(fd, req, addr, g->out, g->npages, &cmd);
	timer_stop(t);
	if (!ret)
		ret = cpages_ok(&cmd, g, what);
	if (!ret && (b = check_tags(g->out, g->size, seed)) >= 0)
		ret = bad(what, b);
	return ret;
}

/*
 * A range of its own for a sample that changes where the pages live: mapped
 * afresh, filled with the tags of a new seed, and the device opened.
 */
static int fresh_range(struct group *g, char **r, int *fd, unsigned *seed)
{
	*seed = ++g->seed;
	*r = map_range(g->size, g->thp);
	if (!*r)
		return -ENOMEM;
	populate(*r, g->size, *seed);
	*fd = dev();
	if (*fd < 0) {
		munmap(*r, g->size);
		return *fd;
	}
	return 0;
}

static int sample_migrate(struct group *g, struct timing *t)
{
	uint64_t sum = 0;
	unsigned long i;
	unsigned seed;
	char *r;
	long b;
	int fd, ret;

	ret = fresh_range(g, &r, &fd, &seed);
	if (ret)
		return ret;
	ret = timed_copy(g, fd, HMM_DMIRROR_MIGRATE_TO_DEV, r, seed, "migrate",
			 &t[0]);
	/* The copy-back alone: the pages are in device memory, mirrored */
	if (!ret)
		ret = timed_copy(g, fd, HMM_DMIRROR_READ, r, seed, "move-read",
				 &t[2]);
	if (!ret) {
		/* its reference: the mean of both calls' references */
		t[2].ns = t[0].ns > t[2].ns ? t[0].ns - t[2].ns : 0;
		t[2].cal = (t[0].cal + t[2].cal) / 2;
		/* Each read faults one device-private page back to RAM. */
		timer_start(&t[1]);
		for (i = 0; i < g->npages; i++)
			sum += *(volatile uint64_t *)(r + i * page_size);
		timer_stop(&t[1]);
		if ((b = check_tags(r, g->size, seed)) >= 0)
			ret = bad("fault", b);
		else if (sum != (uint64_t)seed * g->npages * (1ULL << 32) +
			 (uint64_t)g->npages * (g->npages - 1) / 2)
			ret = bad("fault-sum", 0);
	}
	munmap(r, g->size);
	return ret;
}

static int sample_read(struct group *g, struct timing *t)
{
	unsigned seed;
	char *r;
	int fd, ret;

	ret = fresh_range(g, &r, &fd, &seed);
	if (ret)
		return ret;
	ret = timed_copy(g, fd, HMM_DMIRROR_READ, r, seed, "read", &t[0]);
	munmap(r, g->size);
	return ret;
}

/* Whether the snapshot in g->perm shows every page writable in system memory */
static int all_in_ram(struct group *g, const char *what)
{
	unsigned long i;

	for (i = 0; i < g->npages; i++)
		if ((g->perm[i] & ~HMM_DMIRROR_PROT_PMD) != HMM_DMIRROR_PROT_WRITE)
			return bad(what, i);
	return 0;
}

static int sample_snapshot(struct group *g, struct timing *t)
{
	struct hmm_dmirror_cmd cmd;
	int fd, ret;

	memset(g->perm, HMM_DMIRROR_PROT_ERROR, g->npages);
	fd = dev();
	if (fd < 0)
		return fd;
	timer_start(&t[0]);
	ret = dmirror(fd, HMM_DMIRROR_SNAPSHOT, g->src, g->perm, g->npages, &cmd);
	timer_stop(&t[0]);
	if (!ret)
		ret = cpages_ok(&cmd, g, "snapshot");
	if (!ret)
		ret = all_in_ram(g, "snapshot-perm");
	return ret;
}

static int sample_exclusive(struct group *g, struct timing *t)
{
	unsigned seed;
	char *r;
	long b;
	int fd, ret;

	ret = fresh_range(g, &r, &fd, &seed);
	if (ret)
		return ret;
	ret = timed_copy(g, fd, HMM_DMIRROR_EXCLUSIVE, r, seed, "exclusive",
			 &t[0]);
	/* The CPU gets its access back on the next touch: check that too. */
	if (!ret && (b = check_tags(r, g->size, seed)) >= 0)
		ret = bad("exclusive-cpu", b);
	munmap(r, g->size);
	return ret;
}

static int sample_evict(struct group *g, struct timing *t)
{
	struct hmm_dmirror_cmd cmd;
	unsigned seed;
	char *r;
	long b;
	int fd, evict_fd, ret;

	ret = fresh_range(g, &r, &fd, &seed);
	if (ret)
		return ret;
	/* fresh_range() opened the run's file; the second is closed here */
	evict_fd = open_device();
	if (evict_fd < 0) {
		ret = evict_fd;
		goto out;
	}
	ret = dmirror(evict_fd, HMM_DMIRROR_MIGRATE_TO_DEV, r, g->out, g->npages,
		      &cmd);
	if (!ret)
		ret = cpages_ok(&cmd, g, "evict-migrate");
	timer_start(&t[0]);
	close(evict_fd);
	timer_stop(&t[0]);
	if (ret)
		goto out;
	/* Every page back in system memory, before the CPU touches one */
	memset(g->perm, HMM_DMIRROR_PROT_ERROR, g->npages);
	ret = dmirror(fd, HMM_DMIRROR_SNAPSHOT, r, g->perm, g->npages, &cmd);
	if (!ret)
		ret = all_in_ram(g, "evict-perm");
	if (!ret && (b = check_tags(r, g->size, seed)) >= 0)
		ret = bad("evict", b);
out:
	munmap(r, g->size);
	return ret;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void add_sample(struct result *r, const struct timing *t)
{
	r->ns[r->n] = t->ns;
	r->cal[r->n] = t->cal;
	r->n++;
	if (t->cal)
		r->rel[r->nrel++] = (double)t->ns / t->cal;
}

/*
 * One sample of @op into res[op] (and res[FAULT], res[MOVE] for migrate), unless the op
 * already failed in an earlier round: a failure ends the case.
 */
static void run_op(struct group *g, int op, struct result *res)
{
	static int (*const fn[NOPS])(struct group *, struct timing *) = {
		[TOUCH] = sample_touch, [MEMCPY] = sample_memcpy,
		[MIGRATE] = sample_migrate, [READ] = sample_read,
		[SNAPSHOT] = sample_snapshot, [EXCLUSIVE] = sample_exclusive,
		[EVICT] = sample_evict,
	};
	struct result *r = &res[op], *f = &res[FAULT], *m = &res[MOVE];
	struct timing t[3];
	int try, ret;

	if (r->status[0])
		return;
	/* A busy page (e.g. still in a per-CPU LRU batch) is tried again. */
	for (try = 0; try < TRIES; try++) {
		why[0] = 0;
		ret = fn[op](g, t);
		if (ret != -EBUSY && ret != -ENOENT && ret != -EAGAIN)
			break;
		r->retries++;
	}
	if (op == MIGRATE)
		f->retries = m->retries = r->retries;
	/* Only the check after the fault back failed: migrate itself is fine. */
	if (op == MIGRATE && ret > 0 && !strncmp(why, "bad-data:fault", 14)) {
		add_sample(r, &t[0]);
		if (!m->status[0])
			add_sample(m, &t[2]);
		snprintf(f->status, sizeof(f->status), "%s", why);
		return;
	}
	if (ret < 0)
		snprintf(r->status, sizeof(r->status), "error:%s", errname(-ret));
	else if (ret > 0)
		snprintf(r->status, sizeof(r->status), "%s", why);
	if (ret) {
		if (op == MIGRATE && !f->status[0])
			strcpy(f->status, "skip:migrate-failed");
		if (op == MIGRATE && !m->status[0])
			strcpy(m->status, "skip:migrate-failed");
		return;
	}
	add_sample(r, &t[0]);
	if (op == MIGRATE && !f->status[0])
		add_sample(f, &t[1]);
	if (op == MIGRATE && !m->status[0])
		add_sample(m, &t[2]);
}

/* Value at fraction @q of the sorted samples, interpolated. */
static double quantile(const double *v, int n, double q)
{
	double x = (n - 1) * q;
	int i = (int)x;

	return i + 1 < n ? v[i] + (x - i) * (v[i + 1] - v[i]) : v[i];
}

static int tap_n;

/* Samples of each case per round */
static int per_round(const struct group *g)
{
	return g->size < SMALL_RANGE ? small_reps : 1;
}

static void report(struct group *g, int op, struct result *r)
{
	double med = 0, q1 = 0, q3 = 0;
	char name[64];

	if (!r->status[0])
		snprintf(r->status, sizeof(r->status),
			 r->n == reps * per_round(g) ? "ok" : "short:%d/%d",
			 r->n, reps * per_round(g));
	printf("# csv: %s,%s,%zu,%d,", op_name[op], g->thp ? "on" : "off",
	       g->size, r->n);
	if (r->n) {
		qsort(r->ns, r->n, sizeof(r->ns[0]), cmp_double);
		med = quantile(r->ns, r->n, 0.5);
		q1 = quantile(r->ns, r->n, 0.25);
		q3 = quantile(r->ns, r->n, 0.75);
		printf("%.3f,%.3f,%.3f,%.3f,%.3f,", med / 1000,
		       r->ns[0] / 1000, r->ns[r->n - 1] / 1000,
		       q1 / 1000, q3 / 1000);
		/* bytes per ns = GB/s; none when below the clock's resolution */
		if (med > 0)
			printf("%.4f,", g->size / med);
		else
			printf(",");
	} else {
		printf(",,,,,,");	/* no figures */
	}
	printf("%d,%d,%s,", g->thp_pct, r->retries, r->status);
	/*
	 * The reference's median, and the samples in reference units: none
	 * if the clock was too coarse to time the reference.
	 */
	if (r->n) {
		qsort(r->cal, r->n, sizeof(r->cal[0]), cmp_double);
		printf("%.3f,", quantile(r->cal, r->n, 0.5) / 1000);
	} else {
		printf(",");
	}
	if (r->nrel) {
		qsort(r->rel, r->nrel, sizeof(r->rel[0]), cmp_double);
		printf("%.4f,%.4f,%.4f\n", quantile(r->rel, r->nrel, 0.5),
		       quantile(r->rel, r->nrel, 0.25),
		       quantile(r->rel, r->nrel, 0.75));
	} else {
		printf(",,\n");
	}

	if (g->size >= MiB)
		snprintf(name, sizeof(name), "%s_%zuMiB_thp-%s", op_name[op],
			 g->size / MiB, g->thp ? "on" : "off");
	else
		snprintf(name, sizeof(name), "%s_%zuKiB_thp-%s", op_name[op],
			 g->size / KiB, g->thp ? "on" : "off");
	if (!strcmp(r->status, "ok"))
		printf("ok %d %s\n", ++tap_n, name);
	else if (!strncmp(r->status, "skip:", 5))
		printf("ok %d %s # SKIP %s\n", ++tap_n, name, r->status + 5);
	else
		printf("not ok %d %s # %s\n", ++tap_n, name, r->status);
}

/*
 * One round of a group: its source and output ranges made afresh, then one
 * sample of each op wanted (-k below 1 MiB): evict only, or all the others.
 */
static void run_group(struct group *g, const int *want, struct result *res,
		      int evict)
{
	int op, pct, k;

	g->npages = g->size / page_size;
	g->src = map_range(g->size, g->thp);
	g->out = map_range(g->size, g->thp);
	g->perm = malloc(g->npages);
	if (!g->src || !g->out || !g->perm) {
		for (op = 0; op < NOPS; op++)
			if (!res[op].status[0])
				strcpy(res[op].status, "error:ENOMEM");
		goto out;
	}
	populate(g->src, g->size, 1);
	populate(g->out, g->size, 0);
	memset(g->perm, 0, g->npages);
	/* the lowest share of THP any round had */
	pct = thp_percent(g->src, g->size);
	if (g->thp_pct < 0 || pct < g->thp_pct)
		g->thp_pct = pct;

	for (k = 0; k < per_round(g); k++)
		for (op = 0; op < NOPS; op++)
			if (op != FAULT && op != MOVE && (op == EVICT) == evict &&
			    (want[op] ||
			     (op == MIGRATE && (want[FAULT] || want[MOVE]))))
				run_op(g, op, res);
out:
	if (g->src)
		munmap(g->src, g->size);
	if (g->out)
		munmap(g->out, g->size);
	free(g->perm);
	g->src = g->out = NULL;
	g->perm = NULL;
}

static void read_line(const char *path, char *buf, int len)
{
	FILE *f = fopen(path, "r");

	if (!f)
		return;
	if (fgets(buf, len, f))
		buf[strcspn(buf, "\n")] = 0;
	fclose(f);
}

/*
 * The memcpy ceiling without "rep movsb": glibc copies 16 KiB .. ~1 MiB with
 * it on CPUs with ERMS, and QEMU TCG emulates it a byte at a time, some 50
 * times slower than the vector loop glibc uses otherwise; the ceiling would
 * then be an emulator artifact.  glibc reads its tunables at startup only,
 * so run again with them set.  -M keeps glibc's own choice.
 */
#define REP_MOVSB_OFF	"glibc.cpu.x86_rep_movsb_threshold=1073741824"

static void no_rep_movsb(char **argv)
{
	const char *cur = getenv("GLIBC_TUNABLES");
	char *val;

	if (cur && strstr(cur, REP_MOVSB_OFF))
		return;
	if (asprintf(&val, "%s%s%s", cur ? cur : "", cur ? ":" : "", REP_MOVSB_OFF) < 0)
		return;
	setenv("GLIBC_TUNABLES", val, 1);
	execv("/proc/self/exe", argv);
	/* No /proc: go on with glibc's choice, the header says which. */
	unsetenv("GLIBC_TUNABLES");
	if (cur)
		setenv("GLIBC_TUNABLES", cur, 1);
}

static size_t parse_size(const char *s)
{
	char *end;
	unsigned long v = strtoul(s, &end, 0);

	switch (*end) {
	case 'k': case 'K': v *= KiB; end++; break;
	case 'm': case 'M': v *= MiB; end++; break;
	case 'g': case 'G': v *= 1024 * MiB; end++; break;
	}
	if (*end == 'i')
		end++;
	if (*end == 'B')
		end++;
	return *end ? 0 : v;
}

static void usage(const char *argv0)
{
	fprintf(stderr,
		"usage: %s [-q] [-M] [-r REPS] [-k SMALL] [-s SIZES] [-t THP] [-o OPS] [-d DEVICE]\n"
		"  -q        quick: smallest size only, 3 repetitions, -k 1 (a functional check)\n"
		"  -r REPS   rounds, 1..%d (default 9): one sample of each case per round\n"
		"  -k SMALL  samples per round of ranges below 1 MiB, 1..%d (default 5)\n"
		"  -s SIZES  comma list with K/M/G suffixes, multiples of the page size\n"
		"            (default 4K,16K,64K,256K,1M,2M,4M,16M,64M,256M)\n"
		"  -t THP    comma list of off,on (default off,on); 'on' runs only for\n"
		"            sizes of 2 MiB and up, smaller ranges cannot hold a THP\n"
		"  -o OPS    comma list of touch,memcpy,migrate,fault,move,read,snapshot,\n"
		"            exclusive,evict (default all)\n"
		"  -d DEVICE test_hmm device (default /dev/hmm_dmirror0, device private)\n"
		"  -M        memcpy as glibc picks it (default: without rep movsb, see source)\n",
		argv0, MAX_REPS, MAX_SMALL);
	exit(2);
}

int main(int argc, char **argv)
{
	const char *sizes_arg = "4K,16K,64K,256K,1M,2M,4M,16M,64M,256M";
	const char *thp_arg = "off,on", *ops_arg = NULL;
	size_t sizes[MAX_SIZES];
	int nsizes = 0, want[NOPS] = { 0 }, thp_want[2] = { 0 };
	int quick = 0, reps_set = 0, small_set = 0, plain_memcpy = 0;
	int c, i, t, op, ncases = 0, nops = 0, ngroups = 0, round, evict;
	int others, evict_skipped;
	char evict_param[8];
	struct group groups[2 * MAX_SIZES];
	struct result (*res)[NOPS];
	char *list, *tok, thp_sys[128] = "?", clocksource[64] = "?";
	struct utsname u;
	uint64_t t0 = now_ns();
	cpu_set_t cpus;

	while ((c = getopt(argc, argv, "qr:k:s:t:o:d:Mh")) != -1) {
		switch (c) {
		case 'M': plain_memcpy = 1; break;
		case 'q': quick = 1; break;
		case 'r': reps = atoi(optarg); reps_set = 1; break;
		case 'k': small_reps = atoi(optarg); small_set = 1; break;
		case 's': sizes_arg = optarg; break;
		case 't': thp_arg = optarg; break;
		case 'o': ops_arg = optarg; break;
		case 'd': device = optarg; break;
		default: usage(argv[0]);
		}
	}
	if (optind != argc)
		usage(argv[0]);
	if (!plain_memcpy)
		no_rep_movsb(argv);
	if (quick && !reps_set)
		reps = 3;
	if (quick && !small_set)
		small_reps = 1;
	if (reps < 1 || reps > MAX_REPS || small_reps < 1 ||
	    small_reps > MAX_SMALL)
		usage(argv[0]);
	page_size = sysconf(_SC_PAGESIZE);
	/* Contents the compiler cannot know, so that cal_ns() is not folded */
	for (i = 0; i < CAL_WORDS; i++)
		cal_buf[i] = now_ns() ^ ((uint64_t)i << 40);

	list = strdup(sizes_arg);
	for (tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
		size_t s = parse_size(tok);

		if (!s || s % page_size || nsizes == MAX_SIZES) {
			fprintf(stderr, "bad size %s\n", tok);
			usage(argv[0]);
		}
		sizes[nsizes++] = s;
	}
	free(list);
	if (quick) {	/* the smallest size only */
		for (i = 1; i < nsizes; i++)
			if (sizes[i] < sizes[0])
				sizes[0] = sizes[i];
		nsizes = 1;
	}
	list = strdup(thp_arg);
	for (tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
		if (!strcmp(tok, "off"))
			thp_want[0] = 1;
		else if (!strcmp(tok, "on"))
			thp_want[1] = 1;
		else
			usage(argv[0]);
	}
	free(list);
	if (ops_arg) {
		list = strdup(ops_arg);
		for (tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
			for (op = 0; op < NOPS && strcmp(tok, op_name[op]); op++)
				;
			if (op == NOPS)
				usage(argv[0]);
			want[op] = 1;
		}
		free(list);
	} else {
		for (op = 0; op < NOPS; op++)
			want[op] = 1;
	}
	for (op = 0; op < NOPS; op++)
		nops += want[op];
	others = nops - want[EVICT];
	for (i = 0; i < nsizes; i++)
		for (t = 0; t < 2; t++)
			if (thp_want[t] && (!t || sizes[i] >= PMD_SIZE_))
				ncases += nops;

	/*
	 * Stay on one CPU: pages faulted in sit in that CPU's LRU batch, which
	 * migration drains locally; and the figures vary less.
	 */
	CPU_ZERO(&cpus);
	CPU_SET(sched_getcpu() < 0 ? 0 : sched_getcpu(), &cpus);
	sched_setaffinity(0, sizeof(cpus), &cpus);

	read_line("/sys/kernel/mm/transparent_hugepage/enabled", thp_sys, sizeof(thp_sys));
	read_line("/sys/devices/system/clocksource/clocksource0/current_clocksource",
		  clocksource, sizeof(clocksource));
	uname(&u);
	printf("TAP version 13\n");
	printf("# hmm-bench: kernel=%s device=%s reps=%d small_reps=%d page=%zu quick=%d\n",
	       u.release, device, reps, small_reps, page_size, quick);
	printf("# hmm-bench: clocksource=%s\n", clocksource);
	/* A jiffies clocksource ticks every few ms: figures below are coarse. */
	if (strstr(clocksource, "jiffies"))
		printf("# hmm-bench: warning: clocksource %s, timer resolution of a tick\n",
		       clocksource);
	printf("# hmm-bench: thp_enabled=%s\n", thp_sys);
	printf("# hmm-bench: memcpy=%s\n",
	       getenv("GLIBC_TUNABLES") && strstr(getenv("GLIBC_TUNABLES"), REP_MOVSB_OFF) ?
	       "glibc-no-rep-movsb" : "glibc");
	printf("# csv-header: op,thp,size,reps,med_us,min_us,max_us,q1_us,q3_us,gbps,thp_pct,retries,status,cal_us,rel_med,rel_q1,rel_q3\n");
	printf("1..%d\n", ncases);
	fflush(stdout);

	for (i = 0; i < nsizes; i++)
		for (t = 0; t < 2; t++)
			if (thp_want[t] && (!t || sizes[i] >= PMD_SIZE_))
				groups[ngroups++] = (struct group){
					.size = sizes[i], .thp = t, .thp_pct = -1,
				};
	res = calloc(ngroups, sizeof(*res));
	if (!res)
		return 1;
	/*
	 * evict times the close of a file, which evicts the device's memory
	 * unless test_hmm was loaded with evict_on_close=0 (a parameter the
	 * base's test_hmm does not have, and whose close always evicts).
	 */
	evict_param[0] = 0;
	read_line("/sys/module/test_hmm/parameters/evict_on_close", evict_param,
		  sizeof(evict_param));
	evict_skipped = want[EVICT] &&
			(evict_param[0] == 'N' || evict_param[0] == '0');
	if (evict_skipped)
		for (i = 0; i < ngroups; i++)
			strcpy(res[i][EVICT].status, "skip:evict_on_close=0");

	/*
	 * Rounds: one sample of every case per round (-k below 1 MiB), so
	 * that a stretch of host noise costs each case a sample or a few, not
	 * all of them; then the same for evict.  Each begins with a warm-up:
	 * every path once at the smallest size, not reported.
	 */
	for (evict = 0; evict < 2; evict++) {
		struct group g = { .size = sizes[0], .thp_pct = -1 };
		static struct result w[NOPS];

		if (evict && (!want[EVICT] || evict_skipped))
			break;
		if (!evict && !others)	/* -o evict alone */
			continue;
		memset(w, 0, sizeof(w));
		run_group(&g, want, w, evict);
		for (round = 0; round < reps; round++) {
			uint64_t r0 = now_ns();

			for (i = 0; i < ngroups; i++)
				run_group(&groups[i], want, res[i], evict);
			printf("# hmm-bench: %sround %d/%d in %.1f s\n",
			       evict ? "evict " : "", round + 1, reps,
			       (now_ns() - r0) / 1e9);
			fflush(stdout);
		}
	}

	for (i = 0; i < ngroups; i++)
		for (op = 0; op < NOPS; op++)
			if (want[op])
				report(&groups[i], op, &res[i][op]);
	read_line("/sys/devices/system/clocksource/clocksource0/current_clocksource",
		  clocksource, sizeof(clocksource));
	printf("# hmm-bench: clocksource=%s\n", clocksource);
	if (strstr(clocksource, "jiffies"))
		printf("# hmm-bench: warning: clocksource %s at the end, timer resolution of a tick\n",
		       clocksource);
	printf("# hmm-bench: %d cases in %.1f s\n", tap_n,
	       (now_ns() - t0) / 1e9);
	return 0;
}
