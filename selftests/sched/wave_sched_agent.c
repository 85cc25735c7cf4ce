// SPDX-License-Identifier: GPL-2.0
/*
 * A stand-in NIC agent for the scheduling VM tests, run inside the emulated host: it maps
 * the scheduling link's two queues through /dev/waveN (as the NIC sees them: message ring
 * consumer, decision producer) and either schedules (a small centralized FIFO) or misbehaves
 * on purpose (garbage slots, torn prestaged lines, stale and wrong-epoch decisions), so the
 * tests can check the host side against a known agent even when wave-nicd runs no policy.
 *
 *   wave_sched_agent [--dev /dev/wave0] [--mode fifo|garbage|stale] [--seconds N]
 *
 * Runs until SIGTERM/SIGINT or N seconds, then prints its counters as one JSON line.
 * The ring protocol is the one of uapi/wave_ring.h (seq = position + 1 written last; credits
 * in the producer's region; consumer epoch = the agent epoch of uapi/wave_sched_link.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "wave_abi.h"
#include "wave_ioctl.h"
#include "wave_msg.h"
#include "wave_ring.h"
#include "wave_sched_link.h"

#define MAX_TASKS 16384 /* open-addressing table, power of two */
#define RUNQ 16384
#define MAX_CPUS 64
#define MAX_INFLIGHT 4 /* ring decisions outstanding per CPU */

enum mode { MODE_FIFO, MODE_GARBAGE, MODE_STALE };

struct task {
	uint32_t tid; /* 0: free */
	uint64_t seq;
	uint64_t mask;
	bool runnable, queued, dead;
};

struct cpu {
	bool idle;
	uint64_t prestaged_txn; /* txn of the outstanding prestaged decision, 0: none */
	uint32_t inflight;	/* ring decisions without an outcome */
};

static struct task tasks[MAX_TASKS];
static uint32_t runq[RUNQ];
static uint32_t rq_head, rq_tail;
static struct cpu cpus[MAX_CPUS];
static volatile sig_atomic_t done;

static struct {
	uint64_t events[WAVE_MSG_CPU_UNAVAILABLE + 1];
	uint64_t outcomes[WAVE_TXN_OUTCOME_MAX + 1];
	uint64_t task_events, cpu_events, bad_msgs, decisions, prestaged, ring, full, garbage;
} c;

/* The link as this side sees it. */
static uint8_t *msg_base, *dec_base;
static uint64_t msg_size, dec_size;
static volatile uint8_t *msg_slots, *dec_slots;
static uint32_t msg_nr, dec_nr, nr_cpus;
static volatile struct wave_prestaged_slot *prestaged;
static uint64_t msg_pos, msg_credited, dec_produced, dec_credit, epoch, txn = 1;
static uint64_t versions[MAX_CPUS];

static void on_signal(int sig)
{
	(void)sig;
	done = 1;
}

static inline void store64(volatile void *p, uint64_t v)
{
	__atomic_store_n((volatile uint64_t *)p, v, __ATOMIC_RELEASE);
}

static inline uint64_t load64(const volatile void *p)
{
	return __atomic_load_n((const volatile uint64_t *)p, __ATOMIC_ACQUIRE);
}

static struct task *task_get(uint32_t tid, bool create)
{
	uint32_t i, h = (tid * 2654435761u) & (MAX_TASKS - 1);

	for (i = 0; i < MAX_TASKS; i++) {
		struct task *t = &tasks[(h + i) & (MAX_TASKS - 1)];

		if (t->tid == tid)
			return t;
		if (!t->tid) {
			if (!create)
				return NULL;
			memset(t, 0, sizeof(*t));
			t->tid = tid;
			t->mask = ~0ull;
			return t;
		}
	}
	return NULL;
}

static void enqueue(struct task *t)
{
	if (t->queued || rq_tail - rq_head >= RUNQ)
		return;
	t->queued = true;
	runq[rq_tail++ % RUNQ] = t->tid;
}

static void on_event(uint16_t type, const struct wave_task_event *ev)
{
	struct task *t;

	if (type <= WAVE_MSG_CPU_UNAVAILABLE)
		c.events[type]++;
	if (type >= WAVE_MSG_CPU_IDLE) {
		c.cpu_events++;
		if (ev->cpu < MAX_CPUS && type == WAVE_MSG_CPU_IDLE)
			cpus[ev->cpu].idle = true;
		return;
	}
	c.task_events++;
	t = task_get(ev->tid, true);
	if (!t)
		return;
	if (ev->task_seq > t->seq)
		t->seq = ev->task_seq;
	switch (type) {
	case WAVE_MSG_TASK_NEW:
	case WAVE_MSG_TASK_AFFINITY:
		t->mask = ev->cpumask;
		t->dead = false;
		break;
	case WAVE_MSG_TASK_RUNNABLE:
	case WAVE_MSG_TASK_PREEMPTED:
	case WAVE_MSG_TASK_YIELD:
		t->runnable = true;
		enqueue(t);
		break;
	case WAVE_MSG_TASK_BLOCKED:
		t->runnable = false;
		break;
	case WAVE_MSG_TASK_DEAD:
		t->runnable = false;
		t->dead = true;
		break;
	}
}

static void on_outcome(const struct wave_txn_outcome *o)
{
	struct task *t;

	if (o->outcome <= WAVE_TXN_OUTCOME_MAX)
		c.outcomes[o->outcome]++;
	if (o->cpu < MAX_CPUS) {
		if (cpus[o->cpu].prestaged_txn == o->txn_id)
			cpus[o->cpu].prestaged_txn = 0;
		else if (cpus[o->cpu].inflight)
			cpus[o->cpu].inflight--;
	}
	/* Not committed: if the task still wants a CPU, offer it again. */
	t = task_get(o->tid, false);
	if (t && o->outcome != WAVE_TXN_COMMITTED && t->runnable && !t->dead)
		enqueue(t);
}

/* Drains the message ring; returns how many slots were consumed. */
static uint32_t poll_messages(void)
{
	struct wave_region_hdr *mh = (struct wave_region_hdr *)msg_base;
	struct wave_region_hdr *dh = (struct wave_region_hdr *)dec_base;
	uint32_t n = 0;

	while (n < 256) {
		volatile uint8_t *slot = msg_slots + (msg_pos & (msg_nr - 1)) * WAVE_CACHELINE;
		uint8_t payload[48];
		uint64_t meta;
		uint16_t type, len;

		if (load64(slot) != msg_pos + 1)
			break;
		meta = load64(slot + 8);
		memcpy(payload, (const void *)(slot + 16), sizeof(payload));
		type = (uint16_t)meta;
		len = (uint16_t)(meta >> 16);
		msg_pos++;
		n++;
		if (type == WAVE_MSG_TXN_OUTCOME && len == sizeof(struct wave_txn_outcome))
			on_outcome((const struct wave_txn_outcome *)payload);
		else if (type >= WAVE_MSG_TASK_NEW && type <= WAVE_MSG_CPU_UNAVAILABLE &&
			 len == sizeof(struct wave_task_event))
			on_event(type, (const struct wave_task_event *)payload);
		else
			c.bad_msgs++;
	}
	if (n) {
		store64(&mh->consumers[0].committed, msg_pos);
		if (msg_pos - msg_credited >= msg_nr / 4) {
			store64(&dh->credits[0].consumed, msg_pos);
			msg_credited = msg_pos;
		}
	} else if (msg_pos != msg_credited) {
		store64(&dh->credits[0].consumed, msg_pos);
		msg_credited = msg_pos;
	}
	return n;
}

static bool ring_push(const void *payload, uint16_t type, uint16_t len, uint64_t flags)
{
	struct wave_region_hdr *mh = (struct wave_region_hdr *)msg_base;
	volatile uint8_t *slot;

	if (dec_produced - dec_credit >= dec_nr) {
		uint64_t cr = load64(&mh->credits[0].consumed);

		if (cr >= dec_credit && cr <= dec_produced)
			dec_credit = cr;
		if (dec_produced - dec_credit >= dec_nr) {
			c.full++;
			return false;
		}
	}
	slot = dec_slots + (dec_produced & (dec_nr - 1)) * WAVE_CACHELINE;
	memcpy((void *)(slot + 16), payload, len);
	store64(slot + 8, (uint64_t)type | ((uint64_t)len << 16) | (flags << 32));
	store64(slot, dec_produced + 1);
	dec_produced++;
	return true;
}

static void prestage(uint32_t cpu, const struct wave_decision *d, bool tear)
{
	struct wave_prestaged_slot s;
	__u64 words[7];

	memset(&s, 0, sizeof(s));
	s.version = ++versions[cpu];
	memcpy(s.body, d, sizeof(*d));
	memcpy(words, &s, sizeof(words));
	s.csum = wave_prestage_csum(words) ^ (tear ? 0x5a5a : 0);
	memcpy((void *)&prestaged[cpu], &s, sizeof(s));
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

/* Centralized FIFO: the head task goes to an allowed CPU that can take a decision. */
static void schedule_fifo(void)
{
	uint32_t tries = rq_tail - rq_head;

	while (tries-- && rq_head != rq_tail) {
		uint32_t tid = runq[rq_head % RUNQ], cpu, pick = UINT32_MAX;
		struct task *t = task_get(tid, false);
		struct wave_decision d;

		if (!t || !t->runnable || t->dead) {
			rq_head++;
			if (t)
				t->queued = false;
			continue;
		}
		for (cpu = 0; cpu < nr_cpus && cpu < MAX_CPUS; cpu++) {
			if (!(t->mask & (1ull << cpu)))
				continue;
			if (!cpus[cpu].prestaged_txn || cpus[cpu].inflight < MAX_INFLIGHT) {
				if (pick == UINT32_MAX || cpus[cpu].idle)
					pick = cpu;
				if (cpus[cpu].idle)
					break;
			}
		}
		if (pick == UINT32_MAX)
			return; /* every allowed CPU is busy with our decisions: wait for outcomes
				 */
		memset(&d, 0, sizeof(d));
		d.txn_id = txn++;
		d.tid = tid;
		d.cpu = pick;
		d.task_seq = t->seq;
		d.agent_epoch = epoch;
		if (!cpus[pick].prestaged_txn) {
			prestage(pick, &d, false);
			cpus[pick].prestaged_txn = d.txn_id;
			c.prestaged++;
		} else {
			if (!ring_push(&d, WAVE_MSG_DECISION, sizeof(d), 0))
				return;
			cpus[pick].inflight++;
			c.ring++;
		}
		cpus[pick].idle = false;
		c.decisions++;
		rq_head++;
		t->queued = false;
	}
}

/* Everything a broken NIC could write; the host must count it and carry on. */
static void misbehave(enum mode m)
{
	struct wave_decision d;
	uint8_t junk[48];
	uint32_t cpu = (uint32_t)rand() % (nr_cpus ? nr_cpus : 1);
	size_t i;

	for (i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)rand();
	memset(&d, 0, sizeof(d));
	d.txn_id = txn++;
	d.cpu = cpu;
	d.agent_epoch = epoch;
	if (rq_head != rq_tail) {
		d.tid = runq[rq_head % RUNQ];
		d.task_seq = task_get(d.tid, false) ? task_get(d.tid, false)->seq : 0;
	} else {
		d.tid = 1 + (uint32_t)rand() % 32768;
	}
	switch (m == MODE_GARBAGE ? rand() % 6 : 6 + rand() % 4) {
	case 0: /* random payload with a valid header */
		ring_push(junk, WAVE_MSG_DECISION, sizeof(junk), 0);
		break;
	case 1: /* wrong type, wrong length, flags set */
		ring_push(&d, WAVE_MSG_RAW, sizeof(d), 0);
		ring_push(&d, WAVE_MSG_DECISION, 40, 0);
		ring_push(&d, WAVE_MSG_DECISION, sizeof(d), 1);
		break;
	case 2: /* a sequence word from nowhere in the next slot */
		store64(dec_slots + (dec_produced & (dec_nr - 1)) * WAVE_CACHELINE,
			dec_produced + 12345);
		usleep(2000);
		store64(dec_slots + (dec_produced & (dec_nr - 1)) * WAVE_CACHELINE, 0);
		break;
	case 3: /* torn prestaged line */
		prestage(cpu, &d, true);
		break;
	case 4: /* prestaged decision for another CPU, bad CPU in the ring */
		d.cpu = cpu + 1;
		prestage(cpu, &d, false);
		d.cpu = 1000;
		ring_push(&d, WAVE_MSG_DECISION, sizeof(d), 0);
		break;
	case 5: /* reserved bits */
		d.reserved = 7;
		ring_push(&d, WAVE_MSG_DECISION, sizeof(d), 0);
		break;
	case 6: /* stale sequence number */
		d.task_seq = d.task_seq ? d.task_seq - 1 : 99;
		ring_push(&d, WAVE_MSG_DECISION, sizeof(d), 0);
		break;
	case 7: /* old agent epoch */
		d.agent_epoch = epoch - 1;
		ring_push(&d, WAVE_MSG_DECISION, sizeof(d), 0);
		break;
	case 8: /* a task that does not exist */
		d.tid = 0x7ffffff0;
		ring_push(&d, WAVE_MSG_DECISION, sizeof(d), 0);
		break;
	default: /* CPU outside the task's mask (all our tasks allow CPU 0..n-1: use none) */
		d.tid = 1; /* init: never in the Wave DSQ in partial mode */
		ring_push(&d, WAVE_MSG_DECISION, sizeof(d), 0);
		break;
	}
	c.garbage++;
}

static void *map_queue(int fd, uint32_t id, uint64_t size)
{
	void *p =
	    mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, WAVE_MMAP_QUEUE_OFFSET(id));

	return p == MAP_FAILED ? NULL : p;
}

int main(int argc, char **argv)
{
	const char *dev = "/dev/wave0";
	enum mode mode = MODE_FIFO;
	struct wave_sched_stats s = {.argsz = sizeof(s)};
	struct wave_region_hdr *mh, *dh;
	double seconds = 0;
	struct timespec t0, t;
	uint32_t i;
	int fd;

	for (i = 1; i < (uint32_t)argc; i++) {
		if (!strcmp(argv[i], "--dev") && i + 1 < (uint32_t)argc)
			dev = argv[++i];
		else if (!strcmp(argv[i], "--seconds") && i + 1 < (uint32_t)argc)
			seconds = atof(argv[++i]);
		else if (!strcmp(argv[i], "--mode") && i + 1 < (uint32_t)argc) {
			i++;
			mode = !strcmp(argv[i], "garbage") ? MODE_GARBAGE
			       : !strcmp(argv[i], "stale") ? MODE_STALE
							   : MODE_FIFO;
		} else {
			fprintf(stderr,
				"usage: %s [--dev DEV] [--mode fifo|garbage|stale] "
				"[--seconds N]\n",
				argv[0]);
			return 2;
		}
	}
	fd = open(dev, O_RDWR);
	if (fd < 0 || ioctl(fd, WAVE_IOC_SCHED_STATS, &s) || !s.attached) {
		fprintf(stderr, "agent: no scheduling link on %s\n", dev);
		return 1;
	}
	/* The regions' sizes: from the queue table in the (read-only) control page. */
	{
		const struct wave_control_page *cp =
		    mmap(NULL, WAVE_PAGE_SIZE, PROT_READ, MAP_SHARED, fd,
			 WAVE_MMAP_OFFSET(WAVE_REGION_CONTROL));

		if (cp == MAP_FAILED)
			return 1;
		msg_size = cp->queues[s.msg_queue].size;
		dec_size = cp->queues[s.dec_queue].size;
		munmap((void *)cp, WAVE_PAGE_SIZE);
	}
	msg_base = map_queue(fd, s.msg_queue, msg_size);
	dec_base = map_queue(fd, s.dec_queue, dec_size);
	if (!msg_base || !dec_base) {
		fprintf(stderr, "agent: mmap: %s\n", strerror(errno));
		return 1;
	}
	mh = (struct wave_region_hdr *)msg_base;
	dh = (struct wave_region_hdr *)dec_base;
	if (mh->rings[0].magic != WAVE_RING_MAGIC || dh->rings[0].magic != WAVE_RING_MAGIC ||
	    mh->rings[0].slot_size != WAVE_CACHELINE || dh->rings[0].slot_size != WAVE_CACHELINE) {
		fprintf(stderr, "agent: link regions not initialised\n");
		return 1;
	}
	msg_nr = mh->rings[0].nr_slots;
	dec_nr = dh->rings[0].nr_slots;
	msg_slots = msg_base + mh->rings[0].slots_off;
	dec_slots = dec_base + dh->rings[0].slots_off;
	nr_cpus = dh->rings[0].prestaged_nr;
	prestaged = (volatile struct wave_prestaged_slot *)(dec_base + dh->rings[0].prestaged_off);
	/* Resume where the last consumer committed; become the next agent epoch. */
	msg_pos = msg_credited = load64(&dh->credits[0].consumed);
	if (load64(&mh->consumers[0].committed) > msg_pos)
		msg_pos = load64(&mh->consumers[0].committed);
	dec_produced = dec_credit = load64(&mh->credits[0].consumed);
	for (i = 0; i < nr_cpus && i < MAX_CPUS; i++)
		versions[i] = prestaged[i].version;
	epoch = load64(&mh->consumers[0].epoch) + 1;
	store64(&mh->consumers[0].epoch, epoch);

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!done) {
		uint32_t n = poll_messages();

		if (mode == MODE_FIFO)
			schedule_fifo();
		else if (rand() % 4 == 0)
			misbehave(mode);
		if (!n)
			usleep(200);
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (seconds > 0 &&
		    (t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9 >= seconds)
			break;
	}
	poll_messages();
	printf("{\"epoch\":%llu,\"task_events\":%llu,\"cpu_events\":%llu,\"new\":%llu,"
	       "\"runnable\":%llu,\"blocked\":%llu,\"preempted\":%llu,\"yield\":%llu,"
	       "\"dead\":%llu,\"affinity\":%llu,\"cpu_idle\":%llu,\"cpu_tick\":%llu,"
	       "\"outcomes_committed\":%llu,\"outcomes_stale\":%llu,\"outcomes_aborted\":%llu,"
	       "\"outcomes_cpu_unavailable\":%llu,\"outcomes_invalid\":%llu,\"bad_msgs\":%llu,"
	       "\"decisions\":%llu,\"prestaged\":%llu,\"ring\":%llu,\"ring_full\":%llu,"
	       "\"garbage\":%llu,\"consumed\":%llu}\n",
	       (unsigned long long)epoch, (unsigned long long)c.task_events,
	       (unsigned long long)c.cpu_events, (unsigned long long)c.events[WAVE_MSG_TASK_NEW],
	       (unsigned long long)c.events[WAVE_MSG_TASK_RUNNABLE],
	       (unsigned long long)c.events[WAVE_MSG_TASK_BLOCKED],
	       (unsigned long long)c.events[WAVE_MSG_TASK_PREEMPTED],
	       (unsigned long long)c.events[WAVE_MSG_TASK_YIELD],
	       (unsigned long long)c.events[WAVE_MSG_TASK_DEAD],
	       (unsigned long long)c.events[WAVE_MSG_TASK_AFFINITY],
	       (unsigned long long)c.events[WAVE_MSG_CPU_IDLE],
	       (unsigned long long)c.events[WAVE_MSG_CPU_TICK],
	       (unsigned long long)c.outcomes[WAVE_TXN_COMMITTED],
	       (unsigned long long)c.outcomes[WAVE_TXN_STALE],
	       (unsigned long long)c.outcomes[WAVE_TXN_ABORTED],
	       (unsigned long long)c.outcomes[WAVE_TXN_CPU_UNAVAILABLE],
	       (unsigned long long)c.outcomes[WAVE_TXN_INVALID], (unsigned long long)c.bad_msgs,
	       (unsigned long long)c.decisions, (unsigned long long)c.prestaged,
	       (unsigned long long)c.ring, (unsigned long long)c.full,
	       (unsigned long long)c.garbage, (unsigned long long)msg_pos);
	return 0;
}
