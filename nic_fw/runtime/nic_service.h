// The actor runtime as wave-nicd runs it: configured from a file and/or `key=value` settings
// (runtime_config.h), with the built-in actor types, publishing its statistics into the
// control page's NIC stats area (uapi/wave_stats.h) on every management tick.
#pragma once

#include <cstddef>
#include <memory>
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
  // Replies whose requests came from no client that takes them (none is wired yet).
  uint64_t unclaimed_replies() const { return unclaimed_->load(); }

 private:
  NicRuntimeService() = default;

  ActorRegistry registry_;
  std::shared_ptr<std::atomic<uint64_t>> unclaimed_ = std::make_shared<std::atomic<uint64_t>>(0);
  std::span<std::byte> stats_area_;
  uint32_t cores_ = 0;
  std::unique_ptr<Runtime> runtime_;
};

}  // namespace wave::rt
