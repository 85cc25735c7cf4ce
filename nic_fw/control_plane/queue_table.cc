#include "control_plane/queue_table.h"

#include <atomic>

#include "base/shared_word.h"

namespace wave::nic {
namespace {

bool PageAligned(uint64_t v) {
  return (v % WAVE_PAGE_SIZE) == 0;
}

// Copies desc `id`, or returns false if the host changed it while it was being copied.
bool CopyDesc(const wave_queue_desc& shared, QueueDesc* out) {
  // wave.ko writes the state word last on create, so acquire on it orders the other fields.
  out->state = ConsumeLe(shared.state);
  out->generation = LoadLe(shared.generation);
  if (out->state == WAVE_QSTATE_FREE) {
    return true;
  }
  out->offset = LoadLe(shared.offset);
  out->size = LoadLe(shared.size);
  out->dir = LoadLe(shared.dir);
  out->cache_mode = LoadLe(shared.cache_mode);
  out->kind = LoadLe(shared.kind);
  out->vector = LoadLe(shared.vector);
  // Destroy writes the state word first: if state and generation are unchanged after the
  // copy, no destroy/create ran in between and the copy is one consistent desc.
  std::atomic_thread_fence(std::memory_order_acquire);
  return LoadLe(shared.state) == out->state && LoadLe(shared.generation) == out->generation;
}

bool Overlaps(const QueueDesc& a, const QueueDesc& b) {
  // Both were range-checked, so neither end overflows.
  return a.offset < b.offset + b.size && b.offset < a.offset + a.size;
}

}  // namespace

const char* DescErrorName(DescError error) {
  switch (error) {
    case DescError::kOk:
      return "ok";
    case DescError::kBadState:
      return "bad state";
    case DescError::kMisaligned:
      return "misaligned";
    case DescError::kOutsideArea:
      return "outside the queue area";
    case DescError::kBadDir:
      return "bad direction";
    case DescError::kBadKind:
      return "bad kind";
    case DescError::kBadCacheMode:
      return "bad cache mode";
    case DescError::kBadVector:
      return "bad vector";
    case DescError::kOverlap:
      return "overlaps another queue";
  }
  return "?";
}

DescError CheckDesc(const QueueDesc& desc, uint64_t bar_size, uint32_t nr_vectors) {
  if (desc.state != WAVE_QSTATE_ACTIVE) {
    return DescError::kBadState;
  }
  if (desc.size == 0 || !PageAligned(desc.offset) || !PageAligned(desc.size)) {
    return DescError::kMisaligned;
  }
  // Written so that no sum can wrap: size <= bar_size, then offset <= bar_size - size.
  if (desc.offset < WAVE_BAR_QUEUE_AREA_OFF || desc.size > bar_size ||
      desc.offset > bar_size - desc.size) {
    return DescError::kOutsideArea;
  }
  if (desc.dir != WAVE_DIR_HOST_TO_NIC && desc.dir != WAVE_DIR_NIC_TO_HOST) {
    return DescError::kBadDir;
  }
  if (desc.kind > WAVE_QKIND_MAX) {
    return DescError::kBadKind;
  }
  // wave.ko resolves WAVE_CACHE_DEFAULT before it writes the desc, so DEFAULT is invalid here.
  if (desc.cache_mode < WAVE_CACHE_UC || desc.cache_mode > WAVE_CACHE_WB) {
    return DescError::kBadCacheMode;
  }
  if (desc.vector >= nr_vectors || desc.vector >= WAVE_MAX_VECTORS) {
    return DescError::kBadVector;
  }
  return DescError::kOk;
}

ScanResult QueueTable::Scan(std::span<std::byte> bar, uint32_t nr_vectors) {
  ScanResult result;
  active_.clear();
  if (bar.size() < WAVE_BAR_MIN_SIZE) {
    return result;
  }
  const auto* page = reinterpret_cast<const wave_control_page*>(bar.data() + WAVE_BAR_CONTROL_OFF);
  generation_ = ConsumeLe(page->queue_table_gen);

  QueueDesc descs[WAVE_MAX_QUEUES];
  for (uint32_t id = 0; id < WAVE_MAX_QUEUES; ++id) {
    errors_[id] = DescError::kOk;
    if (!CopyDesc(page->queues[id], &descs[id])) {
      // The host is rewriting this entry; it rings the admin vector when done, and the next
      // scan sees the finished desc.
      descs[id].state = WAVE_QSTATE_FREE;
      ++result.changing;
      continue;
    }
    if (descs[id].state == WAVE_QSTATE_FREE) {
      continue;
    }
    errors_[id] = CheckDesc(descs[id], bar.size(), nr_vectors);
  }
  // Two queues that share bytes would let the host steer one queue's traffic into another's:
  // neither is trusted.
  for (uint32_t a = 0; a < WAVE_MAX_QUEUES; ++a) {
    if (descs[a].state == WAVE_QSTATE_FREE || errors_[a] == DescError::kBadState ||
        (errors_[a] != DescError::kOk && errors_[a] != DescError::kOverlap)) {
      continue;
    }
    for (uint32_t b = a + 1; b < WAVE_MAX_QUEUES; ++b) {
      if (descs[b].state == WAVE_QSTATE_FREE ||
          (errors_[b] != DescError::kOk && errors_[b] != DescError::kOverlap)) {
        continue;
      }
      if (Overlaps(descs[a], descs[b])) {
        errors_[a] = DescError::kOverlap;
        errors_[b] = DescError::kOverlap;
      }
    }
  }
  for (uint32_t id = 0; id < WAVE_MAX_QUEUES; ++id) {
    if (descs[id].state == WAVE_QSTATE_FREE) {
      continue;
    }
    if (errors_[id] != DescError::kOk) {
      ++result.bad;
      continue;
    }
    Queue q;
    q.id = id;
    q.desc = descs[id];
    q.region = bar.subspan(descs[id].offset, descs[id].size);
    active_.push_back(q);
    ++result.active;
  }
  return result;
}

const Queue* QueueTable::Find(uint32_t id) const {
  for (const Queue& q : active_) {
    if (q.id == id) {
      return &q;
    }
  }
  return nullptr;
}

}  // namespace wave::nic
