/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Percentiles of a latency histogram (struct wave_lat_hist, wave_sched_shared.h), for
 * wave-sched status. Plain C so the loader links it; tested on the host (tests/).
 */
#ifndef WAVE_LAT_PERCENTILE_H
#define WAVE_LAT_PERCENTILE_H

#include "wave_sched_shared.h"

#ifdef __cplusplus
extern "C" {
#endif

struct wave_lat_summary {
	__u64 count;	/* samples */
	__u64 overflow; /* samples >= WAVE_LAT_MAX_NS: only known to be at least that */
	__u64 p50_ns;
	__u64 p90_ns;
	__u64 p99_ns;
	__u64 p999_ns;
};

/*
 * The value below which @ppm parts per million of the samples lie (nearest rank), as the
 * middle of the bucket holding it: within half a bucket, at most 1/32 of the value, of the
 * exact figure; exact below 16 ns. WAVE_LAT_MAX_NS when it is in the overflow bucket, 0 for
 * an empty histogram.
 */
__u64 wave_lat_percentile(const struct wave_lat_hist *h, __u32 ppm);

/* Count, overflow and p50/p90/p99/p99.9 of @h. */
void wave_lat_summarize(const struct wave_lat_hist *h, struct wave_lat_summary *out);

#ifdef __cplusplus
}
#endif

#endif /* WAVE_LAT_PERCENTILE_H */
