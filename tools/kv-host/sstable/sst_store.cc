#include "sst_store.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <map>

namespace wave::kv {

std::string SstStore::TablePath(uint32_t shard, uint64_t gen_lo, uint64_t gen_hi) const {
  char name[96];
  std::snprintf(name, sizeof(name), "s%" PRIu32 "-g%" PRIu64 "-%" PRIu64 ".sst", shard, gen_lo,
                gen_hi);
  return dir_ + "/" + name;
}

void SstStore::Insert(std::unique_ptr<SstReader> table) {
  stats_.tables++;
  stats_.entries += table->entry_count();
  stats_.bytes += table->file_bytes();
  auto& list = shards_[table->meta().shard];
  list.push_back(std::move(table));
  std::sort(list.begin(), list.end(), [](const auto& a, const auto& b) {
    if (a->meta().generation_hi != b->meta().generation_hi)
      return a->meta().generation_hi > b->meta().generation_hi;
    return a->meta().generation_lo < b->meta().generation_lo;  // a merged table first
  });
}

void SstStore::Forget(const SstReader& table) {
  stats_.tables--;
  stats_.entries -= table.entry_count();
  stats_.bytes -= table.file_bytes();
}

void SstStore::DeleteTable(const SstReader& table) {
  Forget(table);
  if (unlink(table.path().c_str()) == 0)
    stats_.deleted_replaced_files++;
}

// An ingest of a replacing batch that crashed after its table was renamed into place but
// before it unlinked every older table leaves tables the NIC declared dead (a flush_all): they
// must not be served again.
void SstStore::DropReplaced() {
  for (auto& [shard, list] : shards_) {
    uint64_t dead_below = 0;  // generations below this one are dead
    for (const auto& t : list) {
      if (t->meta().replaces_older)
        dead_below = std::max(dead_below, t->meta().generation_lo);
    }
    std::vector<std::unique_ptr<SstReader>> kept;
    for (auto& t : list) {
      if (t->meta().generation_hi < dead_below)
        DeleteTable(*t);
      else
        kept.push_back(std::move(t));
    }
    list = std::move(kept);
  }
}

// A compaction that crashed after its merged table was renamed into place but before it
// unlinked every input leaves inputs whose generations the merged table covers. They must go:
// the merge dropped tombstones, so an input left behind could resurrect a deleted key.
void SstStore::DropSuperseded() {
  for (auto& [shard, list] : shards_) {
    std::vector<bool> covered(list.size(), false);  // decided before any table moves
    for (size_t i = 0; i < list.size(); ++i) {
      const SstMeta& a = list[i]->meta();
      for (size_t j = 0; j < list.size(); ++j) {
        const SstMeta& b = list[j]->meta();
        if (j != i && b.generation_lo <= a.generation_lo && a.generation_hi <= b.generation_hi &&
            (b.generation_lo != a.generation_lo || b.generation_hi != a.generation_hi))
          covered[i] = true;
      }
    }
    std::vector<std::unique_ptr<SstReader>> kept;
    for (size_t i = 0; i < list.size(); ++i) {
      if (!covered[i]) {
        kept.push_back(std::move(list[i]));
        continue;
      }
      Forget(*list[i]);
      if (unlink(list[i]->path().c_str()) == 0)
        stats_.deleted_superseded_files++;
    }
    list = std::move(kept);
  }
}

Status SstStore::Compact(uint32_t shard, size_t count) {
  std::lock_guard lock(mu_);
  auto it = shards_.find(shard);
  if (count < 2 || it == shards_.end() || it->second.size() < count)
    return Error{EINVAL, "compaction of " + std::to_string(count) + " tables of shard " +
                             std::to_string(shard) + ": not that many"};
  auto& list = it->second;
  std::map<std::string, SstEntry> merged;
  SstMeta meta{shard, UINT64_MAX, 0, 0, 0, 0};
  for (size_t i = list.size() - count; i < list.size(); ++i) {  // newest of the inputs first
    const SstMeta& m = list[i]->meta();
    if (meta.replaces_older)
      break;  // Ingest and Open drop such tables; should one be left, it is dead, not merged
    meta.generation_lo = std::min(meta.generation_lo, m.generation_lo);
    meta.generation_hi = std::max(meta.generation_hi, m.generation_hi);
    if (m.first_op != 0)
      meta.first_op = meta.first_op == 0 ? m.first_op : std::min(meta.first_op, m.first_op);
    meta.last_op = std::max(meta.last_op, m.last_op);
    Result<std::vector<SstEntry>> all = list[i]->ReadAll();
    if (!all)
      return all.error();
    for (SstEntry& e : *all)
      merged.try_emplace(e.key, std::move(e));  // an entry already there is newer
    meta.replaces_older = m.replaces_older;
  }
  std::vector<FlushEntryView> views;
  for (const auto& [key, e] : merged) {
    if (!e.tombstone)
      views.push_back({e.key, e.value, e.flags, e.exptime, e.cas, false});
  }
  std::string path = TablePath(shard, meta.generation_lo, meta.generation_hi);
  if (Status s = WriteSst(path, meta, views); !s)
    return s;
  Result<std::unique_ptr<SstReader>> t = SstReader::Open(path);
  if (!t)
    return t.error();
  for (size_t i = list.size() - count; i < list.size(); ++i) {
    Forget(*list[i]);
    unlink(list[i]->path().c_str());
  }
  list.resize(list.size() - count);
  Insert(std::move(t.value()));
  stats_.compactions++;
  return {};
}

Result<std::unique_ptr<SstStore>> SstStore::Open(const std::string& dir) {
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
    return ErrnoError("mkdir " + dir, errno);
  DIR* d = opendir(dir.c_str());
  if (d == nullptr)
    return ErrnoError("opendir " + dir, errno);
  std::unique_ptr<SstStore> store(new SstStore(dir));
  std::vector<std::string> names;
  while (dirent* e = readdir(d))
    names.emplace_back(e->d_name);
  closedir(d);
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    auto ends_with = [&](std::string_view s) {
      return name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0;
    };
    std::string path = dir + "/" + name;
    if (ends_with(".tmp")) {
      if (unlink(path.c_str()) == 0)
        store->stats_.deleted_tmp_files++;
      continue;
    }
    if (!ends_with(".sst"))
      continue;
    Result<std::unique_ptr<SstReader>> t = SstReader::Open(path);
    if (!t) {
      // Kept on disk for a person to look at; the store serves without it.
      store->stats_.refused_files++;
      std::fprintf(stderr, "sstable refused: %s\n", t.error().message.c_str());
      continue;
    }
    const SstMeta& m = (*t)->meta();
    if (store->TablePath(m.shard, m.generation_lo, m.generation_hi) != path) {
      store->stats_.refused_files++;
      std::fprintf(stderr, "sstable refused: %s: name disagrees with its footer\n", path.c_str());
      continue;
    }
    store->Insert(std::move(t.value()));
  }
  store->DropReplaced();
  store->DropSuperseded();
  return store;
}

Status SstStore::IngestBytes(std::span<const std::byte> bytes) {
  Result<DecodedFlushBatch> batch = DecodeFlushBatch(bytes);
  if (!batch) {
    std::lock_guard lock(mu_);
    stats_.refused_batches++;
    return batch.error();
  }
  return Ingest(*batch);
}

Status SstStore::Ingest(const DecodedFlushBatch& batch) {
  std::lock_guard lock(mu_);
  const uint32_t shard = batch.info.shard;
  const uint64_t gen = batch.info.generation;
  auto refuse = [&](Error e) {
    stats_.refused_batches++;
    return Status(std::move(e));
  };
  if (gen == 0)
    return refuse(Error{EINVAL, "flush batch of generation 0 (generations start at 1)"});
  auto& list = shards_[shard];
  for (const auto& t : list) {
    const SstMeta& m = t->meta();
    if (gen < m.generation_lo || gen > m.generation_hi)
      continue;
    if (m.generation_lo == m.generation_hi && m.batch_checksum != batch.checksum)
      return refuse(Error{EEXIST, "shard " + std::to_string(shard) + " generation " +
                                      std::to_string(gen) + " already held with other contents"});
    stats_.duplicate_batches++;
    return {};
  }
  if (!list.empty() && gen < list.front()->meta().generation_hi)
    return refuse(Error{ESTALE, "shard " + std::to_string(shard) + " generation " +
                                    std::to_string(gen) + " is older than the newest held, " +
                                    std::to_string(list.front()->meta().generation_hi)});
  SstMeta meta{shard,
               gen,
               gen,
               batch.info.first_op,
               batch.info.last_op,
               batch.checksum,
               batch.info.replaces_older};
  if (meta.replaces_older) {
    for (const auto& t : list) {
      const SstMeta& m = t->meta();
      if (m.first_op != 0)
        meta.first_op = meta.first_op == 0 ? m.first_op : std::min(meta.first_op, m.first_op);
      meta.last_op = std::max(meta.last_op, m.last_op);
    }
  }
  std::string path = TablePath(shard, gen, gen);
  if (Status s = WriteSst(path, meta, batch.entries); !s)
    return refuse(s.error());
  Result<std::unique_ptr<SstReader>> t = SstReader::Open(path);
  if (!t)
    return refuse(t.error());
  if (meta.replaces_older) {
    // The new table is durable (WriteSst synced it and its directory): the older ones go.
    // Every table held is older: an equal generation was answered above as a resend.
    for (const auto& old : list)
      DeleteTable(*old);
    list.clear();
    stats_.replacing_batches++;
  }
  Insert(std::move(t.value()));
  stats_.ingested_batches++;
  return {};
}

Result<std::optional<SstEntry>> SstStore::Lookup(uint32_t shard, std::string_view key,
                                                 int64_t now_s) {
  std::lock_guard lock(mu_);
  stats_.lookups++;
  auto it = shards_.find(shard);
  if (it == shards_.end())
    return std::optional<SstEntry>();
  for (const auto& t : it->second) {
    Result<SstReader::Found> f = t->Lookup(key);
    if (!f)
      return f.error();
    if (!f->found)
      continue;
    const SstEntry& e = f->entry;
    bool expired = e.exptime != 0 && now_s >= 0 && e.exptime <= static_cast<uint64_t>(now_s);
    if (e.tombstone || expired)
      return std::optional<SstEntry>();  // the newest version decides; older ones are hidden
    stats_.hits++;
    return std::optional<SstEntry>(std::move(f->entry));
  }
  return std::optional<SstEntry>();
}

uint64_t SstStore::max_op(uint32_t shard) const {
  std::lock_guard lock(mu_);
  uint64_t op = 0;
  auto it = shards_.find(shard);
  if (it != shards_.end()) {
    for (const auto& t : it->second)
      op = std::max(op, t->meta().last_op);
  }
  return op;
}

uint64_t SstStore::newest_generation(uint32_t shard) const {
  std::lock_guard lock(mu_);
  auto it = shards_.find(shard);
  return it == shards_.end() || it->second.empty() ? 0 : it->second.front()->meta().generation_hi;
}

size_t SstStore::table_count(uint32_t shard) const {
  std::lock_guard lock(mu_);
  auto it = shards_.find(shard);
  return it == shards_.end() ? 0 : it->second.size();
}

SstStoreStats SstStore::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

}  // namespace wave::kv
