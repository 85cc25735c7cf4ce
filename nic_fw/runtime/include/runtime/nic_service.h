// The actor runtime as wave-nicd runs it: configured from a file and/or `key=value` settings
// (runtime_config.h), with the built-in actor types, publishing its statistics into the
// control page's NIC stats area (uapi/wave_stats.h) on every management tick.
//
// Clients inside wave-nicd (the scheduling link's poller, nicd/sched_service.h) add their own
// actor types through registry(), and take the replies of their actors through
// route_replies(): the runtime has one reply sink, and this service dispatches it by actor.
#pragma once

#include <atomic>
#include <cstddef>
#include <map>
#include <memory>
#include <shared_mutex>
#include <span>
#include <string>
#include <vector>

#include "runtime/runtime.h"

namespace wave::rt {

class NicRuntimeService {
 public:
  // `bar` is the whole BAR window as the NIC maps it. Returns null with *err set when the
  // configuration is bad or the runtime cannot start.
  static std::unique_ptr<NicRuntimeService> Start(const std::string& config_path,
                                                  const std::vector<std::string>& settings,
                                                  std::span<std::byte> bar, std::string* err);
  ~NicRuntimeService();
  NicRuntimeService(const NicRuntimeService&) = delete;
  NicRuntimeService& operator=(const NicRuntimeService&) = delete;

  Runtime& runtime() { return *runtime_; }
  ActorRegistry& registry() { return registry_; }
  // Keeps `owner` (e.g. the object whose handlers a registered type calls) alive until the
  // runtime has stopped.
  void keep_alive(std::shared_ptr<void> owner);

  // Replies of `actor` go to `sink` (called on runtime threads) until unroute_replies(actor)
  // returns; after it returns, the sink is no longer running and will not be called again.
  void route_replies(ActorId actor, ReplySink sink);
  void unroute_replies(ActorId actor);
  // Replies whose actor has no route.
  uint64_t unclaimed_replies() const { return router_->unclaimed.load(); }

 private:
  struct Router {
    std::shared_mutex mu;  // shared while a sink runs, exclusive to change the routes
    std::map<ActorId, ReplySink> routes;
    std::atomic<uint64_t> unclaimed{0};
    void deliver(Reply&& r);
  };
  NicRuntimeService() = default;

  // Declaration order: the runtime goes first, then what its handlers and sink use.
  std::vector<std::shared_ptr<void>> owners_;
  ActorRegistry registry_;
  std::shared_ptr<Router> router_ = std::make_shared<Router>();
  std::span<std::byte> stats_area_;
  uint32_t cores_ = 0;
  std::unique_ptr<Runtime> runtime_;
};

}  // namespace wave::rt
