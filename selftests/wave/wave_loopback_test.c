// SPDX-License-Identifier: GPL-2.0
/*
 * Selftests of wave.ko's RAM-backed loopback device (on-host mode): the kernel's control page,
 * the NIC side's whole-window mapping, bytes both ways, host doorbells reaching the NIC side's
 * eventfd and host interrupts raised by the NIC side. The test reloads the module with
 * loopback=1 (WAVE_KO names the module file) and restores it without loopback at the end, so
 * it runs after the other wave.ko tests. Run in the VM.
 */
#include <dirent.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "wave_util.h"

/* Module loads and VM exits are slow under TCG on a loaded machine: allow more than 30 s. */
#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 300

#define QSIZE (16 * 1024)

static char lb_dev[300];
static char lb_sysfs[300];

static int run(const char *cmd)
{
	int status = system(cmd);

	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int reload(const char *params)
{
	const char *ko = getenv("WAVE_KO") ? getenv("WAVE_KO") : "wave.ko";
	char cmd[512];

	run("rmmod wave 2>/dev/null");
	snprintf(cmd, sizeof(cmd), "insmod %s %s", ko, params);
	return run(cmd);
}

/* Finds the loopback device among /sys/class/wave/wave*; 0 when found. */
static int find_loopback(void)
{
	char path[300], buf[32];
	struct dirent *e;
	DIR *d;
	int found = -1;

	for (int tries = 0; tries < 300 && found; tries++) {
		d = opendir("/sys/class/wave");
		while (d && (e = readdir(d)) != NULL) {
			if (strncmp(e->d_name, "wave", 4))
				continue;
			snprintf(path, sizeof(path), "/sys/class/wave/%s/backend", e->d_name);
			if (wave_read_file(path, buf, sizeof(buf)) > 0 && !strncmp(buf, "loopback", 8)) {
				snprintf(lb_dev, sizeof(lb_dev), "/dev/%s", e->d_name);
				snprintf(lb_sysfs, sizeof(lb_sysfs), "/sys/class/wave/%s", e->d_name);
				found = access(lb_dev, F_OK);
			}
		}
		if (d)
			closedir(d);
		if (found)
			usleep(10 * 1000);
	}
	return found;
}

static long long lb_num(const char *attr)
{
	char path[400], buf[64];

	snprintf(path, sizeof(path), "%s/%s", lb_sysfs, attr);
	if (wave_read_file(path, buf, sizeof(buf)) < 0)
		return -1;
	return strtoll(buf, NULL, 0);
}

/* First (global tests run before fixtures): the module with one 1 MiB loopback device. */
TEST(load_module_with_loopback)
{
	ASSERT_EQ(0, reload("loopback=1 loopback_size=1048576"));
	ASSERT_EQ(0, find_loopback());
}

FIXTURE(lb) {
	int fd;
	struct wave_info info;
	volatile uint8_t *bar;	/* the NIC side's view: the whole window */
};

FIXTURE_SETUP(lb)
{
	ASSERT_EQ(0, find_loopback()) TH_LOG("no loopback device: is wave.ko loaded with loopback=1?");
	self->fd = open(lb_dev, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd);
	memset(&self->info, 0, sizeof(self->info));
	self->info.argsz = sizeof(self->info);
	ASSERT_EQ(0, ioctl(self->fd, WAVE_IOC_GET_INFO, &self->info));
	self->bar = mmap(NULL, self->info.bar_size, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd,
			 WAVE_MMAP_OFFSET(WAVE_REGION_BAR));
	ASSERT_NE(MAP_FAILED, self->bar);
}

FIXTURE_TEARDOWN(lb)
{
	munmap((void *)self->bar, self->info.bar_size);
	close(self->fd);
}

static volatile struct wave_control_page *ctrl_of(volatile uint8_t *bar)
{
	return (volatile struct wave_control_page *)(bar + WAVE_BAR_CONTROL_OFF);
}

TEST_F(lb, kernel_initialises_the_control_page)
{
	volatile struct wave_control_page *cp = ctrl_of(self->bar);

	EXPECT_EQ(WAVE_BACKEND_LOOPBACK, self->info.backend);
	EXPECT_EQ(1048576, self->info.bar_size);
	EXPECT_EQ(WAVE_ABI_MAGIC, cp->magic);
	EXPECT_EQ(WAVE_ABI_MAJOR, cp->abi_major);
	EXPECT_EQ(WAVE_ABI_MINOR, cp->abi_minor);
	EXPECT_EQ(self->info.bar_size, cp->bar_size);
	EXPECT_EQ(WAVE_MAX_VECTORS, cp->nr_vectors);
	EXPECT_EQ(WAVE_MAX_VECTORS, self->info.nr_vectors);
	EXPECT_EQ(WAVE_HOST_STATE_ATTACHED, cp->host_state);
	EXPECT_NE(0, cp->features & WAVE_FEAT_DOORBELL_IRQ);
}

TEST_F(lb, create_needs_a_ready_nic)
{
	volatile struct wave_control_page *cp = ctrl_of(self->bar);
	struct wave_queue_create q;

	cp->nic_state = WAVE_NIC_STATE_OFF;
	EXPECT_EQ(-1, wave_create_queue(self->fd, QSIZE, WAVE_DIR_HOST_TO_NIC, 0, 0, 0, &q));
	EXPECT_EQ(ENODEV, errno);
	cp->nic_state = WAVE_NIC_STATE_READY;
	ASSERT_EQ(0, wave_create_queue(self->fd, QSIZE, WAVE_DIR_HOST_TO_NIC, 0, 0, 0, &q));
	EXPECT_EQ(0, wave_destroy_queue(self->fd, q.id));
}

TEST_F(lb, queues_are_write_back_and_bytes_cross_both_ways)
{
	struct wave_queue_create h2n, n2h;
	volatile uint32_t *hm, *nm;
	volatile uint32_t *bar32 = (volatile uint32_t *)self->bar;

	ctrl_of(self->bar)->nic_state = WAVE_NIC_STATE_READY;
	ASSERT_EQ(0, wave_create_queue(self->fd, QSIZE, WAVE_DIR_HOST_TO_NIC, WAVE_CACHE_DEFAULT,
				       WAVE_QKIND_RAW, 1, &h2n));
	ASSERT_EQ(0, wave_create_queue(self->fd, QSIZE, WAVE_DIR_NIC_TO_HOST, WAVE_CACHE_WT,
				       WAVE_QKIND_RAW, 1, &n2h));
	EXPECT_EQ(WAVE_CACHE_WB, h2n.cache_mode);
	EXPECT_EQ(WAVE_CACHE_WB, n2h.cache_mode);
	/* The descriptor the NIC side reads says the same. */
	EXPECT_EQ(WAVE_QSTATE_ACTIVE, ctrl_of(self->bar)->queues[h2n.id].state);
	EXPECT_EQ(h2n.bar_offset, ctrl_of(self->bar)->queues[h2n.id].offset);
	EXPECT_EQ(WAVE_CACHE_WB, ctrl_of(self->bar)->queues[n2h.id].cache_mode);

	hm = mmap(NULL, QSIZE, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, h2n.mmap_offset);
	ASSERT_NE(MAP_FAILED, hm);
	nm = mmap(NULL, QSIZE, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, n2h.mmap_offset);
	ASSERT_NE(MAP_FAILED, nm);
	for (uint32_t i = 0; i < QSIZE / 4; i += 97) {
		hm[i] = 0xa5000000u | i;
		bar32[n2h.bar_offset / 4 + i] = 0x5a000000u | i;
	}
	for (uint32_t i = 0; i < QSIZE / 4; i += 97) {
		ASSERT_EQ(0xa5000000u | i, bar32[h2n.bar_offset / 4 + i]);
		ASSERT_EQ(0x5a000000u | i, nm[i]);
	}
	munmap((void *)hm, QSIZE);
	munmap((void *)nm, QSIZE);
	EXPECT_EQ(0, wave_destroy_queue(self->fd, h2n.id));
	EXPECT_EQ(0, wave_destroy_queue(self->fd, n2h.id));
	EXPECT_EQ(WAVE_QSTATE_FREE, ctrl_of(self->bar)->queues[h2n.id].state);
}

TEST_F(lb, doorbell_reaches_the_nic_side)
{
	volatile struct wave_doorbell_page *db =
		(volatile struct wave_doorbell_page *)(self->bar + WAVE_BAR_DOORBELL_OFF);
	struct wave_irq_bind b = { .argsz = sizeof(b), .flags = WAVE_IRQ_F_NIC_DOORBELL,
				   .vector = 3 };
	struct wave_queue_create q;
	uint32_t before;
	int efd;

	ctrl_of(self->bar)->nic_state = WAVE_NIC_STATE_READY;
	ASSERT_EQ(0, wave_create_queue(self->fd, QSIZE, WAVE_DIR_HOST_TO_NIC, 0, 0, 3, &q));
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ASSERT_LE(0, efd);
	b.fd = efd;
	ASSERT_EQ(0, ioctl(self->fd, WAVE_IOC_BIND_IRQ, &b));
	before = db->vector_db[3];
	ASSERT_EQ(0, wave_ring(self->fd, q.id, 0xfeed));
	EXPECT_EQ(1, wave_wait_eventfd(efd, 1000));
	EXPECT_EQ(0xfeed, db->queue_db[q.id]);
	EXPECT_EQ(before + 1, db->vector_db[3]);
	b.fd = -1;
	EXPECT_EQ(0, ioctl(self->fd, WAVE_IOC_BIND_IRQ, &b));
	ASSERT_EQ(0, wave_ring(self->fd, q.id, 1));
	EXPECT_EQ(0, wave_wait_eventfd(efd, 50));
	close(efd);
	EXPECT_EQ(0, wave_destroy_queue(self->fd, q.id));
}

TEST_F(lb, raised_interrupt_fires_the_host_eventfd)
{
	struct wave_irq_raise r = { .argsz = sizeof(r), .vector = 5 };
	long long irqs = lb_num("irq_count");
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	ASSERT_LE(0, efd);
	ASSERT_EQ(0, wave_bind_irq(self->fd, 5, efd));
	ASSERT_EQ(0, ioctl(self->fd, WAVE_IOC_RAISE_IRQ, &r));
	ASSERT_EQ(0, ioctl(self->fd, WAVE_IOC_RAISE_IRQ, &r));
	EXPECT_EQ(2, wave_wait_eventfd(efd, 1000));
	EXPECT_EQ(irqs + 2, lb_num("irq_count"));
	r.vector = WAVE_MAX_VECTORS;
	EXPECT_EQ(-1, ioctl(self->fd, WAVE_IOC_RAISE_IRQ, &r));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0, wave_bind_irq(self->fd, 5, -1));
	close(efd);
}

TEST_F(lb, window_mapping_bounds)
{
	/* The window is all there is: one page more is refused. */
	EXPECT_EQ(MAP_FAILED, mmap(NULL, self->info.bar_size + WAVE_PAGE_SIZE, PROT_READ,
				   MAP_SHARED, self->fd, WAVE_MMAP_OFFSET(WAVE_REGION_BAR)));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, WAVE_PAGE_SIZE, PROT_READ, MAP_SHARED, self->fd,
				   WAVE_MMAP_OFFSET(WAVE_REGION_BAR) + self->info.bar_size));
	EXPECT_EQ(EINVAL, errno);
}

/*
 * Last: put the module back as the other tests expect it. The harness runs the global tests
 * first and then each fixture's in the order the fixtures are declared, so this one needs a
 * fixture of its own, declared after lb.
 */
FIXTURE(restore) {
	int unused;
};

FIXTURE_SETUP(restore)
{
}

FIXTURE_TEARDOWN(restore)
{
}

TEST_F(restore, module_without_loopback)
{
	ASSERT_EQ(0, reload(""));
}

TEST_HARNESS_MAIN
