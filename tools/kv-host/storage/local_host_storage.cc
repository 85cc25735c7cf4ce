#include "local_host_storage.h"

#include <cerrno>
#include <cstdio>
#include <future>
#include <utility>

namespace wave::kv {
namespace {

Error Cancelled() {
  return Error{ECANCELED, "host storage stopped"};
}

}  // namespace

Result<std::unique_ptr<LocalHostStorage>> LocalHostStorage::Open(const std::string& dir,
                                                                 Options options) {
  Result<std::unique_ptr<SstStore>> store = SstStore::Open(dir);
  if (!store)
    return store.error();
  return std::make_unique<LocalHostStorage>(std::move(store.value()), options);
}

LocalHostStorage::LocalHostStorage(std::unique_ptr<SstStore> store, Options options)
    : options_(options), store_(std::move(store)), worker_([this] { WorkerLoop(); }) {}

LocalHostStorage::~LocalHostStorage() {
  Stop();
  {
    std::lock_guard lock(mu_);
    exiting_ = true;
  }
  wake_.notify_all();
  worker_.join();
}

void LocalHostStorage::Stop() {
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
  }
  wake_.notify_all();
}

void LocalHostStorage::Post(Call call) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(call));
  }
  wake_.notify_one();
}

void LocalHostStorage::WorkerLoop() {
  std::unique_lock lock(mu_);
  for (;;) {
    wake_.wait(lock, [&] { return !queue_.empty() || exiting_; });
    if (queue_.empty())
      return;  // exiting, and nothing left to complete
    Call call = std::move(queue_.front());
    queue_.pop_front();
    bool stopped = stopped_;
    if (stopped)
      stats_.cancelled++;
    lock.unlock();  // callbacks may call back into the storage
    if (stopped)
      call.fail(Cancelled());
    else
      call.run();
    lock.lock();
  }
}

void LocalHostStorage::Flush(std::vector<std::byte> batch, FlushDone done) {
  auto shared_done = std::make_shared<FlushDone>(std::move(done));
  Post(Call{[this, batch = std::move(batch), shared_done] { RunFlush(batch, *shared_done); },
            [shared_done](const Error& e) { (*shared_done)(e); }});
}

void LocalHostStorage::RunFlush(std::span<const std::byte> batch, const FlushDone& done) {
  Result<DecodedFlushBatch> decoded = DecodeFlushBatch(batch);
  Status s = decoded ? store_->Ingest(*decoded) : store_->IngestBytes(batch);  // counts refusal
  {
    std::lock_guard lock(mu_);
    (s ? stats_.flushes : stats_.flush_errors)++;
  }
  done(s);
  if (s)
    MaybeCompact(decoded->info.shard);
}

void LocalHostStorage::MaybeCompact(uint32_t shard) {
  size_t tables = store_->table_count(shard);
  if (tables <= options_.compact_above_tables || tables < 2)
    return;
  Status s = store_->Compact(shard, tables);
  if (!s)
    std::fprintf(stderr, "kv host storage: compaction of shard %u: %s\n", shard,
                 s.error().message.c_str());
  std::lock_guard lock(mu_);
  (s ? stats_.compactions : stats_.compaction_errors)++;
}

void LocalHostStorage::Lookup(uint32_t shard, std::string key, int64_t now_s, LookupDone done) {
  auto shared_done = std::make_shared<LookupDone>(std::move(done));
  Post(Call{[this, shard, key = std::move(key), now_s, shared_done] {
              Result<std::optional<SstEntry>> r = store_->Lookup(shard, key, now_s);
              {
                std::lock_guard lock(mu_);
                (r ? stats_.lookups : stats_.lookup_errors)++;
              }
              if (!r)
                return (*shared_done)(r.error());
              if (!r->has_value())
                return (*shared_done)(std::optional<StoredValue>());
              SstEntry& e = **r;
              (*shared_done)(std::optional<StoredValue>(
                  StoredValue{std::move(e.value), e.flags, e.exptime, e.cas}));
            },
            [shared_done](const Error& e) { (*shared_done)(e); }});
}

Result<ShardRecovery> LocalHostStorage::Recover(uint32_t shard) {
  auto answer = std::make_shared<std::promise<Result<ShardRecovery>>>();
  std::future<Result<ShardRecovery>> result = answer->get_future();
  Post(Call{
      [this, shard, answer] {
        {
          std::lock_guard lock(mu_);
          stats_.recovers++;
        }
        answer->set_value(ShardRecovery{store_->newest_generation(shard), store_->max_op(shard)});
      },
      [answer](const Error& e) { answer->set_value(e); }});
  return result.get();
}

LocalHostStorageStats LocalHostStorage::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

}  // namespace wave::kv
