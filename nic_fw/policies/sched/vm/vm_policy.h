// The VM policy (Wave's third scheduling agent): groups of vCPU threads, one cgroup per VM,
// each VM with CPUs reserved for it. A VM's threads run only on its reserved CPUs, and
// nothing else runs there; tasks in no VM run on the CPUs no VM reserved, in FIFO order.
// Per VM (uapi/wave_sched_link.h, struct wave_sched_vm):
//   cosched  gang: the VM's waiting vCPUs go to every free reserved CPU in the same pass, and
//            when the VM has more runnable vCPUs than CPUs, all of its CPUs change vCPU
//            together once one of them ran a gang slice (time-sliced gangs);
//   apart    at most one vCPU of the VM at a time on the SMT siblings of a physical core;
//   pack     idle headroom: the VM uses as few of its reserved CPUs as its load needs (whole
//            physical cores first), the others stay idle so the busy ones can turbo; one more
//            CPU is opened when a vCPU waited `grow_after_ns` with every open CPU busy, one is
//            closed when the open CPUs' load over `window_ns` would fit in one fewer.
// A task whose affinity excludes every CPU its group may use is run within its affinity
// (counted as an affinity conflict): the host refuses decisions outside it.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "policies/sched/framework/agent.h"
#include "policies/sched/framework/task_list.h"
#include "wave_sched_link.h"

namespace wave::agents {

struct VmSpec {
  uint64_t cgroup_id = 0;
  uint64_t cpus = 0;   // reserved CPUs
  uint32_t flags = 0;  // WAVE_SCHED_VM_F_*
};

struct VmConfig {
  uint32_t nr_vms = 0;
  std::array<VmSpec, WAVE_SCHED_VM_MAX> vms{};
  std::array<uint8_t, WAVE_SCHED_VM_MAX_CPUS> core_of_cpu{};  // physical core per CPU
  uint64_t gang_slice_ns = 2'000'000;  // cosched: a gang's turn when vCPUs outnumber CPUs
  uint64_t grow_after_ns = 200'000;    // pack: open a CPU after a vCPU waited this long
  uint64_t window_ns = 10'000'000;     // pack: load measured over this window
  uint32_t shrink_pct = 70;            // pack: close a CPU if load <= (open-1) * this %
};

// Reads and checks the table wave.ko wrote into the message region (untrusted: every field
// through wave_sched_vm_cfg_check()). On failure, says why in *why and leaves *out alone.
bool parse_vm_config(const wave_sched_vm_cfg& raw, uint32_t nr_cpus, VmConfig* out,
                     std::string* why);

struct VmStats {
  uint64_t affinity_conflicts = 0;  // new tasks, group or affinity changes left outside their group
  uint64_t unknown_groups = 0;      // TASK_GROUP naming a cgroup that is no VM's
  uint64_t gang_switches = 0;       // cosched: gang slices ended
  uint64_t grows = 0;               // pack: CPUs opened
  uint64_t shrinks = 0;             // pack: CPUs closed
};

class VmPolicy final : public Agent {
 public:
  // `vms` must have passed parse_vm_config() for cfg.nr_cpus.
  VmPolicy(const AgentConfig& cfg, const VmConfig& vms);

  // The VM task `tid` belongs to (index into VmConfig::vms), -1 for none or unknown tid.
  int vm_of(uint32_t tid) const;
  // CPUs a VM may use now (its reserved CPUs, fewer while packed).
  uint64_t open_cpus(uint32_t vm) const;
  const VmStats& vm_stats() const { return vm_stats_; }
  const VmConfig& vm_config() const { return vms_; }

 protected:
  void rq_push(uint32_t i, bool front) override;
  void rq_remove(uint32_t i) override;
  uint32_t rq_pick(uint32_t cpu, uint32_t max_class) const override;
  uint32_t rq_count() const override { return queued_; }
  uint32_t rq_best_class() const override { return queued_ != 0 ? 0 : kNoClass; }
  void on_new_task(Task& t) override;
  void on_task_group(Task& t, uint64_t cgroup_id) override;
  void on_task_affinity(Task& t) override;
  bool may_place(uint32_t i, uint32_t cpu) const override;
  void on_tick(uint32_t cpu) override;
  bool preempt_bound(uint32_t cpu, const Task& cur, uint32_t* max_class) override;
  void before_schedule() override;

 private:
  static constexpr uint32_t kNone = WAVE_SCHED_VM_MAX;          // list of tasks in no VM
  static constexpr uint32_t kConflict = WAVE_SCHED_VM_MAX + 1;  // list of affinity conflicts
  static constexpr uint8_t kNoOwner = 0xff;

  struct VmState {
    std::array<uint8_t, WAVE_SCHED_VM_MAX_CPUS> order{};  // reserved CPUs, in opening order
    uint32_t nr_cpus = 0;
    uint32_t open = 0;        // pack: CPUs order[0..open-1] are open
    uint64_t open_mask = 0;   // those CPUs
    uint64_t wait_since = 0;  // pack: since when a vCPU waits with every open CPU busy (0: no)
    uint64_t window_start = 0;
    uint64_t busy_ns = 0;  // pack: CPU time used on open CPUs in this window
  };

  // Which list task t belongs in (a VM index, kNone or kConflict), and its mask for it.
  uint32_t list_of(const Task& t) const;
  void regroup(Task& t, uint32_t vm);  // t.group = vm + 1 (or 0), mask and list follow
  void set_open(uint32_t vm, uint32_t open);
  bool gang_waiting(uint32_t vm) const;  // cosched: a vCPU of the VM waits
  uint32_t waiting(uint32_t vm) const;   // vCPUs queued or prestaged behind a busy CPU

  VmConfig vms_;
  uint64_t unreserved_ = 0;                              // CPUs of no VM
  std::array<uint8_t, WAVE_SCHED_VM_MAX_CPUS> owner_{};  // VM owning each CPU, kNoOwner
  std::array<VmState, WAVE_SCHED_VM_MAX> st_{};
  std::array<TaskList, WAVE_SCHED_VM_MAX + 2> rq_{};
  uint32_t queued_ = 0;
  uint64_t last_ns_ = 0;
  VmStats vm_stats_;
};

}  // namespace wave::agents
