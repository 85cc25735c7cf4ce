#include "child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>

namespace wave::mem::testing {
namespace {

constexpr uint64_t kPage = 4096;

uint8_t Pattern(uint64_t off, uint8_t salt) {
  return static_cast<uint8_t>((off * 2654435761u >> 13) ^ salt);
}

void Fill(uint8_t* p, uint64_t len, uint8_t salt) {
  for (uint64_t i = 0; i < len; i++)
    p[i] = Pattern(i, salt);
}

bool Check(const uint8_t* p, uint64_t len, uint8_t salt) {
  for (uint64_t i = 0; i < len; i++) {
    if (p[i] != Pattern(i, salt))
      return false;
  }
  return true;
}

uint64_t Resident(void* p, uint64_t len) {
  if (!p || len == 0)
    return 0;
  const uint64_t pages = len / kPage;
  unsigned char* vec = static_cast<unsigned char*>(malloc(pages));
  uint64_t n = 0;
  if (mincore(p, len, vec) == 0) {
    for (uint64_t i = 0; i < pages; i++)
      n += vec[i] & 1;
  }
  free(vec);
  return n;
}

bool ReadAll(int fd, void* buf, size_t len) {
  auto* p = static_cast<uint8_t*>(buf);
  while (len > 0) {
    const ssize_t n = read(fd, p, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    p += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

bool WriteAll(int fd, const void* buf, size_t len) {
  const auto* p = static_cast<const uint8_t*>(buf);
  while (len > 0) {
    const ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    p += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

[[noreturn]] void ChildMain(const ChildOptions& o, int in, int out) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  ChildLayout l;
  auto* anon = static_cast<uint8_t*>(
      mmap(nullptr, o.anon_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  if (anon == MAP_FAILED)
    _exit(10);
  // No THP: DAMON and the residency counts work on 4 KiB pages here.
  madvise(anon, o.anon_len, MADV_NOHUGEPAGE);
  Fill(anon, o.anon_len, 0x5a);
  l.anon = reinterpret_cast<uintptr_t>(anon);
  l.anon_len = o.anon_len;
  uint8_t* file = nullptr;
  if (o.file_len) {
    std::string path =
        (o.file_dir.empty() ? std::string(".") : o.file_dir) + "/wave-mem-host-test-XXXXXX";
    const int fd = mkstemp(path.data());
    if (fd < 0 || ftruncate(fd, static_cast<off_t>(o.file_len)) != 0)
      _exit(11);
    file =
        static_cast<uint8_t*>(mmap(nullptr, o.file_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    unlink(path.c_str());
    close(fd);
    if (file == MAP_FAILED)
      _exit(12);
    Fill(file, o.file_len, 0xa5);
    // Clean pages: reclaim drops clean file pages, it does not write dirty ones back here.
    msync(file, o.file_len, MS_SYNC);
    l.file = reinterpret_cast<uintptr_t>(file);
    l.file_len = o.file_len;
  }
  auto* hole = static_cast<uint8_t*>(
      mmap(nullptr, 3 * kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  if (hole == MAP_FAILED || munmap(hole + kPage, kPage) != 0)
    _exit(13);
  l.hole = reinterpret_cast<uintptr_t>(hole);
  std::atomic<bool> stop{false};
  std::thread toucher;
  if (o.hot_len) {
    l.hot = l.anon;
    l.hot_len = o.hot_len;
    toucher = std::thread([&] {
      volatile uint8_t* h = anon;
      uint64_t sum = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        for (uint64_t i = 0; i < o.hot_len; i += kPage)
          sum += h[i];
        // DAMON clears the pages' accessed bits without a TLB flush, so reads through TLB
        // entries that survived (a big TLB; QEMU's TCG keeps them all) do not set them
        // again. Flipping the protection flushes the range's entries: every next read walks
        // the page table and marks its page accessed.
        mprotect(anon, o.hot_len, PROT_READ);
        mprotect(anon, o.hot_len, PROT_READ | PROT_WRITE);
        usleep(1000);
      }
      (void)sum;
    });
  }
  if (!WriteAll(out, &l, sizeof(l)))
    _exit(14);
  for (;;) {
    char c;
    if (!ReadAll(in, &c, 1))
      break;
    if (c == 'r') {
      uint64_t r[2] = {Resident(anon, o.anon_len), Resident(file, o.file_len)};
      WriteAll(out, r, sizeof(r));
    } else if (c == 'v') {
      const uint8_t ok = Check(anon, o.anon_len, 0x5a) && (!file || Check(file, o.file_len, 0xa5));
      WriteAll(out, &ok, 1);
    } else if (c == 'q') {
      break;
    }
  }
  stop = true;
  if (toucher.joinable())
    toucher.join();
  _exit(0);
}

}  // namespace

Child::~Child() {
  Kill();
}

bool Child::Start(const ChildOptions& o) {
  // A child that died must not take the test with it when we write to its pipe.
  signal(SIGPIPE, SIG_IGN);
  int a[2], b[2];
  if (pipe2(a, O_CLOEXEC) != 0 || pipe2(b, O_CLOEXEC) != 0)
    return false;
  pid_ = fork();
  if (pid_ < 0)
    return false;
  if (pid_ == 0) {
    close(a[1]);
    close(b[0]);
    ChildMain(o, a[0], b[1]);
  }
  close(a[0]);
  close(b[1]);
  to_child_ = a[1];
  from_child_ = b[0];
  return ReadAll(from_child_, &layout_, sizeof(layout_));
}

bool Child::Command(char c, void* reply, size_t len) {
  return WriteAll(to_child_, &c, 1) && ReadAll(from_child_, reply, len);
}

bool Child::Residency(uint64_t* anon_pages, uint64_t* file_pages) {
  uint64_t r[2];
  if (!Command('r', r, sizeof(r)))
    return false;
  *anon_pages = r[0];
  *file_pages = r[1];
  return true;
}

bool Child::Verify() {
  uint8_t ok = 0;
  return Command('v', &ok, 1) && ok == 1;
}

int Child::Quit() {
  if (pid_ <= 0)
    return -1;
  const char q = 'q';
  WriteAll(to_child_, &q, 1);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  close(to_child_);
  close(from_child_);
  to_child_ = from_child_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void Child::Kill() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  if (to_child_ >= 0)
    close(to_child_);
  if (from_child_ >= 0)
    close(from_child_);
  to_child_ = from_child_ = -1;
}

}  // namespace wave::mem::testing
