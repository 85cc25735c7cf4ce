// A child process for the mem-host tests: it maps anonymous memory (and optionally a
// file-backed MAP_SHARED mapping and a mapping with a hole), fills them with a known pattern
// and answers commands over a pipe until told to quit.
#ifndef WAVE_MEM_HOST_TESTS_CHILD_PROCESS_H_
#define WAVE_MEM_HOST_TESTS_CHILD_PROCESS_H_

#include <sys/types.h>

#include <cstdint>
#include <string>

namespace wave::mem::testing {

struct ChildLayout {
  uint64_t anon = 0, anon_len = 0;  // anonymous, filled with a pattern
  uint64_t file = 0, file_len = 0;  // MAP_SHARED of a file, filled, msync'ed (0 if none)
  uint64_t hole = 0;                // 3 pages whose middle one is unmapped
  uint64_t hot = 0, hot_len = 0;    // part of anon the child keeps touching (if asked)
};

struct ChildOptions {
  uint64_t anon_len = 64ull << 20;
  uint64_t file_len = 0;  // 0: no file mapping
  std::string file_dir;   // where the file goes (it is unlinked once mapped)
  uint64_t hot_len = 0;   // 0: the child touches nothing after filling
};

class Child {
 public:
  Child() = default;
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  bool Start(const ChildOptions& o);
  pid_t pid() const { return pid_; }
  const ChildLayout& layout() const { return layout_; }
  // Resident pages of the anonymous and of the file mapping (mincore in the child).
  bool Residency(uint64_t* anon_pages, uint64_t* file_pages);
  // Whether every byte still holds its pattern.
  bool Verify();
  // Tells the child to exit and reaps it; returns its exit status (-1 if it died otherwise).
  int Quit();
  // SIGKILL and reap.
  void Kill();

 private:
  bool Command(char c, void* reply, size_t len);
  pid_t pid_ = -1;
  int to_child_ = -1, from_child_ = -1;
  ChildLayout layout_;
};

}  // namespace wave::mem::testing

#endif  // WAVE_MEM_HOST_TESTS_CHILD_PROCESS_H_
