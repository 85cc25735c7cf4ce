// SPDX-License-Identifier: GPL-2.0
/*
 * Selftests of wave.ko against the emulated SmartNIC (wave-nicd serving an ivshmem-doorbell
 * device). Run in the VM by run_vm.sh after wave.ko is loaded. Destructive tests (unbind,
 * rmmod cycles) live in wave_lifecycle_test.c.
 */
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "kselftest_harness.h"
#include "wave_util.h"

/* Module loads and VM exits are slow under TCG on a loaded machine: allow more than 30 s. */
#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 300

#define QSIZE (64 * 1024)

static const char *const pat_names[] = {
	[WAVE_CACHE_UC] = "uncached-minus",
	[WAVE_CACHE_WC] = "write-combining",
	[WAVE_CACHE_WT] = "write-through",
};

FIXTURE(dev) {
	int fd;
	struct wave_info info;
};

FIXTURE_SETUP(dev)
{
	self->fd = open(wave_dev_path(), O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd) TH_LOG("open %s: %s", wave_dev_path(), strerror(errno));
	memset(&self->info, 0, sizeof(self->info));
	self->info.argsz = sizeof(self->info);
	ASSERT_EQ(0, ioctl(self->fd, WAVE_IOC_GET_INFO, &self->info));
}

FIXTURE_TEARDOWN(dev)
{
	close(self->fd);
}

TEST(open_close_many)
{
	for (int i = 0; i < 200; i++) {
		int fd = open(wave_dev_path(), O_RDWR | O_CLOEXEC);

		ASSERT_LE(0, fd);
		ASSERT_EQ(0, close(fd));
	}
}

TEST_F(dev, info_matches_control_page)
{
	volatile struct wave_control_page *cp;
	uint64_t hb0, hb1;

	cp = mmap(NULL, WAVE_PAGE_SIZE, PROT_READ, MAP_SHARED, self->fd,
		  WAVE_MMAP_OFFSET(WAVE_REGION_CONTROL));
	ASSERT_NE(MAP_FAILED, cp);
	EXPECT_EQ(WAVE_ABI_MAGIC, cp->magic);
	EXPECT_EQ(cp->abi_major, self->info.abi_major);
	EXPECT_EQ(cp->abi_minor, self->info.abi_minor);
	EXPECT_EQ(WAVE_ABI_MAJOR, self->info.abi_major);
	EXPECT_EQ(cp->bar_size, self->info.bar_size);
	EXPECT_EQ(cp->features, self->info.features);
	EXPECT_EQ(cp->nr_vectors, self->info.nr_vectors);
	EXPECT_EQ(cp->nic_peer_id, self->info.nic_peer_id);
	EXPECT_EQ(WAVE_NIC_STATE_READY, self->info.nic_state);
	EXPECT_EQ(WAVE_BACKEND_PCI, self->info.backend);
	EXPECT_EQ(WAVE_MAX_QUEUES, self->info.max_queues);
	EXPECT_EQ(WAVE_HOST_STATE_ATTACHED, cp->host_state);
	EXPECT_LT(0, self->info.nr_vectors);
	/* wave-nicd's heartbeat advances: the NIC is alive behind this page. */
	hb0 = cp->heartbeat;
	usleep(50 * 1000);
	hb1 = cp->heartbeat;
	EXPECT_LT(hb0, hb1);
	munmap((void *)cp, WAVE_PAGE_SIZE);
}

TEST_F(dev, info_rejects_short_argsz)
{
	struct wave_info info = { .argsz = 8 };

	EXPECT_EQ(-1, ioctl(self->fd, WAVE_IOC_GET_INFO, &info));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(self->fd, WAVE_IOC_GET_INFO, NULL));
	EXPECT_EQ(EFAULT, errno);
}

TEST_F(dev, unknown_ioctl_is_enotty)
{
	int dummy = 0;

	EXPECT_EQ(-1, ioctl(self->fd, _IOW(WAVE_IOC_MAGIC, 0x7f, int), &dummy));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(self->fd, _IOW('x', 0x01, int), &dummy));
	EXPECT_EQ(ENOTTY, errno);
}

/* Creates a queue of each direction and mode, maps it, and finds its memtype in PAT's list. */
static void check_queue_memtype(struct __test_metadata *_metadata, int fd, uint16_t dir,
				uint16_t cache, uint16_t want)
{
	struct wave_queue_create q;
	uint64_t bar = wave_bar2_phys();
	char type[64] = "";
	void *m;

	ASSERT_NE(0, bar);
	ASSERT_EQ(0, wave_create_queue(fd, QSIZE, dir, cache, WAVE_QKIND_RAW, 1, &q));
	EXPECT_EQ(want, q.cache_mode);
	EXPECT_EQ(WAVE_MMAP_QUEUE_OFFSET(q.id), q.mmap_offset);
	EXPECT_EQ(0, q.bar_offset % WAVE_PAGE_SIZE);
	EXPECT_LE(WAVE_BAR_QUEUE_AREA_OFF, q.bar_offset);
	m = mmap(NULL, QSIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, q.mmap_offset);
	ASSERT_NE(MAP_FAILED, m);
	ASSERT_EQ(0, wave_pat_type(bar + q.bar_offset, bar + q.bar_offset + QSIZE, type,
				   sizeof(type)));
	EXPECT_STREQ(pat_names[want], type);
	munmap(m, QSIZE);
	/* The memtype goes away with the mapping. */
	EXPECT_NE(0, wave_pat_type(bar + q.bar_offset, bar + q.bar_offset + QSIZE, type,
				   sizeof(type)));
	EXPECT_EQ(0, wave_destroy_queue(fd, q.id));
}

TEST_F(dev, message_queue_is_write_combining)
{
	check_queue_memtype(_metadata, self->fd, WAVE_DIR_HOST_TO_NIC, WAVE_CACHE_DEFAULT,
			    WAVE_CACHE_WC);
}

TEST_F(dev, decision_queue_is_write_through)
{
	check_queue_memtype(_metadata, self->fd, WAVE_DIR_NIC_TO_HOST, WAVE_CACHE_DEFAULT,
			    WAVE_CACHE_WT);
}

TEST_F(dev, explicit_uncached_queue)
{
	check_queue_memtype(_metadata, self->fd, WAVE_DIR_HOST_TO_NIC, WAVE_CACHE_UC,
			    WAVE_CACHE_UC);
}

TEST_F(dev, control_page_uncached_and_read_only)
{
	uint64_t bar = wave_bar2_phys();
	char type[64] = "";
	void *m;

	m = mmap(NULL, WAVE_PAGE_SIZE, PROT_READ, MAP_SHARED, self->fd,
		 WAVE_MMAP_OFFSET(WAVE_REGION_CONTROL));
	ASSERT_NE(MAP_FAILED, m);
	ASSERT_EQ(0, wave_pat_type(bar, bar + WAVE_PAGE_SIZE, type, sizeof(type)));
	EXPECT_STREQ("uncached-minus", type);
	/* A read-only mapping cannot be made writable later. */
	EXPECT_EQ(-1, mprotect(m, WAVE_PAGE_SIZE, PROT_READ | PROT_WRITE));
	munmap(m, WAVE_PAGE_SIZE);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, WAVE_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
				   self->fd, WAVE_MMAP_OFFSET(WAVE_REGION_CONTROL)));
	EXPECT_EQ(EPERM, errno);
}

TEST_F(dev, queue_table_tracks_create_and_destroy)
{
	volatile struct wave_control_page *cp;
	struct wave_queue_create q;
	uint32_t gen;

	cp = mmap(NULL, WAVE_PAGE_SIZE, PROT_READ, MAP_SHARED, self->fd,
		  WAVE_MMAP_OFFSET(WAVE_REGION_CONTROL));
	ASSERT_NE(MAP_FAILED, cp);
	gen = cp->queue_table_gen;
	ASSERT_EQ(0, wave_create_queue(self->fd, 2 * QSIZE, WAVE_DIR_NIC_TO_HOST,
				       WAVE_CACHE_DEFAULT, WAVE_QKIND_DECISION, 3, &q));
	EXPECT_EQ(WAVE_QSTATE_ACTIVE, cp->queues[q.id].state);
	EXPECT_EQ(q.bar_offset, cp->queues[q.id].offset);
	EXPECT_EQ(2 * QSIZE, cp->queues[q.id].size);
	EXPECT_EQ(WAVE_DIR_NIC_TO_HOST, cp->queues[q.id].dir);
	EXPECT_EQ(WAVE_CACHE_WT, cp->queues[q.id].cache_mode);
	EXPECT_EQ(WAVE_QKIND_DECISION, cp->queues[q.id].kind);
	EXPECT_EQ(3, cp->queues[q.id].vector);
	EXPECT_NE(gen, cp->queue_table_gen);
	gen = cp->queue_table_gen;
	EXPECT_EQ(0, wave_destroy_queue(self->fd, q.id));
	EXPECT_EQ(WAVE_QSTATE_FREE, cp->queues[q.id].state);
	EXPECT_NE(gen, cp->queue_table_gen);
	munmap((void *)cp, WAVE_PAGE_SIZE);
}

/* Bytes written through the WC mapping reach wave-nicd, which answers through the WT one. */
TEST_F(dev, bytes_cross_both_ways_and_interrupt_fires)
{
	struct wave_queue_create src, dst;
	volatile struct wave_control_page *cp;
	uint8_t payload[3000];
	uint64_t doorbells, irqs;
	void *s, *d;
	int efd;

	cp = mmap(NULL, WAVE_PAGE_SIZE, PROT_READ, MAP_SHARED, self->fd,
		  WAVE_MMAP_OFFSET(WAVE_REGION_CONTROL));
	ASSERT_NE(MAP_FAILED, cp);
	ASSERT_EQ(0, wave_create_queue(self->fd, QSIZE, WAVE_DIR_HOST_TO_NIC,
				       WAVE_CACHE_DEFAULT, WAVE_QKIND_RAW, 2, &src));
	ASSERT_EQ(0, wave_create_queue(self->fd, QSIZE, WAVE_DIR_NIC_TO_HOST,
				       WAVE_CACHE_DEFAULT, WAVE_QKIND_RAW, 2, &dst));
	s = mmap(NULL, QSIZE, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, src.mmap_offset);
	ASSERT_NE(MAP_FAILED, s);
	d = mmap(NULL, QSIZE, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, dst.mmap_offset);
	ASSERT_NE(MAP_FAILED, d);
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ASSERT_LE(0, efd);
	ASSERT_EQ(0, wave_bind_irq(self->fd, 2, efd));
	/* The NIC reads the queue table when the admin doorbell rings; give it a moment. */
	usleep(100 * 1000);

	for (uint32_t round = 1; round <= 20; round++) {
		volatile struct wave_echo_reply *rep = d;
		const volatile uint8_t *back = (const volatile uint8_t *)(rep + 1);
		uint32_t len = 1 + (round * 149) % sizeof(payload);

		for (uint32_t i = 0; i < len; i++)
			payload[i] = (uint8_t)(i * 7 + round);
		doorbells = cp->nic_doorbells;
		irqs = cp->nic_irqs_raised;
		ASSERT_EQ(WAVE_ECHO_OK, wave_echo(self->fd, s, src.id, d, dst.id, payload, len,
						  round, 5000)) TH_LOG("round %u", round);
		EXPECT_EQ(len, rep->len);
		for (uint32_t i = 0; i < len; i++) {
			ASSERT_EQ((uint8_t)~payload[i], back[i]) TH_LOG("byte %u", i);
		}
		/* The interrupt the NIC raised fires the eventfd bound to the queue's vector. */
		ASSERT_LE(1, wave_wait_eventfd(efd, 5000));
		EXPECT_LT(doorbells, cp->nic_doorbells);
		EXPECT_LT(irqs, cp->nic_irqs_raised);
	}
	EXPECT_LE(20, wave_sysfs_num("irq_count"));
	EXPECT_EQ(0, wave_bind_irq(self->fd, 2, -1));
	close(efd);
	munmap(s, QSIZE);
	munmap(d, QSIZE);
	EXPECT_EQ(0, wave_destroy_queue(self->fd, src.id));
	EXPECT_EQ(0, wave_destroy_queue(self->fd, dst.id));
	munmap((void *)cp, WAVE_PAGE_SIZE);
}

/* A malformed echo command is refused by the NIC, which says why. */
TEST_F(dev, nic_rejects_bad_echo_command)
{
	struct wave_queue_create src, dst;
	volatile struct wave_echo_cmd *cmd;
	volatile struct wave_echo_reply *rep;
	uint8_t payload[16] = { 0 };
	void *s, *d;
	int i;

	ASSERT_EQ(0, wave_create_queue(self->fd, QSIZE, WAVE_DIR_HOST_TO_NIC,
				       WAVE_CACHE_DEFAULT, WAVE_QKIND_RAW, 1, &src));
	ASSERT_EQ(0, wave_create_queue(self->fd, QSIZE, WAVE_DIR_NIC_TO_HOST,
				       WAVE_CACHE_DEFAULT, WAVE_QKIND_RAW, 1, &dst));
	s = mmap(NULL, QSIZE, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, src.mmap_offset);
	d = mmap(NULL, QSIZE, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, dst.mmap_offset);
	ASSERT_NE(MAP_FAILED, s);
	ASSERT_NE(MAP_FAILED, d);
	usleep(100 * 1000);
	/* A length that overruns the queue region. */
	cmd = s;
	rep = d;
	rep->magic = 0;
	cmd->dst_queue = dst.id;
	cmd->len = QSIZE;
	cmd->seq = 77;
	cmd->magic = WAVE_ECHO_CMD_MAGIC;
	wave_wc_flush();
	ASSERT_EQ(0, wave_ring(self->fd, src.id, WAVE_ECHO_DOORBELL));
	for (i = 0; i < 5000; i++) {
		wave_wt_invalidate(rep, sizeof(*rep));
		if (rep->magic == WAVE_ECHO_REPLY_MAGIC && rep->seq == 77)
			break;
		usleep(1000);
	}
	EXPECT_EQ(WAVE_ECHO_EBADLEN, rep->status);
	/* And the link still works afterwards. */
	EXPECT_EQ(WAVE_ECHO_OK, wave_echo(self->fd, s, src.id, d, dst.id, payload,
					  sizeof(payload), 78, 5000));
	munmap(s, QSIZE);
	munmap(d, QSIZE);
	EXPECT_EQ(0, wave_destroy_queue(self->fd, src.id));
	EXPECT_EQ(0, wave_destroy_queue(self->fd, dst.id));
}

TEST_F(dev, bad_queue_arguments_are_einval)
{
	struct wave_queue_create q;
	long long before = wave_sysfs_num("rejected_ioctls");

	EXPECT_EQ(-1, wave_create_queue(self->fd, 0, WAVE_DIR_HOST_TO_NIC, 0, 0, 0, &q));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, wave_create_queue(self->fd, 1000, WAVE_DIR_HOST_TO_NIC, 0, 0, 0, &q));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, wave_create_queue(self->fd, QSIZE, 0, 0, 0, 0, &q));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, wave_create_queue(self->fd, QSIZE, 3, 0, 0, 0, &q));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, wave_create_queue(self->fd, QSIZE, WAVE_DIR_HOST_TO_NIC, 9, 0, 0, &q));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, wave_create_queue(self->fd, QSIZE, WAVE_DIR_HOST_TO_NIC,
					WAVE_CACHE_WB, 0, 0, &q));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, wave_create_queue(self->fd, QSIZE, WAVE_DIR_HOST_TO_NIC, 0,
					WAVE_QKIND_MAX + 1, 0, &q));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, wave_create_queue(self->fd, QSIZE, WAVE_DIR_HOST_TO_NIC, 0, 0,
					self->info.nr_vectors, &q));
	EXPECT_EQ(EINVAL, errno);
	/* Larger than the whole BAR: no room. */
	EXPECT_EQ(-1, wave_create_queue(self->fd, self->info.bar_size, WAVE_DIR_HOST_TO_NIC, 0,
					0, 0, &q));
	EXPECT_EQ(ENOSPC, errno);
	/* Reserved fields and flags must be zero; a short argsz is refused. */
	q = (struct wave_queue_create){ .argsz = sizeof(q), .size = QSIZE,
					.dir = WAVE_DIR_HOST_TO_NIC, .reserved = 1 };
	EXPECT_EQ(-1, ioctl(self->fd, WAVE_IOC_CREATE_QUEUE, &q));
	EXPECT_EQ(EINVAL, errno);
	q = (struct wave_queue_create){ .argsz = sizeof(q), .size = QSIZE,
					.dir = WAVE_DIR_HOST_TO_NIC, .flags = 1 };
	EXPECT_EQ(-1, ioctl(self->fd, WAVE_IOC_CREATE_QUEUE, &q));
	EXPECT_EQ(EINVAL, errno);
	q = (struct wave_queue_create){ .argsz = 4, .size = QSIZE, .dir = WAVE_DIR_HOST_TO_NIC };
	EXPECT_EQ(-1, ioctl(self->fd, WAVE_IOC_CREATE_QUEUE, &q));
	EXPECT_EQ(EINVAL, errno);
	/* Every refusal is counted. */
	EXPECT_LE(before + 12, wave_sysfs_num("rejected_ioctls"));
}

TEST_F(dev, queue_table_full_is_emfile)
{
	struct wave_queue_create q;
	uint32_t ids[WAVE_MAX_QUEUES];
	uint32_t n = 0;

	while (n < WAVE_MAX_QUEUES &&
	       !wave_create_queue(self->fd, WAVE_PAGE_SIZE, WAVE_DIR_HOST_TO_NIC, 0, 0, 0, &q))
		ids[n++] = q.id;
	EXPECT_EQ(WAVE_MAX_QUEUES, n);
	EXPECT_EQ(-1, wave_create_queue(self->fd, WAVE_PAGE_SIZE, WAVE_DIR_HOST_TO_NIC, 0, 0,
					0, &q));
	EXPECT_EQ(EMFILE, errno);
	while (n)
		EXPECT_EQ(0, wave_destroy_queue(self->fd, ids[--n]));
}

TEST_F(dev, double_destroy_is_enoent)
{
	struct wave_queue_create q;

	ASSERT_EQ(0, wave_create_queue(self->fd, QSIZE, WAVE_DIR_HOST_TO_NIC, 0, 0, 0, &q));
	EXPECT_EQ(0, wave_destroy_queue(self->fd, q.id));
	EXPECT_EQ(-1, wave_destroy_queue(self->fd, q.id));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_EQ(-1, wave_destroy_queue(self->fd, WAVE_MAX_QUEUES + 5));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_EQ(-1, wave_ring(self->fd, q.id, 1));
	EXPECT_EQ(ENOENT, errno);
}

TEST_F(dev, bad_mmap_is_einval)
{
	struct wave_queue_create q;
	long long before = wave_sysfs_num("rejected_mmaps");

	ASSERT_EQ(0, wave_create_queue(self->fd, QSIZE, WAVE_DIR_HOST_TO_NIC, 0, 0, 0, &q));
	/* Larger than the region. */
	EXPECT_EQ(MAP_FAILED, mmap(NULL, 2 * QSIZE, PROT_WRITE, MAP_SHARED, self->fd,
				   q.mmap_offset));
	EXPECT_EQ(EINVAL, errno);
	/* Inside the region but running past its end. */
	EXPECT_EQ(MAP_FAILED, mmap(NULL, QSIZE, PROT_WRITE, MAP_SHARED, self->fd,
				   q.mmap_offset + WAVE_PAGE_SIZE));
	EXPECT_EQ(EINVAL, errno);
	/* Not page aligned. */
	EXPECT_EQ(MAP_FAILED, mmap(NULL, WAVE_PAGE_SIZE, PROT_WRITE, MAP_SHARED, self->fd,
				   q.mmap_offset + 100));
	EXPECT_EQ(EINVAL, errno);
	/* A region that does not exist, a queue that does not exist, the loopback-only BAR. */
	EXPECT_EQ(MAP_FAILED, mmap(NULL, WAVE_PAGE_SIZE, PROT_READ, MAP_SHARED, self->fd,
				   WAVE_MMAP_OFFSET(0x55)));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, WAVE_PAGE_SIZE, PROT_READ, MAP_SHARED, self->fd,
				   WAVE_MMAP_QUEUE_OFFSET((q.id + 1) % WAVE_MAX_QUEUES)));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, WAVE_PAGE_SIZE, PROT_READ, MAP_SHARED, self->fd,
				   WAVE_MMAP_OFFSET(WAVE_REGION_BAR)));
	EXPECT_EQ(EINVAL, errno);
	/* A private mapping of device memory makes no sense. */
	EXPECT_EQ(MAP_FAILED, mmap(NULL, WAVE_PAGE_SIZE, PROT_READ, MAP_PRIVATE, self->fd,
				   q.mmap_offset));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_LE(before + 5, wave_sysfs_num("rejected_mmaps"));
	EXPECT_EQ(0, wave_destroy_queue(self->fd, q.id));
}

TEST_F(dev, bad_eventfd_binding)
{
	int efd, nfd;

	efd = eventfd(0, EFD_CLOEXEC);
	ASSERT_LE(0, efd);
	close(efd);
	/* A closed file descriptor. */
	EXPECT_EQ(-1, wave_bind_irq(self->fd, 1, efd));
	EXPECT_EQ(EBADF, errno);
	/* A file that is not an eventfd. */
	nfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, nfd);
	EXPECT_EQ(-1, wave_bind_irq(self->fd, 1, nfd));
	EXPECT_EQ(EINVAL, errno);
	close(nfd);
	/* A vector the device does not have. */
	efd = eventfd(0, EFD_CLOEXEC);
	EXPECT_EQ(-1, wave_bind_irq(self->fd, self->info.nr_vectors, efd));
	EXPECT_EQ(EINVAL, errno);
	/* Loopback-only operations on a PCI device. */
	struct wave_irq_bind b = { .argsz = sizeof(b), .flags = WAVE_IRQ_F_NIC_DOORBELL,
				   .vector = 1, .fd = efd };
	EXPECT_EQ(-1, ioctl(self->fd, WAVE_IOC_BIND_IRQ, &b));
	EXPECT_EQ(EOPNOTSUPP, errno);
	struct wave_irq_raise r = { .argsz = sizeof(r), .vector = 1 };
	EXPECT_EQ(-1, ioctl(self->fd, WAVE_IOC_RAISE_IRQ, &r));
	EXPECT_EQ(EOPNOTSUPP, errno);
	/* Binding, rebinding and unbinding a live eventfd works. */
	EXPECT_EQ(0, wave_bind_irq(self->fd, 1, efd));
	EXPECT_EQ(0, wave_bind_irq(self->fd, 1, efd));
	EXPECT_EQ(0, wave_bind_irq(self->fd, 1, -1));
	close(efd);
}

/* Destroying a queue zaps every mapping of it: a later access gets SIGBUS, nothing worse. */
TEST_F(dev, destroy_while_mapped_gives_sigbus)
{
	struct wave_queue_create q;
	volatile uint32_t *m;
	int status;
	pid_t pid;

	ASSERT_EQ(0, wave_create_queue(self->fd, QSIZE, WAVE_DIR_NIC_TO_HOST, 0, 0, 0, &q));
	m = mmap(NULL, QSIZE, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, q.mmap_offset);
	ASSERT_NE(MAP_FAILED, m);
	m[0] = 0x1234;
	EXPECT_EQ(0x1234, m[0]);
	ASSERT_EQ(0, wave_destroy_queue(self->fd, q.id));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		(void)m[1];
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status));
	EXPECT_EQ(SIGBUS, WTERMSIG(status));
	munmap((void *)m, QSIZE);
}

/* A queue created where a destroyed one wrote starts zeroed: its old ring words must not look
 * valid to the NIC before the new owner writes its own.
 */
TEST_F(dev, new_queue_region_starts_zeroed)
{
	struct wave_queue_create a, b;
	volatile uint64_t *m;
	uint64_t nonzero = 0;
	size_t i;

	ASSERT_EQ(0, wave_create_queue(self->fd, QSIZE, WAVE_DIR_HOST_TO_NIC, 0, WAVE_QKIND_RAW, 1,
				       &a));
	m = mmap(NULL, QSIZE, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, a.mmap_offset);
	ASSERT_NE(MAP_FAILED, m);
	for (i = 0; i < QSIZE / 8; i++)
		m[i] = 0x5a5a5a5a00000000ull | i;
	munmap((void *)m, QSIZE);
	ASSERT_EQ(0, wave_destroy_queue(self->fd, a.id));

	ASSERT_EQ(0, wave_create_queue(self->fd, QSIZE, WAVE_DIR_HOST_TO_NIC, 0, WAVE_QKIND_RAW, 1,
				       &b));
	/* First fit: the same range of the BAR, or this test proves nothing. */
	ASSERT_EQ(a.bar_offset, b.bar_offset);
	m = mmap(NULL, QSIZE, PROT_READ, MAP_SHARED, self->fd, b.mmap_offset);
	ASSERT_NE(MAP_FAILED, m);
	for (i = 0; i < QSIZE / 8; i++)
		nonzero += m[i] != 0;
	EXPECT_EQ(0, nonzero);
	munmap((void *)m, QSIZE);
	EXPECT_EQ(0, wave_destroy_queue(self->fd, b.id));
}

static void drop_privileges(void)
{
	if (setgid(65534) || setuid(65534))
		_exit(99);
}

TEST(unprivileged_access_is_refused)
{
	struct stat st;
	int status;
	pid_t pid;

	ASSERT_EQ(0, stat(wave_dev_path(), &st));
	EXPECT_EQ(0600, st.st_mode & 0777);
	EXPECT_EQ(0, st.st_uid);
	/* With the default mode nobody else may open the device. */
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		drop_privileges();
		_exit(open(wave_dev_path(), O_RDWR) < 0 && errno == EACCES ? 0 : 1);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status));
	/* An administrator may open it up; privileged ioctls still need CAP_SYS_ADMIN. */
	ASSERT_EQ(0, chmod(wave_dev_path(), 0666));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct wave_info info = { .argsz = sizeof(info) };
		struct wave_queue_create q;
		int fd;

		drop_privileges();
		fd = open(wave_dev_path(), O_RDWR);
		if (fd < 0)
			_exit(2);
		if (ioctl(fd, WAVE_IOC_GET_INFO, &info))
			_exit(3);
		if (wave_create_queue(fd, QSIZE, WAVE_DIR_HOST_TO_NIC, 0, 0, 0, &q) != -1 ||
		    errno != EPERM)
			_exit(4);
		if (wave_ring(fd, 0, 1) != -1 || errno != EPERM)
			_exit(5);
		if (wave_bind_irq(fd, 0, -1) != -1 || errno != EPERM)
			_exit(6);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	chmod(wave_dev_path(), 0600);
	EXPECT_EQ(0, WEXITSTATUS(status));
}

TEST(sysfs_attributes)
{
	char path[256], buf[4096], major[16];

	/* The NIC's version: our major, any minor (a 1.0 NIC works with a 1.1 driver). */
	snprintf(path, sizeof(path), "%s/abi_version", wave_sysfs_dir());
	ASSERT_LT(0, wave_read_file(path, buf, sizeof(buf)));
	snprintf(major, sizeof(major), "%u.", WAVE_ABI_MAJOR);
	EXPECT_EQ(0, strncmp(buf, major, strlen(major)));
	snprintf(path, sizeof(path), "%s/backend", wave_sysfs_dir());
	ASSERT_LT(0, wave_read_file(path, buf, sizeof(buf)));
	EXPECT_EQ(0, strncmp(buf, "pci", 3));
	EXPECT_LT(0, wave_sysfs_num("bar_size"));
	EXPECT_LE(0, wave_sysfs_num("nr_queues"));
	EXPECT_LE(0, wave_sysfs_num("heartbeat"));
	EXPECT_LE(0, wave_sysfs_num("rejected_ioctls"));
	EXPECT_LE(0, wave_sysfs_num("rejected_mmaps"));
	snprintf(path, sizeof(path), "%s/queues", wave_sysfs_dir());
	EXPECT_LE(0, wave_read_file(path, buf, sizeof(buf)));
}

TEST_HARNESS_MAIN
