#include "control_plane/echo_service.h"

#include <algorithm>
#include <atomic>
#include <cstring>

#include "base/shared_word.h"

namespace wave::nic {

void EchoService::Attach() {
  link_.OnQueueKind(WAVE_QKIND_RAW, WAVE_DIR_HOST_TO_NIC,
                    [this](const Queue& src, uint32_t doorbell) { Handle(src, doorbell); });
}

int EchoService::Handle(const Queue& src, uint32_t doorbell) {
  if (doorbell != WAVE_ECHO_DOORBELL || src.desc.kind != WAVE_QKIND_RAW ||
      src.desc.dir != WAVE_DIR_HOST_TO_NIC || src.region.size() < sizeof(wave_echo_cmd)) {
    return -1;
  }
  // One copy of the command; every check below looks at the copy only, so the host cannot
  // change a field between its check and its use.
  wave_echo_cmd cmd;
  std::memcpy(&cmd, src.region.data(), sizeof(cmd));
  std::atomic_thread_fence(std::memory_order_acquire);
  const uint32_t magic = LeToHost(cmd.magic);
  const uint32_t dst_id = LeToHost(cmd.dst_queue);
  const uint64_t len = LeToHost(cmd.len);
  const uint32_t seq = LeToHost(cmd.seq);

  LinkStats& stats = link_.stats();
  const Queue* dst = link_.queues().Find(dst_id);
  if (dst == nullptr || dst->desc.kind != WAVE_QKIND_RAW || dst->desc.dir != WAVE_DIR_NIC_TO_HOST ||
      dst->region.size() < sizeof(wave_echo_reply)) {
    stats.Add(&wave_link_stats::echo_bad_dst);
    return -1;
  }

  uint32_t status = WAVE_ECHO_OK;
  if (magic != WAVE_ECHO_CMD_MAGIC) {
    status = WAVE_ECHO_EBADCMD;
  } else if (len > src.region.size() - sizeof(wave_echo_cmd) ||
             len > dst->region.size() - sizeof(wave_echo_reply)) {
    status = WAVE_ECHO_EBADLEN;
  }
  const uint64_t reply_len = status == WAVE_ECHO_OK ? len : 0;

  auto* reply = reinterpret_cast<wave_echo_reply*>(dst->region.data());
  // Retract any earlier reply first, so the host never pairs the new payload with an old
  // magic.
  StoreLe(reply->magic, 0u);
  std::atomic_thread_fence(std::memory_order_release);

  const std::byte* in = src.region.data() + sizeof(wave_echo_cmd);
  std::byte* out = dst->region.data() + sizeof(wave_echo_reply);
  std::byte chunk[512];
  for (uint64_t done = 0; done < reply_len;) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(sizeof(chunk), reply_len - done));
    std::memcpy(chunk, in + done, n);
    for (size_t i = 0; i < n; ++i) {
      chunk[i] = ~chunk[i];
    }
    std::memcpy(out + done, chunk, n);
    done += n;
  }
  StoreLe(reply->status, status);
  StoreLe(reply->len, reply_len);
  StoreLe(reply->seq, seq);
  PublishLe(reply->magic, WAVE_ECHO_REPLY_MAGIC);

  switch (status) {
    case WAVE_ECHO_OK:
      stats.Add(&wave_link_stats::echo_ok);
      break;
    case WAVE_ECHO_EBADCMD:
      stats.Add(&wave_link_stats::echo_bad_cmd);
      break;
    default:
      stats.Add(&wave_link_stats::echo_bad_len);
      break;
  }
  link_.RaiseIrq(dst->desc.vector);
  return static_cast<int>(status);
}

}  // namespace wave::nic
