// The VM policy: reservations, tasks in no VM, affinity conflicts, apart, packing, gangs,
// the table's checks, and a simulated host under load.
#include <gtest/gtest.h>

#include <bit>

#include "policies/sched/framework/tests/sim_host.h"
#include "policies/sched/framework/tests/test_util.h"
#include "policies/sched/vm/vm_policy.h"

namespace wave::agents::testing {
namespace {

constexpr uint64_t kCgA = 1001, kCgB = 1002;

wave_sched_vm_cfg raw_config(std::initializer_list<wave_sched_vm> vms) {
  wave_sched_vm_cfg c{};
  c.magic = WAVE_SCHED_VM_CFG_MAGIC;
  c.version = WAVE_SCHED_VM_CFG_VERSION;
  for (const wave_sched_vm& v : vms)
    c.vms[c.nr_vms++] = v;
  for (uint32_t i = 0; i < WAVE_SCHED_VM_MAX_CPUS; i++)
    c.core_of_cpu[i] = static_cast<uint8_t>(i);
  return c;
}

wave_sched_vm vm(uint64_t cgroup, uint64_t cpus, uint32_t flags = 0) {
  wave_sched_vm v{};
  v.cgroup_id = cgroup;
  v.cpumask = cpus;
  v.flags = flags;
  return v;
}

VmConfig parsed(const wave_sched_vm_cfg& raw, uint32_t nr_cpus) {
  VmConfig out;
  std::string why;
  EXPECT_TRUE(parse_vm_config(raw, nr_cpus, &out, &why)) << why;
  return out;
}

void new_task(Agent& a, uint32_t tid, uint64_t cgroup, uint64_t mask = kAllCpus) {
  ASSERT_TRUE(send(a, WAVE_MSG_TASK_NEW, make_event(tid, 0, 1, 0, mask)));
  if (cgroup != 0) {
    wave_task_group g{};
    g.tid = tid;
    g.task_seq = 2;
    g.cgroup_id = cgroup;
    ASSERT_TRUE(send(a, WAVE_MSG_TASK_GROUP, g));
  }
  ASSERT_TRUE(send(a, WAVE_MSG_TASK_RUNNABLE, make_event(tid, 0, 3)));
}

TEST(VmConfig, BadTablesAreRefused) {
  auto refused = [](wave_sched_vm_cfg c, uint32_t nr_cpus, const char* what) {
    VmConfig out;
    std::string why;
    EXPECT_FALSE(parse_vm_config(c, nr_cpus, &out, &why)) << what;
    EXPECT_FALSE(why.empty()) << what;
    EXPECT_EQ(out.nr_vms, 0u) << what;  // left alone
  };
  wave_sched_vm_cfg good = raw_config({vm(kCgA, 0b0010), vm(kCgB, 0b1100)});
  VmConfig out;
  std::string why;
  ASSERT_TRUE(parse_vm_config(good, 4, &out, &why)) << why;
  EXPECT_EQ(out.nr_vms, 2u);

  wave_sched_vm_cfg c = good;
  c.magic = 0;
  refused(c, 4, "magic");
  c = good;
  c.version = 2;
  refused(c, 4, "version");
  c = good;
  c.flags = 1;
  refused(c, 4, "cfg flags");
  c = good;
  c.nr_vms = 0;
  c.vms[0] = c.vms[1] = {};
  refused(c, 4, "no VM");
  c = good;
  c.nr_vms = WAVE_SCHED_VM_MAX + 1;
  refused(c, 4, "too many VMs");
  refused(raw_config({vm(kCgA, 0b0010), vm(kCgB, 0b0110)}), 4, "overlap");
  refused(raw_config({vm(kCgA, 0b0011), vm(kCgB, 0b1100)}), 4, "nothing unreserved");
  refused(raw_config({vm(kCgA, 0b10000)}), 4, "CPU beyond the host");
  refused(raw_config({vm(kCgA, 0)}), 4, "empty set");
  refused(raw_config({vm(0, 0b10)}), 4, "cgroup 0");
  refused(raw_config({vm(kCgA, 0b10), vm(kCgA, 0b100)}), 4, "same cgroup twice");
  refused(raw_config({vm(kCgA, 0b10, 1u << 7)}), 4, "unknown VM flag");
  refused(raw_config({vm(kCgA, 0b110, WAVE_SCHED_VM_F_COSCHED | WAVE_SCHED_VM_F_APART)}), 4,
          "cosched and apart");
  refused(raw_config({vm(kCgA, 0b110, WAVE_SCHED_VM_F_COSCHED | WAVE_SCHED_VM_F_PACK)}), 4,
          "cosched and pack");
  c = raw_config({vm(kCgA, 0b10)});
  c.vms[0].reserved1 = 1;
  refused(c, 4, "VM reserved bits");
  c = raw_config({vm(kCgA, 0b10)});
  c.vms[3].cpumask = 0b100;  // beyond nr_vms
  refused(c, 4, "unused entry");
  refused(raw_config({vm(kCgA, 0b10)}), 0, "no CPUs");
}

TEST(VmConfig, BadTaskGroupIsCountedAndDropped) {
  VmPolicy a(test_config(4), parsed(raw_config({vm(kCgA, 0b0010)}), 4));
  ASSERT_TRUE(send(a, WAVE_MSG_TASK_NEW, make_event(5, 0, 1)));
  wave_task_group g{};
  g.tid = 5;
  g.task_seq = 2;
  g.cgroup_id = 0;
  EXPECT_FALSE(send(a, WAVE_MSG_TASK_GROUP, g));
  EXPECT_EQ(a.stats().bad_group, 1u);
  g.cgroup_id = kCgA;
  g.flags = 1;
  EXPECT_FALSE(send(a, WAVE_MSG_TASK_GROUP, g));
  EXPECT_EQ(a.stats().bad_flags, 1u);
  g.flags = 0;
  g.tid = 6;
  EXPECT_FALSE(send(a, WAVE_MSG_TASK_GROUP, g));
  EXPECT_EQ(a.stats().unknown_task, 1u);
  g.tid = 5;
  g.task_seq = 1;  // not newer than TASK_NEW's
  EXPECT_FALSE(send(a, WAVE_MSG_TASK_GROUP, g));
  EXPECT_EQ(a.stats().stale_seq, 1u);
  EXPECT_EQ(a.vm_of(5), -1);
  // A short payload.
  EXPECT_FALSE(a.handle(WAVE_MSG_TASK_GROUP, std::as_bytes(std::span(&g, 1)).first(24)));
  EXPECT_EQ(a.stats().bad_length, 1u);
  g.task_seq = 2;
  EXPECT_TRUE(send(a, WAVE_MSG_TASK_GROUP, g));
  EXPECT_EQ(a.vm_of(5), 0);
  // Also what the ring consumer and wave.ko accept.
  EXPECT_TRUE(wave_sched_msg_ok(WAVE_MSG_TASK_GROUP, &g, sizeof(g)));
  g.cgroup_id = 0;
  EXPECT_FALSE(wave_sched_msg_ok(WAVE_MSG_TASK_GROUP, &g, sizeof(g)));
  g.cgroup_id = kCgA;
  EXPECT_FALSE(wave_sched_msg_ok(WAVE_MSG_TASK_GROUP, &g, 24));
}

TEST(Vm, VcpusStayOnTheirReservedCpusEvenWhenOthersAreIdle) {
  // A on CPU 1, B on CPUs 2-3, CPU 0 unreserved.
  VmPolicy a(test_config(4), parsed(raw_config({vm(kCgA, 0b0010), vm(kCgB, 0b1100)}), 4));
  RecordingSink sink;
  new_task(a, 10, kCgA);
  new_task(a, 11, kCgA);
  new_task(a, 12, kCgA);
  a.schedule(sink);
  auto ring = sink.take();
  // Only CPU 1 may run A: one decision, though CPUs 0, 2 and 3 are idle.
  ASSERT_EQ(ring.size(), 1u);
  EXPECT_EQ(ring[0].tid, 10u);
  EXPECT_EQ(ring[0].cpu, 1u);
  ASSERT_TRUE(send(a, WAVE_MSG_TXN_OUTCOME, make_outcome(ring[0], WAVE_TXN_COMMITTED)));
  a.schedule(sink);
  EXPECT_TRUE(sink.take().empty());
  ASSERT_TRUE(sink.slots[1].has_value());  // the next vCPU of A waits in CPU 1's slot
  EXPECT_EQ(sink.slots[1]->tid, 11u);
  EXPECT_FALSE(sink.slots[0].has_value());

  // B's vCPU and a task in no VM.
  new_task(a, 20, kCgB);
  new_task(a, 30, 0);
  a.schedule(sink);
  ring = sink.take();
  ASSERT_EQ(ring.size(), 2u);
  for (const auto& d : ring) {
    if (d.tid == 20) {
      EXPECT_EQ(d.cpu, 2u);
    } else {
      EXPECT_EQ(d.tid, 30u);
      EXPECT_EQ(d.cpu, 0u);
    }
  }
  std::string why;
  EXPECT_TRUE(a.consistent(&why)) << why;
  EXPECT_EQ(a.vm_of(10), 0);
  EXPECT_EQ(a.vm_of(20), 1);
  EXPECT_EQ(a.vm_of(30), -1);
}

TEST(Vm, UnknownCgroupIsNoVm) {
  VmPolicy a(test_config(4), parsed(raw_config({vm(kCgA, 0b1110)}), 4));
  RecordingSink sink;
  new_task(a, 1, 4242);
  new_task(a, 2, 4242);
  a.schedule(sink);
  auto ring = sink.take();
  ASSERT_EQ(ring.size(), 1u);
  EXPECT_EQ(ring[0].cpu, 0u);
  EXPECT_EQ(a.vm_stats().unknown_groups, 2u);
}

TEST(Vm, AffinityOutsideTheGroupRunsWithinTheAffinity) {
  VmPolicy a(test_config(4), parsed(raw_config({vm(kCgA, 0b0010)}), 4));
  RecordingSink sink;
  new_task(a, 1, kCgA, 0b0100);  // A's vCPU pinned to CPU 2, not A's
  new_task(a, 2, 0, 0b0010);     // a task in no VM pinned to CPU 1, A's
  a.schedule(sink);
  auto ring = sink.take();
  ASSERT_EQ(ring.size(), 2u);
  for (const auto& d : ring)
    EXPECT_EQ(d.cpu, d.tid == 1 ? 2u : 1u);
  EXPECT_EQ(a.vm_stats().affinity_conflicts, 2u);

  // The affinity changes to include A's CPU again: back inside the reservation.
  VmPolicy b(test_config(4), parsed(raw_config({vm(kCgA, 0b0010)}), 4));
  new_task(b, 1, kCgA, 0b0100);
  ASSERT_TRUE(send(b, WAVE_MSG_TASK_AFFINITY, make_event(1, 0, 4, 0, 0b0110)));
  b.schedule(sink);
  ring = sink.take();
  ASSERT_EQ(ring.size(), 1u);
  EXPECT_EQ(ring[0].cpu, 1u);
}

TEST(Vm, MovingToAnotherCgroupMovesTheTask) {
  VmPolicy a(test_config(4), parsed(raw_config({vm(kCgA, 0b0010), vm(kCgB, 0b1000)}), 4));
  RecordingSink sink;
  new_task(a, 1, kCgA);
  new_task(a, 2, kCgA);
  a.schedule(sink);
  auto ring = sink.take();
  ASSERT_EQ(ring.size(), 1u);
  ASSERT_TRUE(send(a, WAVE_MSG_TXN_OUTCOME, make_outcome(ring[0], WAVE_TXN_COMMITTED)));
  a.schedule(sink);
  ASSERT_TRUE(sink.slots[1].has_value());
  EXPECT_EQ(sink.slots[1]->tid, 2u);
  // Task 2 (prestaged on A's CPU) moves to B: the slot is taken back, it goes to CPU 3.
  wave_task_group g{};
  g.tid = 2;
  g.task_seq = 4;
  g.cgroup_id = kCgB;
  ASSERT_TRUE(send(a, WAVE_MSG_TASK_GROUP, g));
  a.schedule(sink);
  ring = sink.take();
  ASSERT_EQ(ring.size(), 1u);
  EXPECT_EQ(ring[0].tid, 2u);
  EXPECT_EQ(ring[0].cpu, 3u);
  EXPECT_EQ(ring[0].task_seq, 4u);
  EXPECT_FALSE(sink.slots[1].has_value());
  std::string why;
  EXPECT_TRUE(a.consistent(&why)) << why;
}

TEST(Vm, ApartKeepsSmtSiblingsFree) {
  // CPUs 1,2 are SMT siblings of core 1, CPUs 3,4 of core 2; A reserves all four, apart.
  wave_sched_vm_cfg raw = raw_config({vm(kCgA, 0b11110, WAVE_SCHED_VM_F_APART)});
  raw.core_of_cpu[1] = raw.core_of_cpu[2] = 1;
  raw.core_of_cpu[3] = raw.core_of_cpu[4] = 2;
  VmPolicy a(test_config(5), parsed(raw, 5));
  RecordingSink sink;
  for (uint32_t tid = 1; tid <= 4; tid++)
    new_task(a, tid, kCgA);
  a.schedule(sink);
  auto ring = sink.take();
  // One vCPU per physical core: CPUs 1 and 3, not their siblings 2 and 4.
  ASSERT_EQ(ring.size(), 2u);
  EXPECT_EQ(ring[0].cpu, 1u);
  EXPECT_EQ(ring[1].cpu, 3u);
  // Without apart the same VM fills all four.
  wave_sched_vm_cfg raw2 = raw;
  raw2.vms[0].flags = 0;
  VmPolicy b(test_config(5), parsed(raw2, 5));
  for (uint32_t tid = 1; tid <= 4; tid++)
    new_task(b, tid, kCgA);
  b.schedule(sink);
  EXPECT_EQ(sink.take().size(), 4u);
}

TEST(Vm, PackOpensCpusOnlyWhenVcpusWait) {
  VmConfig cfg = parsed(raw_config({vm(kCgA, 0b11110, WAVE_SCHED_VM_F_PACK)}), 5);
  VmPolicy a(test_config(5), cfg);
  RecordingSink sink;
  EXPECT_EQ(a.open_cpus(0), 0b00010u);
  new_task(a, 1, kCgA);
  new_task(a, 2, kCgA);
  a.schedule(sink);
  auto ring = sink.take();
  ASSERT_EQ(ring.size(), 1u);  // one open CPU
  EXPECT_EQ(ring[0].cpu, 1u);
  ASSERT_TRUE(send(a, WAVE_MSG_TXN_OUTCOME, make_outcome(ring[0], WAVE_TXN_COMMITTED)));
  // Task 2 waits behind the busy open CPU; past grow_after_ns a second CPU opens.
  uint64_t t = 1'000'000;
  ASSERT_TRUE(send(a, WAVE_MSG_CPU_TICK, make_event(0, 1, 0, t, 0)));
  a.schedule(sink);
  EXPECT_TRUE(sink.take().empty());
  t += cfg.grow_after_ns;
  ASSERT_TRUE(send(a, WAVE_MSG_CPU_TICK, make_event(0, 1, 0, t, 0)));
  a.schedule(sink);
  ring = sink.take();
  ASSERT_EQ(ring.size(), 1u);
  EXPECT_EQ(ring[0].tid, 2u);
  EXPECT_EQ(ring[0].cpu, 2u);
  EXPECT_EQ(a.open_cpus(0), 0b00110u);
  EXPECT_EQ(a.vm_stats().grows, 1u);
  ASSERT_TRUE(send(a, WAVE_MSG_TXN_OUTCOME, make_outcome(ring[0], WAVE_TXN_COMMITTED)));

  // Both block; a window with no load closes the second CPU again.
  ASSERT_TRUE(send(a, WAVE_MSG_TASK_BLOCKED, make_event(1, 1, 5, t)));
  ASSERT_TRUE(send(a, WAVE_MSG_TASK_BLOCKED, make_event(2, 2, 5, t)));
  ASSERT_TRUE(send(a, WAVE_MSG_CPU_IDLE, make_event(0, 1, 0, t, 0)));
  ASSERT_TRUE(send(a, WAVE_MSG_CPU_IDLE, make_event(0, 2, 0, t, 0)));
  a.schedule(sink);
  t += cfg.window_ns + 1;
  ASSERT_TRUE(send(a, WAVE_MSG_CPU_IDLE, make_event(0, 1, 0, t, 0)));
  a.schedule(sink);
  EXPECT_EQ(a.open_cpus(0), 0b00010u);
  EXPECT_EQ(a.vm_stats().shrinks, 1u);
}

TEST(Vm, CoscheduledVmSwitchesAsAGang) {
  VmConfig cfg = parsed(raw_config({vm(kCgA, 0b0110, WAVE_SCHED_VM_F_COSCHED)}), 4);
  VmPolicy a(test_config(4), cfg);
  RecordingSink sink;
  for (uint32_t tid = 1; tid <= 4; tid++)
    new_task(a, tid, kCgA);
  uint64_t t = 1'000'000;
  ASSERT_TRUE(send(a, WAVE_MSG_CPU_TICK, make_event(0, 0, 0, t, 0)));
  a.schedule(sink);
  auto ring = sink.take();
  // Both reserved CPUs get a vCPU in the same pass.
  ASSERT_EQ(ring.size(), 2u);
  for (auto& d : ring)
    ASSERT_TRUE(send(a, WAVE_MSG_TXN_OUTCOME, make_outcome(d, WAVE_TXN_COMMITTED)));
  a.schedule(sink);
  sink.take();
  // A tick on one CPU past the gang slice: both CPUs give way at once.
  t += cfg.gang_slice_ns + 1;
  ASSERT_TRUE(send(a, WAVE_MSG_CPU_TICK, make_event(0, 1, 0, t, 0)));
  a.schedule(sink);
  ring = sink.take();
  ASSERT_EQ(ring.size(), 2u);
  EXPECT_EQ(a.stats().preemptions, 2u);
  EXPECT_EQ(a.vm_stats().gang_switches, 1u);
  uint64_t cpus = 0;
  for (auto& d : ring) {
    EXPECT_GE(d.tid, 3u);  // the two that waited
    cpus |= uint64_t{1} << d.cpu;
  }
  EXPECT_EQ(cpus, 0b0110u);
}

TEST(Vm, SimulatedHostKeepsEveryVcpuOnItsCpus) {
  for (bool pack : {false, true}) {
    uint32_t fa = pack ? WAVE_SCHED_VM_F_PACK : WAVE_SCHED_VM_F_COSCHED;
    VmConfig cfg =
        parsed(raw_config({vm(kCgA, 0b000110, fa), vm(kCgB, 0b111000, WAVE_SCHED_VM_F_APART)}), 8);
    VmPolicy a(test_config(8, 256), cfg);
    SimConfig sc;
    sc.nr_cpus = 8;
    sc.touch_percent = 5;
    sc.seed = pack ? 7 : 3;
    SimHost host(a, sc);
    uint32_t tid = 1;
    for (int k = 0; k < 6; k++)
      host.spawn(tid++, SimTaskSpec{~0ull, 8'000, 20, 15'000, kCgA});
    for (int k = 0; k < 6; k++)
      host.spawn(tid++, SimTaskSpec{~0ull, 12'000, 20, 10'000, kCgB});
    for (int k = 0; k < 6; k++)
      host.spawn(tid++, SimTaskSpec{~0ull, 5'000, 20, 5'000, 0});
    ASSERT_TRUE(host.run_until_done(200'000)) << "pack " << pack;
    EXPECT_TRUE(host.violations().empty()) << host.violations().front();
    for (uint32_t t = 1; t < tid; t++) {
      uint64_t want = t <= 6 ? 0b000110 : t <= 12 ? 0b111000 : 0b11000001;
      EXPECT_NE(host.ran_on(t), 0u) << t;
      EXPECT_EQ(host.ran_on(t) & ~want, 0u) << "task " << t << " ran on " << host.ran_on(t);
    }
    std::string why;
    EXPECT_TRUE(a.consistent(&why)) << why;
  }
}

}  // namespace
}  // namespace wave::agents::testing
