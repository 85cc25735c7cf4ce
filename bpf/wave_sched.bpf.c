// SPDX-License-Identifier: GPL-2.0
/*
 * wave_sched: a sched_ext scheduler whose policy runs on the SmartNIC.
 *
 * Mechanism only lives here. Task and CPU events go to the NIC's agent through wave.ko's
 * kfuncs (the message ring); the agent's decisions come back through the prestaged slots and
 * the decision ring, and dispatch() enacts them as ghOSt-style transactions:
 *
 *   runnable task -> WAVE_SCHED_DSQ (waits here) -> decision {tid, cpu, task_seq, epoch}
 *     -> task still queued, seq current, CPU allowed -> SCX_DSQ_LOCAL_ON | cpu  (COMMITTED)
 *     -> seq moved on / task not queued                                          (STALE)
 *     -> task gone                                                                (ABORTED)
 *     -> CPU not in the task's mask                                     (CPU_UNAVAILABLE)
 * Every outcome goes back to the agent. wave.ko already rejected malformed decisions and
 * decisions of another agent epoch.
 *
 * Safety: the affinity re-check above (a wrong CPU would eject the whole scheduler); a task
 * that waited fallback_ns without a decision is dispatched locally, so a slow NIC never
 * loses a task; when the NIC heartbeat stops for hb_timeout_ns the scheduler exits and
 * sched_ext returns every task to the fair class. Per-CPU kthreads are run locally without
 * asking the NIC (they must run where they are, and some of them serve the link itself).
 */
#include <scx/common.bpf.h>

#include "wave_msg.h"
#include "wave_sched_link.h"
#include "wave_sched_shared.h"

char _license[] SEC("license") = "GPL";

/* Set by the loader before load. */
const volatile u64 fallback_ns = 5 * 1000 * 1000ull;
const volatile u64 hb_timeout_ns = 1000 * 1000 * 1000ull;
const volatile u64 kick_period_ns = 1000 * 1000ull;
const volatile u64 slice_dfl_ns = 5 * 1000 * 1000ull;
const volatile bool send_ticks = true;
const volatile bool send_groups; /* WAVE_MSG_TASK_GROUP (the VM policy groups tasks) */
/*
 * The VM policy's reservations, for the fallback only (the agent has the table): a task of
 * VM i (cgroup vm_cgroups[i]) falls back only onto vm_cpumasks[i], a task in no VM only onto
 * vm_unreserved, so a slow NIC does not break the reservations either.
 */
const volatile u64 vm_cgroups[WAVE_SCHED_VM_MAX];
const volatile u64 vm_cpumasks[WAVE_SCHED_VM_MAX];
const volatile u64 vm_unreserved;
const volatile u32 nr_cpus = 1;

UEI_DEFINE(uei);

/*
 * The 7.2 kernel's BTF (Debian build) lacks the "_impl" twins of scx_bpf_kick_cpu() and
 * scx_bpf_exit_bstr(), so the verifier refuses both ("cannot find function ..._impl").
 * Without kicks, CPUs that sleep are reached from the kick timer instead, through
 * scx_bpf_dsq_move() into their local DSQ (which wakes them); without scx_bpf_exit() the
 * scheduler leaves through scx_bpf_error(), whose message names the reason (the loader
 * matches WAVE_EXIT_MSG_*).
 */
#define wave_exit_sched(code, fmt, args...) scx_bpf_error(fmt, ##args)

/* wave.ko's kfuncs (kmod/wave_kfuncs.c). */
extern int bpf_wave_send(u32 type, const void *msg, u32 msg__sz) __ksym;
extern int bpf_wave_take_decision(u32 cpu, void *out, u32 out__sz) __ksym;
extern s64 bpf_wave_nic_age_ns(void) __ksym;
extern int bpf_wave_cpu_idle(u32 cpu, u32 idle) __ksym;
extern u64 bpf_wave_decision_drained(u32 cpu) __ksym;
extern s64 bpf_wave_kick_age_ns(u32 cpu) __ksym;

/* bpf_wave_decision_drained(): bit 63 says the NIC's interrupt drained the decision. */
#define WAVE_DRAIN_BY_IRQ (1ull << 63)

/* CPUs 0..63: the reach of wave_task_event.cpumask. */
#define WAVE_MAX_CPUS 64
/* Kept by update_idle(): where the timer may apply the fallback. */
bool cpu_idle[WAVE_MAX_CPUS];

struct task_ctx {
	u64 seq;	/* bumped on every event sent for the task */
	u64 enq_ns;	/* when it entered WAVE_SCHED_DSQ */
	u64 placed_ns;	/* its decision for idle CPU placed_cpu left the ring; 0: no pickup */
	s32 placed_cpu; /* running() there ends the idle pickup begun at placed_ns */
	u8 placed_by;	/* WAVE_PICKUP_* : how that CPU came to take the decision */
	bool yielded;	/* stopping() after yield() reports YIELD rather than PREEMPTED */
	u8 next_ev;	/* WAVE_MSG_TASK_* the next enqueue() sends */
	u64 fb_mask;	/* VM policy: CPUs the fallback may use for it, 0: any allowed */
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct task_ctx);
} task_ctxs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct wave_sched_bpf_stats);
} stats SEC(".maps");

struct kick_timer {
	struct bpf_timer timer;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct kick_timer);
} kick_timers SEC(".maps");

static struct wave_sched_bpf_stats *st(void)
{
	u32 zero = 0;

	return bpf_map_lookup_elem(&stats, &zero);
}

#define STAT_INC(field)                                                                            \
	do {                                                                                       \
		struct wave_sched_bpf_stats *__s = st();                                           \
		if (__s)                                                                           \
			__s->field++;                                                              \
	} while (0)

static struct task_ctx *tctx_of(struct task_struct *p)
{
	return bpf_task_storage_get(&task_ctxs, p, 0, 0);
}

static bool is_percpu_kthread(const struct task_struct *p)
{
	return (p->flags & PF_KTHREAD) && p->nr_cpus_allowed == 1;
}

static void send_event(u32 type, u32 idx, struct task_struct *p, struct task_ctx *tctx)
{
	struct wave_task_event ev = {};
	struct wave_sched_bpf_stats *s = st();

	if (tctx) {
		tctx->seq++;
		ev.task_seq = tctx->seq;
	}
	if (p) {
		ev.tid = p->pid;
		ev.runtime_ns = p->se.sum_exec_runtime;
		ev.weight = p->scx.weight;
		if (type == WAVE_MSG_TASK_NEW || type == WAVE_MSG_TASK_AFFINITY)
			ev.cpumask = BPF_CORE_READ(p, cpus_ptr, bits[0]);
	}
	ev.cpu = bpf_get_smp_processor_id();
	ev.time_ns = bpf_ktime_get_ns();
	if (!s)
		return;
	if (bpf_wave_send(type, &ev, sizeof(ev)) == 0) {
		if (idx < WAVE_EVIDX_NR)
			s->events[idx]++;
	} else {
		s->send_failed++;
	}
}

static void send_outcome(const struct wave_decision *d, u32 outcome, u64 seq)
{
	struct wave_txn_outcome o = {
	    .txn_id = d->txn_id,
	    .tid = d->tid,
	    .cpu = d->cpu,
	    .outcome = outcome,
	    .task_seq = seq,
	    .agent_epoch = d->agent_epoch,
	};
	struct wave_sched_bpf_stats *s = st();

	if (s && outcome < 6)
		s->outcomes[outcome]++;
	bpf_wave_send(WAVE_MSG_TXN_OUTCOME, &o, sizeof(o));
}

/*
 * Array indices the verifier can follow: the first barrier_var() keeps clang from dropping
 * a bound check it can prove (the verifier may not follow the proof), the second from
 * computing the element's address before the check (which would then narrow another
 * register than the pointer's).
 */
static void hist_add(struct wave_lat_hist *h, u64 ns)
{
	u32 i = wave_lat_bucket(ns);

	barrier_var(i);
	if (i >= WAVE_LAT_BUCKETS)
		return;
	barrier_var(i);
	h->count[i]++;
}

static bool cpu_is_idle(s32 cpu)
{
	u32 c = cpu;

	barrier_var(c);
	if (c >= WAVE_MAX_CPUS)
		return false;
	barrier_var(c);
	return cpu_idle[c];
}

/* True when the NIC is gone: then the scheduler exits and tasks return to the fair class. */
static bool nic_dead(void)
{
	s64 age = bpf_wave_nic_age_ns();

	if (age == -ENODEV) {
		wave_exit_sched(WAVE_EXIT_NO_LINK, WAVE_EXIT_MSG_NO_LINK);
		return true;
	}
	if (age < 0 || (u64)age > hb_timeout_ns) {
		wave_exit_sched(WAVE_EXIT_NIC_DEAD, WAVE_EXIT_MSG_NIC_DEAD " %llu ms ago",
				age < 0 ? 0 : (u64)age / 1000000);
		return true;
	}
	return false;
}

s32 BPF_STRUCT_OPS(wave_select_cpu, struct task_struct *p, s32 prev_cpu, u64 wake_flags)
{
	bool is_idle = false;

	/* Only a hint: the task still waits for the NIC's decision, but an idle CPU wakes. */
	return scx_bpf_select_cpu_dfl(p, prev_cpu, wake_flags, &is_idle);
}

/*
 * The event that makes a task wait for a decision (RUNNABLE, PREEMPTED, YIELD) is sent here,
 * once the task is in WAVE_SCHED_DSQ, rather than from runnable()/stopping(): a decision can
 * then never arrive before its task is there to be found.
 */
void BPF_STRUCT_OPS(wave_enqueue, struct task_struct *p, u64 enq_flags)
{
	struct task_ctx *tctx;
	u32 type = WAVE_MSG_TASK_RUNNABLE, idx = WAVE_EVIDX_RUNNABLE;

	if (is_percpu_kthread(p)) {
		STAT_INC(direct);
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, slice_dfl_ns, enq_flags);
		return;
	}
	tctx = tctx_of(p);
	if (tctx) {
		tctx->enq_ns = bpf_ktime_get_ns();
		tctx->placed_ns = 0; /* taken off a local DSQ before it ran: no pickup to time */
		if (tctx->next_ev == WAVE_MSG_TASK_PREEMPTED) {
			type = WAVE_MSG_TASK_PREEMPTED;
			idx = WAVE_EVIDX_PREEMPTED;
		} else if (tctx->next_ev == WAVE_MSG_TASK_YIELD) {
			type = WAVE_MSG_TASK_YIELD;
			idx = WAVE_EVIDX_YIELD;
		}
		tctx->next_ev = WAVE_MSG_TASK_RUNNABLE;
	}
	STAT_INC(enqueued);
	scx_bpf_dsq_insert(p, WAVE_SCHED_DSQ, slice_dfl_ns, enq_flags);
	send_event(type, idx, p, tctx);
}

/*
 * Enacts decision @d, just taken from the link, for @cpu, from @cpu's dispatch() or from the
 * kick timer (@by_timer). Returns true when a task was dispatched.
 */
static bool commit(const struct wave_decision *d, s32 cpu, bool by_timer)
{
	struct wave_sched_bpf_stats *s;
	struct task_struct *p;
	struct task_ctx *tctx;
	u64 now = bpf_ktime_get_ns();
	bool found = false, done = false, cpu_was_idle;
	u64 drained = 0;

	cpu_was_idle = cpu_is_idle(cpu);
	if (cpu_was_idle)
		drained = bpf_wave_decision_drained(cpu);

	bpf_for_each(scx_dsq, p, WAVE_SCHED_DSQ, 0)
	{
		if (p->pid != d->tid)
			continue;
		found = true;
		tctx = tctx_of(p);
		if (!tctx || tctx->seq != d->task_seq) {
			send_outcome(d, WAVE_TXN_STALE, tctx ? tctx->seq : 0);
			break;
		}
		/* A CPU outside the mask would make sched_ext eject the whole scheduler. */
		if (d->cpu != cpu || !bpf_cpumask_test_cpu(d->cpu, p->cpus_ptr)) {
			send_outcome(d, WAVE_TXN_CPU_UNAVAILABLE, tctx->seq);
			break;
		}
		if (d->slice_ns)
			scx_bpf_dsq_move_set_slice(BPF_FOR_EACH_ITER, d->slice_ns);
		/*
		 * Set before the move: once in @cpu's local DSQ the task may run there at once,
		 * and running() must find the stamp.
		 */
		tctx->placed_ns = 0;
		if (cpu_was_idle) {
			/* From when wave.ko read it off the ring (prestaged: from now). */
			tctx->placed_ns = drained & ~WAVE_DRAIN_BY_IRQ;
			if (!tctx->placed_ns || tctx->placed_ns > now)
				tctx->placed_ns = now;
			if (by_timer)
				tctx->placed_by = WAVE_PICKUP_TIMER;
			else if (d->flags & WAVE_DECISION_F_PRESTAGED)
				tctx->placed_by = WAVE_PICKUP_PRESTAGED;
			else if (drained & WAVE_DRAIN_BY_IRQ)
				tctx->placed_by = WAVE_PICKUP_IRQ;
			else
				tctx->placed_by = WAVE_PICKUP_DISPATCH;
		}
		tctx->placed_cpu = cpu;
		if (scx_bpf_dsq_move(BPF_FOR_EACH_ITER, p, SCX_DSQ_LOCAL_ON | cpu, 0)) {
			send_outcome(d, WAVE_TXN_COMMITTED, tctx->seq);
			s = st();
			if (s)
				hist_add(&s->decision_lat, now - tctx->enq_ns);
			done = true;
		} else {
			tctx->placed_ns = 0;
			send_outcome(d, WAVE_TXN_STALE, tctx->seq);
		}
		break;
	}
	if (!found) {
		p = bpf_task_from_pid(d->tid);
		if (p) {
			/* Alive but not waiting (running, blocked): the agent missed an event. */
			tctx = tctx_of(p);
			send_outcome(d, WAVE_TXN_STALE, tctx ? tctx->seq : 0);
			bpf_task_release(p);
		} else {
			send_outcome(d, WAVE_TXN_ABORTED, 0);
		}
	}
	return done;
}

/* The oldest task that waited longer than fallback_ns and may run here goes local. */
static bool fallback(s32 cpu)
{
	struct task_struct *p;
	struct task_ctx *tctx;
	u64 now = bpf_ktime_get_ns();
	bool done = false;

	bpf_for_each(scx_dsq, p, WAVE_SCHED_DSQ, 0)
	{
		tctx = tctx_of(p);
		if (tctx && now - tctx->enq_ns < fallback_ns)
			break; /* FIFO: every later task waited less */
		if (!bpf_cpumask_test_cpu(cpu, p->cpus_ptr))
			continue;
		/* Outside the task's VM reservation, unless its affinity leaves it none. */
		if (tctx && tctx->fb_mask && !(tctx->fb_mask & (1ull << (cpu & 63))) &&
		    (tctx->fb_mask & BPF_CORE_READ(p, cpus_ptr, bits[0])))
			continue;
		if (scx_bpf_dsq_move(BPF_FOR_EACH_ITER, p, SCX_DSQ_LOCAL_ON | cpu, 0)) {
			STAT_INC(fallbacks);
			done = true;
		}
		break;
	}
	return done;
}

/*
 * Takes this CPU's decisions and enacts them until one dispatches a task; then, if allowed,
 * the fallback. Returns true when a task went to @cpu's local DSQ.
 */
static bool serve_cpu(s32 cpu, bool may_fallback, bool by_timer)
{
	struct wave_decision d;
	int i, r;

	for (i = 0; i < 8; i++) {
		__builtin_memset(&d, 0, sizeof(d));
		r = bpf_wave_take_decision(cpu, &d, sizeof(d));
		if (r != 1)
			break;
		STAT_INC(decisions);
		if (d.tid == WAVE_TID_NONE) {
			STAT_INC(idle_decisions);
			continue;
		}
		if (commit(&d, cpu, by_timer))
			return true;
	}
	return may_fallback && fallback(cpu);
}

void BPF_STRUCT_OPS(wave_dispatch, s32 cpu, struct task_struct *prev)
{
	if (nic_dead()) {
		scx_bpf_dsq_move_to_local(WAVE_SCHED_DSQ, 0);
		return;
	}
	serve_cpu(cpu, true, false);
}

void BPF_STRUCT_OPS(wave_runnable, struct task_struct *p, u64 enq_flags)
{
	struct task_ctx *tctx = tctx_of(p);

	if (tctx)
		tctx->next_ev = WAVE_MSG_TASK_RUNNABLE; /* sent by enqueue() */
}

/* A task placed by a decision for an idle CPU now runs: how long that CPU took to pick it up. */
static void record_idle_pickup(struct task_ctx *tctx)
{
	struct wave_sched_bpf_stats *s;
	u64 placed = tctx->placed_ns;

	if (!placed)
		return;
	tctx->placed_ns = 0;
	s = st();
	if (!s || tctx->placed_cpu != (s32)bpf_get_smp_processor_id())
		return;
	hist_add(&s->idle_pickup_lat, bpf_ktime_get_ns() - placed);
	if (tctx->placed_by < WAVE_PICKUP_NR)
		s->idle_pickups_by[tctx->placed_by]++;
}

/*
 * Tells the agent where each task runs, including tasks the fallback or a late prestaged slot
 * put there: without it the agent keeps such a task queued and its next decision is stale.
 */
void BPF_STRUCT_OPS(wave_running, struct task_struct *p)
{
	struct task_ctx *tctx;

	if (is_percpu_kthread(p))
		return;
	tctx = tctx_of(p);
	if (tctx)
		record_idle_pickup(tctx);
	send_event(WAVE_MSG_TASK_RUNNING, WAVE_EVIDX_RUNNING, p, tctx);
}

void BPF_STRUCT_OPS(wave_stopping, struct task_struct *p, bool runnable)
{
	struct task_ctx *tctx;

	if (!runnable || is_percpu_kthread(p))
		return;
	tctx = tctx_of(p);
	if (!tctx)
		return;
	/* Still runnable: enqueue() follows and reports why the task left the CPU. */
	tctx->next_ev = tctx->yielded ? WAVE_MSG_TASK_YIELD : WAVE_MSG_TASK_PREEMPTED;
	tctx->yielded = false;
}

void BPF_STRUCT_OPS(wave_quiescent, struct task_struct *p, u64 deq_flags)
{
	if (!is_percpu_kthread(p))
		send_event(WAVE_MSG_TASK_BLOCKED, WAVE_EVIDX_BLOCKED, p, tctx_of(p));
}

bool BPF_STRUCT_OPS(wave_yield, struct task_struct *from, struct task_struct *to)
{
	struct task_ctx *tctx = tctx_of(from);

	if (tctx)
		tctx->yielded = true;
	return false;
}

void BPF_STRUCT_OPS(wave_set_cpumask, struct task_struct *p, const struct cpumask *cpumask)
{
	if (!is_percpu_kthread(p))
		send_event(WAVE_MSG_TASK_AFFINITY, WAVE_EVIDX_AFFINITY, p, tctx_of(p));
}

void BPF_STRUCT_OPS(wave_update_idle, s32 cpu, bool idle)
{
	if (cpu >= 0 && cpu < WAVE_MAX_CPUS)
		cpu_idle[cpu] = idle;
	/* wave.ko's NIC interrupt wakes the CPUs marked idle for their decisions. */
	if (cpu >= 0)
		bpf_wave_cpu_idle(cpu, idle);
	if (idle)
		send_event(WAVE_MSG_CPU_IDLE, WAVE_EVIDX_CPU_IDLE, NULL, NULL);
}

void BPF_STRUCT_OPS(wave_tick, struct task_struct *p)
{
	if (nic_dead())
		return;
	if (send_ticks)
		send_event(WAVE_MSG_CPU_TICK, WAVE_EVIDX_CPU_TICK, NULL, NULL);
}

s32 BPF_STRUCT_OPS(wave_init_task, struct task_struct *p, struct scx_init_task_args *args)
{
	if (!bpf_task_storage_get(&task_ctxs, p, 0, BPF_LOCAL_STORAGE_GET_F_CREATE))
		return -ENOMEM;
	return 0;
}

/*
 * The task's cgroup v2 cgroup, named as user space names it: the kernfs id, which is the
 * inode number of its cgroupfs directory. Read from the task's css_set, which is already the
 * new one in enable() (a new task: cgroup_post_fork() runs before sched_post_fork()) and in
 * cgroup_move().
 */
static void send_group(struct task_struct *p, struct task_ctx *tctx)
{
	struct wave_task_group g = {};
	struct wave_sched_bpf_stats *s = st();
	u32 i;

	if (!send_groups || !tctx || !s)
		return;
	g.cgroup_id = BPF_CORE_READ(p, cgroups, dfl_cgrp, kn, id);
	if (!g.cgroup_id)
		return;
	tctx->fb_mask = vm_unreserved;
	bpf_for(i, 0, WAVE_SCHED_VM_MAX)
	{
		if (i >= WAVE_SCHED_VM_MAX)
			break;
		if (vm_cgroups[i] == g.cgroup_id) {
			tctx->fb_mask = vm_cpumasks[i];
			break;
		}
	}
	tctx->seq++;
	g.tid = p->pid;
	g.task_seq = tctx->seq;
	g.time_ns = bpf_ktime_get_ns();
	if (bpf_wave_send(WAVE_MSG_TASK_GROUP, &g, sizeof(g)) == 0)
		s->events[WAVE_EVIDX_GROUP]++;
	else
		s->send_failed++;
}

void BPF_STRUCT_OPS(wave_enable, struct task_struct *p)
{
	struct task_ctx *tctx;

	if (is_percpu_kthread(p))
		return;
	tctx = tctx_of(p);
	send_event(WAVE_MSG_TASK_NEW, WAVE_EVIDX_NEW, p, tctx);
	send_group(p, tctx);
}

/* Called for moves between cpu-controller cgroups only (CONFIG_EXT_GROUP_SCHED). */
void BPF_STRUCT_OPS(wave_cgroup_move, struct task_struct *p, struct cgroup *from, struct cgroup *to)
{
	if (!is_percpu_kthread(p))
		send_group(p, tctx_of(p));
}

void BPF_STRUCT_OPS(wave_disable, struct task_struct *p)
{
	if (!is_percpu_kthread(p))
		send_event(WAVE_MSG_TASK_DEAD, WAVE_EVIDX_DEAD, p, tctx_of(p));
}

/*
 * A sleeping CPU runs no dispatch(), and BPF has no usable kick here (see above). The NIC
 * interrupts the host after publishing decisions, and wave.ko's handler wakes the idle CPUs
 * they name (an IPI), which then take them in dispatch(). This timer is the safety net: it
 * enacts the decisions of CPUs that no recent kick covers and, for idle CPUs, the fallback,
 * moving tasks into their local DSQs, which wakes them. It also watches the heartbeat when no
 * CPU ticks.
 */
static int kick_timerfn(void *map, int *key, struct bpf_timer *timer)
{
	u32 cpu;

	if (nic_dead())
		return 0;
	bpf_for(cpu, 0, nr_cpus)
	{
		if (cpu >= WAVE_MAX_CPUS)
			break;
		/*
		 * The NIC's interrupt kicked this CPU for its decision less than a period ago:
		 * its own dispatch() takes it. The timer steps in if the kick went unanswered.
		 */
		if (cpu_idle[cpu] && bpf_wave_kick_age_ns(cpu) < (s64)kick_period_ns)
			continue;
		serve_cpu(cpu, cpu_idle[cpu], true);
	}
	bpf_timer_start(timer, kick_period_ns, 0);
	return 0;
}

s32 BPF_STRUCT_OPS_SLEEPABLE(wave_init)
{
	struct bpf_timer *timer;
	u32 zero = 0;
	s32 ret;

	ret = scx_bpf_create_dsq(WAVE_SCHED_DSQ, -1);
	if (ret)
		return ret;
	timer = bpf_map_lookup_elem(&kick_timers, &zero);
	if (!timer)
		return -ESRCH;
	bpf_timer_init(timer, &kick_timers, CLOCK_MONOTONIC);
	bpf_timer_set_callback(timer, kick_timerfn);
	return bpf_timer_start(timer, kick_period_ns, 0);
}

void BPF_STRUCT_OPS(wave_exit, struct scx_exit_info *ei)
{
	UEI_RECORD(uei, ei);
}

SCX_OPS_DEFINE(wave_ops, .select_cpu = (void *)wave_select_cpu, .enqueue = (void *)wave_enqueue,
	       .dispatch = (void *)wave_dispatch, .runnable = (void *)wave_runnable,
	       .running = (void *)wave_running, .stopping = (void *)wave_stopping,
	       .quiescent = (void *)wave_quiescent, .yield = (void *)wave_yield,
	       .set_cpumask = (void *)wave_set_cpumask, .update_idle = (void *)wave_update_idle,
	       .tick = (void *)wave_tick, .init_task = (void *)wave_init_task,
	       .enable = (void *)wave_enable, .disable = (void *)wave_disable,
	       .cgroup_move = (void *)wave_cgroup_move, .init = (void *)wave_init,
	       .exit = (void *)wave_exit, .flags = SCX_OPS_KEEP_BUILTIN_IDLE, .timeout_ms = 5000,
	       .name = "wave");
