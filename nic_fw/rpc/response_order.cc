#include "rpc/response_order.h"

namespace wave::rpc {

bool ResponseOrder::Fill(uint64_t slot, std::string bytes, std::string* out, uint64_t* released) {
  *released = 0;
  if (slot < base_slot_ || slot - base_slot_ >= pending_.size() ||
      pending_[slot - base_slot_].has_value())
    return false;
  pending_[slot - base_slot_] = std::move(bytes);
  while (!pending_.empty() && pending_.front().has_value()) {
    if (out != nullptr)
      *out += *pending_.front();
    pending_.pop_front();
    ++base_slot_;
    ++*released;
  }
  return true;
}

}  // namespace wave::rpc
