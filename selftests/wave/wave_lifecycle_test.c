// SPDX-License-Identifier: GPL-2.0
/*
 * Lifecycle selftests of wave.ko: unbinding the PCI device while its regions are mapped and
 * eventfds bound, rmmod while in use, and rmmod/insmod cycles that must leak nothing.
 * They unload and reload the module, so they run after wave_test, with WAVE_KO naming the
 * module file. Run in the VM by run_vm.sh.
 */
#include <dirent.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "wave_util.h"

/* Module loads and VM exits are slow under TCG on a loaded machine: allow more than 30 s. */
#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 300

#define QSIZE (16 * 1024)

static int run(const char *cmd)
{
	int status = system(cmd);

	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static const char *ko_path(void)
{
	const char *p = getenv("WAVE_KO");

	return p ? p : "wave.ko";
}

static int insmod(void)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "insmod %s 2>/dev/null", ko_path());
	return run(cmd);
}

static bool module_loaded(void)
{
	return access("/sys/module/wave", F_OK) == 0;
}

/* Waits for udev/devtmpfs to show (or drop) the device node. */
static bool wait_node(bool present)
{
	for (int i = 0; i < 300; i++) {
		if ((access(wave_dev_path(), F_OK) == 0) == present)
			return true;
		usleep(10 * 1000);
	}
	return false;
}

/* The PCI address of the device behind /dev/wave0, from its sysfs link. */
static int wave_bdf(char *bdf, size_t len)
{
	char path[256], target[512];
	ssize_t n;
	char *slash;

	snprintf(path, sizeof(path), "%s/device", wave_sysfs_dir());
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return -1;
	target[n] = '\0';
	slash = strrchr(target, '/');
	slash = slash ? slash + 1 : target;
	if (strlen(slash) >= len)
		return -1;
	memcpy(bdf, slash, strlen(slash) + 1);
	return 0;
}

/* Lines of the kernel log that say the kernel is in trouble. */
static int kernel_trouble_lines(void)
{
	FILE *p = popen("dmesg | grep -E 'BUG:|WARNING:|Oops|general protection|"
			"Call Trace' | wc -l", "r");
	int n = -1;

	if (!p)
		return -1;
	if (fscanf(p, "%d", &n) != 1)
		n = -1;
	pclose(p);
	return n;
}

static int count_interrupt_lines(void)
{
	return wave_count_lines_matching("/proc/interrupts", "wave");
}

static int count_pat_entries(void)
{
	return wave_count_lines_matching(WAVE_PAT_LIST, "PAT:");
}

static int count_ioremaps(void)
{
	return wave_count_lines_matching("/proc/vmallocinfo", "ioremap");
}

static long long slab_unreclaimable_kb(void)
{
	char line[256];
	long long kb = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "SUnreclaim: %lld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

TEST(rmmod_refused_while_open)
{
	int fd;

	ASSERT_TRUE(module_loaded());
	fd = open(wave_dev_path(), O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	/* The open file pins the module; the removal is refused and nothing changes. */
	EXPECT_NE(0, syscall(SYS_delete_module, "wave", O_NONBLOCK));
	EXPECT_EQ(EWOULDBLOCK, errno);
	EXPECT_TRUE(module_loaded());
	struct wave_info info = { .argsz = sizeof(info) };
	EXPECT_EQ(0, ioctl(fd, WAVE_IOC_GET_INFO, &info));
	close(fd);
}

TEST(unbind_while_mapped_and_bound)
{
	struct wave_queue_create q;
	char bdf[256];
	volatile uint32_t *qm;
	volatile struct wave_control_page *cp;
	int fd, efd, status, trouble;
	pid_t pid;

	trouble = kernel_trouble_lines();
	ASSERT_EQ(0, wave_bdf(bdf, sizeof(bdf)));
	fd = open(wave_dev_path(), O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, wave_create_queue(fd, QSIZE, WAVE_DIR_HOST_TO_NIC, 0, 0, 1, &q));
	qm = mmap(NULL, QSIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, q.mmap_offset);
	ASSERT_NE(MAP_FAILED, qm);
	cp = mmap(NULL, WAVE_PAGE_SIZE, PROT_READ, MAP_SHARED, fd,
		  WAVE_MMAP_OFFSET(WAVE_REGION_CONTROL));
	ASSERT_NE(MAP_FAILED, cp);
	efd = eventfd(0, EFD_CLOEXEC);
	ASSERT_LE(0, efd);
	ASSERT_EQ(0, wave_bind_irq(fd, 1, efd));
	qm[0] = 42;
	EXPECT_EQ(WAVE_ABI_MAGIC, cp->magic);

	ASSERT_EQ(0, wave_write_file("/sys/bus/pci/drivers/wave/unbind", bdf));
	EXPECT_TRUE(wait_node(false));

	/* Both mappings are gone: touching either raises SIGBUS in a child. */
	for (int which = 0; which < 2; which++) {
		pid = fork();
		ASSERT_LE(0, pid);
		if (pid == 0) {
			if (which == 0)
				qm[0] = 1;
			else
				(void)cp->magic;
			_exit(0);
		}
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		EXPECT_TRUE(WIFSIGNALED(status)) TH_LOG("mapping %d still works", which);
		if (WIFSIGNALED(status))
			EXPECT_EQ(SIGBUS, WTERMSIG(status));
	}
	/* The open file still works as a file: every operation says the device is gone. */
	struct wave_info info = { .argsz = sizeof(info) };
	EXPECT_EQ(-1, ioctl(fd, WAVE_IOC_GET_INFO, &info));
	EXPECT_EQ(ENODEV, errno);
	EXPECT_EQ(-1, wave_create_queue(fd, QSIZE, WAVE_DIR_HOST_TO_NIC, 0, 0, 1, &q));
	EXPECT_EQ(ENODEV, errno);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, WAVE_PAGE_SIZE, PROT_READ, MAP_SHARED, fd,
				   WAVE_MMAP_OFFSET(WAVE_REGION_CONTROL)));
	EXPECT_EQ(ENODEV, errno);
	munmap((void *)qm, QSIZE);
	munmap((void *)cp, WAVE_PAGE_SIZE);
	close(efd);
	close(fd);

	/* Binding again brings the device back, usable. */
	ASSERT_EQ(0, wave_write_file("/sys/bus/pci/drivers/wave/bind", bdf));
	ASSERT_TRUE(wait_node(true));
	fd = open(wave_dev_path(), O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, ioctl(fd, WAVE_IOC_GET_INFO, &info));
	EXPECT_EQ(0, info.nr_queues);
	ASSERT_EQ(0, wave_create_queue(fd, QSIZE, WAVE_DIR_HOST_TO_NIC, 0, 0, 1, &q));
	EXPECT_EQ(0, wave_destroy_queue(fd, q.id));
	close(fd);
	EXPECT_EQ(trouble, kernel_trouble_lines()) TH_LOG("the kernel log reports trouble");
}

/*
 * The host DMA window (ABI 1.1) is coherent DMA memory that devres frees at unbind: a user
 * mapping must be zapped first, so a later access is SIGBUS, never a use after free.
 */
TEST(unbind_while_host_window_mapped)
{
	volatile struct wave_control_page *cp;
	volatile uint8_t *win;
	uint64_t size;
	char bdf[256], path[256], text[32];
	int fd, status, trouble;
	pid_t pid;

	trouble = kernel_trouble_lines();
	ASSERT_EQ(0, wave_bdf(bdf, sizeof(bdf)));
	fd = open(wave_dev_path(), O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	cp = mmap(NULL, WAVE_PAGE_SIZE, PROT_READ, MAP_SHARED, fd,
		  WAVE_MMAP_OFFSET(WAVE_REGION_CONTROL));
	ASSERT_NE(MAP_FAILED, cp);
	size = cp->host_window_size;
	ASSERT_NE(0, size) TH_LOG("no host DMA window (host_window_size=0?)");
	EXPECT_EQ(0, size % WAVE_PAGE_SIZE);
	snprintf(path, sizeof(path), "%s/host_window_size", wave_sysfs_dir());
	ASSERT_LT(0, wave_read_file(path, text, sizeof(text)));
	EXPECT_EQ(size, strtoull(text, NULL, 10));
	/* Larger than the window, or private: refused. */
	EXPECT_EQ(MAP_FAILED, mmap(NULL, size + WAVE_PAGE_SIZE, PROT_READ | PROT_WRITE,
				   MAP_SHARED, fd, WAVE_MMAP_OFFSET(WAVE_REGION_HOST_WINDOW)));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd,
				   WAVE_MMAP_OFFSET(WAVE_REGION_HOST_WINDOW)));
	EXPECT_EQ(EINVAL, errno);
	win = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		   WAVE_MMAP_OFFSET(WAVE_REGION_HOST_WINDOW));
	ASSERT_NE(MAP_FAILED, win);
	win[0] = 0x5a;
	win[size - 1] = 0xa5;
	EXPECT_EQ(0x5a, win[0]);
	EXPECT_EQ(0xa5, win[size - 1]);

	ASSERT_EQ(0, wave_write_file("/sys/bus/pci/drivers/wave/unbind", bdf));
	EXPECT_TRUE(wait_node(false));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		win[size - 1] = 1;
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status)) TH_LOG("the host window mapping still works");
	if (WIFSIGNALED(status))
		EXPECT_EQ(SIGBUS, WTERMSIG(status));
	munmap((void *)win, size);
	munmap((void *)cp, WAVE_PAGE_SIZE);
	close(fd);

	ASSERT_EQ(0, wave_write_file("/sys/bus/pci/drivers/wave/bind", bdf));
	ASSERT_TRUE(wait_node(true));
	EXPECT_EQ(trouble, kernel_trouble_lines()) TH_LOG("the kernel log reports trouble");
}

TEST(rmmod_insmod_cycles_leak_nothing)
{
	int pat0, iore0, trouble;
	long long slab0, slab1;

	trouble = kernel_trouble_lines();
	ASSERT_EQ(0, run("rmmod wave"));
	ASSERT_FALSE(module_loaded());
	pat0 = count_pat_entries();
	iore0 = count_ioremaps();
	slab0 = slab_unreclaimable_kb();
	EXPECT_EQ(0, count_interrupt_lines());

	for (int cycle = 0; cycle < 10; cycle++) {
		struct wave_queue_create q;
		int fd, efd;
		void *m;

		ASSERT_EQ(0, insmod()) TH_LOG("insmod %s failed (cycle %d)", ko_path(), cycle);
		ASSERT_TRUE(wait_node(true));
		fd = open(wave_dev_path(), O_RDWR | O_CLOEXEC);
		ASSERT_LE(0, fd);
		/* Use everything that allocates: queues, mappings, interrupts. */
		ASSERT_EQ(0, wave_create_queue(fd, QSIZE, WAVE_DIR_NIC_TO_HOST, 0, 0, 1, &q));
		m = mmap(NULL, QSIZE, PROT_READ, MAP_SHARED, fd, q.mmap_offset);
		ASSERT_NE(MAP_FAILED, m);
		efd = eventfd(0, EFD_CLOEXEC);
		ASSERT_EQ(0, wave_bind_irq(fd, 1, efd));
		EXPECT_LT(0, count_interrupt_lines());
		munmap(m, QSIZE);
		close(efd);
		close(fd);
		ASSERT_EQ(0, run("rmmod wave")) TH_LOG("rmmod failed (cycle %d)", cycle);
		ASSERT_TRUE(wait_node(false));
	}
	/* Everything the module took, it gave back. */
	EXPECT_EQ(0, count_interrupt_lines());
	EXPECT_EQ(pat0, count_pat_entries());
	EXPECT_EQ(iore0, count_ioremaps());
	slab1 = slab_unreclaimable_kb();
	/* Ten cycles of a leak of a few objects would stay under this; a page per cycle not. */
	EXPECT_LT(slab1 - slab0, 512) TH_LOG("SUnreclaim %lld -> %lld kB", slab0, slab1);
	EXPECT_EQ(trouble, kernel_trouble_lines());
	/* Leave the module loaded for whatever runs next. */
	ASSERT_EQ(0, insmod());
	ASSERT_TRUE(wait_node(true));
}

TEST_HARNESS_MAIN
