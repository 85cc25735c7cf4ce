// SPDX-License-Identifier: GPL-2.0
/*
 * kfuncs of the scheduling link, for sched_ext (struct_ops), tracing and syscall programs.
 *
 * BPF programs never see an address of the link: they pass scalars and their own buffers,
 * sized by the verifier (the __sz arguments). Every kfunc returns -ENODEV when no link is
 * attached, never sleeps and never wakes anything up directly (doorbells go through
 * irq_work), so they are safe under the rq lock sched_ext callbacks hold.
 */
#include <linux/bpf.h>
#include <linux/btf.h>
#include <linux/btf_ids.h>
#include <linux/module.h>

#include "wave_mem.h"
#include "wave_sched.h"

__bpf_kfunc_start_defs();

/**
 * bpf_wave_send - send a task/CPU event or a transaction outcome to the NIC
 * @type: WAVE_MSG_* (task, CPU or TXN_OUTCOME)
 * @msg: struct wave_task_event or struct wave_txn_outcome
 * @msg__sz: its size, which must match @type
 *
 * Return: 0, -ENODEV without a link, -EINVAL for a bad message, -ENOSPC when the ring is full.
 */
__bpf_kfunc int bpf_wave_send(u32 type, const void *msg, u32 msg__sz)
{
	struct wave_sched_link *l;
	int ret;

	rcu_read_lock();
	l = rcu_dereference(wave_sched_cur);
	if (!l) {
		ret = -ENODEV;
	} else if (!wave_sched_msg_ok(type, msg, msg__sz)) {
		atomic64_inc(&l->c.msgs_rejected);
		ret = -EINVAL;
	} else {
		ret = wave_sched_send(l, type, msg, msg__sz);
	}
	rcu_read_unlock();
	return ret;
}

/**
 * bpf_wave_take_decision - take the next decision for a CPU
 * @cpu: host CPU
 * @out: receives a struct wave_decision
 * @out__sz: sizeof(struct wave_decision)
 *
 * Prestaged slot first, then the decision ring. Decisions are validated (CPU, flags,
 * reserved bits, checksum, agent epoch); rejected ones are counted and their outcome sent.
 *
 * Return: 1 with a decision in @out, 0 when there is none, -ENODEV without a link, -EINVAL.
 */
__bpf_kfunc int bpf_wave_take_decision(u32 cpu, void *out, u32 out__sz)
{
	struct wave_sched_link *l;
	int ret;

	if (out__sz != sizeof(struct wave_decision))
		return -EINVAL;
	rcu_read_lock();
	l = rcu_dereference(wave_sched_cur);
	ret = l ? wave_sched_take(l, cpu, out) : -ENODEV;
	rcu_read_unlock();
	return ret;
}

/**
 * bpf_wave_nic_age_ns - time since the NIC's heartbeat last advanced
 *
 * Sampled by a timer every hb_poll_us, so the resolution is that period.
 *
 * Return: nanoseconds, S64_MAX when the NIC is not ready, -ENODEV without a link.
 */
__bpf_kfunc s64 bpf_wave_nic_age_ns(void)
{
	struct wave_sched_link *l;
	s64 ret;

	rcu_read_lock();
	l = rcu_dereference(wave_sched_cur);
	ret = l ? wave_sched_nic_age_ns(l) : -ENODEV;
	rcu_read_unlock();
	return ret;
}

/**
 * bpf_wave_agent_epoch - the agent epoch decisions must carry (0 without a link)
 */
__bpf_kfunc u64 bpf_wave_agent_epoch(void)
{
	struct wave_sched_link *l;
	u64 ret;

	rcu_read_lock();
	l = rcu_dereference(wave_sched_cur);
	ret = l ? atomic64_read(&l->epoch) : 0;
	rcu_read_unlock();
	return ret;
}

/**
 * bpf_wave_cpu_idle - tell wave.ko whether a CPU is idle (sched_ext's update_idle())
 * @cpu: host CPU
 * @idle: nonzero when it went idle
 *
 * The NIC's decision interrupt wakes only CPUs marked idle here.
 *
 * Return: 0, -ENODEV without a link, -EINVAL for a CPU out of range.
 */
__bpf_kfunc int bpf_wave_cpu_idle(u32 cpu, u32 idle)
{
	struct wave_sched_link *l;
	int ret = 0;

	rcu_read_lock();
	l = rcu_dereference(wave_sched_cur);
	if (!l)
		ret = -ENODEV;
	else if (cpu >= l->nr_cpus)
		ret = -EINVAL;
	else
		wave_sched_set_cpu_idle(l, cpu, idle);
	rcu_read_unlock();
	return ret;
}

/**
 * bpf_wave_decision_drained - when the decision last taken for @cpu left the ring
 * @cpu: host CPU
 *
 * Return: its ktime_get_ns() stamp, with bit 63 set when the NIC's interrupt drained it; 0
 * for a prestaged decision, none yet, no link or a CPU out of range.
 */
__bpf_kfunc u64 bpf_wave_decision_drained(u32 cpu)
{
	struct wave_sched_link *l;
	u64 ret;

	rcu_read_lock();
	l = rcu_dereference(wave_sched_cur);
	ret = l ? wave_sched_last_drain(l, cpu) : 0;
	rcu_read_unlock();
	return ret;
}

/**
 * bpf_wave_kick_age_ns - how long ago the NIC's interrupt kicked @cpu for a decision
 * @cpu: host CPU
 *
 * The kick timer leaves a CPU with a recent kick to its own dispatch().
 *
 * Return: nanoseconds since the kick, S64_MAX if none is outstanding (the CPU took since), no
 * link or a CPU out of range.
 */
__bpf_kfunc s64 bpf_wave_kick_age_ns(u32 cpu)
{
	struct wave_sched_link *l;
	s64 ret;

	rcu_read_lock();
	l = rcu_dereference(wave_sched_cur);
	ret = l ? wave_sched_kick_age_ns(l, cpu) : S64_MAX;
	rcu_read_unlock();
	return ret;
}

__bpf_kfunc_end_defs();

BTF_KFUNCS_START(wave_kfunc_ids)
BTF_ID_FLAGS(func, bpf_wave_send)
BTF_ID_FLAGS(func, bpf_wave_take_decision)
BTF_ID_FLAGS(func, bpf_wave_nic_age_ns)
BTF_ID_FLAGS(func, bpf_wave_agent_epoch)
BTF_ID_FLAGS(func, bpf_wave_cpu_idle)
BTF_ID_FLAGS(func, bpf_wave_decision_drained)
BTF_ID_FLAGS(func, bpf_wave_kick_age_ns)
/* The memory link's batch path (wave_mem.c), for tracing programs only. */
BTF_ID_FLAGS(func, bpf_wave_mem_add)
BTF_ID_FLAGS(func, bpf_wave_mem_close)
BTF_KFUNCS_END(wave_kfunc_ids)

static int wave_kfunc_filter(const struct bpf_prog *prog, u32 kfunc_id)
{
	return wave_mem_kfunc_allowed(prog, kfunc_id) ? 0 : -EACCES;
}

static const struct btf_kfunc_id_set wave_kfunc_set = {
	.owner = THIS_MODULE,
	.set = &wave_kfunc_ids,
	.filter = wave_kfunc_filter,
};

int wave_kfuncs_register(void)
{
	int ret;

	ret = register_btf_kfunc_id_set(BPF_PROG_TYPE_STRUCT_OPS, &wave_kfunc_set);
	if (!ret)
		ret = register_btf_kfunc_id_set(BPF_PROG_TYPE_TRACING, &wave_kfunc_set);
	if (!ret)
		ret = register_btf_kfunc_id_set(BPF_PROG_TYPE_SYSCALL, &wave_kfunc_set);
	return ret;
}
