#include "nicd/options.h"

#include <cerrno>
#include <cstdlib>
#include <string_view>

#include "base/program.h"
#include "control_plane/bar_size.h"
#include "kv/server/kv_server.h"
#include "wave_abi.h"

namespace wave::nicd {

const char* Usage() {
  return "usage: wave-nicd (--socket PATH | --device /dev/waveN | --attach PATH) [options]\n"
         "\n"
         "The emulated SmartNIC's firmware. With --socket it creates the BAR file and serves\n"
         "QEMU's ivshmem-doorbell protocol; with --device it drives wave.ko's loopback device.\n"
         "\n"
         "  --socket PATH        UNIX socket for QEMU: -chardev socket,path=PATH,id=nic\n"
         "                       -device ivshmem-doorbell,chardev=nic,vectors=N\n"
         "  --shm PATH           BAR file (default /dev/shm/wave-nic-<pid>); an existing\n"
         "                       file is reused if its size is 0 or the BAR size\n"
         "  --bar-size SIZE      BAR bytes, a power of two >= 16K (default 16M; K/M/G suffixes)\n"
         "  --vectors N          doorbell / interrupt vectors, 1..8 (default 8)\n"
         "  --heartbeat-us N     heartbeat period in microseconds, 10..10000000 (default 1000)\n"
         "  --device PATH        on-host mode: serve wave.ko's loopback device\n"
         "  --attach PATH        be the firmware of the function wave-nic-function holds\n"
         "                       (its --firmware socket); may be killed and started again\n"
         "  --pidfile PATH       write the process id to PATH\n"
         "  --runtime-config FILE  start the actor runtime with this config (runtime_config.h)\n"
         "  --runtime KEY=VALUE  one runtime setting, e.g. cores=2 or 'actor=counter hits';\n"
         "                       repeatable, applied after the file\n"
         "  --sched-agent actor|handoff|thread|off  run the scheduling agent (FIFO/Shinjuku,\n"
         "                       as the host's scheduling link asks): as a pinned actor of\n"
         "                       the runtime whose handler the link's poller runs itself\n"
         "                       (actor, or on: the default; starts the runtime with one core\n"
         "                       if no --runtime flag did), the same actor run by a runtime\n"
         "                       core the poller hands each batch to (handoff), or in a\n"
         "                       polling thread of its own (thread)\n"
         "  --sched-irq on|off   interrupt the host after publishing scheduling decisions, so\n"
         "                       wave.ko wakes the idle CPUs they name (on); off: the host's\n"
         "                       kick timer finds them\n"
         "  --mem-agent on|off   serve the host's memory link (the memory agent of\n"
         "                       nic_fw/policies/mem: age or sol, as the host asks; on)\n"
         "  --kv ADDR:PORT[,udp=PORT][,shards=N][,mem=BYTES]  serve the key-value store\n"
         "                       (memcached text protocol) on the NIC's network port: TCP on\n"
         "                       ADDR:PORT, UDP if udp= is given; N memtable shards (default\n"
         "                       2) of at most BYTES each (default 256M) as runtime actors\n"
         "  --kv-replicas INDEX@ADDR:PORT,ADDR:PORT,ADDR:PORT  replicate the store's writes\n"
         "                       (Viewstamped Replication) over these replicas' peer\n"
         "                       addresses; this instance is replica INDEX. Needs --kv-log\n"
         "  --kv-log PATH        the replica's log file (created if missing, replayed at start)\n"
         "  --runtime-host PATH  attach the runtime to a host runtime over the migration link\n"
         "                       file PATH (made by wave-kv-host --link PATH): overloaded\n"
         "                       actors move to the host and come back when load drops\n"
         "  --runtime-host device:SPEC  the same over the queues of the Wave device SPEC\n"
         "                       (made by wave-kv-host --link-device SPEC, e.g. shm:NAME)\n"
         "  -h, --help           show this text\n";
}

ParseResult ParseOptions(int argc, const char* const* argv, Options* out, std::string* error) {
  Options opts;
  bool bar_size_given = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      return ParseResult::kHelp;
    }
    std::string name = arg;
    std::string value;
    bool has_value = false;
    if (size_t eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      has_value = true;
    }
    auto take_value = [&]() {
      if (has_value) {
        return true;
      }
      if (i + 1 >= argc) {
        *error = name + " needs a value";
        return false;
      }
      value = argv[++i];
      return true;
    };
    if (name == "--socket" || name == "--shm" || name == "--device" || name == "--pidfile" ||
        name == "--attach") {
      if (!take_value()) {
        return ParseResult::kError;
      }
      if (value.empty()) {
        *error = name + " needs a non-empty path";
        return ParseResult::kError;
      }
      std::string* field = name == "--socket"   ? &opts.socket_path
                           : name == "--shm"    ? &opts.shm_path
                           : name == "--device" ? &opts.device_path
                           : name == "--attach" ? &opts.attach_path
                                                : &opts.pidfile;
      *field = value;
    } else if (name == "--bar-size") {
      if (!take_value()) {
        return ParseResult::kError;
      }
      if (!nic::ParseSize(value, &opts.bar_size) || !nic::ValidBarSize(opts.bar_size)) {
        *error = "--bar-size: '" + value + "' is not a power of two between 16K and 16G";
        return ParseResult::kError;
      }
      bar_size_given = true;
    } else if (name == "--vectors") {
      if (!take_value()) {
        return ParseResult::kError;
      }
      if (!nic::ParseU32(value, 1, WAVE_MAX_VECTORS, &opts.vectors)) {
        *error = "--vectors: '" + value + "' is not a number from 1 to 8";
        return ParseResult::kError;
      }
    } else if (name == "--heartbeat-us") {
      if (!take_value()) {
        return ParseResult::kError;
      }
      if (!nic::ParseU32(value, 10, 10000000, &opts.heartbeat_us)) {
        *error = "--heartbeat-us: '" + value + "' is not a number from 10 to 10000000";
        return ParseResult::kError;
      }
    } else if (name == "--runtime-config" || name == "--runtime") {
      if (!take_value()) {
        return ParseResult::kError;
      }
      if (value.empty()) {
        *error = name + " needs a value";
        return ParseResult::kError;
      }
      if (name == "--runtime") {
        opts.runtime_settings.push_back(value);
      } else {
        opts.runtime_config = value;
      }
    } else if (name == "--runtime-host") {
      if (!take_value()) {
        return ParseResult::kError;
      }
      opts.runtime_host = value;
    } else if (name == "--kv") {
      if (!take_value()) {
        return ParseResult::kError;
      }
      kv::KvServerConfig kv_config;
      if (!kv::ParseKvOption(value, &kv_config, error)) {
        return ParseResult::kError;
      }
      opts.kv_spec = value;
    } else if (name == "--kv-replicas" || name == "--kv-log") {
      if (!take_value()) {
        return ParseResult::kError;
      }
      if (name == "--kv-log") {
        opts.kv_log = value;
      } else {
        kv::ReplicationConfig repl;
        if (!kv::ParseReplicasOption(value, &repl, error)) {
          return ParseResult::kError;
        }
        opts.kv_replicas = value;
      }
    } else if (name == "--sched-agent") {
      if (!take_value()) {
        return ParseResult::kError;
      }
      if (value != "on" && value != "off" && value != "actor" && value != "handoff" &&
          value != "thread") {
        *error = "--sched-agent: '" + value + "' is not actor, handoff, thread, on or off";
        return ParseResult::kError;
      }
      opts.sched_agent = value != "off";
      opts.sched_thread = value == "thread";
      opts.sched_handoff = value == "handoff";
    } else if (name == "--sched-irq") {
      if (!take_value()) {
        return ParseResult::kError;
      }
      if (value != "on" && value != "off") {
        *error = "--sched-irq: '" + value + "' is not on or off";
        return ParseResult::kError;
      }
      opts.sched_irq = value == "on";
    } else if (name == "--mem-agent") {
      if (!take_value()) {
        return ParseResult::kError;
      }
      if (value != "on" && value != "off") {
        *error = "--mem-agent: '" + value + "' is not on or off";
        return ParseResult::kError;
      }
      opts.mem_agent = value == "on";
    } else {
      *error = "unknown argument '" + arg + "'";
      return ParseResult::kError;
    }
  }
  if (!opts.kv_replicas.empty() && (opts.kv_spec.empty() || opts.kv_log.empty())) {
    *error = "--kv-replicas needs --kv and --kv-log";
    return ParseResult::kError;
  }
  if (!opts.socket_path.empty() + !opts.device_path.empty() + !opts.attach_path.empty() != 1) {
    *error = "give exactly one of --socket, --device and --attach";
    return ParseResult::kError;
  }
  if (!opts.attach_path.empty() && (!opts.shm_path.empty() || bar_size_given)) {
    *error = "--shm and --bar-size apply to --socket only (wave-nic-function owns the BAR)";
    return ParseResult::kError;
  }
  if (!opts.device_path.empty() && (!opts.shm_path.empty() || bar_size_given)) {
    *error = "--shm and --bar-size apply to --socket only (wave.ko sizes the loopback BAR)";
    return ParseResult::kError;
  }
  *out = opts;
  return ParseResult::kOk;
}

}  // namespace wave::nicd
