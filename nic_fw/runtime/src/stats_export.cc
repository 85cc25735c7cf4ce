#include "runtime/stats_export.h"

#include <endian.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <limits>

#include "wave_abi.h"
#include "wave_stats.h"

namespace wave::rt {
namespace {

uint32_t sat32(double v) {
  if (!(v > 0))
    return 0;
  if (v >= static_cast<double>(std::numeric_limits<uint32_t>::max())) {
    return std::numeric_limits<uint32_t>::max();
  }
  return static_cast<uint32_t>(v);
}

uint16_t sat16(uint64_t v) {
  return static_cast<uint16_t>(std::min<uint64_t>(v, 0xffff));
}
uint32_t sat32u(uint64_t v) {
  return static_cast<uint32_t>(std::min<uint64_t>(v, 0xffffffffu));
}

// The seq word, accessed atomically in the shared area.
std::atomic_ref<uint32_t> seq_word(void* area) {
  auto* h = static_cast<wave_stats_header*>(area);
  return std::atomic_ref<uint32_t>(*reinterpret_cast<uint32_t*>(&h->seq));
}

const char* loc_name(uint8_t l) {
  switch (l) {
    case WAVE_STATS_LOC_NIC:
      return "nic";
    case WAVE_STATS_LOC_MIGRATING_OUT:
      return "migrating";
    case WAVE_STATS_LOC_HOST:
      return "host";
    case WAVE_STATS_LOC_RETURNING:
      return "returning";
  }
  return "?";
}

std::string json_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned char>(c));
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

void export_stats(const RuntimeStats& s, uint32_t nr_cores, void* area, size_t size) {
  if (area == nullptr || size < WAVE_NIC_STATS_SIZE)
    return;
  auto* h = static_cast<wave_stats_header*>(area);
  auto* table = reinterpret_cast<wave_stats_actor*>(h + 1);
  auto seq = seq_word(area);
  const uint32_t begin = seq.load(std::memory_order_relaxed) | 1u;
  seq.store(begin, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);

  wave_stats_header nh = {};
  nh.magic = htole32(WAVE_STATS_MAGIC);
  nh.version = htole16(WAVE_STATS_VERSION);
  nh.actor_size = htole16(sizeof(wave_stats_actor));
  const size_t n = std::min<size_t>(s.actors.size(), WAVE_STATS_MAX_ACTORS);
  nh.nr_actors = htole16(static_cast<uint16_t>(n));
  nh.nr_cores = htole16(sat16(nr_cores));
  nh.fcfs_cores = htole16(sat16(s.sched.fcfs_cores));
  nh.drr_cores = htole16(sat16(s.sched.drr_cores));
  nh.fcfs_queue_depth = htole32(sat32u(s.sched.fcfs_queue_depth));
  nh.nic_mean_latency_ns = htole32(sat32(s.sched.nic_latency_mean_ns));
  nh.requests = htole64(s.requests);
  nh.violations = htole64(s.violations);
  nh.migrations_out = htole32(sat32u(s.migrations_out));
  nh.migrations_in = htole32(sat32u(s.migrations_in));
  nh.evictions = htole32(sat32u(s.evictions));
  nh.quarantines = htole32(sat32u(s.quarantines));
  for (size_t i = 0; i < n; ++i) {
    const ActorStats& a = s.actors[i];
    wave_stats_actor e = {};
    e.id = htole32(a.id);
    e.group = a.sched.group == CoreGroup::kDrr ? WAVE_STATS_GROUP_DRR : WAVE_STATS_GROUP_FCFS;
    e.location = static_cast<uint8_t>(a.sched.location);
    uint16_t flags = 0;
    if (a.sched.quarantined || a.mem.quarantined)
      flags |= WAVE_STATS_F_QUARANTINED;
    if (a.pinned)
      flags |= WAVE_STATS_F_PINNED;
    e.flags = htole16(flags);
    // NUL-padded; a 16-character name fills the field without a terminator.
    std::memcpy(e.name, a.name.data(), std::min(a.name.size(), sizeof e.name));
    e.exec_mean_ns = htole32(sat32(a.sched.exec_mean_ns));
    e.exec_tail_ns = htole32(sat32(a.sched.exec_tail_ns));
    e.latency_mean_ns = htole32(sat32(a.sched.latency_mean_ns));
    e.latency_tail_ns = htole32(sat32(a.sched.latency_tail_ns));
    e.queued = htole32(sat32u(a.sched.queued));
    e.violations = htole32(sat32u(a.mem.violations));
    e.processed = htole64(a.sched.processed);
    e.evictions = htole16(sat16(a.evictions));
    e.migrations = htole16(sat16(a.migrations));
    std::memcpy(&table[i], &e, sizeof e);
  }
  // The header without its seq word (which stays odd until the end).
  nh.seq = htole32(begin);
  std::memcpy(h, &nh, sizeof nh);
  std::atomic_thread_fence(std::memory_order_release);
  seq.store(begin + 1, std::memory_order_release);
}

bool decode_stats(const volatile void* area, size_t size, DecodedStats* out, std::string* err) {
  if (area == nullptr || size < WAVE_NIC_STATS_SIZE) {
    *err = "stats area too small";
    return false;
  }
  alignas(64) unsigned char copy[WAVE_NIC_STATS_SIZE];
  auto* src = const_cast<unsigned char*>(static_cast<const volatile unsigned char*>(area));
  bool consistent = false;
  for (int attempt = 0; attempt < 1000 && !consistent; ++attempt) {
    auto seq = seq_word(src);
    const uint32_t s0 = seq.load(std::memory_order_acquire);
    std::memcpy(copy, src, sizeof copy);
    std::atomic_thread_fence(std::memory_order_acquire);
    const uint32_t s1 = seq.load(std::memory_order_relaxed);
    consistent = (s0 & 1u) == 0 && s0 == s1;
  }
  if (!consistent) {
    *err = "stats area never consistent (NIC writing continuously or stuck)";
    return false;
  }
  wave_stats_header h;
  std::memcpy(&h, copy, sizeof h);
  if (le32toh(h.magic) != WAVE_STATS_MAGIC) {
    *err = "no runtime stats in the control page (bad magic)";
    return false;
  }
  if (le16toh(h.version) != WAVE_STATS_VERSION ||
      le16toh(h.actor_size) != sizeof(wave_stats_actor)) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "stats version %u (actor size %u), this tool knows %u (%zu)",
                  le16toh(h.version), le16toh(h.actor_size), WAVE_STATS_VERSION,
                  sizeof(wave_stats_actor));
    *err = buf;
    return false;
  }
  const uint16_t n = le16toh(h.nr_actors);
  if (n > WAVE_STATS_MAX_ACTORS) {
    *err = "stats claim too many actors";
    return false;
  }
  DecodedStats d;
  d.nr_cores = le16toh(h.nr_cores);
  d.fcfs_cores = le16toh(h.fcfs_cores);
  d.drr_cores = le16toh(h.drr_cores);
  d.fcfs_queue_depth = le32toh(h.fcfs_queue_depth);
  d.nic_mean_latency_ns = le32toh(h.nic_mean_latency_ns);
  d.requests = le64toh(h.requests);
  d.violations = le64toh(h.violations);
  d.migrations_out = le32toh(h.migrations_out);
  d.migrations_in = le32toh(h.migrations_in);
  d.evictions = le32toh(h.evictions);
  d.quarantines = le32toh(h.quarantines);
  for (uint16_t i = 0; i < n; ++i) {
    wave_stats_actor e;
    std::memcpy(&e, copy + sizeof h + i * sizeof e, sizeof e);
    DecodedActor a;
    a.id = le32toh(e.id);
    a.name.assign(e.name, strnlen(e.name, sizeof e.name));
    a.group = e.group == WAVE_STATS_GROUP_DRR ? "drr" : "fcfs";
    a.location = loc_name(e.location);
    const uint16_t flags = le16toh(e.flags);
    a.quarantined = flags & WAVE_STATS_F_QUARANTINED;
    a.pinned = flags & WAVE_STATS_F_PINNED;
    a.exec_mean_ns = le32toh(e.exec_mean_ns);
    a.exec_tail_ns = le32toh(e.exec_tail_ns);
    a.latency_mean_ns = le32toh(e.latency_mean_ns);
    a.latency_tail_ns = le32toh(e.latency_tail_ns);
    a.queued = le32toh(e.queued);
    a.violations = le32toh(e.violations);
    a.processed = le64toh(e.processed);
    a.evictions = le16toh(e.evictions);
    a.migrations = le16toh(e.migrations);
    d.actors.push_back(std::move(a));
  }
  *out = std::move(d);
  return true;
}

std::string stats_table(const DecodedStats& s) {
  std::string out;
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "cores %u (fcfs %u, drr %u)  queue %u  nic mean %.1f us  requests %llu  "
                "violations %llu  migrations %u out / %u in  evictions %u  quarantines %u\n",
                s.nr_cores, s.fcfs_cores, s.drr_cores, s.fcfs_queue_depth,
                s.nic_mean_latency_ns / 1000.0, static_cast<unsigned long long>(s.requests),
                static_cast<unsigned long long>(s.violations), s.migrations_out, s.migrations_in,
                s.evictions, s.quarantines);
  out += buf;
  std::snprintf(buf, sizeof buf, "%5s %-16s %-5s %-9s %10s %10s %10s %10s %7s %12s %5s %5s %5s\n",
                "id", "name", "group", "where", "exec_us", "exec_p_us", "lat_us", "lat_p_us",
                "queued", "processed", "viol", "evict", "migr");
  out += buf;
  for (const DecodedActor& a : s.actors) {
    std::string name = a.name;
    for (char& c : name) {
      if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e)
        c = '?';
    }
    std::snprintf(buf, sizeof buf,
                  "%5u %-16s %-5s %-9s %10.1f %10.1f %10.1f %10.1f %7u %12llu %5u %5u %5u%s%s\n",
                  a.id, name.c_str(), a.group.c_str(), a.location.c_str(), a.exec_mean_ns / 1e3,
                  a.exec_tail_ns / 1e3, a.latency_mean_ns / 1e3, a.latency_tail_ns / 1e3, a.queued,
                  static_cast<unsigned long long>(a.processed), a.violations, a.evictions,
                  a.migrations, a.quarantined ? " QUARANTINED" : "", a.pinned ? " pinned" : "");
    out += buf;
  }
  return out;
}

std::string stats_json(const DecodedStats& s) {
  std::string out;
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "{\"nr_cores\":%u,\"fcfs_cores\":%u,\"drr_cores\":%u,\"fcfs_queue_depth\":%u,"
                "\"nic_mean_latency_ns\":%u,\"requests\":%llu,\"violations\":%llu,"
                "\"migrations_out\":%u,\"migrations_in\":%u,\"evictions\":%u,\"quarantines\":%u,"
                "\"actors\":[",
                s.nr_cores, s.fcfs_cores, s.drr_cores, s.fcfs_queue_depth, s.nic_mean_latency_ns,
                static_cast<unsigned long long>(s.requests),
                static_cast<unsigned long long>(s.violations), s.migrations_out, s.migrations_in,
                s.evictions, s.quarantines);
  out += buf;
  for (size_t i = 0; i < s.actors.size(); ++i) {
    const DecodedActor& a = s.actors[i];
    std::snprintf(buf, sizeof buf,
                  "%s{\"id\":%u,\"name\":\"%s\",\"group\":\"%s\",\"location\":\"%s\","
                  "\"quarantined\":%s,\"pinned\":%s,\"exec_mean_ns\":%u,\"exec_tail_ns\":%u,"
                  "\"latency_mean_ns\":%u,\"latency_tail_ns\":%u,\"queued\":%u,"
                  "\"processed\":%llu,\"violations\":%u,\"evictions\":%u,\"migrations\":%u}",
                  i ? "," : "", a.id, json_escape(a.name).c_str(), a.group.c_str(),
                  a.location.c_str(), a.quarantined ? "true" : "false", a.pinned ? "true" : "false",
                  a.exec_mean_ns, a.exec_tail_ns, a.latency_mean_ns, a.latency_tail_ns, a.queued,
                  static_cast<unsigned long long>(a.processed), a.violations, a.evictions,
                  a.migrations);
    out += buf;
  }
  out += "]}\n";
  return out;
}

}  // namespace wave::rt
