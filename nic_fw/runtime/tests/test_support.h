// Shared helpers for the runtime tests: a reply collector and small actor types.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <vector>

#include "runtime/actor.h"
#include "runtime/message.h"

namespace wave::rt::test {

class Replies {
 public:
  ReplySink sink() {
    return [this](Reply&& r) {
      std::lock_guard lock(mu_);
      order_.push_back(r.request_id);
      by_id_[r.request_id].push_back(std::move(r));
      ++count_;
      cv_.notify_all();
    };
  }
  bool wait_for(size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return count_ >= n; });
  }
  size_t count() {
    std::lock_guard lock(mu_);
    return count_;
  }
  // Each id in [first, first + n) answered exactly once.
  void expect_exactly_once(uint64_t first, uint64_t n) {
    std::lock_guard lock(mu_);
    for (uint64_t id = first; id < first + n; ++id) {
      auto it = by_id_.find(id);
      ASSERT_NE(it, by_id_.end()) << "request " << id << " never answered";
      ASSERT_EQ(it->second.size(), 1u) << "request " << id << " answered twice";
    }
    EXPECT_EQ(count_, n);
  }
  Reply get(uint64_t id) {
    std::lock_guard lock(mu_);
    auto it = by_id_.find(id);
    return it == by_id_.end() || it->second.empty() ? Reply{} : it->second.front();
  }
  // Where the first reply to `id` came in the order of all replies (or -1).
  long position(uint64_t id) {
    std::lock_guard lock(mu_);
    for (size_t i = 0; i < order_.size(); ++i) {
      if (order_[i] == id)
        return static_cast<long>(i);
    }
    return -1;
  }
  std::map<uint64_t, std::vector<Reply>> all() {
    std::lock_guard lock(mu_);
    return by_id_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<uint64_t, std::vector<Reply>> by_id_;
  std::vector<uint64_t> order_;
  size_t count_ = 0;
};

inline std::vector<std::byte> bytes_of(uint64_t v) {
  std::vector<std::byte> b(sizeof v);
  std::memcpy(b.data(), &v, sizeof v);
  return b;
}

inline uint64_t u64_of(const std::vector<std::byte>& b) {
  uint64_t v = 0;
  if (b.size() >= sizeof v)
    std::memcpy(&v, b.data(), sizeof v);
  return v;
}

// "counter": the root holds a u64; every request adds one and replies with the new value.
inline ActorType counter_type() {
  ActorType t;
  t.name = "counter";
  t.handler = [](ActorContext& ctx, const Message&) {
    uint64_t v = 0;
    if (ctx.load(ctx.root(), 0, &v) != Status::kOk)
      return ctx.reply({}, Status::kInvalid);
    ++v;
    if (ctx.store(ctx.root(), 0, v) != Status::kOk)
      return ctx.reply({}, Status::kInvalid);
    ctx.reply(bytes_of(v));
  };
  return t;
}

inline void spin_for(std::chrono::nanoseconds d) {
  const auto end = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < end) {
  }
}

}  // namespace wave::rt::test
