/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the wave.ko selftests: device discovery, the kernel's PAT memtype list,
 * and the NIC's echo service (uapi/wave_diag.h) that proves bytes, doorbells and interrupts
 * cross the link.
 */
#ifndef WAVE_SELFTEST_UTIL_H
#define WAVE_SELFTEST_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "wave_abi.h"
#include "wave_diag.h"
#include "wave_ioctl.h"

#define WAVE_PAT_LIST "/sys/kernel/debug/x86/pat_memtype_list"

static inline const char *wave_dev_path(void)
{
	const char *p = getenv("WAVE_DEV");

	return p ? p : "/dev/wave0";
}

static inline const char *wave_sysfs_dir(void)
{
	const char *p = getenv("WAVE_SYSFS");

	return p ? p : "/sys/class/wave/wave0";
}

/* Reads a whole small sysfs file into buf; returns its length or -1. */
static inline int wave_read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return (int)n;
}

static inline int wave_write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -1;
}

static inline long long wave_sysfs_num(const char *attr)
{
	char path[256], buf[64];

	snprintf(path, sizeof(path), "%s/%s", wave_sysfs_dir(), attr);
	if (wave_read_file(path, buf, sizeof(buf)) < 0)
		return -1;
	return strtoll(buf, NULL, 0);
}

/* Physical address of BAR2 (the Wave window) of the PCI device behind /dev/wave0. */
static inline uint64_t wave_bar2_phys(void)
{
	char path[256], line[256];
	unsigned long long start = 0, end, flags;
	FILE *f;
	int i;

	snprintf(path, sizeof(path), "%s/device/resource", wave_sysfs_dir());
	f = fopen(path, "r");
	if (!f)
		return 0;
	for (i = 0; i <= 2 && fgets(line, sizeof(line), f); i++)
		if (i == 2 && sscanf(line, "%llx %llx %llx", &start, &end, &flags) != 3)
			start = 0;
	fclose(f);
	return start;
}

/*
 * The memory type the kernel's PAT recorded for [start, end), as printed in the debugfs list
 * ("write-combining", "write-through", "uncached-minus", ...). Returns 0 when found.
 */
static inline int wave_pat_type(uint64_t start, uint64_t end, char *type, size_t len)
{
	char line[256], t[64];
	unsigned long long s, e;
	FILE *f = fopen(WAVE_PAT_LIST, "r");
	int found = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "PAT: [mem 0x%llx-0x%llx] %63s", &s, &e, t) != 3)
			continue;
		if (s == start && e == end) {
			snprintf(type, len, "%s", t);
			found = 0;
		}
	}
	fclose(f);
	return found;
}

static inline int wave_count_lines_matching(const char *path, const char *needle)
{
	char line[512];
	FILE *f = fopen(path, "r");
	int n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, needle))
			n++;
	fclose(f);
	return n;
}

static inline int wave_create_queue(int fd, uint64_t size, uint16_t dir, uint16_t cache,
				    uint16_t kind, uint16_t vector, struct wave_queue_create *out)
{
	struct wave_queue_create c = {
		.argsz = sizeof(c), .size = size, .dir = dir,
		.cache_mode = cache, .kind = kind, .vector = vector,
	};
	int ret = ioctl(fd, WAVE_IOC_CREATE_QUEUE, &c);

	if (out)
		*out = c;
	return ret;
}

static inline int wave_destroy_queue(int fd, uint32_t id)
{
	struct wave_queue_destroy d = { .argsz = sizeof(d), .id = id };

	return ioctl(fd, WAVE_IOC_DESTROY_QUEUE, &d);
}

static inline int wave_bind_irq(int fd, uint32_t vector, int efd)
{
	struct wave_irq_bind b = { .argsz = sizeof(b), .vector = vector, .fd = efd };

	return ioctl(fd, WAVE_IOC_BIND_IRQ, &b);
}

static inline int wave_ring(int fd, uint32_t queue, uint32_t value)
{
	struct wave_doorbell d = { .argsz = sizeof(d), .queue_id = queue, .value = value };

	return ioctl(fd, WAVE_IOC_RING_DOORBELL, &d);
}

static inline void wave_wc_flush(void)
{
#if defined(__x86_64__)
	__asm__ __volatile__("sfence" ::: "memory");
#else
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
#endif
}

/* A WT mapping caches reads: drop the line so the next read sees what the NIC wrote. */
static inline void wave_wt_invalidate(const volatile void *p, size_t len)
{
#if defined(__x86_64__)
	for (size_t off = 0; off < len; off += 64)
		__asm__ __volatile__("clflush %0" : "+m"(*((volatile char *)p + off)));
	__asm__ __volatile__("mfence" ::: "memory");
#else
	(void)p;
	(void)len;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
#endif
}

/* Waits for an eventfd to fire; returns its counter, 0 on time-out, -1 on error. */
static inline long long wave_wait_eventfd(int efd, int timeout_ms)
{
	struct pollfd p = { .fd = efd, .events = POLLIN };
	uint64_t v;
	int r = poll(&p, 1, timeout_ms);

	if (r <= 0)
		return r;
	if (read(efd, &v, sizeof(v)) != sizeof(v))
		return -1;
	return (long long)v;
}

/*
 * Sends payload through the NIC's echo service: writes the command into the host-to-NIC
 * queue mapping src (id src_id), rings its doorbell, and waits up to timeout_ms for the
 * reply in the NIC-to-host queue mapping dst (id dst_id). Returns the reply's status, or -1
 * when no valid reply arrived in time.
 */
static inline int wave_echo(int fd, volatile void *src, uint32_t src_id, volatile void *dst,
			    uint32_t dst_id, const void *payload, uint32_t len, uint32_t seq,
			    int timeout_ms)
{
	volatile struct wave_echo_cmd *cmd = src;
	volatile struct wave_echo_reply *rep = dst;
	int waited;

	rep->magic = 0;
	wave_wc_flush();
	memcpy((void *)(cmd + 1), payload, len);
	cmd->dst_queue = dst_id;
	cmd->len = len;
	cmd->seq = seq;
	cmd->magic = WAVE_ECHO_CMD_MAGIC;
	wave_wc_flush();
	if (wave_ring(fd, src_id, WAVE_ECHO_DOORBELL))
		return -1;
	for (waited = 0; waited < timeout_ms; waited++) {
		wave_wt_invalidate(rep, sizeof(*rep) + len);
		if (rep->magic == WAVE_ECHO_REPLY_MAGIC && rep->seq == seq)
			return (int)rep->status;
		usleep(1000);
	}
	return -1;
}

#endif /* WAVE_SELFTEST_UTIL_H */
