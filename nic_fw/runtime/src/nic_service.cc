#include "runtime/nic_service.h"

#include "builtin_actors.h"
#include "runtime/stats_export.h"
#include "wave_abi.h"

namespace wave::rt {

std::unique_ptr<NicRuntimeService> NicRuntimeService::Start(
    const std::string& config_path, const std::vector<std::string>& settings,
    std::span<std::byte> bar, std::string* err) {
  RuntimeConfig cfg;
  cfg.sched.cores = 1;  // one NIC core unless told otherwise
  if (!config_path.empty() && !load_config_file(config_path, &cfg, err))
    return nullptr;
  for (const std::string& kv : settings) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos) {
      *err = "runtime setting '" + kv + "' is not key=value";
      return nullptr;
    }
    std::string e;
    if (!apply_setting(&cfg, kv.substr(0, eq), kv.substr(eq + 1), &e)) {
      *err = "runtime setting '" + kv + "': " + e;
      return nullptr;
    }
  }
  if (bar.size() < WAVE_PAGE_SIZE) {
    *err = "BAR too small for the control page";
    return nullptr;
  }
  std::unique_ptr<NicRuntimeService> svc(new NicRuntimeService);
  register_builtin_actors(svc->registry_);
  svc->stats_area_ = bar.subspan(WAVE_NIC_STATS_OFF, WAVE_NIC_STATS_SIZE);
  svc->cores_ = cfg.sched.cores;
  auto router = svc->router_;
  svc->runtime_ = std::make_unique<Runtime>(cfg, svc->registry_,
                                            [router](Reply&& r) { router->deliver(std::move(r)); });
  auto* area = svc->stats_area_.data();
  const uint32_t cores = svc->cores_;
  svc->runtime_->set_tick_hook([area, cores](const Runtime& rt) {
    export_stats(rt.stats(), cores, area, WAVE_NIC_STATS_SIZE);
  });
  if (!svc->runtime_->start()) {
    *err = "the actor runtime did not start (unknown actor type in the config?)";
    return nullptr;
  }
  return svc;
}

NicRuntimeService::~NicRuntimeService() {
  if (runtime_)
    runtime_->shutdown(ShutdownMode::kCancel);
}

void NicRuntimeService::keep_alive(std::shared_ptr<void> owner) {
  owners_.push_back(std::move(owner));
}

void NicRuntimeService::route_replies(ActorId actor, ReplySink sink) {
  std::unique_lock lock(router_->mu);
  router_->routes[actor] = std::move(sink);
}

void NicRuntimeService::unroute_replies(ActorId actor) {
  std::unique_lock lock(router_->mu);
  router_->routes.erase(actor);
}

void NicRuntimeService::Router::deliver(Reply&& r) {
  std::shared_lock lock(mu);
  auto it = routes.find(r.actor);
  if (it == routes.end()) {
    unclaimed.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  it->second(std::move(r));
}

}  // namespace wave::rt
