// wave-nicd's command line.
#ifndef WAVE_NIC_FW_NICD_OPTIONS_H_
#define WAVE_NIC_FW_NICD_OPTIONS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "base/program.h"

namespace wave::nicd {

struct Options {
  std::string socket_path;  // emulated SmartNIC: serve ivshmem-doorbell here
  std::string shm_path;     // the BAR file; empty: /dev/shm/wave-nic-<pid>
  std::string device_path;  // on-host mode: wave.ko's loopback /dev/waveN
  std::string attach_path;  // firmware of a wave-nic-function: its firmware socket
  std::string pidfile;
  uint64_t bar_size = 16ull << 20;
  uint32_t vectors = 8;
  uint32_t heartbeat_us = 1000;
  // The actor runtime (nic_fw/runtime): started when either is given.
  std::string runtime_config;                 // --runtime-config FILE
  std::vector<std::string> runtime_settings;  // --runtime KEY=VALUE, repeatable
  std::string runtime_host;  // --runtime-host PATH|device:SPEC: host runtime's link
  // --sched-agent actor|handoff|thread|off (on = actor): the scheduling agent
  // (sched_service.h) as an actor of the runtime (which then starts even without runtime
  // flags) that the link's poller runs itself (actor) or hands each batch to a runtime core
  // for (handoff), or in its own thread (thread).
  bool sched_agent = true;
  bool sched_thread = false;
  bool sched_handoff = false;
  // --sched-irq on|off: interrupt the host after publishing decisions (decision_irq.h).
  bool sched_irq = true;
  // --mem-agent on|off: the memory agent (mem_service.h) on the host's memory link.
  bool mem_agent = true;
  // --kv ADDR:PORT[,udp=PORT][,shards=N][,mem=BYTES]: the key-value store (nic_fw/apps/kv) on
  // the NIC's network port; starts the runtime too.
  std::string kv_spec;
  // --kv-replicas INDEX@ADDR:PORT,ADDR:PORT,ADDR:PORT and --kv-log PATH: the store replicated
  // across that many wave-nicd instances (this one is INDEX), its log in PATH.
  std::string kv_replicas;
  std::string kv_log;
};

using nic::ParseResult;
using nic::ParseSize;

// Parses argv (flags as "--name value" or "--name=value"). On kError, `error` says why.
ParseResult ParseOptions(int argc, const char* const* argv, Options* out, std::string* error);

const char* Usage();

}  // namespace wave::nicd

#endif  // WAVE_NIC_FW_NICD_OPTIONS_H_
