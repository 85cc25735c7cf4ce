#include "runtime/host/host_runtime.h"

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "dmo_table.h"
#include "migration/state_transfer.h"
#include "runtime/clock.h"

namespace wave::rt {

using mig::FrameHeader;
using mig::FrameType;

class HostRuntime::Impl {
 public:
  Impl(const ActorRegistry& registry, std::unique_ptr<mig::MigrationLink> link);
  ~Impl();
  bool start();
  void stop();
  bool has_actor(ActorId id) const;
  HostRuntimeStats stats() const;
  DmoTable& dmo_table() { return table_; }

 private:
  struct HostActor {
    mig::ActorImage image;
    ActorType type;
  };

  void loop();
  void handle(const mig::FrameHeader& h, std::span<const std::byte> payload);
  void run_request(const mig::FrameHeader& h, std::span<const std::byte> payload);
  void return_actor(ActorId id);
  bool send(mig::FrameType type, ActorId actor, uint64_t a0, uint64_t a1,
            std::span<const std::byte> payload);

  const ActorRegistry& registry_;
  std::unique_ptr<mig::MigrationLink> link_;
  DmoTable table_;
  mig::StateReceiver receiver_{table_};
  std::map<ActorId, HostActor> actors_;  // touched only by the loop thread
  mutable std::mutex stats_mu_;
  HostRuntimeStats stats_;
  std::thread thread_;
  std::atomic<bool> running_{false};
};

HostRuntime::HostRuntime(const ActorRegistry& registry, std::unique_ptr<mig::MigrationLink> link)
    : impl_(std::make_unique<Impl>(registry, std::move(link))) {}
HostRuntime::~HostRuntime() = default;
bool HostRuntime::start() {
  return impl_->start();
}
void HostRuntime::stop() {
  impl_->stop();
}
bool HostRuntime::has_actor(ActorId id) const {
  return impl_->has_actor(id);
}
HostRuntimeStats HostRuntime::stats() const {
  return impl_->stats();
}
DmoTable& HostRuntime::dmo_table() {
  return impl_->dmo_table();
}

HostRuntime::Impl::Impl(const ActorRegistry& registry, std::unique_ptr<mig::MigrationLink> link)
    : registry_(registry), link_(std::move(link)) {
  // A migrated actor that violates isolation here is stopped here too.
  table_.set_violation_hook([this](ActorId a, Status) { table_.quarantine(a); });
  // Objects migrated in through the DMA window stay where the NIC wrote them.
  if (link_ && !link_->dma_window().empty()) {
    receiver_.set_dma_window(
        mig::DmaWindowAllocator::create(link_->dma_window(), link_->dma_window_keepalive()));
  }
}

HostRuntime::Impl::~Impl() {
  stop();
}

bool HostRuntime::Impl::start() {
  if (!link_ || !link_->ok() || running_.exchange(true))
    return false;
  thread_ = std::thread([this] { loop(); });
  return true;
}

void HostRuntime::Impl::stop() {
  running_.store(false, std::memory_order_release);
  if (thread_.joinable())
    thread_.join();
}

bool HostRuntime::Impl::has_actor(ActorId id) const {
  std::lock_guard lock(stats_mu_);
  return table_.has_space(id) && !receiver_.active();
}

HostRuntimeStats HostRuntime::Impl::stats() const {
  std::lock_guard lock(stats_mu_);
  return stats_;
}

void HostRuntime::Impl::loop() {
  uint32_t idle = 0;
  while (running_.load(std::memory_order_acquire)) {
    const auto r = link_->rx().recv(
        [this](const FrameHeader& h, std::span<const std::byte> p) { handle(h, p); });
    if (r == mig::FrameChannel::Recv::kFrame) {
      idle = 0;
      continue;
    }
    if (r == mig::FrameChannel::Recv::kBroken) {
      std::lock_guard lock(stats_mu_);
      ++stats_.bad_frames;
      break;
    }
    // Poll briefly, then sleep until the NIC rings (a link over device queues), or back off:
    // the host side is not on anyone's fast path when idle. A host on a link that cannot wait,
    // with no traffic for about a second, wakes 1000 times a second, not 20000.
    if (++idle < 1000) {
      std::this_thread::yield();
    } else if (link_->wait_rx(std::chrono::milliseconds(20))) {
      // woken by the peer, or 20 ms passed: look again (and at running_)
    } else if (idle < 20000) {
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
}

bool HostRuntime::Impl::send(FrameType type, ActorId actor, uint64_t a0, uint64_t a1,
                             std::span<const std::byte> payload) {
  while (!link_->tx().send(type, actor, 0, a0, a1, payload)) {
    if (!link_->tx().ok() || !running_.load(std::memory_order_acquire))
      return false;
    std::this_thread::yield();
  }
  return true;
}

void HostRuntime::Impl::handle(const FrameHeader& h, std::span<const std::byte> payload) {
  switch (static_cast<FrameType>(h.type)) {
    case FrameType::kStateBegin:
    case FrameType::kObject:
    case FrameType::kChunk:
    case FrameType::kDmaObject:
    case FrameType::kStateEnd: {
      if (h.type == static_cast<uint16_t>(FrameType::kStateBegin) && actors_.count(h.actor)) {
        std::lock_guard lock(stats_mu_);
        ++stats_.bad_frames;
        return;  // already here: a confused or hostile peer
      }
      const auto step = receiver_.on_frame(h, payload);
      uint64_t grant_off = 0, grant_len = 0;
      if (step == mig::StateReceiver::Step::kMore && receiver_.take_grant(&grant_off, &grant_len))
        send(FrameType::kDmaGrant, h.actor, grant_off, grant_len, {});
      if (step == mig::StateReceiver::Step::kMore)
        return;
      if (step == mig::StateReceiver::Step::kError) {
        {
          std::lock_guard lock(stats_mu_);
          ++stats_.bad_frames;
        }
        send(FrameType::kStateAck, h.actor, static_cast<uint64_t>(Status::kInvalid), 0, {});
        return;
      }
      SteadyClock clock;
      const uint64_t t0 = clock.now_ns();
      HostActor a;
      a.image = receiver_.image();
      Status s = Status::kOk;
      if (!registry_.find(a.image.type, &a.type)) {
        s = Status::kNoActor;
        table_.destroy_space(a.image.id);
      } else {
        actors_[a.image.id] = std::move(a);
      }
      {
        std::lock_guard lock(stats_mu_);
        stats_.last_recreate_ns = clock.now_ns() - t0;
        if (s == Status::kOk)
          ++stats_.received;
        stats_.actors = actors_.size();
      }
      send(FrameType::kStateAck, h.actor, static_cast<uint64_t>(s), 0, {});
      return;
    }
    case FrameType::kRequest:
      run_request(h, payload);
      return;
    case FrameType::kPull:
      return_actor(h.actor);
      return;
    default: {
      std::lock_guard lock(stats_mu_);
      ++stats_.bad_frames;
    }
  }
}

void HostRuntime::Impl::run_request(const FrameHeader& h, std::span<const std::byte> payload) {
  SteadyClock clock;
  const uint64_t t0 = clock.now_ns();
  Status status = Status::kOk;
  std::vector<std::byte> reply;
  auto it = actors_.find(h.actor);
  if (it == actors_.end()) {
    status = Status::kNoActor;
  } else {
    Message m;
    m.request_id = h.arg0;
    m.dst = h.actor;
    m.kind = static_cast<uint32_t>(h.arg1);
    m.payload.assign(payload.begin(), payload.end());  // copied out of the shared ring first
    ActorContext ctx(h.actor, it->second.image.root, table_, true);
    if (table_.usage(h.actor).quarantined) {
      status = Status::kQuarantined;
    } else {
      it->second.type.handler(ctx, m);
      status = ctx.reply_status();
      reply = std::move(ctx.reply_payload());
      if (reply.size() > mig::kMaxFramePayload) {
        reply.clear();
        status = Status::kInvalid;
      }
    }
  }
  {
    std::lock_guard lock(stats_mu_);
    ++stats_.requests;
  }
  if ((h.flags & mig::kFlagWantsReply) == 0)
    return;
  const uint64_t latency_us = (clock.now_ns() - t0) / 1000;
  send(FrameType::kReply, h.actor, h.arg0,
       static_cast<uint64_t>(status) | (std::min<uint64_t>(latency_us, 0xffffffffu) << 32), reply);
}

void HostRuntime::Impl::return_actor(ActorId id) {
  auto it = actors_.find(id);
  if (it == actors_.end()) {
    std::lock_guard lock(stats_mu_);
    ++stats_.bad_frames;
    return;
  }
  // Every request that arrived before the pull has run (the loop is sequential), so the state
  // is final. Ship it, then forget the actor here.
  const bool ok = mig::send_state(link_->tx(), table_, it->second.image, [this] {
    std::this_thread::yield();
    return running_.load(std::memory_order_acquire);
  });
  table_.destroy_space(id);
  actors_.erase(it);
  std::lock_guard lock(stats_mu_);
  if (ok)
    ++stats_.returned;
  stats_.actors = actors_.size();
}

}  // namespace wave::rt
