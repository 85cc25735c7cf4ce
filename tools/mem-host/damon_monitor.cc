#include "damon_monitor.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

namespace wave::mem {
namespace {

uint64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

Error Explain(const std::string& what, int code) {
  std::string hint;
  if (code == EACCES || code == EPERM)
    hint = " (DAMON sysfs needs root)";
  else if (code == ENOENT)
    hint = " (no DAMON sysfs: CONFIG_DAMON_SYSFS, or sysfs not mounted)";
  return ErrnoError(what + hint, code);
}

// DAMON refuses to start a sysfs kdamond (EBUSY) while a module runs its kdamond
// exclusively: DAMON_STAT, DAMON_RECLAIM, DAMON_LRU_SORT.
std::string ExclusiveUsers() {
  std::string who;
  for (const char* m : {"damon_stat", "damon_reclaim", "damon_lru_sort"}) {
    const std::string p = std::string("/sys/module/") + m + "/parameters/enabled";
    const int fd = open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      continue;
    char c = 0;
    if (read(fd, &c, 1) == 1 && c == 'Y')
      who += (who.empty() ? "" : ", ") + std::string(m);
    close(fd);
  }
  if (who.empty())
    return "another DAMON user runs exclusively";
  return who + " runs its kdamond exclusively (" + who +
         ".enabled=N on the kernel command line, or write N to "
         "/sys/module/<name>/parameters/enabled)";
}

}  // namespace

Status WriteSysfs(const std::string& path, const std::string& value) {
  // DAMON's sysfs files take a trylock on one mutex and answer EBUSY while another writer
  // holds it: try again for a while.
  for (int attempt = 0;; attempt++) {
    const int fd = open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (fd < 0)
      return Explain("open " + path, errno);
    const ssize_t n = write(fd, value.data(), value.size());
    const int err = errno;
    close(fd);
    if (n == static_cast<ssize_t>(value.size()))
      return Status();
    if (n < 0 && err == EBUSY && attempt < 20) {
      usleep(10000);
      continue;
    }
    return Explain("write '" + value + "' to " + path, n < 0 ? err : EIO);
  }
}

Result<std::string> ReadSysfs(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return Explain("open " + path, errno);
  char buf[4096];
  const ssize_t n = read(fd, buf, sizeof(buf));
  const int err = errno;
  close(fd);
  if (n < 0)
    return Explain("read " + path, err);
  std::string s(buf, static_cast<size_t>(n));
  while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
    s.pop_back();
  return s;
}

Result<std::unique_ptr<DamonMonitor>> DamonMonitor::Create(const DamonConfig& c) {
  if (c.sample_us == 0 || c.aggr_us < c.sample_us || c.update_us < c.aggr_us ||
      c.min_nr_regions < 3 || c.max_nr_regions < c.min_nr_regions)
    return Error{EINVAL,
                 "DAMON config: need 0 < sample_us <= aggr_us <= update_us and "
                 "3 <= min_nr_regions <= max_nr_regions"};
  if (c.aggr_us / c.sample_us > UINT16_MAX)
    return Error{EINVAL, "DAMON config: aggr_us / sample_us must fit 16 bits"};
  const std::string kd = c.sysfs_root + "/kdamonds";
  Result<std::string> nr_s = ReadSysfs(kd + "/nr_kdamonds");
  if (!nr_s.ok())
    return nr_s.error();
  const uint32_t nr = static_cast<uint32_t>(strtoul(nr_s->c_str(), nullptr, 10));
  // Writing nr_kdamonds fails while any kdamond runs and discards every kdamond's
  // configuration: refuse rather than break someone else's kdamond.
  for (uint32_t i = 0; i < nr; i++) {
    const std::string d = kd + "/" + std::to_string(i);
    Result<std::string> state = ReadSysfs(d + "/state");
    if (state.ok() && *state == "on") {
      std::string who;
      if (Result<std::string> pid = ReadSysfs(d + "/pid"); pid.ok())
        who = " (pid " + *pid + ")";
      Result<std::string> ops = ReadSysfs(d + "/contexts/0/operations");
      if (ops.ok())
        who += ", operations " + *ops;
      return Error{EBUSY, "kdamond " + std::to_string(i) + who +
                              " is running: the kernel refuses to change nr_kdamonds while "
                              "any kdamond runs, so no kdamond of our own can be added"};
    }
    Result<std::string> ctxs = ReadSysfs(d + "/contexts/nr_contexts");
    if (ctxs.ok() && *ctxs != "0")
      return Error{EBUSY, "kdamond " + std::to_string(i) +
                              " is off but configured: changing nr_kdamonds would discard "
                              "its configuration"};
  }
  std::unique_ptr<DamonMonitor> m(new DamonMonitor(c));
  m->orig_nr_ = nr;
  if (Status s = WriteSysfs(kd + "/nr_kdamonds", std::to_string(nr + 1)); !s.ok())
    return s.error();
  m->index_ = static_cast<int>(nr);
  // From here the destructor restores nr_kdamonds whatever fails.
  const std::string ctx = m->Ctx();
  const std::string attrs = ctx + "/monitoring_attrs";
  const std::pair<std::string, std::string> writes[] = {
      {m->Dir() + "/contexts/nr_contexts", "1"},
      {ctx + "/operations", "vaddr"},
      {attrs + "/intervals/sample_us", std::to_string(c.sample_us)},
      {attrs + "/intervals/aggr_us", std::to_string(c.aggr_us)},
      {attrs + "/intervals/update_us", std::to_string(c.update_us)},
      {attrs + "/nr_regions/max", std::to_string(c.max_nr_regions)},
      {attrs + "/nr_regions/min", std::to_string(c.min_nr_regions)},
      {ctx + "/targets/nr_targets", "0"},
      {ctx + "/schemes/nr_schemes", "0"},
  };
  for (const auto& [path, value] : writes) {
    if (Status s = WriteSysfs(path, value); !s.ok())
      return s.error();
  }
  return m;
}

DamonMonitor::~DamonMonitor() {
  Stop();
}

std::string DamonMonitor::Dir() const {
  return config_.sysfs_root + "/kdamonds/" + std::to_string(index_);
}

std::string DamonMonitor::Ctx() const {
  return Dir() + "/contexts/0";
}

uint16_t DamonMonitor::max_accesses() const {
  return static_cast<uint16_t>(config_.aggr_us / config_.sample_us);
}

bool DamonMonitor::running() const {
  if (index_ < 0)
    return false;
  Result<std::string> s = ReadSysfs(Dir() + "/state");
  return s.ok() && *s == "on";
}

int DamonMonitor::kdamond_pid() const {
  if (index_ < 0)
    return -1;
  Result<std::string> s = ReadSysfs(Dir() + "/pid");
  return s.ok() ? atoi(s->c_str()) : -1;
}

Status DamonMonitor::SetTargets(std::span<const MonitoredTarget> targets) {
  if (index_ < 0)
    return Error{ESRCH, "DAMON monitor stopped"};
  const bool was_running = running();
  if (targets.empty()) {
    if (was_running) {
      if (Status s = WriteSysfs(Dir() + "/state", "off"); !s.ok())
        return s;
    }
    targets_.clear();
    slots_.clear();
    return Status();
  }
  const std::string t = Ctx() + "/targets";
  if (Status s = WriteSysfs(t + "/nr_targets", std::to_string(targets.size())); !s.ok())
    return s;
  for (size_t i = 0; i < targets.size(); i++) {
    if (Status s =
            WriteSysfs(t + "/" + std::to_string(i) + "/pid_target", std::to_string(targets[i].pid));
        !s.ok())
      return s;
  }
  if (Status s = WriteSysfs(Dir() + "/state", was_running ? "commit" : "on"); !s.ok()) {
    if (!was_running && s.error().code == EBUSY)
      return Error{EBUSY, s.error().message + ": " + ExclusiveUsers()};
    return s;
  }
  // The new slots: an index that keeps its process keeps its validity; one that gets
  // another process (or a kdamond started now) is valid once DAMON re-fitted its regions.
  const uint64_t now = NowNs();
  const uint64_t settle =
      was_running ? (static_cast<uint64_t>(config_.update_us) + config_.aggr_us) * 1000ull : 0;
  std::vector<TargetSlot> slots(targets.size());
  for (size_t i = 0; i < targets.size(); i++) {
    slots[i].target = targets[i].id;
    const bool same = was_running && i < targets_.size() && targets_[i].pid == targets[i].pid &&
                      targets_[i].id == targets[i].id;
    slots[i].valid_from_ns = same ? slots_[i].valid_from_ns : now + settle;
  }
  targets_.assign(targets.begin(), targets.end());
  slots_ = std::move(slots);
  return Status();
}

Status DamonMonitor::Stop() {
  if (index_ < 0)
    return Status();
  Status first;
  Result<std::string> state = ReadSysfs(Dir() + "/state");
  if (state.ok() && *state == "on") {
    if (Status s = WriteSysfs(Dir() + "/state", "off"); !s.ok())
      first = s;
  }
  // Turning off is asynchronous: wait for the kdamond to finish before nr_kdamonds can change.
  for (int i = 0; i < 200 && running(); i++)
    usleep(5000);
  Status s = WriteSysfs(config_.sysfs_root + "/kdamonds/nr_kdamonds", std::to_string(orig_nr_));
  if (!s.ok() && first.ok())
    first = s;
  if (s.ok())
    index_ = -1;
  targets_.clear();
  slots_.clear();
  return first;
}

}  // namespace wave::mem
