#include "paged_out.h"

#include <algorithm>
#include <vector>

namespace wave::mem {

void PagedOutSet::InsertLocked(uint32_t target, uint64_t start, uint64_t end) {
  const uint64_t gen = ++gen_;
  ranges_[{target, start}] = Entry{end, gen};
  order_.push_back({{target, start}, gen});
  auto live = [this](const std::pair<Key, uint64_t>& o) {
    auto it = ranges_.find(o.first);
    return it != ranges_.end() && it->second.gen == o.second;
  };
  while (ranges_.size() > max_ && !order_.empty()) {
    const auto o = order_.front();
    order_.pop_front();
    if (live(o)) {
      ranges_.erase(o.first);
      dropped_++;
    }
  }
  // Stale entries (merged or cleared records) are skipped when they reach the front; keep
  // the queue within a constant factor of the live records.
  if (order_.size() > 2 * ranges_.size() + 64) {
    std::deque<std::pair<Key, uint64_t>> fresh;
    for (const auto& o : order_) {
      if (live(o))
        fresh.push_back(o);
    }
    order_.swap(fresh);
  }
}

void PagedOutSet::Add(uint32_t target, uint64_t start, uint64_t end) {
  if (end <= start)
    return;
  std::lock_guard<std::mutex> lock(mu_);
  // Merge with every record of target that overlaps or touches [start, end).
  auto it = ranges_.lower_bound({target, 0});
  while (it != ranges_.end() && it->first.first == target && it->first.second <= end) {
    if (it->second.end >= start) {
      start = std::min(start, it->first.second);
      end = std::max(end, it->second.end);
      it = ranges_.erase(it);
    } else {
      ++it;
    }
  }
  InsertLocked(target, start, end);
  changes_++;
}

void PagedOutSet::Clear(uint32_t target, uint64_t start, uint64_t end) {
  if (end <= start)
    return;
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::pair<uint64_t, uint64_t>> keep;
  auto it = ranges_.lower_bound({target, 0});
  while (it != ranges_.end() && it->first.first == target && it->first.second < end) {
    const uint64_t s = it->first.second, e = it->second.end;
    if (e <= start) {
      ++it;
      continue;
    }
    it = ranges_.erase(it);
    changes_++;
    if (s < start)
      keep.push_back({s, start});
    if (e > end)
      keep.push_back({end, e});
  }
  for (const auto& [s, e] : keep)
    InsertLocked(target, s, e);
}

void PagedOutSet::ClearTarget(uint32_t target) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = ranges_.lower_bound({target, 0});
  while (it != ranges_.end() && it->first.first == target) {
    it = ranges_.erase(it);
    changes_++;
  }
}

std::vector<std::pair<uint64_t, uint64_t>> PagedOutSet::Ranges(uint32_t target) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::pair<uint64_t, uint64_t>> out;
  for (auto it = ranges_.lower_bound({target, 0}); it != ranges_.end() && it->first.first == target;
       ++it)
    out.push_back({it->first.second, it->second.end});
  return out;
}

uint64_t PagedOutSet::changes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return changes_;
}

bool PagedOutSet::Overlaps(uint32_t target, uint64_t start, uint64_t end) const {
  std::lock_guard<std::mutex> lock(mu_);
  // Records of a target do not overlap each other: only the last one starting before end
  // can reach into [start, end).
  auto it = ranges_.lower_bound({target, end});
  if (it == ranges_.begin())
    return false;
  --it;
  return it->first.first == target && it->second.end > start && it->first.second < end;
}

size_t PagedOutSet::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return ranges_.size();
}

uint64_t PagedOutSet::dropped() const {
  std::lock_guard<std::mutex> lock(mu_);
  return dropped_;
}

}  // namespace wave::mem
