// SPDX-License-Identifier: GPL-2.0
/*
 * Calls wave.ko's kfuncs directly (a syscall program, run with BPF_PROG_TEST_RUN) with the
 * inputs a buggy or hostile BPF program could pass, so the test can check the answers.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "wave_msg.h"

char _license[] SEC("license") = "GPL";

extern int bpf_wave_send(u32 type, const void *msg, u32 msg__sz) __ksym;
extern int bpf_wave_take_decision(u32 cpu, void *out, u32 out__sz) __ksym;
extern s64 bpf_wave_nic_age_ns(void) __ksym;
extern u64 bpf_wave_agent_epoch(void) __ksym;

/* Results, read by the test after the run. */
int send_ok, send_bad_type, send_bad_size, send_bad_flags, send_tid0, send_outcome_bad;
int take_bad_cpu, take_bad_size, take_ok_cpu0;
long long age;
unsigned long long epoch;

SEC("syscall")
int probe(void *ctx)
{
	struct wave_task_event ev = {.tid = 4242, .cpu = 0, .task_seq = 1};
	struct wave_txn_outcome o = {.txn_id = 1, .tid = 4242, .outcome = 99};
	struct wave_decision d = {};
	char small[8] = {};

	send_ok = bpf_wave_send(WAVE_MSG_TASK_NEW, &ev, sizeof(ev));
	send_bad_type = bpf_wave_send(WAVE_MSG_DECISION, &ev, sizeof(ev));
	send_bad_size = bpf_wave_send(WAVE_MSG_TASK_NEW, small, sizeof(small));
	ev.flags = 1;
	send_bad_flags = bpf_wave_send(WAVE_MSG_TASK_RUNNABLE, &ev, sizeof(ev));
	ev.flags = 0;
	ev.tid = 0;
	send_tid0 = bpf_wave_send(WAVE_MSG_TASK_RUNNABLE, &ev, sizeof(ev));
	send_outcome_bad = bpf_wave_send(WAVE_MSG_TXN_OUTCOME, &o, sizeof(o));
	take_bad_cpu = bpf_wave_take_decision(100000, &d, sizeof(d));
	take_bad_size = bpf_wave_take_decision(0, small, sizeof(small));
	take_ok_cpu0 = bpf_wave_take_decision(0, &d, sizeof(d));
	age = bpf_wave_nic_age_ns();
	epoch = bpf_wave_agent_epoch();
	return 0;
}
