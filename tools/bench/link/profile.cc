#include "profile.h"

#include <unistd.h>

#include <cstdio>
#include <string>

#include "queues.h"

namespace wave::bench {
namespace {

// Half the ring per fill: every position of the ring is used, the queue never reports full.
constexpr uint32_t kFill = kQueueSlots / 2;

template <typename Q>
[[gnu::noinline]] uint64_t ProfilePush(Q& q, uint32_t batch, uint64_t first) {
  Msg64 msgs[64] = {};
  uint64_t next = first;
  while (next < first + kFill) {
    for (uint32_t i = 0; i < batch; i++)
      msgs[i].seq = next + i;
    next += q.Push(msgs, batch);
  }
  return next;
}

template <typename Q>
[[gnu::noinline]] bool ProfilePop(Q& q, uint32_t batch, uint64_t first) {
  Msg64 buf[64];
  uint64_t next = first;
  bool ok = true;
  while (next < first + kFill) {
    const uint32_t n = q.Pop(buf, batch);
    if (n == 0)
      return false;
    for (uint32_t i = 0; i < n; i++)
      ok &= buf[i].seq == next + i;
    next += n;
  }
  return ok;
}

template <typename Q>
bool Profile(Q& q, uint32_t batch, uint64_t messages) {
  bool ok = true;
  for (uint64_t done = 0; done < messages; done += kFill) {
    ProfilePush(q, batch, done);
    ok &= ProfilePop(q, batch, done);
  }
  return ok;
}

}  // namespace

bool RunProfile(uint32_t batch, uint64_t messages) {
  if (batch == 0 || batch > 64 || kFill % batch != 0) {
    fprintf(stderr, "link_bench: --profile needs a batch that divides %u, at most 64\n", kFill);
    return false;
  }
  auto wq = WaveQueue::Create("bench-link-prof-" + std::to_string(::getpid()));
  auto dq = DpdkQueue::Create();
  BoostQueue bq;
  if (!wq || !dq)
    return false;
  const bool ok = Profile(*wq, batch, messages) && Profile(bq, batch, messages) &&
                  Profile(*dq, batch, messages);
  printf("profile: %llu messages per queue, batch %u: %s\n",
         static_cast<unsigned long long>(messages), batch, ok ? "intact" : "BROKEN");
  return ok;
}

}  // namespace wave::bench
