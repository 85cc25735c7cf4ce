// SPDX-License-Identifier: GPL-2.0
/*
 * wave-sched: loads bpf/wave_sched.bpf.c and runs the scheduling offload.
 *
 *   wave-sched start [--policy fifo|shinjuku|vm|none] [--vm ...] [--partial] [options]
 *                                       daemonise (--vm: see usage(); policy vm only)
 *   wave-sched daemon [same options]    run in the foreground until SIGINT/SIGTERM
 *   wave-sched stop                     stop the daemon: every task returns to the fair class
 *   wave-sched status [--json]          decisions/s, outcomes, fallbacks, latency percentiles
 *                                       (decision latency, idle-CPU pickup)
 *   wave-sched run -- CMD [ARGS]        run CMD in SCHED_EXT (the Wave class in partial mode)
 *
 * The daemon creates the message and decision queues on /dev/waveN, attaches them to wave.ko
 * as the scheduling link (WAVE_IOC_SCHED_ATTACH), loads and attaches the scheduler, and then
 * only watches: no user-space thread sits on the decision path. It writes its counters to
 * $WAVE_SCHED_DIR/stats.json twice a second. When the scheduler exits because the NIC's
 * heartbeat stopped, the daemon (unless --no-restart) waits for the NIC to come back,
 * re-attaches a fresh link and loads the scheduler again.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/magic.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <scx/common.h>

#include "wave_abi.h"
#include "wave_ioctl.h"
#include "wave_lat_percentile.h"
#include "wave_msg.h"
#include "wave_ring.h"
#include "wave_sched.skel.h"
#include "wave_sched_link.h"
#include "wave_sched_shared.h"

#ifndef SCHED_EXT
#define SCHED_EXT 7
#endif

struct options {
	const char *dev;
	unsigned int policy;
	bool partial;
	bool restart;
	bool no_ticks;
	uint64_t fallback_us;
	uint64_t hb_timeout_ms;
	uint64_t slice_us;
	uint32_t msg_slots;
	uint32_t dec_slots;
	struct wave_sched_vm_cfg vm_cfg; /* --vm entries (policy vm) */
};

static const char *const policy_names[] = {"none", "fifo", "shinjuku", "vm"};
_Static_assert(sizeof(policy_names) / sizeof(policy_names[0]) == WAVE_SCHED_POLICY_MAX + 1,
	       "a name per policy");
static volatile sig_atomic_t stop_requested;

/* ---- paths ---- */

static const char *run_dir(void)
{
	const char *d = getenv("WAVE_SCHED_DIR");

	return d && *d ? d : "/run/wave-sched";
}

static void run_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", run_dir(), name);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- the link: queues on the device, attached to wave.ko ---- */

struct link {
	int fd;
	uint32_t msg_q, dec_q;
	bool have_msg, have_dec, attached;
	struct wave_sched_attach att;
};

static int create_queue(int fd, uint64_t size, uint16_t dir, uint16_t kind, uint16_t vector,
			uint32_t *id)
{
	struct wave_queue_create c = {
	    .argsz = sizeof(c),
	    .size = size,
	    .dir = dir,
	    .cache_mode = WAVE_CACHE_DEFAULT,
	    .kind = kind,
	    .vector = vector,
	};

	if (ioctl(fd, WAVE_IOC_CREATE_QUEUE, &c))
		return -errno;
	*id = c.id;
	return 0;
}

static void destroy_queue(int fd, uint32_t id)
{
	struct wave_queue_destroy d = {.argsz = sizeof(d), .id = id};

	ioctl(fd, WAVE_IOC_DESTROY_QUEUE, &d);
}

static void link_close(struct link *l)
{
	if (l->fd < 0)
		return;
	if (l->attached)
		ioctl(l->fd, WAVE_IOC_SCHED_DETACH);
	if (l->have_msg)
		destroy_queue(l->fd, l->msg_q);
	if (l->have_dec)
		destroy_queue(l->fd, l->dec_q);
	l->attached = l->have_msg = l->have_dec = false;
}

static uint64_t page_align(uint64_t v)
{
	return (v + WAVE_PAGE_SIZE - 1) & ~(uint64_t)(WAVE_PAGE_SIZE - 1);
}

static int link_open(struct link *l, const struct options *o)
{
	uint32_t ncpu = (uint32_t)libbpf_num_possible_cpus();
	struct wave_info info = {.argsz = sizeof(info)};
	uint64_t msg_size, dec_size;
	uint16_t vec_msg, vec_dec;
	int ret;

	if (ioctl(l->fd, WAVE_IOC_GET_INFO, &info))
		return -errno;
	if (info.nic_state != WAVE_NIC_STATE_READY)
		return -ENODEV;
	/* A link left by a killed daemon: only one scheduler runs, so it is ours to drop. */
	ioctl(l->fd, WAVE_IOC_SCHED_DETACH);
	vec_msg = info.nr_vectors > 1 ? 1 : 0;
	vec_dec = info.nr_vectors > 2 ? 2 : vec_msg;
	msg_size = page_align(WAVE_REGION_HDR_SIZE + (uint64_t)o->msg_slots * WAVE_CACHELINE);
	dec_size = page_align(WAVE_REGION_HDR_SIZE + (uint64_t)o->dec_slots * WAVE_CACHELINE +
			      (uint64_t)ncpu * WAVE_CACHELINE);
	ret = create_queue(l->fd, msg_size, WAVE_DIR_HOST_TO_NIC, WAVE_QKIND_MESSAGE, vec_msg,
			   &l->msg_q);
	if (ret)
		return ret;
	l->have_msg = true;
	ret = create_queue(l->fd, dec_size, WAVE_DIR_NIC_TO_HOST, WAVE_QKIND_DECISION, vec_dec,
			   &l->dec_q);
	if (ret)
		return ret;
	l->have_dec = true;
	memset(&l->att, 0, sizeof(l->att));
	l->att.argsz = sizeof(l->att);
	l->att.msg_queue = l->msg_q;
	l->att.dec_queue = l->dec_q;
	l->att.msg_slots = o->msg_slots;
	l->att.dec_slots = o->dec_slots;
	l->att.policy = o->policy;
	l->att.slice_ns = o->slice_us * 1000;
	if (o->policy == WAVE_SCHED_POLICY_VM)
		l->att.vm_cfg = (uint64_t)(uintptr_t)&o->vm_cfg;
	if (ioctl(l->fd, WAVE_IOC_SCHED_ATTACH, &l->att))
		return -errno;
	l->attached = true;
	return 0;
}

static int link_stats(int fd, struct wave_sched_stats *s)
{
	memset(s, 0, sizeof(*s));
	s->argsz = sizeof(*s);
	return ioctl(fd, WAVE_IOC_SCHED_STATS, s) ? -errno : 0;
}

/* ---- the BPF scheduler ---- */

static struct wave_sched *sched_load(const struct options *o, uint32_t nr_cpus,
				     struct bpf_link **link)
{
	struct wave_sched *skel;

	skel = SCX_OPS_OPEN(wave_ops, wave_sched);
	skel->rodata->fallback_ns = o->fallback_us * 1000;
	skel->rodata->hb_timeout_ns = o->hb_timeout_ms * 1000000;
	skel->rodata->nr_cpus = nr_cpus;
	skel->rodata->send_ticks = !o->no_ticks;
	skel->rodata->send_groups = o->policy == WAVE_SCHED_POLICY_VM;
	if (o->policy == WAVE_SCHED_POLICY_VM) {
		uint64_t all = nr_cpus >= 64 ? ~0ull : (1ull << nr_cpus) - 1, used = 0;
		unsigned int i;

		for (i = 0; i < o->vm_cfg.nr_vms; i++) {
			skel->rodata->vm_cgroups[i] = o->vm_cfg.vms[i].cgroup_id;
			skel->rodata->vm_cpumasks[i] = o->vm_cfg.vms[i].cpumask;
			used |= o->vm_cfg.vms[i].cpumask;
		}
		skel->rodata->vm_unreserved = all & ~used;
	}
	if (o->partial)
		skel->struct_ops.wave_ops->flags |= SCX_OPS_SWITCH_PARTIAL;
	/*
	 * The skeleton is built from the same tree, so this only fails when the object and the
	 * loader were not rebuilt together: better than summing a layout that is not there.
	 */
	if (bpf_map__value_size(skel->maps.stats) != sizeof(struct wave_sched_bpf_stats)) {
		fprintf(stderr, "wave-sched: stats map holds %u bytes, loader expects %zu\n",
			bpf_map__value_size(skel->maps.stats), sizeof(struct wave_sched_bpf_stats));
		exit(1);
	}
	SCX_OPS_LOAD(skel, wave_ops, wave_sched, uei);
	*link = SCX_OPS_ATTACH(skel, wave_ops, wave_sched);
	return skel;
}

/* Summed word by word over the per-CPU copies, histograms included. */
_Static_assert(sizeof(struct wave_sched_bpf_stats) % sizeof(__u64) == 0,
	       "wave_sched_bpf_stats is made of __u64 only");

static void sum_stats(struct wave_sched *skel, struct wave_sched_bpf_stats *out)
{
	int ncpu = libbpf_num_possible_cpus();
	struct wave_sched_bpf_stats *per;
	uint32_t zero = 0;
	unsigned int i, c;

	memset(out, 0, sizeof(*out));
	if (ncpu <= 0)
		return;
	/* About 10 KB per CPU (two histograms): too much for the stack on a large machine. */
	per = calloc(ncpu, sizeof(*per));
	if (!per)
		return;
	if (bpf_map__lookup_elem(skel->maps.stats, &zero, sizeof(zero), per, ncpu * sizeof(*per),
				 0)) {
		free(per);
		return;
	}
	for (c = 0; c < (unsigned int)ncpu; c++) {
		const __u64 *src = (const __u64 *)&per[c];
		__u64 *dst = (__u64 *)out;

		for (i = 0; i < sizeof(*out) / sizeof(__u64); i++)
			dst[i] += src[i];
	}
	free(per);
}

/* "NAME_count":N,"NAME_overflow":N,"NAME_p50_ns":N,... for histogram @h. */
static void write_lat_json(FILE *f, const char *name, const struct wave_lat_hist *h)
{
	struct wave_lat_summary s;

	wave_lat_summarize(h, &s);
	fprintf(f,
		"\"%s_count\":%llu,\"%s_overflow\":%llu,\"%s_p50_ns\":%llu,\"%s_p90_ns\":%llu,"
		"\"%s_p99_ns\":%llu,\"%s_p999_ns\":%llu,",
		name, (unsigned long long)s.count, name, (unsigned long long)s.overflow, name,
		(unsigned long long)s.p50_ns, name, (unsigned long long)s.p90_ns, name,
		(unsigned long long)s.p99_ns, name, (unsigned long long)s.p999_ns);
}

static void write_stats(const struct options *o, const char *state,
			const struct wave_sched_bpf_stats *b, const struct wave_sched_stats *k,
			double rate, double uptime_s, int restarts, const char *exit_reason)
{
	/* The rate over the last interval reads 0 once the load stops; the mean since the
	 * scheduler was loaded says what the offload sustained.
	 */
	double avg = uptime_s > 0 ? (double)b->decisions / uptime_s : 0;

	char path[256], tmp[272];
	FILE *f;

	run_path(path, sizeof(path), "stats.json");
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		return;
	fprintf(f, "{\"state\":\"%s\",\"pid\":%d,\"policy\":\"%s\",\"mode\":\"%s\",", state,
		getpid(), policy_names[o->policy], o->partial ? "partial" : "all");
	fprintf(f, "\"restarts\":%d,\"exit_reason\":\"%s\",", restarts, exit_reason);
	fprintf(f,
		"\"decisions\":%llu,\"decisions_per_s\":%.1f,\"avg_decisions_per_s\":%.1f,"
		"\"uptime_s\":%.1f,\"idle_decisions\":%llu,",
		(unsigned long long)b->decisions, rate, avg, uptime_s,
		(unsigned long long)b->idle_decisions);
	fprintf(f,
		"\"outcomes\":{\"committed\":%llu,\"stale\":%llu,\"aborted\":%llu,"
		"\"cpu_unavailable\":%llu,\"invalid\":%llu},",
		(unsigned long long)b->outcomes[WAVE_TXN_COMMITTED],
		(unsigned long long)b->outcomes[WAVE_TXN_STALE],
		(unsigned long long)(b->outcomes[WAVE_TXN_ABORTED] + k->aborted_epoch),
		(unsigned long long)b->outcomes[WAVE_TXN_CPU_UNAVAILABLE],
		(unsigned long long)k->invalid);
	fprintf(f, "\"fallbacks\":%llu,\"enqueued\":%llu,\"direct\":%llu,\"send_failed\":%llu,",
		(unsigned long long)b->fallbacks, (unsigned long long)b->enqueued,
		(unsigned long long)b->direct, (unsigned long long)b->send_failed);
	fprintf(
	    f,
	    "\"events\":{\"new\":%llu,\"runnable\":%llu,\"blocked\":%llu,\"preempted\":%llu,"
	    "\"yield\":%llu,\"dead\":%llu,\"affinity\":%llu,\"cpu_idle\":%llu,\"cpu_tick\":%llu,"
	    "\"running\":%llu,\"group\":%llu},",
	    (unsigned long long)b->events[WAVE_EVIDX_NEW],
	    (unsigned long long)b->events[WAVE_EVIDX_RUNNABLE],
	    (unsigned long long)b->events[WAVE_EVIDX_BLOCKED],
	    (unsigned long long)b->events[WAVE_EVIDX_PREEMPTED],
	    (unsigned long long)b->events[WAVE_EVIDX_YIELD],
	    (unsigned long long)b->events[WAVE_EVIDX_DEAD],
	    (unsigned long long)b->events[WAVE_EVIDX_AFFINITY],
	    (unsigned long long)b->events[WAVE_EVIDX_CPU_IDLE],
	    (unsigned long long)b->events[WAVE_EVIDX_CPU_TICK],
	    (unsigned long long)b->events[WAVE_EVIDX_RUNNING],
	    (unsigned long long)b->events[WAVE_EVIDX_GROUP]);
	write_lat_json(f, "decision_latency", &b->decision_lat);
	write_lat_json(f, "idle_pickup", &b->idle_pickup_lat);
	fprintf(f,
		"\"idle_pickups_irq\":%llu,\"idle_pickups_timer\":%llu,"
		"\"idle_pickups_dispatch\":%llu,\"idle_pickups_prestaged\":%llu,"
		"\"nic_irqs\":%llu,\"irq_drained\":%llu,\"irq_prestaged\":%llu,"
		"\"idle_kicks\":%llu,\"kicks_busy\":%llu,",
		(unsigned long long)b->idle_pickups_by[WAVE_PICKUP_IRQ],
		(unsigned long long)b->idle_pickups_by[WAVE_PICKUP_TIMER],
		(unsigned long long)b->idle_pickups_by[WAVE_PICKUP_DISPATCH],
		(unsigned long long)b->idle_pickups_by[WAVE_PICKUP_PRESTAGED],
		(unsigned long long)k->nic_irqs, (unsigned long long)k->irq_drained,
		(unsigned long long)k->irq_prestaged, (unsigned long long)k->idle_kicks, (unsigned long long)k->kicks_busy);
	fprintf(f,
		"\"link\":{\"attached\":%u,\"agent_epoch\":%llu,\"hb_age_ns\":%llu,"
		"\"msgs_sent\":%llu,\"msgs_dropped_full\":%llu,\"msgs_rejected\":%llu,"
		"\"prestaged_taken\":%llu,\"ring_taken\":%llu,\"torn\":%llu,\"bad_slots\":%llu,"
		"\"garbage_seqs\":%llu,\"invalid\":%llu,\"aborted_epoch\":%llu,"
		"\"pending_dropped\":%llu,\"bad_credits\":%llu,\"doorbells\":%llu}}\n",
		k->attached, (unsigned long long)k->agent_epoch, (unsigned long long)k->hb_age_ns,
		(unsigned long long)k->msgs_sent, (unsigned long long)k->msgs_dropped_full,
		(unsigned long long)k->msgs_rejected, (unsigned long long)k->prestaged_taken,
		(unsigned long long)k->ring_taken, (unsigned long long)k->torn,
		(unsigned long long)k->bad_slots, (unsigned long long)k->garbage_seqs,
		(unsigned long long)k->invalid, (unsigned long long)k->aborted_epoch,
		(unsigned long long)k->pending_dropped, (unsigned long long)k->bad_credits,
		(unsigned long long)k->doorbells);
	fclose(f);
	rename(tmp, path);
}

/* ---- daemon ---- */

static struct link cur_link = {.fd = -1};

static void cleanup_at_exit(void)
{
	char path[256];

	link_close(&cur_link);
	run_path(path, sizeof(path), "pid");
	unlink(path);
}

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* Waits until the NIC runs and its heartbeat advances again; false when asked to stop. */
static bool wait_nic_alive(int fd)
{
	struct wave_info info = {.argsz = sizeof(info)};
	uint64_t first = 0;
	bool seen = false;

	while (!stop_requested) {
		info.argsz = sizeof(info);
		if (!ioctl(fd, WAVE_IOC_GET_INFO, &info) &&
		    info.nic_state == WAVE_NIC_STATE_READY) {
			if (seen && info.heartbeat != first)
				return true;
			if (!seen) {
				first = info.heartbeat;
				seen = true;
			}
		}
		usleep(100 * 1000);
	}
	return false;
}

static int run_daemon(const struct options *o)
{
	struct wave_sched_bpf_stats b, prev_b;
	struct wave_sched_stats k;
	struct bpf_link *blink = NULL;
	struct wave_sched *skel = NULL;
	char path[256], reason[sizeof(skel->data->uei.msg)] = "";
	double t_prev, t_load;
	int restarts = 0, ret;
	FILE *pf;

	mkdir(run_dir(), 0755);
	run_path(path, sizeof(path), "pid");
	pf = fopen(path, "w");
	if (pf) {
		fprintf(pf, "%d\n", getpid());
		fclose(pf);
	}
	cur_link.fd = open(o->dev, O_RDWR | O_CLOEXEC);
	if (cur_link.fd < 0) {
		fprintf(stderr, "wave-sched: open %s: %s\n", o->dev, strerror(errno));
		return 1;
	}
	atexit(cleanup_at_exit);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	/*
	 * The link stays attached across NIC outages: ring positions carry on, so an agent that
	 * was only stalled continues and a restarted one resumes from the committed positions.
	 */
	ret = link_open(&cur_link, o);
	if (ret) {
		fprintf(stderr, "wave-sched: scheduling link: %s\n", strerror(-ret));
		return 1;
	}
	for (;;) {
		fprintf(
		    stderr,
		    "wave-sched: link queues %u/%u (%u+%u slots, %u CPUs), policy %s, %s mode\n",
		    cur_link.msg_q, cur_link.dec_q, cur_link.att.msg_slots, cur_link.att.dec_slots,
		    cur_link.att.nr_cpus, policy_names[o->policy],
		    o->partial ? "partial" : "switch-all");
		skel = sched_load(o, cur_link.att.nr_cpus, &blink);
		memset(&prev_b, 0, sizeof(prev_b));
		t_prev = now_s();
		t_load = t_prev;
		while (!stop_requested && !UEI_EXITED(skel, uei)) {
			double t, rate;

			usleep(500 * 1000);
			t = now_s();
			sum_stats(skel, &b);
			link_stats(cur_link.fd, &k);
			rate = (double)(b.decisions - prev_b.decisions) / (t - t_prev);
			write_stats(o, "running", &b, &k, rate, t - t_load, restarts, reason);
			prev_b = b;
			t_prev = t;
		}
		sum_stats(skel, &b);
		link_stats(cur_link.fd, &k);
		bpf_link__destroy(blink);
		blink = NULL;
		if (UEI_EXITED(skel, uei)) {
			snprintf(reason, sizeof(reason), "%s", skel->data->uei.msg);
			ret = (int)UEI_REPORT(skel, uei);
		} else {
			snprintf(reason, sizeof(reason), "stopped");
			ret = 0;
		}
		write_stats(o, stop_requested ? "stopped" : "exited", &b, &k, 0, now_s() - t_load,
			    restarts, reason);
		wave_sched__destroy(skel);
		skel = NULL;
		if (stop_requested || !o->restart || !strstr(reason, WAVE_EXIT_MSG_NIC_DEAD))
			break;
		fprintf(stderr,
			"wave-sched: NIC gone; tasks run in the fair class until it returns\n");
		if (!wait_nic_alive(cur_link.fd))
			break;
		restarts++;
		fprintf(stderr, "wave-sched: NIC back, offload resumes (restart %d)\n", restarts);
	}
	link_close(&cur_link);
	return 0;
}

/* ---- client commands ---- */

static pid_t read_pid(void)
{
	char path[256];
	FILE *f;
	int pid = 0;

	run_path(path, sizeof(path), "pid");
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (fscanf(f, "%d", &pid) != 1)
		pid = 0;
	fclose(f);
	return pid > 0 && kill(pid, 0) == 0 ? pid : 0;
}

static bool read_file(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return false;
	n = fread(buf, 1, len - 1, f);
	buf[n] = 0;
	fclose(f);
	return true;
}

/* The first number after "key": in a flat scan of our own JSON (we wrote it). */
static double json_num(const char *json, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(json, pat);
	return p ? strtod(p + strlen(pat), NULL) : 0;
}

/* One status line for the histogram written by write_lat_json(f, @name, ...). */
static void print_lat(const char *json, const char *name, const char *what)
{
	static const char *const keys[] = {"p50", "p90", "p99", "p999"};
	static const char *const labels[] = {"p50", "p90", "p99", "p99.9"};
	char key[64];
	unsigned int i;

	snprintf(key, sizeof(key), "%s_count", name);
	printf("%s: %.0f samples", what, json_num(json, key));
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		snprintf(key, sizeof(key), "%s_%s_ns", name, keys[i]);
		printf("%s %s %.0f ns", i ? "," : ";", labels[i], json_num(json, key));
	}
	snprintf(key, sizeof(key), "%s_overflow", name);
	if (json_num(json, key) > 0)
		printf(" (%.0f beyond %llu ns)", json_num(json, key), WAVE_LAT_MAX_NS);
	printf("\n");
}

static int cmd_status(bool json)
{
	char path[256], buf[8192];
	pid_t pid = read_pid();

	run_path(path, sizeof(path), "stats.json");
	if (!read_file(path, buf, sizeof(buf))) {
		if (json)
			printf("{\"state\":\"stopped\"}\n");
		else
			printf("wave-sched: not running\n");
		return pid ? 0 : 3;
	}
	if (json) {
		fputs(buf, stdout);
		return 0;
	}
	printf("state %s (pid %d)\n", pid ? "running" : "stopped", pid);
	printf("decisions %.0f (%.1f/s now, %.1f/s over %.0f s), idle decisions %.0f\n",
	       json_num(buf, "decisions"), json_num(buf, "decisions_per_s"),
	       json_num(buf, "avg_decisions_per_s"), json_num(buf, "uptime_s"),
	       json_num(buf, "idle_decisions"));
	printf("outcomes committed %.0f stale %.0f aborted %.0f cpu_unavailable %.0f "
	       "invalid %.0f\n",
	       json_num(buf, "committed"), json_num(buf, "stale"), json_num(buf, "aborted"),
	       json_num(buf, "cpu_unavailable"), json_num(buf, "invalid"));
	printf("fallbacks %.0f, enqueued %.0f, direct %.0f, send failures %.0f\n",
	       json_num(buf, "fallbacks"), json_num(buf, "enqueued"), json_num(buf, "direct"),
	       json_num(buf, "send_failed"));
	print_lat(buf, "decision_latency", "decision latency (enqueue to commit)");
	print_lat(buf, "idle_pickup", "idle pickup (decision for an idle CPU to running there)");
	printf("idle pickups by the NIC's interrupt %.0f, by the kick timer %.0f, by dispatch "
	       "%.0f; NIC interrupts %.0f (%.0f decisions drained, %.0f idle CPUs kicked, %.0f "
	       "kicks already on their way)\n",
	       json_num(buf, "idle_pickups_irq"), json_num(buf, "idle_pickups_timer"),
	       json_num(buf, "idle_pickups_dispatch"), json_num(buf, "nic_irqs"),
	       json_num(buf, "irq_drained"), json_num(buf, "idle_kicks"),
	       json_num(buf, "kicks_busy"));
	printf("NIC heartbeat age %.1f ms, agent epoch %.0f, restarts %.0f\n",
	       json_num(buf, "hb_age_ns") / 1e6, json_num(buf, "agent_epoch"),
	       json_num(buf, "restarts"));
	return 0;
}

static int cmd_stop(void)
{
	pid_t pid = read_pid();
	int i;

	if (!pid) {
		fprintf(stderr, "wave-sched: not running\n");
		return 0;
	}
	kill(pid, SIGTERM);
	for (i = 0; i < 200 && kill(pid, 0) == 0; i++)
		usleep(50 * 1000);
	if (kill(pid, 0) == 0) {
		fprintf(stderr, "wave-sched: pid %d did not stop\n", pid);
		return 1;
	}
	return 0;
}

static int cmd_start(char **argv)
{
	char path[256], log[256], buf[8192];
	pid_t pid;
	int i, status, fd;

	if (read_pid()) {
		fprintf(stderr, "wave-sched: already running\n");
		return 1;
	}
	mkdir(run_dir(), 0755);
	run_path(path, sizeof(path), "stats.json");
	unlink(path);
	run_path(log, sizeof(log), "log");
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		setsid();
		fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		argv[1] = "daemon";
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	for (i = 0; i < 600; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid) {
			fprintf(stderr, "wave-sched: daemon failed (see %s):\n", log);
			if (read_file(log, buf, sizeof(buf)))
				fputs(buf, stderr);
			return 1;
		}
		if (read_file(path, buf, sizeof(buf)) && strstr(buf, "\"state\":\"running\"")) {
			printf("wave-sched: running, pid %d\n", pid);
			return 0;
		}
		usleep(100 * 1000);
	}
	fprintf(stderr, "wave-sched: daemon did not report within 60 s\n");
	return 1;
}

static int cmd_run(int argc, char **argv)
{
	struct sched_param sp = {0};

	if (argc < 1) {
		fprintf(stderr, "usage: wave-sched run -- CMD [ARGS]\n");
		return 2;
	}
	if (sched_setscheduler(0, SCHED_EXT, &sp)) {
		fprintf(stderr, "wave-sched: SCHED_EXT: %s\n", strerror(errno));
		return 1;
	}
	execvp(argv[0], argv);
	fprintf(stderr, "wave-sched: %s: %s\n", argv[0], strerror(errno));
	return 127;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: wave-sched start|daemon [--policy fifo|shinjuku|vm|none] [--partial]\n"
		"         [--dev /dev/wave0] [--fallback-us N] [--hb-timeout-ms N] [--slice-us N]\n"
		"         [--msg-slots N] [--dec-slots N] [--no-restart] [--no-ticks]\n"
		"         [--vm CGROUP_DIR:CPULIST[:cosched|apart][:pack]]...  (policy vm)\n"
		"       wave-sched stop | status [--json] | run -- CMD [ARGS]\n");
}

/* "0,2-3" into a CPU mask; false on anything else or a CPU beyond 63. */
static bool parse_cpulist(const char *s, uint64_t *mask)
{
	char *end;

	*mask = 0;
	while (*s) {
		unsigned long a = strtoul(s, &end, 10), b = a;

		if (end == s)
			return false;
		if (*end == '-') {
			s = end + 1;
			b = strtoul(s, &end, 10);
			if (end == s)
				return false;
		}
		if (a > b || b >= WAVE_SCHED_VM_MAX_CPUS)
			return false;
		for (; a <= b; a++)
			*mask |= 1ull << a;
		if (*end == ',')
			end++;
		else if (*end)
			return false;
		s = end;
	}
	return *mask != 0;
}

/*
 * --vm CGROUP_DIR:CPULIST[:cosched|apart][:pack]: the cgroup is named by its cgroupfs
 * directory, whose inode number is the kernfs id the BPF scheduler sends (WAVE_MSG_TASK_GROUP).
 */
static int parse_vm(const char *arg, struct wave_sched_vm_cfg *c)
{
	char buf[4096], *path, *cpus, *mode;
	struct wave_sched_vm *v;
	struct statfs sfs;
	struct stat st;
	uint64_t mask;

	if (strlen(arg) >= sizeof(buf)) {
		fprintf(stderr, "wave-sched: --vm %s: too long\n", arg);
		return -1;
	}
	strcpy(buf, arg);
	path = buf;
	cpus = strchr(buf, ':');
	if (!cpus) {
		fprintf(stderr,
			"wave-sched: --vm %s: want CGROUP_DIR:CPULIST[:cosched|apart][:pack]\n",
			arg);
		return -1;
	}
	*cpus++ = 0;
	mode = strchr(cpus, ':');
	if (mode)
		*mode++ = 0;
	if (c->nr_vms >= WAVE_SCHED_VM_MAX) {
		fprintf(stderr, "wave-sched: at most %u --vm\n", WAVE_SCHED_VM_MAX);
		return -1;
	}
	v = &c->vms[c->nr_vms];
	if (stat(path, &st) || !S_ISDIR(st.st_mode) || statfs(path, &sfs) ||
	    sfs.f_type != CGROUP2_SUPER_MAGIC) {
		fprintf(stderr, "wave-sched: --vm %s: not a cgroup v2 directory\n", path);
		return -1;
	}
	v->cgroup_id = st.st_ino;
	if (!parse_cpulist(cpus, &mask)) {
		fprintf(stderr, "wave-sched: --vm %s: bad CPU list \"%s\" (e.g. 1,2-3, below 64)\n",
			arg, cpus);
		return -1;
	}
	v->cpumask = mask;
	while (mode && *mode) {
		char *next = strchr(mode, ':');

		if (next)
			*next++ = 0;
		if (!strcmp(mode, "cosched"))
			v->flags |= WAVE_SCHED_VM_F_COSCHED;
		else if (!strcmp(mode, "apart"))
			v->flags |= WAVE_SCHED_VM_F_APART;
		else if (!strcmp(mode, "pack"))
			v->flags |= WAVE_SCHED_VM_F_PACK;
		else {
			fprintf(stderr,
				"wave-sched: --vm %s: unknown mode %s (cosched, apart, pack)\n",
				arg, mode);
			return -1;
		}
		mode = next;
	}
	c->nr_vms++;
	return 0;
}

/* Physical core of every CPU (what apart keeps apart), from sysfs; CPU i alone if unknown. */
static void fill_cores(struct wave_sched_vm_cfg *c)
{
	uint64_t key[WAVE_SCHED_VM_MAX_CPUS];
	unsigned int i, j, n = 0;

	for (i = 0; i < WAVE_SCHED_VM_MAX_CPUS; i++) {
		unsigned long core = i, pkg = 0;
		char path[128];
		FILE *f;

		snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%u/topology/core_id", i);
		f = fopen(path, "r");
		if (f) {
			if (fscanf(f, "%lu", &core) != 1)
				core = i;
			fclose(f);
			snprintf(path, sizeof(path),
				 "/sys/devices/system/cpu/cpu%u/topology/physical_package_id", i);
			f = fopen(path, "r");
			if (f) {
				if (fscanf(f, "%lu", &pkg) != 1)
					pkg = 0;
				fclose(f);
			}
		} else {
			pkg = ~0ul; /* no such CPU: a core of its own */
		}
		key[i] = ((uint64_t)pkg << 32) | (core & 0xffffffffu);
		for (j = 0; j < i && key[j] != key[i]; j++)
			;
		c->core_of_cpu[i] = j < i ? c->core_of_cpu[j] : (uint8_t)n++;
	}
}

static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
	    {"policy", required_argument, NULL, 'p'},
	    {"partial", no_argument, NULL, 'P'},
	    {"dev", required_argument, NULL, 'd'},
	    {"fallback-us", required_argument, NULL, 'f'},
	    {"hb-timeout-ms", required_argument, NULL, 'h'},
	    {"slice-us", required_argument, NULL, 's'},
	    {"msg-slots", required_argument, NULL, 'm'},
	    {"dec-slots", required_argument, NULL, 'D'},
	    {"no-restart", no_argument, NULL, 'R'},
	    {"no-ticks", no_argument, NULL, 'T'},
	    {"vm", required_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	int c;
	unsigned int i;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			for (i = 0; i <= WAVE_SCHED_POLICY_MAX; i++)
				if (!strcmp(optarg, policy_names[i]))
					break;
			if (i > WAVE_SCHED_POLICY_MAX) {
				fprintf(stderr, "wave-sched: unknown policy %s\n", optarg);
				return -1;
			}
			o->policy = i;
			break;
		case 'P':
			o->partial = true;
			break;
		case 'd':
			o->dev = optarg;
			break;
		case 'f':
			o->fallback_us = strtoull(optarg, NULL, 0);
			break;
		case 'h':
			o->hb_timeout_ms = strtoull(optarg, NULL, 0);
			break;
		case 's':
			o->slice_us = strtoull(optarg, NULL, 0);
			break;
		case 'm':
			o->msg_slots = strtoul(optarg, NULL, 0);
			break;
		case 'D':
			o->dec_slots = strtoul(optarg, NULL, 0);
			break;
		case 'R':
			o->restart = false;
			break;
		case 'T':
			o->no_ticks = true;
			break;
		case 'V':
			if (parse_vm(optarg, &o->vm_cfg))
				return -1;
			break;
		default:
			return -1;
		}
	}
	if (optind != argc || !o->msg_slots || (o->msg_slots & (o->msg_slots - 1)) ||
	    !o->dec_slots || (o->dec_slots & (o->dec_slots - 1)) || !o->hb_timeout_ms) {
		fprintf(stderr, "wave-sched: bad arguments\n");
		return -1;
	}
	if ((o->policy == WAVE_SCHED_POLICY_VM) != (o->vm_cfg.nr_vms != 0)) {
		fprintf(stderr,
			"wave-sched: --vm goes with --policy vm, which needs at least one\n");
		return -1;
	}
	if (o->policy == WAVE_SCHED_POLICY_VM) {
		int ncpu = libbpf_num_possible_cpus();
		const char *bad;

		o->vm_cfg.magic = WAVE_SCHED_VM_CFG_MAGIC;
		o->vm_cfg.version = WAVE_SCHED_VM_CFG_VERSION;
		fill_cores(&o->vm_cfg);
		bad = wave_sched_vm_cfg_check(&o->vm_cfg, ncpu > 0 ? (uint32_t)ncpu : 0);
		if (bad) {
			fprintf(stderr, "wave-sched: --vm: %s (host CPUs 0-%d)\n", bad, ncpu - 1);
			return -1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct options o = {
	    .dev = "/dev/wave0",
	    .policy = WAVE_SCHED_POLICY_FIFO,
	    .restart = true,
	    .fallback_us = 5000,
	    .hb_timeout_ms = 1000,
	    .slice_us = 30,
	    .msg_slots = 4096,
	    .dec_slots = 1024,
	};

	if (argc < 2) {
		usage();
		return 2;
	}
	if (!strcmp(argv[1], "stop"))
		return cmd_stop();
	if (!strcmp(argv[1], "status"))
		return cmd_status(argc > 2 && !strcmp(argv[2], "--json"));
	if (!strcmp(argv[1], "run"))
		return cmd_run(argc - 2 - (argc > 2 && !strcmp(argv[2], "--")),
			       argv + 2 + (argc > 2 && !strcmp(argv[2], "--")));
	if (!strcmp(argv[1], "start") || !strcmp(argv[1], "daemon")) {
		if (parse_options(argc - 1, argv + 1, &o)) {
			usage();
			return 2;
		}
		return !strcmp(argv[1], "start") ? cmd_start(argv) : run_daemon(&o);
	}
	usage();
	return 2;
}
