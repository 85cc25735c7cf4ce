// SPDX-License-Identifier: GPL-2.0 OR MIT
/* Percentiles of the scheduler's log-linear latency histograms: see wave_lat_percentile.h. */
#include "wave_lat_percentile.h"

static __u64 hist_total(const struct wave_lat_hist *h)
{
	__u64 total = 0;
	__u32 i;

	for (i = 0; i < WAVE_LAT_BUCKETS; i++)
		total += h->count[i];
	return total;
}

/* Nearest rank of the @ppm quantile among @total samples: ceil(total * ppm / 1e6), >= 1. */
static __u64 quantile_rank(__u64 total, __u32 ppm)
{
	unsigned __int128 scaled = (unsigned __int128)total * (ppm > 1000000 ? 1000000 : ppm);
	__u64 rank = (__u64)((scaled + 999999) / 1000000);

	return rank ? rank : 1;
}

static __u64 bucket_middle(__u32 i)
{
	__u64 lo = wave_lat_lower(i);

	if (i >= WAVE_LAT_OVERFLOW)
		return lo;
	return lo + (wave_lat_upper(i) - lo) / 2;
}

static __u64 percentile_of(const struct wave_lat_hist *h, __u64 total, __u32 ppm)
{
	__u64 rank, seen = 0;
	__u32 i;

	if (!total)
		return 0;
	rank = quantile_rank(total, ppm);
	for (i = 0; i < WAVE_LAT_BUCKETS; i++) {
		seen += h->count[i];
		if (seen >= rank)
			return bucket_middle(i);
	}
	return WAVE_LAT_MAX_NS; /* not reached: seen ends at total >= rank */
}

__u64 wave_lat_percentile(const struct wave_lat_hist *h, __u32 ppm)
{
	return percentile_of(h, hist_total(h), ppm);
}

void wave_lat_summarize(const struct wave_lat_hist *h, struct wave_lat_summary *out)
{
	__u64 total = hist_total(h);

	out->count = total;
	out->overflow = h->count[WAVE_LAT_OVERFLOW];
	out->p50_ns = percentile_of(h, total, 500000);
	out->p90_ns = percentile_of(h, total, 900000);
	out->p99_ns = percentile_of(h, total, 990000);
	out->p999_ns = percentile_of(h, total, 999000);
}
