// wave-kv-host: the host half of the key-value store. It owns the migration link file that
// wave-nicd's runtime attaches to (--runtime-host PATH) and runs the host runtime: memtable
// shards that the NIC moves here under overload are recreated from their DMOs, serve their
// requests here, and go back when the NIC pulls them.
//
//   wave-kv-host --link PATH [--ring-bytes N] [--window BYTES] [--replace] [--pidfile FILE]
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string>

#include "base/pidfile.h"
#include "base/program.h"
#include "kv/store/kv_actor.h"
#include "runtime/host/host_runtime.h"
#include "runtime/migration/shm_link.h"

namespace {

struct Options {
  std::string link_path;
  uint64_t ring_bytes = 4 << 20;  // per direction: requests and replies of migrated shards
  uint64_t window_bytes = 0;      // 0: state crosses in ring chunks; else one-copy DMA window
  bool replace = false;
  std::string pidfile;
};

const char* Usage() {
  return "usage: wave-kv-host --link PATH [options]\n"
         "  --link PATH        create the migration link file PATH (tmpfs, e.g. /dev/shm/NAME)\n"
         "                     for wave-nicd --runtime-host PATH; removed at exit\n"
         "  --ring-bytes N     each direction's frame ring (power of two, default 4M)\n"
         "  --window BYTES     a DMA window for one-copy migration (default 0: none; size it\n"
         "                     above the largest shard, e.g. 512M)\n"
         "  --replace          remove a link file a crashed wave-kv-host left behind\n"
         "  --pidfile FILE     write the pid there while running\n"
         "  -h, --help         show this text\n";
}

wave::nic::ParseResult Parse(int argc, char** argv, Options* o, std::string* error) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&](std::string* out) {
      if (i + 1 >= argc) {
        *error = arg + " needs a value";
        return false;
      }
      *out = argv[++i];
      return true;
    };
    std::string v;
    if (arg == "-h" || arg == "--help") {
      return wave::nic::ParseResult::kHelp;
    } else if (arg == "--link") {
      if (!value(&o->link_path))
        return wave::nic::ParseResult::kError;
    } else if (arg == "--ring-bytes" || arg == "--window") {
      uint64_t n = 0;
      if (!value(&v) || !wave::nic::ParseSize(v, &n)) {
        *error = arg + ": '" + v + "' is not a size";
        return wave::nic::ParseResult::kError;
      }
      if (arg == "--ring-bytes") {
        if (n < 64 * 1024 || n > (1u << 30) || (n & (n - 1)) != 0) {
          *error = "--ring-bytes: a power of two from 64K to 1G";
          return wave::nic::ParseResult::kError;
        }
        o->ring_bytes = n;
      } else {
        o->window_bytes = n;
      }
    } else if (arg == "--replace") {
      o->replace = true;
    } else if (arg == "--pidfile") {
      if (!value(&o->pidfile))
        return wave::nic::ParseResult::kError;
    } else {
      *error = "unknown argument '" + arg + "'";
      return wave::nic::ParseResult::kError;
    }
  }
  if (o->link_path.empty()) {
    *error = "--link PATH is required";
    return wave::nic::ParseResult::kError;
  }
  return wave::nic::ParseResult::kOk;
}

int Run(const Options& o) {
  if (o.replace)
    unlink(o.link_path.c_str());
  std::string why;
  auto link = wave::rt::mig::ShmLink::create_file(o.link_path, static_cast<uint32_t>(o.ring_bytes),
                                                  o.window_bytes, &why);
  if (!link) {
    std::fprintf(stderr, "wave-kv-host: %s%s\n", why.c_str(),
                 errno == EEXIST ? " (another wave-kv-host? --replace removes a stale one)" : "");
    return 1;
  }
  // The types whose actors may arrive: the store's memtable shard. Its handler rebuilds its
  // view from the DMOs that came with it; the shard's config travels in them too.
  wave::rt::ActorRegistry registry;
  registry.register_type(wave::kv::MemtableActorType());
  auto end = wave::rt::mig::ShmLink::open_fd(link->fd(), wave::rt::mig::LinkSide::kHost);
  if (!end) {
    std::fprintf(stderr, "wave-kv-host: cannot map %s\n", o.link_path.c_str());
    unlink(o.link_path.c_str());
    return 1;
  }
  wave::rt::HostRuntime host(registry, std::move(end));
  if (!host.start()) {
    std::fprintf(stderr, "wave-kv-host: the host runtime did not start\n");
    unlink(o.link_path.c_str());
    return 1;
  }
  wave::nic::Pidfile pidfile;
  if (!o.pidfile.empty()) {
    if (wave::nic::Status st = pidfile.Write(o.pidfile); !st.ok()) {
      std::fprintf(stderr, "wave-kv-host: %s\n", st.message().c_str());
      host.stop();
      unlink(o.link_path.c_str());
      return 1;
    }
  }
  std::printf("wave-kv-host: ready link=%s ring=%llu window=%llu\n", o.link_path.c_str(),
              static_cast<unsigned long long>(o.ring_bytes),
              static_cast<unsigned long long>(o.window_bytes));
  std::fflush(stdout);
  const sigset_t stop = wave::nic::TerminationSignals();
  int sig = 0;
  sigwait(&stop, &sig);
  host.stop();
  unlink(o.link_path.c_str());
  const wave::rt::HostRuntimeStats s = host.stats();
  std::printf(
      "wave-kv-host: stopped (signal %d): actors here %llu, received %llu, returned %llu, "
      "requests %llu, bad frames %llu\n",
      sig, static_cast<unsigned long long>(s.actors), static_cast<unsigned long long>(s.received),
      static_cast<unsigned long long>(s.returned), static_cast<unsigned long long>(s.requests),
      static_cast<unsigned long long>(s.bad_frames));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  std::string error;
  switch (Parse(argc, argv, &options, &error)) {
    case wave::nic::ParseResult::kHelp:
      std::fputs(Usage(), stdout);
      return 0;
    case wave::nic::ParseResult::kError:
      std::fprintf(stderr, "wave-kv-host: %s\n%s", error.c_str(), Usage());
      return 2;
    case wave::nic::ParseResult::kOk:
      break;
  }
  wave::nic::BlockTerminationSignals();
  return Run(options);
}
