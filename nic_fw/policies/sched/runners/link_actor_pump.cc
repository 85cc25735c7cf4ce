#include "policies/sched/runners/link_actor_pump.h"

#include <algorithm>
#include <array>
#include <span>
#include <thread>
#include <utility>

#include "policies/sched/runners/agent_actor.h"

namespace wave::agents {

LinkActorPump::LinkActorPump(wave::NicLink& link, rt::Runtime& runtime, rt::ActorId actor,
                             uint64_t epoch, const LinkActorPumpConfig& cfg)
    : link_(link), runtime_(runtime), actor_(actor), cfg_(cfg), sink_(link.decisions(), epoch) {
  cfg_.batch = std::clamp<uint32_t>(cfg_.batch, 1, 64);
  cfg_.mailbox = std::max<uint32_t>(cfg_.mailbox, 1);
  if (cfg_.run_inline)
    inline_ = runtime.open_inline_core();
}

void LinkActorPump::on_reply(rt::Reply&& r) {
  {
    std::lock_guard lock(mu_);
    arrived_.emplace(r.request_id, std::move(r));
  }
  arrivals_.fetch_add(1, std::memory_order_release);
}

uint32_t LinkActorPump::poll_once() {
  apply_ready();
  flush_backlog();
  uint32_t n = 0;
  if (in_flight() >= cfg_.mailbox) {
    stats_.mailbox_full++;
  } else {
    std::array<wave::Message, 64> msgs;
    n = link_.messages().Poll(std::span(msgs).first(cfg_.batch));
    // An empty request when the last reply changed something: the agent's schedule() may have
    // left work for its next call (it bounds its passes), which the thread mode's loop makes
    // at once and the actor would otherwise make only at the next message.
    const bool reschedule = n == 0 && last_reply_records_ != 0;
    if (reschedule)
      stats_.reschedules++;
    last_reply_records_ = 0;
    if (n != 0 || reschedule) {
      rt::Message& req = next_;
      req.dst = actor_;
      req.request_id = ++posted_;
      req.payload.clear();
      req.payload.reserve(n * (4 + sizeof(wave_task_event)));
      for (uint32_t i = 0; i < n; i++) {
        const wave::Message& m = msgs[i];
        AgentActors::append_message(
            &req.payload, m.type,
            std::as_bytes(std::span(m.raw, std::min<size_t>(m.len, sizeof(m.raw)))));
      }
      stats_.messages += n;
      stats_.requests++;
      submit();
    }
  }
  if (in_flight() == 0)
    return n;
  // Spin for the oldest reply: the agent is fast, a sleep/wake costs more than it does.
  const auto until = std::chrono::steady_clock::now() + cfg_.reply_spin;
  uint64_t seen = arrivals_.load(std::memory_order_acquire);
  for (;;) {
    if (apply_ready()) {
      if (n != 0)
        stats_.spins_won++;
      break;
    }
    if (std::chrono::steady_clock::now() >= until)
      break;
    while (arrivals_.load(std::memory_order_acquire) == seen &&
           std::chrono::steady_clock::now() < until) {
      // Yield, not pause: on emulated NIC cores (threads on shared CPUs) the actor's core may
      // need this CPU to produce the reply. On a dedicated core the yield returns at once.
      std::this_thread::yield();
    }
    seen = arrivals_.load(std::memory_order_acquire);
  }
  flush_backlog();
  return n;
}

void LinkActorPump::submit() {
  if (inline_ != nullptr && inline_->run(next_, &reply_) == rt::Status::kOk) {
    stats_.inline_runs++;
    // Every earlier reply is applied already (the runtime refuses an inline run while an
    // earlier request waits or runs), unless one is still on its way through on_reply.
    if (reply_.request_id == applied_ + 1) {
      applied_++;
      apply(reply_);
    } else {
      on_reply(std::move(reply_));
      reply_ = rt::Reply{};
    }
    return;
  }
  stats_.handed_over++;
  // A refused post is still answered (with its error) through on_reply.
  runtime_.post(std::move(next_));
  next_ = rt::Message{};
}

bool LinkActorPump::drain(std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (in_flight() != 0 && std::chrono::steady_clock::now() < until) {
    if (!apply_ready())
      std::this_thread::yield();
  }
  flush_backlog();
  return in_flight() == 0;
}

bool LinkActorPump::apply_ready() {
  bool any = false;
  while (in_flight() != 0) {
    rt::Reply r;
    {
      std::lock_guard lock(mu_);
      auto it = arrived_.find(applied_ + 1);
      if (it == arrived_.end())
        break;
      r = std::move(it->second);
      arrived_.erase(it);
    }
    applied_++;
    apply(r);
    any = true;
  }
  return any;
}

void LinkActorPump::apply(const rt::Reply& r) {
  stats_.replies++;
  if (r.status != rt::Status::kOk) {
    stats_.failed++;
    return;
  }
  const uint32_t nr_cpus = link_.decisions().nr_cpus();
  bool ok = AgentActors::decode_reply(r.payload, [&](const ReplyRecord& rec) {
    last_reply_records_++;
    if (rec.kind == kReplyRing) {
      // Order matters: a decision never overtakes one already waiting.
      if (!backlog_.empty() || !sink_.decide(rec.decision)) {
        backlog_.push_back(rec.decision);
        stats_.ring_waits++;
      } else {
        stats_.decisions++;
      }
      return;
    }
    if (rec.cpu >= nr_cpus) {
      stats_.bad_cpu++;
      return;
    }
    if (rec.kind == kReplyPrestage) {
      sink_.prestage(rec.cpu, &rec.decision);
      stats_.prestaged++;
    } else {
      sink_.prestage(rec.cpu, nullptr);
      stats_.clears++;
    }
  });
  if (!ok)
    stats_.bad_replies++;
}

void LinkActorPump::flush_backlog() {
  while (!backlog_.empty() && sink_.decide(backlog_.front())) {
    backlog_.pop_front();
    stats_.decisions++;
  }
}

}  // namespace wave::agents
