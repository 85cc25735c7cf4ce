#include "policies/sched/runners/link_agent.h"

#include <endian.h>

#include <array>
#include <cstddef>
#include <cstring>
#include <span>

#include "wave_ring.h"

namespace wave::agents {

uint64_t link_agent_epoch(const wave::NicLink& link) {
  const auto* hdr = reinterpret_cast<const wave_region_hdr*>(link.message_region().base);
  // Volatile: the consumer side wrote it; read it once, as it is now.
  const volatile __le64* epoch = &hdr->consumers[wave::kMessageRing].epoch;
  return le64toh(*epoch);
}

bool link_vm_config(const wave::NicLink& link, uint32_t nr_cpus, VmConfig* out, std::string* why) {
  const wave::QueueRegion& r = link.message_region();
  if (r.size < WAVE_SCHED_VM_CFG_OFF + sizeof(wave_sched_vm_cfg)) {
    *why = "message region too small for the VM table";
    return false;
  }
  wave_sched_vm_cfg raw;
  std::memcpy(&raw, r.base + WAVE_SCHED_VM_CFG_OFF, sizeof(raw));
  return parse_vm_config(raw, nr_cpus, out, why);
}

void LinkDecisionSink::prestage(uint32_t cpu, const wave_decision* d) {
  if (d != nullptr) {
    out_.Prestage(cpu, *d);
    return;
  }
  wave_decision idle{};
  idle.cpu = htole32(cpu);
  idle.agent_epoch = htole64(epoch_);
  out_.Prestage(cpu, idle);
}

uint32_t LinkAgent::poll_once(uint32_t batch) {
  std::array<wave::Message, 64> msgs;
  uint32_t n = link_.messages().Poll(std::span(msgs).first(std::min<size_t>(batch, msgs.size())));
  for (uint32_t i = 0; i < n; i++) {
    const wave::Message& m = msgs[i];
    agent_.handle(m.type, std::as_bytes(std::span(m.raw, std::min<size_t>(m.len, sizeof(m.raw)))));
  }
  agent_.schedule(sink_);
  return n;
}

}  // namespace wave::agents
