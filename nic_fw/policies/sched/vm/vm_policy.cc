#include "policies/sched/vm/vm_policy.h"

#include <endian.h>

#include <algorithm>
#include <bit>

namespace wave::agents {
namespace {

template <typename Fn>
void for_each_bit(uint64_t mask, Fn&& fn) {
  while (mask != 0) {
    uint32_t b = static_cast<uint32_t>(std::countr_zero(mask));
    mask &= mask - 1;
    fn(b);
  }
}

}  // namespace

bool parse_vm_config(const wave_sched_vm_cfg& raw, uint32_t nr_cpus, VmConfig* out,
                     std::string* why) {
  // The checker reads fields as stored; convert a copy to host order first.
  wave_sched_vm_cfg c = raw;
  c.magic = le32toh(c.magic);
  c.version = le16toh(c.version);
  c.nr_vms = le16toh(c.nr_vms);
  c.flags = le32toh(c.flags);
  c.reserved = le32toh(c.reserved);
  for (auto& v : c.vms) {
    v.cgroup_id = le64toh(v.cgroup_id);
    v.cpumask = le64toh(v.cpumask);
    v.flags = le32toh(v.flags);
    v.reserved0 = le32toh(v.reserved0);
    v.reserved1 = le64toh(v.reserved1);
  }
  if (const char* bad = wave_sched_vm_cfg_check(&c, nr_cpus)) {
    if (why)
      *why = bad;
    return false;
  }
  VmConfig cfg = *out;  // keeps the caller's tunables
  cfg.nr_vms = c.nr_vms;
  cfg.vms = {};
  for (uint32_t i = 0; i < c.nr_vms; i++)
    cfg.vms[i] = VmSpec{c.vms[i].cgroup_id, c.vms[i].cpumask, c.vms[i].flags};
  std::copy(std::begin(c.core_of_cpu), std::end(c.core_of_cpu), cfg.core_of_cpu.begin());
  *out = cfg;
  return true;
}

VmPolicy::VmPolicy(const AgentConfig& cfg, const VmConfig& vms) : Agent(cfg), vms_(vms) {
  owner_.fill(kNoOwner);
  uint64_t all = cfg.nr_cpus >= 64 ? ~uint64_t{0} : (uint64_t{1} << cfg.nr_cpus) - 1;
  uint64_t reserved = 0;
  for (uint32_t v = 0; v < vms_.nr_vms; v++) {
    const VmSpec& spec = vms_.vms[v];
    VmState& s = st_[v];
    reserved |= spec.cpus;
    for_each_bit(spec.cpus, [&](uint32_t c) {
      owner_[c] = static_cast<uint8_t>(v);
      s.order[s.nr_cpus++] = static_cast<uint8_t>(c);
    });
    // Opening order. Packed: SMT siblings next to each other, so the VM fills whole physical
    // cores and leaves whole ones idle. Apart: one CPU of every core before any sibling.
    auto core = [&](uint8_t c) { return vms_.core_of_cpu[c]; };
    std::array<uint8_t, WAVE_SCHED_VM_MAX_CPUS> rank{};
    for (uint32_t k = 0; k < s.nr_cpus; k++) {
      for (uint32_t j = 0; j < k; j++) {
        if (core(s.order[j]) == core(s.order[k]))
          rank[s.order[k]]++;
      }
    }
    bool apart = spec.flags & WAVE_SCHED_VM_F_APART;
    std::stable_sort(s.order.begin(), s.order.begin() + s.nr_cpus, [&](uint8_t a, uint8_t b) {
      if (apart && rank[a] != rank[b])
        return rank[a] < rank[b];
      return core(a) != core(b) ? core(a) < core(b) : a < b;
    });
    set_open(v, (spec.flags & WAVE_SCHED_VM_F_PACK) ? 1 : s.nr_cpus);
    if (spec.flags & WAVE_SCHED_VM_F_COSCHED)
      has_preemption_ = true;
  }
  unreserved_ = all & ~reserved;
}

int VmPolicy::vm_of(uint32_t tid) const {
  const Task* t = find_task(tid);
  return t == nullptr || t->group == 0 ? -1 : static_cast<int>(t->group - 1);
}

uint64_t VmPolicy::open_cpus(uint32_t vm) const {
  return vm < vms_.nr_vms ? st_[vm].open_mask : 0;
}

void VmPolicy::set_open(uint32_t vm, uint32_t open) {
  VmState& s = st_[vm];
  s.open = open;
  s.open_mask = 0;
  for (uint32_t k = 0; k < open; k++)
    s.open_mask |= uint64_t{1} << s.order[k];
  s.wait_since = 0;
  s.window_start = now_ns();
  s.busy_ns = 0;
  changed_ = true;
}

uint32_t VmPolicy::list_of(const Task& t) const {
  uint32_t vm = t.group == 0 ? kNone : static_cast<uint32_t>(t.group - 1);
  uint64_t allowed = vm == kNone ? unreserved_ : vms_.vms[vm].cpus;
  return (t.host_mask & allowed) == 0 ? kConflict : vm;
}

void VmPolicy::regroup(Task& t, uint32_t vm) {
  uint32_t i = tasks_.find(t.tid);
  bool queued = t.state == TaskState::kQueued;
  if (queued)
    rq_remove(i);
  t.group = vm == kNone ? 0 : vm + 1;
  uint32_t l = list_of(t);
  if (l == kConflict) {
    t.mask = t.host_mask;
    vm_stats_.affinity_conflicts++;
  } else {
    t.mask = t.host_mask & (l == kNone ? unreserved_ : vms_.vms[l].cpus);
  }
  if (queued)
    rq_push(i, /*front=*/false);
}

void VmPolicy::on_new_task(Task& t) {
  t.qos = 0;
  regroup(t, kNone);
}

void VmPolicy::on_task_group(Task& t, uint64_t cgroup_id) {
  uint32_t vm = kNone;
  for (uint32_t v = 0; v < vms_.nr_vms; v++) {
    if (vms_.vms[v].cgroup_id == cgroup_id)
      vm = v;
  }
  if (vm == kNone)
    vm_stats_.unknown_groups++;
  regroup(t, vm);
}

void VmPolicy::on_task_affinity(Task& t) {
  regroup(t, t.group == 0 ? kNone : static_cast<uint32_t>(t.group - 1));
}

void VmPolicy::rq_push(uint32_t i, bool front) {
  Task& t = tasks_.at(i);
  uint32_t l = list_of(t);
  t.tag = static_cast<uint8_t>(l);
  if (front) {
    rq_[l].push_front(tasks_, i);
  } else {
    rq_[l].push_back(tasks_, i);
  }
  queued_++;
}

void VmPolicy::rq_remove(uint32_t i) {
  rq_[tasks_.at(i).tag].remove(tasks_, i);
  queued_--;
}

bool VmPolicy::may_place(uint32_t i, uint32_t cpu) const {
  const Task& t = tasks_.at(i);
  uint64_t bit = uint64_t{1} << cpu;
  if ((t.mask & bit) == 0)
    return false;
  uint32_t l = list_of(t);
  if (l == kConflict)
    return true;
  if (l == kNone)
    return owner_[cpu] == kNoOwner;
  if (owner_[cpu] != l)
    return false;
  const VmSpec& spec = vms_.vms[l];
  if ((spec.flags & WAVE_SCHED_VM_F_PACK) && (st_[l].open_mask & bit) == 0)
    return false;
  if (spec.flags & WAVE_SCHED_VM_F_APART) {
    // No other vCPU of the VM running or about to run on an SMT sibling of `cpu`.
    uint8_t core = vms_.core_of_cpu[cpu];
    bool clash = false;
    for_each_bit(spec.cpus & ~bit, [&](uint32_t s) {
      if (vms_.core_of_cpu[s] != core)
        return;
      const CpuState& c = cpus_[s];
      if ((c.current != kNoIndex && c.current != i && tasks_.at(c.current).group == t.group) ||
          (c.staged != kNoIndex && c.staged != i && tasks_.at(c.staged).group == t.group))
        clash = true;
    });
    if (clash)
      return false;
  }
  return true;
}

uint32_t VmPolicy::rq_pick(uint32_t cpu, uint32_t /*max_class*/) const {
  // Every task is class 0. The CPU's own list (its VM's, or the tasks in no VM), then the
  // tasks whose affinity left them outside their group: the older of the two goes first.
  uint32_t own = owner_[cpu] == kNoOwner ? kNone : owner_[cpu];
  uint32_t a = kNoIndex;
  for (uint32_t i = rq_[own].head(); i != kNoIndex; i = tasks_.at(i).next) {
    if (may_place(i, cpu)) {
      a = i;
      break;
    }
  }
  uint32_t b = rq_[kConflict].first_allowed(tasks_, cpu);
  if (a == kNoIndex)
    return b;
  if (b == kNoIndex)
    return a;
  return tasks_.at(b).enq < tasks_.at(a).enq ? b : a;
}

uint32_t VmPolicy::waiting(uint32_t vm) const {
  uint32_t n = rq_[vm].size();
  for_each_bit(vms_.vms[vm].cpus, [&](uint32_t c) {
    const CpuState& s = cpus_[c];
    if (s.current != kNoIndex && s.staged != kNoIndex && s.staged_in_slot)
      n++;
  });
  return n;
}

bool VmPolicy::gang_waiting(uint32_t vm) const {
  return waiting(vm) != 0;
}

void VmPolicy::on_tick(uint32_t cpu) {
  uint8_t v = owner_[cpu];
  if (v == kNoOwner || !(vms_.vms[v].flags & WAVE_SCHED_VM_F_COSCHED))
    return;
  const CpuState& c = cpus_[cpu];
  if (c.current == kNoIndex || c.slice_expired || now_ns() - c.run_start_ns < vms_.gang_slice_ns)
    return;
  if (!gang_waiting(v))
    return;
  // The gang's turn is over: every CPU of the VM changes vCPU together.
  for_each_bit(vms_.vms[v].cpus, [&](uint32_t o) {
    if (cpus_[o].current != kNoIndex && !cpus_[o].slice_expired)
      mark_slice_expired(o);
  });
  vm_stats_.gang_switches++;
}

bool VmPolicy::preempt_bound(uint32_t cpu, const Task& /*cur*/, uint32_t* max_class) {
  uint8_t v = owner_[cpu];
  if (v == kNoOwner || !(vms_.vms[v].flags & WAVE_SCHED_VM_F_COSCHED) || !cpus_[cpu].slice_expired)
    return false;
  *max_class = 0;
  return true;
}

void VmPolicy::before_schedule() {
  uint64_t now = now_ns();
  uint64_t dt = last_ns_ != 0 && now > last_ns_ ? now - last_ns_ : 0;
  last_ns_ = now;
  for (uint32_t v = 0; v < vms_.nr_vms; v++) {
    const VmSpec& spec = vms_.vms[v];
    if (!(spec.flags & WAVE_SCHED_VM_F_PACK))
      continue;
    VmState& s = st_[v];
    uint32_t busy = 0;
    uint64_t free_open = 0;
    for_each_bit(spec.cpus, [&](uint32_t c) {
      const CpuState& cs = cpus_[c];
      if (cs.current != kNoIndex)
        busy++;
      else if (cs.staged == kNoIndex && cs.available)
        free_open |= (s.open_mask >> c) & 1;
    });
    s.busy_ns += dt * busy;
    if (s.window_start == 0 || s.window_start > now)
      s.window_start = now;
    // Grow: a vCPU waits and no open CPU is free to take it.
    if (s.open < s.nr_cpus && free_open == 0 && waiting(v) != 0) {
      if (s.wait_since == 0) {
        s.wait_since = now;
      } else if (now - s.wait_since >= vms_.grow_after_ns) {
        set_open(v, s.open + 1);
        vm_stats_.grows++;
        continue;
      }
    } else {
      s.wait_since = 0;
    }
    // Shrink: the load of the last window fits in one CPU fewer.
    uint64_t elapsed = now - s.window_start;
    if (elapsed >= vms_.window_ns) {
      if (s.open > 1 && s.busy_ns * 100 <= uint64_t{s.open - 1} * elapsed * vms_.shrink_pct) {
        set_open(v, s.open - 1);
        vm_stats_.shrinks++;
      } else {
        s.window_start = now;
        s.busy_ns = 0;
      }
    }
  }
}

}  // namespace wave::agents
