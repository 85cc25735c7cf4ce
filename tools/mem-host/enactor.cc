#include "enactor.h"

#include <endian.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "wave/mem_batch.h"

#ifndef SYS_process_madvise
#define SYS_process_madvise 440
#endif
#ifndef MADV_COLD
#define MADV_COLD 20
#endif
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

namespace wave::mem {

const char* OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kOk:
      return "ok";
    case Outcome::kBadAction:
      return "bad_action";
    case Outcome::kMalformed:
      return "malformed";
    case Outcome::kUnknownTarget:
      return "unknown_target";
    case Outcome::kExited:
      return "exited";
    case Outcome::kPidReused:
      return "pid_reused";
    case Outcome::kOutside:
      return "outside_mappings";
    case Outcome::kHole:
      return "crosses_hole";
    case Outcome::kSpecial:
      return "special_mapping";
    case Outcome::kMapsError:
      return "maps_error";
    case Outcome::kSyscallError:
      return "syscall_error";
    case Outcome::kCountOfOutcomes:
      break;
  }
  return "unknown";
}

Enactor::Enactor(const TargetTable* targets, PagedOutSet* paged_out)
    : targets_(targets), paged_out_(paged_out) {}

EnactorCounters Enactor::counters() const {
  std::lock_guard<std::mutex> lock(mu_);
  return counters_;
}

void Enactor::Forget(uint32_t target) {
  std::lock_guard<std::mutex> lock(mu_);
  maps_.erase(target);
}

Outcome Enactor::RefreshMaps(const Target& t, uint64_t batch_seq, MapsCache* c) {
  counters_.maps_reads++;
  Result<std::vector<Mapping>> maps = ReadMaps(t.pid);
  // Whatever the read returned, it only counts if the pid still names the same process
  // after it (a live process's pid cannot be reused).
  switch (CheckLiveness(t)) {
    case Liveness::kAlive:
      break;
    case Liveness::kExited:
      return Outcome::kExited;
    case Liveness::kReused:
      return Outcome::kPidReused;
  }
  if (!maps.ok()) {
    last_errno_.store(maps.error().code, std::memory_order_relaxed);
    return Outcome::kMapsError;
  }
  c->batch_seq = batch_seq;
  c->maps = std::move(maps.value());
  return Outcome::kOk;
}

// The target is still the process the batch named, and its maps are read for this batch
// (cached per batch: read_now says whether they were just read).
Outcome Enactor::CurrentMaps(const wave_mem_decision& d, const Target& t, MapsCache** c,
                             bool* read_now) {
  switch (CheckLiveness(t)) {
    case Liveness::kAlive:
      break;
    case Liveness::kExited:
      return Outcome::kExited;
    case Liveness::kReused:
      return Outcome::kPidReused;
  }
  const uint64_t batch_seq = le64toh(d.batch_seq);
  auto [it, fresh] = maps_.try_emplace(t.id);
  *c = &it->second;
  *read_now = false;
  if (fresh || (*c)->batch_seq != batch_seq) {
    const Outcome o = RefreshMaps(t, batch_seq, *c);
    if (o != Outcome::kOk)
      return o;
    *read_now = true;
  }
  return Outcome::kOk;
}

template <typename Found>
Outcome Enactor::LookUpInMaps(const wave_mem_decision& d, const Target& t, Found&& found) {
  MapsCache* c = nullptr;
  bool read_now = false;
  if (const Outcome o = CurrentMaps(d, t, &c, &read_now); o != Outcome::kOk)
    return o;
  if (found(c->maps) || read_now)
    return Outcome::kOk;
  if (const Outcome o = RefreshMaps(t, c->batch_seq, c); o != Outcome::kOk)
    return o;
  found(c->maps);
  return Outcome::kOk;
}

Outcome Enactor::Check(const wave_mem_decision& d, const Target& t, uint64_t start, uint64_t len) {
  RangeCheck rc = RangeCheck::kOutside;
  const Outcome o = LookUpInMaps(d, t, [&](const std::vector<Mapping>& maps) {
    rc = CheckRange(maps, start, len);
    return rc == RangeCheck::kInside || rc == RangeCheck::kSpecial;
  });
  if (o != Outcome::kOk)
    return o;
  switch (rc) {
    case RangeCheck::kInside:
      return Outcome::kOk;
    case RangeCheck::kOutside:
      return Outcome::kOutside;
    case RangeCheck::kHole:
      return Outcome::kHole;
    case RangeCheck::kSpecial:
      return Outcome::kSpecial;
  }
  return Outcome::kOutside;
}

Outcome Enactor::CheckClipped(const wave_mem_decision& d, const Target& t, uint64_t start,
                              uint64_t len, std::vector<Piece>* pieces) {
  const Outcome o = LookUpInMaps(d, t, [&](const std::vector<Mapping>& maps) {
    *pieces = MappedPieces(maps, start, len, kMaxPieces);
    return !pieces->empty();
  });
  if (o != Outcome::kOk)
    return o;
  return pieces->empty() ? Outcome::kOutside : Outcome::kOk;
}

Outcome Enactor::Enact(const wave_mem_decision& d) {
  std::lock_guard<std::mutex> lock(mu_);
  auto count = [this](Outcome o) {
    counters_.outcomes[static_cast<size_t>(o)]++;
    return o;
  };
  if (d.action < WAVE_MEM_COLD || d.action > WAVE_MEM_ACTION_MAX)
    return count(Outcome::kBadAction);
  if (!ValidDecision(d))
    return count(Outcome::kMalformed);
  const uint32_t target = le32toh(d.target);
  const uint64_t start = le64toh(d.start);
  const uint64_t len = le64toh(d.len);
  std::shared_ptr<const Target> t = targets_ ? targets_->Find(target) : nullptr;
  if (!t)
    return count(Outcome::kUnknownTarget);
  std::vector<Piece> pieces;
  const Outcome checked =
      clip_ ? CheckClipped(d, *t, start, len, &pieces) : Check(d, *t, start, len);
  if (checked != Outcome::kOk)
    return count(checked);
  if (!clip_)
    pieces.push_back({start, start + len});

  int advice = MADV_COLD;
  if (d.action == WAVE_MEM_PAGEOUT)
    advice = MADV_PAGEOUT;
  else if (d.action == WAVE_MEM_WILLNEED)
    advice = MADV_WILLNEED;
  iovec iov[kMaxPieces];
  uint64_t mapped = 0;
  for (size_t i = 0; i < pieces.size(); i++) {
    iov[i].iov_base = reinterpret_cast<void*>(static_cast<uintptr_t>(pieces[i].start));
    iov[i].iov_len = static_cast<size_t>(pieces[i].end - pieces[i].start);
    mapped += pieces[i].end - pieces[i].start;
  }
  if (mapped < len) {
    counters_.clipped++;
    counters_.clipped_bytes += len - mapped;
  }
  const long r = syscall(SYS_process_madvise, t->pidfd, iov,
                         static_cast<unsigned long>(pieces.size()), advice, 0U);
  if (r < 0) {
    last_errno_.store(errno, std::memory_order_relaxed);
    return count(Outcome::kSyscallError);
  }
  const uint64_t done = static_cast<uint64_t>(r);
  switch (d.action) {
    case WAVE_MEM_COLD:
      counters_.bytes_cold += done;
      break;
    case WAVE_MEM_PAGEOUT:
      counters_.bytes_pageout += done;
      if (paged_out_) {
        // process_madvise advises the pieces in order and stops at the first it cannot.
        uint64_t left = done;
        for (const Piece& p : pieces) {
          const uint64_t n = std::min(left, p.end - p.start);
          if (n == 0)
            break;
          paged_out_->Add(target, p.start, p.start + n);
          left -= n;
        }
      }
      break;
    case WAVE_MEM_WILLNEED:
      counters_.bytes_willneed += done;
      if (paged_out_)
        paged_out_->Clear(target, start, start + len);
      break;
  }
  return count(Outcome::kOk);
}

}  // namespace wave::mem
