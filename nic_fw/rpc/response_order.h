// A connection's responses in request order: each request reserves a slot when it is parsed,
// its response fills the slot whenever it is ready (from any worker), and responses leave
// only from the front, so a client always reads them in the order it sent the requests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>

namespace wave::rpc {

class ResponseOrder {
 public:
  uint64_t Reserve() {
    pending_.emplace_back();
    return next_slot_++;
  }
  // Fills `slot` and appends every response now at the front, in order, to `out`; the count
  // released. False (nothing changed) for a slot that is not waiting: already filled and
  // released, or never reserved.
  bool Fill(uint64_t slot, std::string bytes, std::string* out, uint64_t* released);
  // Responses reserved and not released yet.
  size_t waiting() const { return pending_.size(); }
  bool empty() const { return pending_.empty(); }

 private:
  uint64_t next_slot_ = 0;
  uint64_t base_slot_ = 0;  // slot of pending_.front()
  std::deque<std::optional<std::string>> pending_;
};

}  // namespace wave::rpc
