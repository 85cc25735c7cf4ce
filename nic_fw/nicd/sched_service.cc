#include "nicd/sched_service.h"

#include <endian.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "policies/sched/fifo/fifo_policy.h"
#include "policies/sched/runners/link_agent.h"
#include "policies/sched/shinjuku/shinjuku_policy.h"
#include "policies/sched/vm/vm_policy.h"
#include "wave_mem.h"
#include "wave_ring.h"

namespace wave::nicd {
namespace {

// Busy polls between two checks that the link is still the host's.
constexpr uint32_t kPollsPerCheck = 256;

const char* PolicyName(uint32_t policy) {
  switch (policy) {
    case WAVE_SCHED_POLICY_FIFO:
      return "fifo";
    case WAVE_SCHED_POLICY_SHINJUKU:
      return "shinjuku";
    case WAVE_SCHED_POLICY_VM:
      return "vm";
    default:
      return "none";
  }
}

// The info block of the message region, copied once; false if it does not describe a link.
bool ReadInfo(const wave::QueueRegion& msg, wave_sched_info* out) {
  if (msg.size < WAVE_SCHED_INFO_OFF + sizeof(wave_sched_info)) {
    return false;
  }
  std::memcpy(out, msg.base + WAVE_SCHED_INFO_OFF, sizeof(*out));
  std::atomic_thread_fence(std::memory_order_acquire);
  return le32toh(out->magic) == WAVE_SCHED_INFO_MAGIC &&
         le16toh(out->version) == WAVE_SCHED_INFO_VERSION &&
         le16toh(out->policy) <= WAVE_SCHED_POLICY_MAX && le32toh(out->nr_cpus) >= 1 &&
         le32toh(out->nr_cpus) <= WAVE_SCHED_MAX_CPUS && le64toh(out->slice_ns) <= 1'000'000'000;
}

// The message queue of the scheduling link: the first active one whose info block carries the
// scheduling magic, else the first active one (so that a host writing nonsense there is
// reported). Other links (the memory link, wave_mem.h) carry their own magic and are skipped.
bool FindMessageQueue(wave::Device& dev, wave::QueueRegion* out) {
  const volatile wave_control_page* c = dev.control();
  bool have_first = false;
  for (uint32_t id = 0; id < WAVE_MAX_QUEUES; id++) {
    if (c->queues[id].state != WAVE_QSTATE_ACTIVE || c->queues[id].kind != WAVE_QKIND_MESSAGE) {
      continue;
    }
    auto r = dev.MapQueue(id);  // checks the whole descriptor against the BAR
    if (!r) {
      continue;
    }
    uint32_t magic = 0;
    if (r->size >= WAVE_SCHED_INFO_OFF + sizeof(wave_sched_info)) {
      std::memcpy(&magic, r->base + WAVE_SCHED_INFO_OFF, sizeof(magic));
    }
    if (le32toh(magic) == WAVE_SCHED_INFO_MAGIC) {
      *out = r.value();
      return true;
    }
    if (!have_first && le32toh(magic) != WAVE_MEM_INFO_MAGIC) {
      *out = r.value();
      have_first = true;
    }
  }
  return have_first;
}

void Add(agents::AgentStats* sum, const agents::AgentStats& s) {
  sum->events += s.events;
  sum->bad_length += s.bad_length;
  sum->bad_type += s.bad_type;
  sum->bad_flags += s.bad_flags;
  sum->bad_cpu += s.bad_cpu;
  sum->bad_tid += s.bad_tid;
  sum->bad_mask += s.bad_mask;
  sum->unknown_task += s.unknown_task;
  sum->stale_seq += s.stale_seq;
  sum->table_full += s.table_full;
  sum->task_reused += s.task_reused;
  sum->groups += s.groups;
  sum->bad_group += s.bad_group;
  for (size_t i = 0; i <= WAVE_TXN_OUTCOME_MAX; i++) {
    sum->outcomes[i] += s.outcomes[i];
  }
  sum->bad_outcome += s.bad_outcome;
  sum->late_outcome += s.late_outcome;
  sum->late_commit += s.late_commit;
  sum->outcome_task_gone += s.outcome_task_gone;
  sum->ran_undecided += s.ran_undecided;
  sum->epoch_mismatch += s.epoch_mismatch;
  sum->decisions += s.decisions;
  sum->prestaged += s.prestaged;
  sum->prestage_clears += s.prestage_clears;
  sum->revoked += s.revoked;
  sum->steals += s.steals;
  sum->preemptions += s.preemptions;
  sum->ring_full += s.ring_full;
  sum->timed_out += s.timed_out;
}

void AddPump(agents::LinkActorPumpStats* sum, const agents::LinkActorPumpStats& s) {
  sum->messages += s.messages;
  sum->requests += s.requests;
  sum->replies += s.replies;
  sum->failed += s.failed;
  sum->inline_runs += s.inline_runs;
  sum->handed_over += s.handed_over;
  sum->bad_replies += s.bad_replies;
  sum->bad_cpu += s.bad_cpu;
  sum->decisions += s.decisions;
  sum->prestaged += s.prestaged;
  sum->clears += s.clears;
  sum->ring_waits += s.ring_waits;
  sum->mailbox_full += s.mailbox_full;
  sum->spins_won += s.spins_won;
  sum->reschedules += s.reschedules;
}

void PrintStats(const char* what, const agents::AgentStats& s) {
  std::fprintf(
      stderr,
      "wave-nicd: sched agent %s: events=%llu dropped=%llu decisions=%llu "
      "prestaged=%llu committed=%llu stale=%llu aborted=%llu cpu_unavailable=%llu "
      "invalid=%llu rejects=%llu late_outcomes=%llu outcomes_task_gone=%llu "
      "ran_undecided=%llu preemptions=%llu ring_full=%llu "
      "timed_out=%llu (dropped: unknown_task=%llu stale_seq=%llu bad_mask=%llu other=%llu)\n",
      what, static_cast<unsigned long long>(s.events), static_cast<unsigned long long>(s.dropped()),
      static_cast<unsigned long long>(s.decisions), static_cast<unsigned long long>(s.prestaged),
      static_cast<unsigned long long>(s.outcomes[WAVE_TXN_COMMITTED]),
      static_cast<unsigned long long>(s.outcomes[WAVE_TXN_STALE]),
      static_cast<unsigned long long>(s.outcomes[WAVE_TXN_ABORTED]),
      static_cast<unsigned long long>(s.outcomes[WAVE_TXN_CPU_UNAVAILABLE]),
      static_cast<unsigned long long>(s.outcomes[WAVE_TXN_INVALID]),
      static_cast<unsigned long long>(s.bad_outcome + s.epoch_mismatch),
      static_cast<unsigned long long>(s.late_outcome),
      static_cast<unsigned long long>(s.outcome_task_gone),
      static_cast<unsigned long long>(s.ran_undecided),
      static_cast<unsigned long long>(s.preemptions), static_cast<unsigned long long>(s.ring_full),
      static_cast<unsigned long long>(s.timed_out), static_cast<unsigned long long>(s.unknown_task),
      static_cast<unsigned long long>(s.stale_seq), static_cast<unsigned long long>(s.bad_mask),
      static_cast<unsigned long long>(s.dropped() - s.unknown_task - s.stale_seq - s.bad_mask));
}

}  // namespace

// One attach of the host's link: the libwave view of its rings and the agent on them.
struct SchedService::Session {
  uint64_t attach_gen = 0;
  uint32_t policy = 0;
  uint32_t msg_id = 0, msg_generation = 0;
  uint32_t dec_id = 0, dec_generation = 0;
  std::unique_ptr<wave::NicLink> link;
  // Thread mode: the agent and the loop step that runs it.
  std::unique_ptr<agents::Agent> agent;
  std::unique_ptr<agents::LinkAgent> pump;
  // Actor mode: the agent actor and the link poller that feeds it.
  rt::ActorId actor = rt::kNoActorId;
  std::unique_ptr<agents::LinkActorPump> actor_pump;
  uint64_t messages = 0;
  std::chrono::steady_clock::time_point start;
  DecisionIrqGate irq_gate;
  uint64_t irqs_counted = 0, coalesced_counted = 0;  // of irq_gate's stats, in totals_
};

SchedService::SchedService(nic::ControlPlane& link, std::span<std::byte> bar,
                           const SchedServiceConfig& config)
    : link_(link), device_(bar), config_(config) {}

SchedService::~SchedService() {
  Stop();
}

bool SchedService::Start(std::string* why) {
  if (config_.mode == SchedAgentMode::kActor) {
    if (config_.runtime == nullptr) {
      *why = "actor mode needs the NIC runtime";
      return false;
    }
    actors_ = std::make_shared<agents::AgentActors>(agents::AgentActorConfig{});
    if (!actors_->register_types(config_.runtime->registry())) {
      *why = "the runtime already has scheduling agent actor types";
      return false;
    }
    // Registered handlers call into actors_: it must live as long as the runtime does.
    config_.runtime->keep_alive(actors_);
  }
  wake_fd_ = nic::UniqueFd(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!wake_fd_) {
    *why = std::string("eventfd: ") + std::strerror(errno);
    return false;
  }
  // The link's loop owns the doorbell eventfds; it forwards the two that concern us: the
  // message queue's (work) and the admin vector's (the queue table or the link changed).
  link_.OnQueueKind(WAVE_QKIND_MESSAGE, WAVE_DIR_HOST_TO_NIC,
                    [this](const nic::Queue&, uint32_t) { Wake(); });
  link_.OnVector(WAVE_ADMIN_VECTOR, [this](uint32_t) { Wake(); });
  thread_ = std::thread([this] { Run(); });
  return true;
}

void SchedService::Stop() {
  if (!thread_.joinable()) {
    return;
  }
  stop_.store(true, std::memory_order_relaxed);
  Wake();
  thread_.join();
  // The link outlives this service: its hooks must no longer reach our eventfd.
  link_.OnQueueKind(WAVE_QKIND_MESSAGE, WAVE_DIR_HOST_TO_NIC, [](const nic::Queue&, uint32_t) {});
  link_.OnVector(WAVE_ADMIN_VECTOR, [](uint32_t) {});
  LogTotals();
}

void SchedService::Wake() {
  const uint64_t one = 1;
  // A full counter already means "awake": nothing to do on EAGAIN.
  (void)!write(wake_fd_.get(), &one, sizeof(one));
}

void SchedService::Run() {
  uint32_t since_check = 0;
  auto last_work = std::chrono::steady_clock::now();
  while (!stop_.load(std::memory_order_relaxed)) {
    if (!session_) {
      if (!TryAttach()) {
        SleepUntilDoorbell();
        continue;
      }
      last_work = std::chrono::steady_clock::now();
      since_check = 0;
    }
    totals_.polls++;
    agents::LinkActorPump* actor_pump = session_->actor_pump.get();
    const uint32_t n =
        actor_pump != nullptr ? actor_pump->poll_once() : session_->pump->poll_once();
    auto now = std::chrono::steady_clock::now();
    if (n != 0 || (actor_pump != nullptr && actor_pump->in_flight() != 0)) {
      session_->messages += n;
      totals_.messages += n;
      last_work = now;
    }
    if (actor_pump != nullptr && actor_pump->failed()) {
      // The actor lost a batch (quarantined, evicted): its picture of the host is wrong. Leave
      // the link unserved; the host falls back to local dispatch until it attaches again.
      totals_.actor_failures++;
      EndSession("dropped: the agent actor failed");
      continue;
    }
    const bool idle = n == 0 && now - last_work > config_.spin;
    MaybeRaiseDecisionIrq(idle);
    if (++since_check < kPollsPerCheck && !idle) {
      continue;
    }
    since_check = 0;
    if (!StillAttached()) {
      EndSession("detached");
      continue;
    }
    if (idle) {
      SleepUntilDoorbell();
      last_work = std::chrono::steady_clock::now();
    }
  }
  if (session_) {
    EndSession("stopped");
  }
}

void SchedService::MaybeRaiseDecisionIrq(bool going_idle) {
  if (!config_.decision_irq || !session_) {
    return;
  }
  Session& s = *session_;
  const wave::QueueRegion& dec = s.link->decision_region();
  const uint64_t produced = s.link->decisions().ring().ring().position();
  // The host's consumer record of the decision ring (wave.ko writes it as it drains).
  const auto* hdr = reinterpret_cast<const wave_region_hdr*>(dec.base);
  const uint64_t committed =
      le64toh(std::atomic_ref<const uint64_t>(hdr->consumers[wave::kDecisionRing].committed)
                  .load(std::memory_order_acquire));
  const auto now = std::chrono::steady_clock::now();
  if (s.irq_gate.ShouldRaise(produced, committed, now, going_idle)) {
    s.irq_gate.Raised(produced, now);
    if (!link_.RaiseIrq(dec.vector)) {
      totals_.irq_failures++;
    }
  }
  totals_.irqs_raised += s.irq_gate.stats().raised - s.irqs_counted;
  totals_.irqs_coalesced += s.irq_gate.stats().coalesced - s.coalesced_counted;
  s.irqs_counted = s.irq_gate.stats().raised;
  s.coalesced_counted = s.irq_gate.stats().coalesced;
}

void SchedService::SleepUntilDoorbell() {
  totals_.sleeps++;
  pollfd p{wake_fd_.get(), POLLIN, 0};
  poll(&p, 1, static_cast<int>(config_.max_sleep.count()));
  uint64_t v;
  while (read(wake_fd_.get(), &v, sizeof(v)) == sizeof(v)) {
  }
}

bool SchedService::TryAttach() {
  wave::QueueRegion msg;
  if (!FindMessageQueue(device_, &msg)) {
    return false;
  }
  wave_sched_info info{};
  if (!ReadInfo(msg, &info)) {
    // Zero while detached; anything else non-zero is a host writing nonsense.
    if (le32toh(info.magic) != 0 && le64toh(info.attach_gen) != last_seen_gen_) {
      last_seen_gen_ = le64toh(info.attach_gen);
      totals_.bad_info++;
      std::fprintf(stderr, "wave-nicd: sched agent: invalid info block in queue %u, ignored\n",
                   msg.id);
    }
    return false;
  }
  const uint64_t gen = le64toh(info.attach_gen);
  if (gen == last_seen_gen_) {
    return false;  // already served, refused or skipped
  }
  const uint32_t policy = le16toh(info.policy);
  if (policy == WAVE_SCHED_POLICY_NONE) {
    last_seen_gen_ = gen;
    totals_.skipped_none++;
    std::fprintf(stderr, "wave-nicd: sched agent: link %llu has policy none, not served\n",
                 static_cast<unsigned long long>(gen));
    return false;
  }
  // kResume: a firmware restarted under a live link (wave-nic-function, issue 5's restart
  // test) continues the rings where the killed one committed (wave_sched_link.h); on a new
  // link, which wave.ko zeroed, it starts at 0 exactly as kFresh does.
  auto nl = wave::NicLink::AttachTo(device_, msg.id, wave::NicLink::kAnyQueue,
                                    wave::RingConsumer::Start::kResume);
  if (!nl) {
    if (nl.error().code == EAGAIN) {
      return false;  // descriptors not written yet: the attach doorbell will come
    }
    last_seen_gen_ = gen;
    totals_.attach_failures++;
    std::fprintf(stderr, "wave-nicd: sched agent: link %llu refused: %s\n",
                 static_cast<unsigned long long>(gen), nl.error().message.c_str());
    return false;
  }
  if (nl.value()->message_region().id != msg.id) {
    return false;  // the table changed between the two scans: try again
  }
  last_seen_gen_ = gen;

  auto s = std::make_unique<Session>();
  s->attach_gen = gen;
  s->policy = policy;
  s->link = std::move(nl.value());
  s->msg_id = s->link->message_region().id;
  s->msg_generation = s->link->message_region().generation;
  s->dec_id = s->link->decision_region().id;
  s->dec_generation = s->link->decision_region().generation;
  agents::AgentConfig cfg;
  cfg.nr_cpus = std::min(le32toh(info.nr_cpus), s->link->decisions().nr_cpus());
  cfg.epoch = agents::link_agent_epoch(*s->link);
  if (cfg.nr_cpus == 0) {
    totals_.attach_failures++;
    std::fprintf(stderr, "wave-nicd: sched agent: link %llu has no prestaged slots\n",
                 static_cast<unsigned long long>(gen));
    return false;
  }
  agents::ShinjukuConfig sj;
  const uint64_t slice = le64toh(info.slice_ns);
  sj.slice_ns = slice != 0 ? slice : WAVE_SCHED_DEFAULT_SLICE_NS;
  agents::VmConfig vm;
  if (policy == WAVE_SCHED_POLICY_VM) {
    std::string why;
    if (!agents::link_vm_config(*s->link, cfg.nr_cpus, &vm, &why)) {
      totals_.attach_failures++;
      std::fprintf(stderr, "wave-nicd: sched agent: link %llu: VM table refused: %s\n",
                   static_cast<unsigned long long>(gen), why.c_str());
      return false;
    }
  }
  if (config_.mode == SchedAgentMode::kActor) {
    if (!StartActor(policy, cfg, sj, vm, s.get())) {
      totals_.attach_failures++;
      return false;
    }
  } else if (policy == WAVE_SCHED_POLICY_FIFO) {
    s->agent = std::make_unique<agents::FifoPolicy>(cfg);
  } else if (policy == WAVE_SCHED_POLICY_VM) {
    s->agent = std::make_unique<agents::VmPolicy>(cfg, vm);
  } else {
    s->agent = std::make_unique<agents::ShinjukuPolicy>(cfg, sj);
  }
  if (s->agent != nullptr)
    s->pump = std::make_unique<agents::LinkAgent>(*s->link, *s->agent);
  s->start = std::chrono::steady_clock::now();
  totals_.attaches++;
  std::fprintf(stderr,
               "wave-nicd: sched agent: serving link %llu: policy %s, %u CPUs, queues %u/%u, "
               "epoch %llu, %s\n",
               static_cast<unsigned long long>(gen), PolicyName(policy), cfg.nr_cpus, s->msg_id,
               s->dec_id, static_cast<unsigned long long>(cfg.epoch),
               !s->actor_pump            ? "polling thread"
               : config_.pump.run_inline ? "runtime actor, run by the link's poller"
                                         : "runtime actor, handed to a runtime core");
  s->irq_gate.Reset(s->link->decisions().ring().ring().position());
  session_ = std::move(s);
  return true;
}

bool SchedService::StartActor(uint32_t policy, const agents::AgentConfig& cfg,
                              const agents::ShinjukuConfig& sj, const agents::VmConfig& vm,
                              Session* s) {
  rt::NicRuntimeService& svc = *config_.runtime;
  // The name shows in the runtime's stats (wavectl stats), 15 characters at most.
  const std::string name = std::string(PolicyName(policy)) + "-agent";
  rt::Status st = actors_->create(svc.runtime(), policy, name, cfg, sj, &s->actor, &vm);
  if (st != rt::Status::kOk) {
    std::fprintf(stderr, "wave-nicd: sched agent: link %llu: no agent actor: %s\n",
                 static_cast<unsigned long long>(s->attach_gen), rt::status_name(st));
    return false;
  }
  s->actor_pump = std::make_unique<agents::LinkActorPump>(*s->link, svc.runtime(), s->actor,
                                                          cfg.epoch, config_.pump);
  agents::LinkActorPump* pump = s->actor_pump.get();
  svc.route_replies(s->actor, [pump](rt::Reply&& r) { pump->on_reply(std::move(r)); });
  return true;
}

bool SchedService::StillAttached() {
  auto m = device_.MapQueue(session_->msg_id);
  auto d = device_.MapQueue(session_->dec_id);
  if (!m || !d || m->generation != session_->msg_generation ||
      d->generation != session_->dec_generation || m->kind != WAVE_QKIND_MESSAGE ||
      d->kind != WAVE_QKIND_DECISION) {
    return false;
  }
  wave_sched_info info;
  return ReadInfo(m.value(), &info) && le64toh(info.attach_gen) == session_->attach_gen;
}

void SchedService::EndSession(const char* why) {
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - session_->start).count();
  agents::AgentStats s;
  if (session_->actor_pump != nullptr) {
    agents::LinkActorPump& pump = *session_->actor_pump;
    rt::NicRuntimeService& svc = *config_.runtime;
    // Replies of the batches in flight first (their decisions still matter on a stop); then
    // the actor goes, which answers whatever still waits in its mailbox; then its route.
    pump.drain(std::chrono::milliseconds(100));
    actors_->destroy(svc.runtime(), session_->actor, &s);
    pump.drain(std::chrono::milliseconds(100));
    svc.unroute_replies(session_->actor);
    totals_.bad_slots += pump.bad_slots();
    AddPump(&totals_.pump, pump.stats());
  } else {
    s = session_->agent->stats();
    totals_.bad_slots += session_->link->messages().bad_messages();
  }
  std::fprintf(stderr,
               "wave-nicd: sched agent: link %llu %s after %.2f s: %llu messages, %.0f "
               "decisions/s\n",
               static_cast<unsigned long long>(session_->attach_gen), why, secs,
               static_cast<unsigned long long>(session_->messages),
               secs > 0 ? static_cast<double>(s.decisions + s.prestaged) / secs : 0.0);
  PrintStats("link", s);
  Add(&totals_.agent, s);
  totals_.detaches++;
  session_.reset();
}

void SchedService::LogTotals() const {
  std::fprintf(stderr,
               "wave-nicd: sched agent totals: attaches=%llu detaches=%llu refused=%llu "
               "bad_info=%llu policy_none=%llu messages=%llu bad_slots=%llu polls=%llu "
               "sleeps=%llu decision_irqs=%llu irqs_coalesced=%llu irq_failures=%llu\n",
               static_cast<unsigned long long>(totals_.attaches),
               static_cast<unsigned long long>(totals_.detaches),
               static_cast<unsigned long long>(totals_.attach_failures),
               static_cast<unsigned long long>(totals_.bad_info),
               static_cast<unsigned long long>(totals_.skipped_none),
               static_cast<unsigned long long>(totals_.messages),
               static_cast<unsigned long long>(totals_.bad_slots),
               static_cast<unsigned long long>(totals_.polls),
               static_cast<unsigned long long>(totals_.sleeps),
               static_cast<unsigned long long>(totals_.irqs_raised),
               static_cast<unsigned long long>(totals_.irqs_coalesced),
               static_cast<unsigned long long>(totals_.irq_failures));
  PrintStats("totals", totals_.agent);
  if (config_.mode == SchedAgentMode::kActor) {
    const agents::LinkActorPumpStats& p = totals_.pump;
    std::fprintf(
        stderr,
        "wave-nicd: sched agent actor: requests=%llu replies=%llu failed=%llu "
        "bad_replies=%llu mailbox_full=%llu ring_waits=%llu spins_won=%llu "
        "reschedules=%llu inline_runs=%llu handed_over=%llu actor_failures=%llu\n",
        static_cast<unsigned long long>(p.requests), static_cast<unsigned long long>(p.replies),
        static_cast<unsigned long long>(p.failed), static_cast<unsigned long long>(p.bad_replies),
        static_cast<unsigned long long>(p.mailbox_full),
        static_cast<unsigned long long>(p.ring_waits), static_cast<unsigned long long>(p.spins_won),
        static_cast<unsigned long long>(p.reschedules),
        static_cast<unsigned long long>(p.inline_runs),
        static_cast<unsigned long long>(p.handed_over),
        static_cast<unsigned long long>(totals_.actor_failures));
  }
}

}  // namespace wave::nicd
