// SPDX-License-Identifier: GPL-2.0
#define HMM_PROBE_LICENSE "GPL"
#include "../hmm_probe_body.c"
