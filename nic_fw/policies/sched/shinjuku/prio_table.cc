#include "policies/sched/shinjuku/prio_table.h"

#include <endian.h>

#include <atomic>

namespace wave::agents {
namespace {

// The table is shared with other processes: every access to it is atomic, so a writer racing
// with the agent can give it an inconsistent entry (caught by the seqlock), never undefined
// behaviour in the agent.
template <typename T>
T load(const T* p, std::memory_order mo = std::memory_order_relaxed) {
  return std::atomic_ref<T>(*const_cast<T*>(p)).load(mo);
}
template <typename T, typename V>
void store(T* p, V v, std::memory_order mo = std::memory_order_relaxed) {
  std::atomic_ref<T>(*p).store(static_cast<T>(v), mo);
}

const wave_prio_table_hdr* header(const void* base) {
  return static_cast<const wave_prio_table_hdr*>(base);
}
const wave_prio_entry* entries(const void* base) {
  return reinterpret_cast<const wave_prio_entry*>(static_cast<const std::byte*>(base) +
                                                  sizeof(wave_prio_table_hdr));
}

bool header_valid(const void* base, size_t size) {
  if (base == nullptr || size < sizeof(wave_prio_table_hdr) ||
      reinterpret_cast<uintptr_t>(base) % alignof(wave_prio_table_hdr) != 0) {
    return false;
  }
  const wave_prio_table_hdr* h = header(base);
  uint32_t n = le32toh(load(&h->nr_entries));
  return le32toh(load(&h->magic)) == WAVE_PRIO_TABLE_MAGIC &&
         le16toh(load(&h->version)) == WAVE_PRIO_TABLE_VERSION &&
         le16toh(load(&h->entry_size)) == sizeof(wave_prio_entry) &&
         le32toh(load(&h->nr_classes)) == WAVE_SCHED_QOS_CLASSES &&
         n <= WAVE_PRIO_TABLE_MAX_ENTRIES &&
         sizeof(wave_prio_table_hdr) + uint64_t{n} * sizeof(wave_prio_entry) <= size;
}

}  // namespace

bool PrioTableReader::valid() const {
  return header_valid(base_, size_);
}

uint64_t PrioTableReader::gen() const {
  if (base_ == nullptr || size_ < sizeof(wave_prio_table_hdr))
    return 0;
  return le64toh(load(&header(base_)->gen, std::memory_order_acquire));
}

uint32_t PrioTableReader::nr_entries() const {
  return le32toh(load(&header(base_)->nr_entries));
}

bool PrioTableReader::scan(const std::function<void(uint32_t, uint32_t)>& fn) {
  if (!valid()) {
    stats_.bad_header++;
    return false;
  }
  stats_.scans++;
  // nr_entries is read once: a writer changing it later cannot push us past the mapping.
  uint32_t n = nr_entries();
  const wave_prio_entry* e = entries(base_);
  for (uint32_t k = 0; k < n; k++) {
    uint32_t s1 = le32toh(load(&e[k].seq, std::memory_order_acquire));
    if (s1 & 1) {
      stats_.torn++;
      continue;
    }
    uint32_t tid = le32toh(load(&e[k].tid));
    uint32_t qos = le32toh(load(&e[k].qos));
    uint32_t flags = le32toh(load(&e[k].flags));
    std::atomic_thread_fence(std::memory_order_acquire);
    if (le32toh(load(&e[k].seq)) != s1) {
      stats_.torn++;
      continue;
    }
    if (tid == 0)
      continue;
    if (qos >= WAVE_SCHED_QOS_CLASSES || flags != 0) {
      stats_.bad_entries++;
      continue;
    }
    stats_.entries++;
    fn(tid, qos);
  }
  return true;
}

bool PrioTableWriter::format(void* base, size_t size, uint32_t nr_entries) {
  if (base == nullptr || nr_entries > WAVE_PRIO_TABLE_MAX_ENTRIES ||
      sizeof(wave_prio_table_hdr) + uint64_t{nr_entries} * sizeof(wave_prio_entry) > size) {
    return false;
  }
  auto* h = static_cast<wave_prio_table_hdr*>(base);
  auto* e = reinterpret_cast<wave_prio_entry*>(h + 1);
  for (uint32_t k = 0; k < nr_entries; k++) {
    store(&e[k].tid, htole32(0));
    store(&e[k].qos, htole32(0));
    store(&e[k].flags, htole32(0));
    store(&e[k].seq, htole32(0));
  }
  store(&h->version, htole16(WAVE_PRIO_TABLE_VERSION));
  store(&h->entry_size, htole16(static_cast<uint16_t>(sizeof(wave_prio_entry))));
  store(&h->nr_entries, htole32(nr_entries));
  store(&h->nr_classes, htole32(WAVE_SCHED_QOS_CLASSES));
  store(&h->gen, htole64(0));
  // The magic last: a reader sees a complete header or an invalid one.
  store(&h->magic, htole32(WAVE_PRIO_TABLE_MAGIC), std::memory_order_release);
  return true;
}

bool PrioTableWriter::set(uint32_t index, uint32_t tid, uint32_t qos) {
  if (!header_valid(base_, size_) || qos >= WAVE_SCHED_QOS_CLASSES)
    return false;
  auto* h = static_cast<wave_prio_table_hdr*>(base_);
  if (index >= le32toh(load(&h->nr_entries)))
    return false;
  auto* e = reinterpret_cast<wave_prio_entry*>(h + 1) + index;
  // Claim the entry: even -> odd. Fails if another writer holds it.
  std::atomic_ref<__le32> seq(e->seq);
  __le32 s = seq.load(std::memory_order_relaxed);
  if ((le32toh(s) & 1) ||
      !seq.compare_exchange_strong(s, htole32(le32toh(s) + 1), std::memory_order_acquire)) {
    return false;
  }
  std::atomic_thread_fence(std::memory_order_release);
  store(&e->tid, htole32(tid));
  store(&e->qos, htole32(qos));
  store(&e->flags, htole32(0));
  seq.store(htole32(le32toh(s) + 2), std::memory_order_release);
  std::atomic_ref<__le64>(h->gen).fetch_add(1, std::memory_order_release);
  return true;
}

}  // namespace wave::agents
