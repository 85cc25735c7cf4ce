// wave-kv-host: the host half of the key-value store. It owns the migration link that
// wave-nicd's runtime attaches to and runs the host runtime: memtable shards that the NIC
// moves here under overload are recreated from their DMOs, serve their requests here, and go
// back when the NIC pulls them. The link is either a link file (--link PATH, for wave-nicd
// --runtime-host PATH) or the queues of a Wave device that this side creates (--link-device
// SPEC, for wave-nicd --runtime-host device:SPEC; runtime/migration/queue_link.h).
//
// With --storage-link and --sst-dir it also serves the store's host storage: the SSTables
// the NIC's memtables flush to and look their misses up in (storage/storage_server.h).
//
//   wave-kv-host [--link PATH | --link-device SPEC] [--storage-link PATH --sst-dir DIR]
//                [--ring-bytes N]
//                [--window BYTES] [--replace] [--pidfile FILE]
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <memory>
#include <string>

#include "base/pidfile.h"
#include "base/program.h"
#include "kv/store/kv_actor.h"
#include "runtime/host/host_runtime.h"
#include "runtime/migration/queue_link.h"
#include "runtime/migration/shm_link.h"
#include "storage/local_host_storage.h"
#include "storage/storage_server.h"

namespace {

struct Options {
  std::string link_path;
  std::string link_device;        // a Wave device (e.g. shm:NAME) whose queues carry the link
  uint64_t ring_bytes = 4 << 20;  // per direction: requests and replies of migrated shards
  uint64_t window_bytes = 0;      // 0: state crosses in ring chunks; else one-copy DMA window
  bool replace = false;
  std::string pidfile;
  std::string storage_link_path;  // the NIC's host storage (flushes, misses), served over it
  std::string sst_dir;            // its SSTables
};

const char* Usage() {
  return "usage: wave-kv-host [--link PATH | --link-device SPEC]\n"
         "                    [--storage-link PATH --sst-dir DIR] [options]\n"
         "  --link PATH        create the migration link file PATH (tmpfs, e.g. /dev/shm/NAME)\n"
         "                     for wave-nicd --runtime-host PATH; removed at exit\n"
         "  --link-device SPEC create the migration link in queues of the Wave device SPEC\n"
         "                     (shm:NAME is created here) for wave-nicd --runtime-host\n"
         "                     device:SPEC; the queues go at exit\n"
         "  --ring-bytes N     each direction's frame ring (power of two, default 4M)\n"
         "  --window BYTES     a DMA window for one-copy migration (default 0: none; size it\n"
         "                     above the largest shard, e.g. 512M)\n"
         "  --storage-link PATH  create the storage link file PATH: the NIC's memtables flush\n"
         "                     batches and look misses up there; removed at exit\n"
         "  --sst-dir DIR      the SSTables the storage keeps (created if missing)\n"
         "  --replace          remove link files a crashed wave-kv-host left behind\n"
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
    } else if (arg == "--link-device") {
      if (!value(&o->link_device))
        return wave::nic::ParseResult::kError;
    } else if (arg == "--storage-link") {
      if (!value(&o->storage_link_path))
        return wave::nic::ParseResult::kError;
    } else if (arg == "--sst-dir") {
      if (!value(&o->sst_dir))
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
  if (o->link_path.empty() && o->link_device.empty() && o->storage_link_path.empty()) {
    *error = "--link PATH, --link-device SPEC or --storage-link PATH is required";
    return wave::nic::ParseResult::kError;
  }
  if (!o->link_path.empty() && !o->link_device.empty()) {
    *error = "--link and --link-device exclude each other";
    return wave::nic::ParseResult::kError;
  }
  if (o->storage_link_path.empty() != o->sst_dir.empty()) {
    *error = "--storage-link and --sst-dir go together";
    return wave::nic::ParseResult::kError;
  }
  return wave::nic::ParseResult::kOk;
}

// The storage the NIC's memtables flush to and look misses up in (--storage-link, --sst-dir):
// an SstStore served over its own link file.
struct StorageHost {
  std::unique_ptr<wave::rt::mig::ShmLink> link;
  std::unique_ptr<wave::kv::LocalHostStorage> storage;
  std::unique_ptr<wave::kv::StorageServer> server;
};

bool StartStorage(const Options& o, StorageHost* out) {
  auto storage = wave::kv::LocalHostStorage::Open(o.sst_dir);
  if (!storage) {
    std::fprintf(stderr, "wave-kv-host: %s\n", storage.error().message.c_str());
    return false;
  }
  out->storage = std::move(storage.value());
  if (o.replace)
    unlink(o.storage_link_path.c_str());
  std::string why;
  out->link = wave::rt::mig::ShmLink::create_file(o.storage_link_path, wave::kv::kStorageRingBytes,
                                                  0, &why);
  if (!out->link) {
    std::fprintf(stderr, "wave-kv-host: %s%s\n", why.c_str(),
                 errno == EEXIST ? " (another wave-kv-host? --replace removes a stale one)" : "");
    return false;
  }
  auto end = wave::rt::mig::ShmLink::open_fd(out->link->fd(), wave::rt::mig::LinkSide::kHost);
  if (!end) {
    std::fprintf(stderr, "wave-kv-host: cannot map %s\n", o.storage_link_path.c_str());
    unlink(o.storage_link_path.c_str());
    return false;
  }
  out->server = std::make_unique<wave::kv::StorageServer>(std::move(end), *out->storage);
  out->server->Start();
  return true;
}

void PrintStorageCounters(const StorageHost& h) {
  const wave::kv::StorageServerStats s = h.server->stats();
  const wave::kv::SstStoreStats t = h.storage->store_stats();
  const wave::kv::LocalHostStorageStats l = h.storage->stats();
  auto u = [](uint64_t v) { return static_cast<unsigned long long>(v); };
  std::printf(
      "wave-kv-host: storage: requests %llu, flushes %llu (failed %llu), lookups %llu, "
      "recovers %llu, bad frames %llu, tables %llu, entries %llu, bytes %llu, refused batches "
      "%llu, compactions %llu%s\n",
      u(s.requests), u(s.flushes), u(l.flush_errors), u(s.lookups), u(s.recovers), u(s.bad_frames),
      u(t.tables), u(t.entries), u(t.bytes), u(t.refused_batches), u(t.compactions),
      s.broken ? ", link broken" : "");
}

int Run(const Options& o) {
  StorageHost storage;
  if (!o.storage_link_path.empty() && !StartStorage(o, &storage))
    return 1;
  auto cleanup = [&] {
    if (storage.server)
      storage.server->Stop();
    if (!o.storage_link_path.empty())
      unlink(o.storage_link_path.c_str());
    if (!o.link_path.empty())
      unlink(o.link_path.c_str());
  };
  // The types whose actors may arrive: the store's memtable shard. Its handler rebuilds its
  // view from the DMOs that came with it; the shard's config travels in them too.
  wave::rt::ActorRegistry registry;
  registry.register_type(wave::kv::MemtableActorType());
  std::unique_ptr<wave::rt::mig::ShmLink> link;
  std::unique_ptr<wave::rt::HostRuntime> host;
  if (!o.link_path.empty()) {
    if (o.replace)
      unlink(o.link_path.c_str());
    std::string why;
    link = wave::rt::mig::ShmLink::create_file(o.link_path, static_cast<uint32_t>(o.ring_bytes),
                                               o.window_bytes, &why);
    if (!link) {
      std::fprintf(stderr, "wave-kv-host: %s%s\n", why.c_str(),
                   errno == EEXIST ? " (another wave-kv-host? --replace removes a stale one)" : "");
      if (!o.storage_link_path.empty())
        unlink(o.storage_link_path.c_str());
      return 1;
    }
    auto end = wave::rt::mig::ShmLink::open_fd(link->fd(), wave::rt::mig::LinkSide::kHost);
    if (!end) {
      std::fprintf(stderr, "wave-kv-host: cannot map %s\n", o.link_path.c_str());
      cleanup();
      return 1;
    }
    host = std::make_unique<wave::rt::HostRuntime>(registry, std::move(end));
  } else if (!o.link_device.empty()) {
    // Slots of 1 KiB; the ring size decides their number (at least what a largest frame needs).
    wave::rt::mig::QueueLinkConfig config;
    config.nr_slots = std::max<uint32_t>(512, static_cast<uint32_t>(o.ring_bytes / 1024));
    std::string why;
    auto end = wave::rt::mig::QueueLink::open(o.link_device, wave::rt::mig::LinkSide::kHost, config,
                                              o.window_bytes, &why);
    if (!end) {
      std::fprintf(stderr, "wave-kv-host: --link-device %s: %s\n", o.link_device.c_str(),
                   why.c_str());
      cleanup();
      return 1;
    }
    host = std::make_unique<wave::rt::HostRuntime>(registry, std::move(end));
  }
  if (host && !host->start()) {
    std::fprintf(stderr, "wave-kv-host: the host runtime did not start\n");
    cleanup();
    return 1;
  }
  wave::nic::Pidfile pidfile;
  if (!o.pidfile.empty()) {
    if (wave::nic::Status st = pidfile.Write(o.pidfile); !st.ok()) {
      std::fprintf(stderr, "wave-kv-host: %s\n", st.message().c_str());
      if (host)
        host->stop();
      cleanup();
      return 1;
    }
  }
  std::printf("wave-kv-host: ready link=%s ring=%llu window=%llu storage-link=%s sst-dir=%s\n",
              !o.link_path.empty()     ? o.link_path.c_str()
              : !o.link_device.empty() ? ("device:" + o.link_device).c_str()
                                       : "-",
              static_cast<unsigned long long>(o.ring_bytes),
              static_cast<unsigned long long>(o.window_bytes),
              o.storage_link_path.empty() ? "-" : o.storage_link_path.c_str(),
              o.sst_dir.empty() ? "-" : o.sst_dir.c_str());
  std::fflush(stdout);
  const sigset_t stop = wave::nic::TerminationSignals();
  int sig = 0;
  sigwait(&stop, &sig);
  if (host)
    host->stop();
  cleanup();
  std::printf("wave-kv-host: stopped (signal %d)\n", sig);
  if (host) {
    const wave::rt::HostRuntimeStats s = host->stats();
    std::printf(
        "wave-kv-host: migration: actors here %llu, received %llu, returned %llu, "
        "requests %llu, bad frames %llu\n",
        static_cast<unsigned long long>(s.actors), static_cast<unsigned long long>(s.received),
        static_cast<unsigned long long>(s.returned), static_cast<unsigned long long>(s.requests),
        static_cast<unsigned long long>(s.bad_frames));
  }
  if (storage.server)
    PrintStorageCounters(storage);
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
