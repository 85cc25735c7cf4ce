#include "mem_daemon.h"

#include <endian.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "collector.h"
#include "enactor.h"
#include "kernel_path.h"
#include "maps_snapshot.h"
#include "paged_out.h"
#include "region_clip.h"
#include "status_doc.h"
#include "target_table.h"
#include "wave/device.h"
#include "wave/mem_link.h"

namespace wave::mem {
namespace {

uint64_t Now(clockid_t c) {
  timespec ts;
  clock_gettime(c, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}
uint64_t MonoNs() {
  return Now(CLOCK_MONOTONIC);
}

double CpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// Major faults of a process (/proc/PID/stat field 12): its page-ins.
uint64_t MajorFaults(pid_t pid) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/stat", pid);
  FILE* f = std::fopen(path, "r");
  if (!f)
    return 0;
  char buf[1024];
  const size_t n = std::fread(buf, 1, sizeof(buf) - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  const char* p = std::strrchr(buf, ')');  // the command name may hold spaces
  if (!p)
    return 0;
  unsigned long long v = 0;
  // Fields after ')': state(3) ppid pgrp session tty tpgid flags minflt cminflt majflt(12).
  if (std::sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %llu", &v) != 1)
    return 0;
  return v;
}

// utime + stime of a thread or process (/proc/PID/stat fields 14 and 15), seconds.
double ProcCpuSeconds(pid_t pid) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/stat", pid);
  FILE* f = std::fopen(path, "r");
  if (!f)
    return -1;
  char buf[1024];
  const size_t n = std::fread(buf, 1, sizeof(buf) - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  const char* p = std::strrchr(buf, ')');
  unsigned long long ut = 0, st = 0;
  if (!p ||
      std::sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
    return -1;
  return static_cast<double>(ut + st) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

uint64_t Vmstat(const char* key) {
  FILE* f = std::fopen("/proc/vmstat", "r");
  if (!f)
    return 0;
  char name[64];
  unsigned long long v = 0, out = 0;
  while (std::fscanf(f, "%63s %llu", name, &v) == 2)
    if (!std::strcmp(name, key))
      out = v;
  std::fclose(f);
  return out;
}

void Say(int fd, const std::string& line) {
  if (fd < 0)
    return;
  const std::string s = line + "\n";
  ssize_t n = write(fd, s.data(), s.size());
  (void)n;
}

// The daemon sleeps this long at most while it waits on the decision interrupt: only a lost
// interrupt makes a decision wait for it (the deadline is 1 s).
constexpr int kIrqSafetyNetMs = 100;
// Timeouts in a row that found decisions no interrupt announced before the daemon stops
// trusting the interrupt and polls.
constexpr int kIrqMissesBeforePolling = 3;

struct IrqCounters {
  uint64_t interrupts = 0;        // eventfd counts read
  uint64_t polls = 0;             // wake-ups in interrupt mode
  uint64_t found_by_timeout = 0;  // answers a timeout found, not an interrupt
  int missed_in_a_row = 0;
};

struct Counters {
  uint64_t batches_collected = 0;
  uint64_t batches_sent = 0;
  uint64_t batches_dropped = 0;  // every slot in flight, or did not encode
  uint64_t regions_sent = 0;
  uint64_t last_batch_regions = 0;
  uint64_t enacted[WAVE_MEM_ACTION_MAX + 1] = {};
  uint64_t refused = 0;
  uint64_t targets_gone = 0;
};

class Daemon {
 public:
  Daemon(const DaemonOptions& o) : o_(o) {}
  int Run(int ready_fd);

 private:
  bool Setup(std::string* why);
  bool SetupBatchPath(std::string* why);
  bool AddTarget(pid_t pid, std::string* why);
  void PruneTargets();
  void OnBatch(const BatchInfo& info, std::span<const Region> regions);
  uint32_t PollLink();
  // Decisions and dones the link has seen (whatever became of them).
  uint64_t Answers() const;
  void PushMaps();
  void PushPagedOut();
  void WriteStatus();

  DaemonOptions o_;
  std::unique_ptr<Device> dev_;
  TargetTable targets_;
  PagedOutSet paged_out_;
  std::unique_ptr<Enactor> enactor_;
  std::unique_ptr<DamonMonitor> damon_;
  std::unique_ptr<Collector> collector_;
  std::unique_ptr<MemHostLink> link_;
  // The kernel batch path; declared after link_ so it detaches before the link's queues go.
  std::unique_ptr<KernelBatchPath> kpath_;
  std::string kpath_why_;  // why the user path is used, when it is
  std::vector<MonitoredTarget> monitored_;
  std::vector<pid_t> pids_;
  pid_t child_ = -1;
  int child_status_ = 0;
  bool child_done_ = false;
  uint64_t start_ns_ = 0;
  double cpu0_ = 0;
  uint64_t pswpin0_ = 0, pswpout0_ = 0;
  std::vector<uint64_t> majflt0_;
  std::vector<Region> clipped_;
  // CPU of our kdamond(s): DAMON restarts it with a new pid when targets come back.
  uint64_t enact_cpu_ns_ = 0;
  pid_t kdamond_pid_ = 0;
  double kdamond_done_s_ = 0, kdamond_last_s_ = 0;
  ClipCounters clip_;
  uint64_t kern_batches_seen_ = 0, kern_regions_seen_ = 0;
  uint64_t maps_pushed_ = 0, maps_push_errors_ = 0;
  uint64_t paged_pushed_changes_ = 0;  // PagedOutSet::changes() at the last push
  uint64_t paged_pushed_ = 0, paged_push_errors_ = 0;
  Counters c_;
  IrqCounters irq_;
  bool irq_mode_ = false;
};

bool Daemon::AddTarget(pid_t pid, std::string* why) {
  auto id = targets_.Add(pid);
  if (!id) {
    *why = "pid " + std::to_string(pid) + ": " + id.error().message;
    return false;
  }
  monitored_.push_back({*id, pid});
  pids_.push_back(pid);
  majflt0_.push_back(MajorFaults(pid));
  return true;
}

bool Daemon::Setup(std::string* why) {
  auto dev = Device::Open(o_.device, Role::kHost);
  if (!dev) {
    *why = "device " + o_.device + ": " + dev.error().message;
    return false;
  }
  dev_ = std::move(dev.value());
  for (pid_t p : o_.pids)
    if (!AddTarget(p, why))
      return false;
  if (!o_.command.empty()) {
    child_ = fork();
    if (child_ < 0) {
      *why = std::string("fork: ") + std::strerror(errno);
      return false;
    }
    if (child_ == 0) {
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, nullptr);
      std::vector<char*> argv;
      for (const std::string& a : o_.command)
        argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execvp(argv[0], argv.data());
      std::fprintf(stderr, "wave-mem-host: %s: %s\n", argv[0], std::strerror(errno));
      _exit(127);
    }
    if (!AddTarget(child_, why))
      return false;
  }
  if (monitored_.empty()) {
    *why = "no process to manage (--pid P or -- CMD)";
    return false;
  }
  enactor_ = std::make_unique<Enactor>(&targets_, &paged_out_);

  MemLinkConfig lc;
  lc.policy = o_.policy;
  lc.max_reclaim_mib_s = o_.max_reclaim_mib_s;
  lc.deadline_us = o_.deadline_ms * 1000;
  lc.kill = o_.kill;
  lc.force_pio = o_.pio;
  auto link = MemHostLink::Create(*dev_, lc, Now(CLOCK_REALTIME));
  if (!link) {
    *why = "memory link: " + link.error().message;
    return false;
  }
  link_ = std::move(link.value());

  auto damon = DamonMonitor::Create(o_.damon);
  if (!damon) {
    *why = "DAMON: " + damon.error().message;
    return false;
  }
  damon_ = std::move(damon.value());
#if defined(WAVE_MEM_HAVE_COLLECTOR)
  CollectorOptions co;
  co.aggr_us = o_.damon.aggr_us;
  co.max_accesses = damon_->max_accesses();
  auto col = Collector::Create(
      co, [this](const BatchInfo& i, std::span<const Region> r) { OnBatch(i, r); }, &paged_out_);
  if (!col) {
    *why = "collector: " + col.error().message;
    return false;
  }
  collector_ = std::move(col.value());
#else
  *why = "built without the BPF collector (build in the dev root)";
  return false;
#endif
  if (Status st = damon_->SetTargets(monitored_); !st.ok()) {
    *why = "DAMON targets: " + st.error().message;
    return false;
  }
  collector_->SetKdamondPid(damon_->kdamond_pid());
  collector_->SetTargets(damon_->slots());
  return SetupBatchPath(why);
}

// The kernel batch path when wave.ko has it (auto) or when asked (kernel); else this
// process assembles, clips and ships every batch (OnBatch).
bool Daemon::SetupBatchPath(std::string* why) {
  std::string want = o_.batch_path;
  if (want.empty()) {
    const char* env = std::getenv("WAVE_MEM_BATCH_PATH");
    want = env && *env ? env : "auto";
  }
  if (want != "auto" && want != "kernel" && want != "user") {
    *why = "batch path " + want + ": auto, kernel or user";
    return false;
  }
  if (want == "user") {
    kpath_why_ = "asked for";
    return true;
  }
  auto kp = KernelBatchPath::Attach(o_.device, *link_, o_.damon.aggr_us, damon_->max_accesses());
  if (kp) {
    kpath_ = std::move(kp.value());
    Status st = collector_->SetKernelPath(true);
    if (st.ok()) {
      link_->SetKernelSource(kpath_.get());
      // wave.ko clips the regions to the snapshots PushMaps gives it; the enactor still clips
      // each decision to the mappings as they are when it comes (a snapshot may be stale).
      enactor_->SetClipToMappings(true);
      PushMaps();
      return true;
    }
    // Nothing was shipped by the kernel yet (the program never called it): detach.
    kpath_.reset();
    kpath_why_ = st.error().message;
  } else {
    kpath_why_ = kp.error().message;
  }
  if (want == "kernel") {
    *why = "kernel batch path: " + kpath_why_;
    return false;
  }
  return true;
}

void Daemon::OnBatch(const BatchInfo& info, std::span<const Region> regions) {
  if (kpath_)
    return;  // records of the ring buffer from before the kernel path took over
  c_.batches_collected++;
  // Only mapped memory goes to the NIC: one read of each target's maps per batch.
  clipped_.clear();
  for (size_t i = 0; i < regions.size();) {
    size_t j = i;
    while (j < regions.size() && regions[j].target == regions[i].target)
      j++;
    pid_t pid = 0;
    for (const MonitoredTarget& m : monitored_)
      if (m.id == regions[i].target)
        pid = m.pid;
    if (pid != 0) {
      if (auto maps = ReadMaps(pid); maps.ok())
        ClipToMappings(regions.subspan(i, j - i), *maps, &clipped_, &clip_);
    }
    i = j;
  }
  auto seq = link_->Submit(info, clipped_, MonoNs());
  if (!seq) {
    c_.batches_dropped++;  // the NIC has not answered the previous ones: fresher data follows
    return;
  }
  c_.batches_sent++;
  c_.regions_sent += clipped_.size();
  c_.last_batch_regions = clipped_.size();
}

uint32_t Daemon::PollLink() {
  return link_->Poll(
      MonoNs(),
      [this](const wave_mem_decision& d) {
        // process_madvise does the reclaim itself, in this thread: its CPU is the enactment's
        // (the kernel pays it under any policy that reclaims), kept apart from the mechanism's.
        const uint64_t t0 = Now(CLOCK_THREAD_CPUTIME_ID);
        const Outcome out = enactor_->Enact(d);
        enact_cpu_ns_ += Now(CLOCK_THREAD_CPUTIME_ID) - t0;
        if (out == Outcome::kOk)
          c_.enacted[d.action <= WAVE_MEM_ACTION_MAX ? d.action : 0]++;
        else
          c_.refused++;
      },
      [](const wave_mem_batch_done&) {});
}

uint64_t Daemon::Answers() const {
  const MemLinkStats& s = link_->stats();
  return s.decisions + s.late_decisions + s.stray + s.done_ok + s.done_refused + s.done_late;
}

// Each target's mapped ranges to wave.ko (about once a second, and when the path attaches), so
// the batches it builds name only mapped memory.
void Daemon::PushMaps() {
  if (!kpath_)
    return;
  for (const MonitoredTarget& m : monitored_) {
    auto maps = ReadMaps(m.pid);
    if (!maps.ok()) {
      maps_push_errors_++;  // the target is exiting: PruneTargets forgets it
      continue;
    }
    const std::vector<wave_mem_krange> r = MapsSnapshot(*maps, WAVE_MEM_KMAPS_MAX_RANGES);
    if (kpath_->SetMaps(m.id, r) == 0)
      maps_pushed_++;
    else
      maps_push_errors_++;
  }
}

// What the enactor paged out, to wave.ko (whenever it changed), so the kernel path's batches
// flag those regions WAVE_MEM_REGION_F_PAGED_OUT as the user path's do. Without the flag the
// agent pages the same, already reclaimed, ranges out again every batch, and its page-out
// budget goes to them instead of to memory still resident.
void Daemon::PushPagedOut() {
  if (!kpath_ || paged_out_.changes() == paged_pushed_changes_)
    return;
  paged_pushed_changes_ = paged_out_.changes();
  for (const MonitoredTarget& m : monitored_) {
    std::vector<Mapping> as_maps;
    for (const auto& [s, e] : paged_out_.Ranges(m.id)) {
      Mapping r;
      r.start = s;
      r.end = e;
      as_maps.push_back(std::move(r));
    }
    // Past the kernel's bound the smallest gaps close: a region near a paged-out one then
    // counts as paged out too (the agent keeps it), never the other way round.
    const std::vector<wave_mem_krange> r = MapsSnapshot(as_maps, WAVE_MEM_KMAPS_MAX_RANGES);
    if (kpath_->SetPagedOut(m.id, r) == 0)
      paged_pushed_++;
    else
      paged_push_errors_++;
  }
}

void Daemon::PruneTargets() {
  std::vector<MonitoredTarget> alive;
  for (const MonitoredTarget& m : monitored_) {
    auto t = targets_.Find(m.id);
    if (t && CheckLiveness(*t) == Liveness::kAlive) {
      alive.push_back(m);
      continue;
    }
    targets_.Remove(m.id);
    if (kpath_) {
      (void)kpath_->SetMaps(m.id, {});
      (void)kpath_->SetPagedOut(m.id, {});
    }
    enactor_->Forget(m.id);
    paged_out_.ClearTarget(m.id);
    c_.targets_gone++;
  }
  if (alive.size() != monitored_.size()) {
    monitored_ = alive;
    if (damon_->SetTargets(monitored_).ok()) {
      collector_->SetKdamondPid(damon_->kdamond_pid());
      collector_->SetTargets(damon_->slots());
    }
  }
}

void Daemon::WriteStatus() {
  StatusDoc d;
  const double up = static_cast<double>(MonoNs() - start_ns_) / 1e9;
  d.Add("policy", std::string(o_.policy == WAVE_MEM_POLICY_SOL ? "sol" : "age"));
  d.Add("device", o_.device);
  d.Add("transport", std::string(link_->dma() ? "dma" : "pio"));
  d.Add("batch_path", std::string(kpath_ ? "kernel" : "user"));
  if (!kpath_)
    d.Add("batch_path_why_user", kpath_why_);
  d.Add("pid", static_cast<uint64_t>(getpid()));
  d.Add("uptime_s", up);
  d.Add("targets", static_cast<uint64_t>(monitored_.size()));
  std::string pids;
  for (const MonitoredTarget& m : monitored_)
    pids += (pids.empty() ? "" : ",") + std::to_string(m.pid);
  d.Add("target_pids", pids);
  const MemLinkStats& ls = link_->stats();
  wave_mem_kstats ks{};
  if (kpath_ && kpath_->Stats(&ks) && ks.attached) {
    // The kernel built and shipped every batch: its counters are the collection's.
    c_.batches_collected = ks.batches + ks.dropped_no_slot + ks.dropped_ring_full;
    c_.batches_sent = ks.batches;
    c_.batches_dropped = ks.dropped_no_slot + ks.dropped_ring_full;
    if (ks.batches > kern_batches_seen_) {
      c_.last_batch_regions = (ks.regions - kern_regions_seen_) / (ks.batches - kern_batches_seen_);
      kern_batches_seen_ = ks.batches;
      kern_regions_seen_ = ks.regions;
    }
    c_.regions_sent = ks.regions;
  }
  d.Add("regions_tracked", c_.last_batch_regions);
  d.Add("batches_collected", c_.batches_collected);
  d.Add("batches_sent", c_.batches_sent);
  d.Add("batches_per_s", up > 0 ? static_cast<double>(c_.batches_sent) / up : 0.0);
  d.Add("batches_dropped", c_.batches_dropped);
  if (kpath_) {
    d.Add("kernel_attached", static_cast<uint64_t>(ks.attached));
    d.Add("kernel_batches", static_cast<uint64_t>(ks.batches));
    d.Add("kernel_regions", static_cast<uint64_t>(ks.regions));
    d.Add("kernel_bytes", static_cast<uint64_t>(ks.bytes));
    d.Add("kernel_dropped_no_slot", static_cast<uint64_t>(ks.dropped_no_slot));
    d.Add("kernel_dropped_ring_full", static_cast<uint64_t>(ks.dropped_ring_full));
    d.Add("kernel_cut", static_cast<uint64_t>(ks.cut));
    d.Add("kernel_bad_regions", static_cast<uint64_t>(ks.bad_regions));
    d.Add("kernel_overflow", static_cast<uint64_t>(ks.overflow));
    d.Add("kernel_clamped", static_cast<uint64_t>(ks.clamped));
    d.Add("kernel_released", static_cast<uint64_t>(ks.released));
    d.Add("kernel_bad_releases", static_cast<uint64_t>(ks.bad_releases));
    d.Add("kernel_doorbells", static_cast<uint64_t>(ks.doorbells));
    d.Add("kernel_maps_updates", static_cast<uint64_t>(ks.maps_updates));
    d.Add("kernel_bad_maps", static_cast<uint64_t>(ks.bad_maps));
    d.Add("kernel_maps_targets", static_cast<uint64_t>(ks.maps_targets));
    d.Add("kernel_clip_dropped", static_cast<uint64_t>(ks.clip_dropped));
    d.Add("kernel_clip_trimmed", static_cast<uint64_t>(ks.clip_trimmed));
    d.Add("kernel_clip_pieces", static_cast<uint64_t>(ks.clip_pieces));
    d.Add("kernel_clip_bytes", static_cast<uint64_t>(ks.clip_bytes));
    d.Add("kernel_unclipped", static_cast<uint64_t>(ks.unclipped));
    d.Add("maps_pushed", maps_pushed_);
    d.Add("maps_push_errors", maps_push_errors_);
    d.Add("paged_out_pushed", paged_pushed_);
    d.Add("paged_out_push_errors", paged_push_errors_);
    d.Add("paged_out_ranges", static_cast<uint64_t>(paged_out_.size()));
    d.Add("kernel_syncs", ls.kernel_syncs);
    d.Add("kernel_sync_errors", ls.kernel_sync_errors);
    d.Add("kernel_release_errors", ls.kernel_release_errors);
  }
  d.Add("decision_wait", std::string(irq_mode_ ? "interrupt" : "polling"));
  d.Add("decision_irqs", irq_.interrupts);
  d.Add("irq_wakeups", irq_.polls);
  d.Add("answers_found_by_timeout", irq_.found_by_timeout);
  d.Add("batches_answered", ls.done_ok);
  d.Add("batches_refused_by_nic", ls.done_refused);
  d.Add("batches_late_on_nic", ls.done_late);
  d.Add("batches_expired", ls.expired);
  d.Add("decisions_received", ls.decisions);
  d.Add("decisions_late", ls.late_decisions);
  d.Add("decisions_stray", ls.stray);
  d.Add("enacted_cold", c_.enacted[WAVE_MEM_COLD]);
  d.Add("enacted_pageout", c_.enacted[WAVE_MEM_PAGEOUT]);
  d.Add("enacted_willneed", c_.enacted[WAVE_MEM_WILLNEED]);
  const EnactorCounters ec = enactor_->counters();
  d.Add("refused", c_.refused);
  for (size_t i = 1; i < ec.outcomes.size(); i++)
    if (ec.outcomes[i] != 0)
      d.Add(std::string("refused_") + OutcomeName(static_cast<Outcome>(i)), ec.outcomes[i]);
  d.Add("decisions_clipped", ec.clipped);
  d.Add("decision_bytes_clipped", ec.clipped_bytes);
  d.Add("bytes_cold", ec.bytes_cold);
  d.Add("bytes_paged_out", ec.bytes_pageout);
  d.Add("bytes_willneed", ec.bytes_willneed);
  uint64_t majflt = 0;
  for (size_t i = 0; i < pids_.size(); i++) {
    const uint64_t now = MajorFaults(pids_[i]);
    majflt += now > majflt0_[i] ? now - majflt0_[i] : 0;
  }
  d.Add("page_ins", majflt);
  d.Add("swap_ins_pages", Vmstat("pswpin") - pswpin0_);
  d.Add("swap_outs_pages", Vmstat("pswpout") - pswpout0_);
  const double cpu = CpuSeconds() - cpu0_;
  d.Add("host_cpu_s", cpu);
  d.Add("enact_cpu_s", static_cast<double>(enact_cpu_ns_) / 1e9);
  d.Add("mechanism_cpu_s", std::max(0.0, cpu - static_cast<double>(enact_cpu_ns_) / 1e9));
  if (const pid_t kp = damon_->kdamond_pid(); kp > 0) {
    if (kp != kdamond_pid_) {
      kdamond_done_s_ += kdamond_last_s_;
      kdamond_last_s_ = 0;
      kdamond_pid_ = kp;
    }
    if (const double c = ProcCpuSeconds(kp); c >= 0)
      kdamond_last_s_ = c;
  }
  d.Add("kdamond_cpu_s", kdamond_done_s_ + kdamond_last_s_);
  const CollectorCounters cc = collector_->counters();
  d.Add("collector_records", cc.assembler.records);
  d.Add("unmapped_bytes_clipped", clip_.unmapped_bytes);
  d.Add("regions_overflow", clip_.overflow + cc.assembler.overflow);
  d.Add("collector_lost", cc.bpf_lost);
  if (kpath_) {
    d.Add("collector_kernel_added", cc.kernel_added);
    d.Add("collector_kernel_refused", cc.kernel_refused);
    d.Add("collector_kernel_unknown", cc.kernel_unknown);
    d.Add("collector_kernel_shipped", cc.kernel_shipped);
    d.Add("collector_kernel_dropped", cc.kernel_dropped);
    d.Add("collector_kernel_missing", cc.kernel_missing);
  }
  d.Add("collector_unknown_target", cc.assembler.unknown_target);
  wave_mem_nic_stats ns;
  const bool nic = link_->ReadNicStats(&ns);
  d.Add("nic_attached", static_cast<uint64_t>(nic ? 1 : 0));
  if (nic) {
    const uint64_t batches = le64toh(ns.batches);
    d.Add("nic_batches", batches);
    d.Add("nic_regions", le64toh(ns.regions));
    d.Add("nic_decisions_cold", le64toh(ns.decisions[WAVE_MEM_COLD]));
    d.Add("nic_decisions_pageout", le64toh(ns.decisions[WAVE_MEM_PAGEOUT]));
    d.Add("nic_decisions_willneed", le64toh(ns.decisions[WAVE_MEM_WILLNEED]));
    d.Add("model_decisions", le64toh(ns.model_decisions));
    d.Add("fallback_decisions", le64toh(ns.fallback_decisions));
    d.Add("model_accuracy", le32toh(ns.recent_accuracy_ppm) / 1e6);
    d.Add("model_scored", le64toh(ns.scored));
    d.Add("fallback_unsure", le64toh(ns.fallback_unsure));
    d.Add("fallback_accuracy", le64toh(ns.fallback_accuracy));
    d.Add("fallback_model_slow", le64toh(ns.fallback_late));
    d.Add("rate_limited", le64toh(ns.rate_limited));
    d.Add("rate_limited_bytes", le64toh(ns.rate_limited_bytes));
    d.Add("nic_late_batches", le64toh(ns.late_batches));
    d.Add("nic_refused_batches", le64toh(ns.refused_batches));
    d.Add("nic_stale_batches", le64toh(ns.stale_batches));
    d.Add("killed", static_cast<uint64_t>(le16toh(ns.killed)));
    d.Add("nic_agent_ns_per_batch",
          batches ? static_cast<double>(le64toh(ns.agent_ns)) / static_cast<double>(batches) : 0.0);
  }
  std::string why;
  if (!d.WriteFiles(o_.state_dir + "/status", &why))
    std::fprintf(stderr, "wave-mem-host: status: %s\n", why.c_str());
  if (!o_.status_out.empty()) {
    if (FILE* f = std::fopen(o_.status_out.c_str(), "w")) {
      std::fputs(d.ToJson().c_str(), f);
      std::fclose(f);
    }
  }
}

int Daemon::Run(int ready_fd) {
  sigset_t sigs;
  sigemptyset(&sigs);
  for (int s : {SIGTERM, SIGINT, SIGUSR1, SIGUSR2, SIGCHLD})
    sigaddset(&sigs, s);
  sigprocmask(SIG_BLOCK, &sigs, nullptr);
  const int sfd = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC);
  mkdir(o_.state_dir.c_str(), 0755);
  start_ns_ = MonoNs();
  cpu0_ = CpuSeconds();
  pswpin0_ = Vmstat("pswpin");
  pswpout0_ = Vmstat("pswpout");
  std::string why;
  if (sfd < 0 || !Setup(&why)) {
    if (sfd < 0)
      why = std::string("signalfd: ") + std::strerror(errno);
    std::fprintf(stderr, "wave-mem-host: %s\n", why.c_str());
    Say(ready_fd, "error: " + why);
    if (child_ > 0) {
      kill(child_, SIGTERM);
      waitpid(child_, nullptr, 0);
    }
    return 1;
  }
  const std::string pidfile = o_.state_dir + "/pid";
  if (FILE* f = std::fopen(pidfile.c_str(), "w")) {
    std::fprintf(f, "%d\n", getpid());
    std::fclose(f);
  }
  WriteStatus();
  Say(ready_fd, "ok");
  std::fprintf(stderr,
               "wave-mem-host: policy %s on %s (%s, batches by %s), %zu target(s), DAMON sample "
               "%u us aggr %u us\n",
               o_.policy == WAVE_MEM_POLICY_SOL ? "sol" : "age", o_.device.c_str(),
               link_->dma() ? "dma" : "pio", kpath_ ? "wave.ko" : "this process", monitored_.size(),
               o_.damon.sample_us, o_.damon.aggr_us);

  const int ep = epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = sfd;
  epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);
  ev.data.fd = collector_->fd();
  epoll_ctl(ep, EPOLL_CTL_ADD, collector_->fd(), &ev);
  // Decisions: the NIC interrupts on the decision region's vector after publishing them
  // (nicd's MemService), so the daemon sleeps on that eventfd, with a timeout as the safety
  // net. Without an interrupt (a device that has none, or one that never fires) it polls the
  // decision ring while a batch is in flight: every millisecond right after the link had
  // something, then backing off by doubling to kIdlePollMs, far inside the decision deadline.
  const int irq_fd = link_->EventFd();
  if (irq_fd >= 0) {
    ev.data.fd = irq_fd;
    epoll_ctl(ep, EPOLL_CTL_ADD, irq_fd, &ev);
  }
  bool use_irq = irq_fd >= 0;
  irq_mode_ = use_irq;
  // The user path's collector needs its aggregation timeout (aggr / 2); the kernel path's
  // batches need nothing of this thread but the decisions.
  const int irq_timeout_ms = kpath_ ? kIrqSafetyNetMs : 20;
  constexpr int kIdlePollMs = 32;
  int poll_ms = 1;
  uint64_t answers_seen = 0;
  bool running = true;
  uint64_t last_status = MonoNs();
  while (running) {
    epoll_event evs[4];
    const int timeout = use_irq ? irq_timeout_ms : link_->in_flight() ? poll_ms : 20;
    const int n = epoll_wait(ep, evs, 4, timeout);
    bool woken_by_irq = false;
    for (int i = 0; i < n; i++) {
      if (evs[i].data.fd == irq_fd) {
        uint64_t count = 0;
        if (read(irq_fd, &count, sizeof(count)) == sizeof(count))
          irq_.interrupts += count;
        woken_by_irq = true;
        continue;
      }
      if (evs[i].data.fd != sfd)
        continue;
      signalfd_siginfo si;
      while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
        if (si.ssi_signo == SIGUSR1 || si.ssi_signo == SIGUSR2) {
          link_->SetKill(si.ssi_signo == SIGUSR1);
          std::fprintf(stderr, "wave-mem-host: kill switch %s\n",
                       si.ssi_signo == SIGUSR1 ? "on" : "off");
        } else if (si.ssi_signo == SIGCHLD) {
          int st = 0;
          if (child_ > 0 && waitpid(child_, &st, WNOHANG) == child_) {
            child_done_ = true;
            child_status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            running = false;
          }
        } else {
          running = false;
        }
      }
    }
    if (auto r = collector_->Consume(); !r)
      std::fprintf(stderr, "wave-mem-host: collector: %s\n", r.error().message.c_str());
    const uint32_t handled = PollLink();
    PushPagedOut();
    poll_ms = handled != 0 ? 1 : std::min(2 * poll_ms, kIdlePollMs);
    if (use_irq) {
      irq_.polls++;
      const uint64_t answers = Answers();
      if (answers != answers_seen && !woken_by_irq && n == 0) {
        // The safety net found what an interrupt should have announced.
        irq_.found_by_timeout++;
        if (++irq_.missed_in_a_row >= kIrqMissesBeforePolling) {
          use_irq = false;
          irq_mode_ = false;
          std::fprintf(stderr,
                       "wave-mem-host: no decision interrupt from the NIC; polling instead\n");
        }
      } else if (woken_by_irq) {
        irq_.missed_in_a_row = 0;
      }
      answers_seen = answers;
    }
    if (MonoNs() - last_status >= 1'000'000'000ull) {
      last_status = MonoNs();
      PruneTargets();
      PushMaps();
      WriteStatus();
      if (o_.command.empty() && monitored_.empty()) {
        std::fprintf(stderr, "wave-mem-host: every target exited\n");
        running = false;
      }
    }
  }
  // Decisions of batches in flight are never enacted after this: the link goes first.
  WriteStatus();
  close(ep);
  collector_.reset();
  damon_.reset();  // turns our kdamond off and restores nr_kdamonds
  kpath_.reset();  // the kernel stops producing before the queues go
  link_.reset();
  unlink(pidfile.c_str());
  if (child_ > 0 && !child_done_) {
    kill(child_, SIGTERM);
    int st = 0;
    waitpid(child_, &st, 0);
  }
  close(sfd);
  return child_done_ ? child_status_ : 0;
}

}  // namespace

int RunDaemon(const DaemonOptions& o, int ready_fd) {
  Daemon d(o);
  return d.Run(ready_fd);
}

}  // namespace wave::mem
