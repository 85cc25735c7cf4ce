// The storage link across processes: the real wave-kv-host (--storage-link, --sst-dir) is
// fed flush batches by RemoteHostStorage, killed with SIGKILL while batches are in flight and
// restarted on the same directory; every batch it acknowledged must still be found, and the
// client must reconnect to the new host on its own.
//
//   kv_storage_process_test PATH-TO-wave-kv-host
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "kv/storage/remote_host_storage.h"
#include "kv/store/flush_batch.h"

namespace {

using namespace wave::kv;
int failures = 0;

#define CHECK(cond)                                                                 \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      failures++;                                                                   \
    }                                                                               \
  } while (0)

pid_t StartHost(const std::string& bin, const std::string& link, const std::string& dir) {
  pid_t pid = fork();
  if (pid == 0) {
    execl(bin.c_str(), bin.c_str(), "--storage-link", link.c_str(), "--sst-dir", dir.c_str(),
          "--replace", static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

std::vector<std::byte> Batch(uint64_t gen) {
  FlushBatchWriter w({0, gen, gen, gen});
  // Some batches above one chunk, so a kill can land in the middle of one.
  std::string value(gen % 3 == 0 ? 200000 : 100, static_cast<char>('a' + gen % 26));
  w.Add(FlushEntry{"g" + std::to_string(gen), value, 0, 0, gen, false});
  w.Add(FlushEntry{"last", std::to_string(gen), 0, 0, gen, false});
  return w.Encode().value();
}

int FlushSync(HostStorage& h, uint64_t gen) {
  std::promise<int> p;
  h.Flush(Batch(gen), [&](wave::Status s) { p.set_value(s ? 0 : s.error().code); });
  return p.get_future().get();  // the call times out: no hang
}

std::string LookupSync(HostStorage& h, const std::string& key) {
  std::promise<std::string> p;
  h.Lookup(0, key, 0, [&](wave::Result<std::optional<StoredValue>> r) {
    p.set_value(!r ? "error" : r->has_value() ? (*r)->value : "<miss>");
  });
  return p.get_future().get();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s PATH-TO-wave-kv-host\n", argv[0]);
    return 2;
  }
  char tmpl[] = "/tmp/wave-kvproc-XXXXXX";
  if (mkdtemp(tmpl) == nullptr)
    return 2;
  const std::string dir = std::string(tmpl) + "/sst";
  const std::string link = "/dev/shm/wave-kv-storage-test-" + std::to_string(getpid());

  pid_t host = StartHost(argv[1], link, dir);
  RemoteHostStorage client(RemoteHostStorage::PathConnector(link));
  CHECK(client.WaitConnected(std::chrono::seconds(30)));

  std::atomic<uint64_t> acked{0};  // every generation up to it was acknowledged
  std::atomic<uint64_t> failed_gen{0};
  std::thread flusher([&] {
    for (uint64_t gen = 1; gen <= 100000; ++gen) {
      if (FlushSync(client, gen) != 0) {
        failed_gen = gen;
        return;
      }
      acked = gen;
    }
  });
  while (acked < 30)
    usleep(1000);
  kill(host, SIGKILL);  // with batches in flight
  int status = 0;
  waitpid(host, &status, 0);
  flusher.join();
  const uint64_t before_kill = acked;
  std::printf("acknowledged %llu batches before SIGKILL; generation %llu failed\n",
              static_cast<unsigned long long>(before_kill),
              static_cast<unsigned long long>(failed_gen.load()));
  CHECK(failed_gen == before_kill + 1);
  CHECK(LookupSync(client, "g1") == "error");  // no host: fails (fast), never hangs

  host = StartHost(argv[1], link, dir);
  CHECK(client.WaitConnected(std::chrono::seconds(30)));
  // The failed batch is resent: ingested before the kill or not, it is OK now.
  CHECK(FlushSync(client, failed_gen) == 0);
  for (uint64_t gen = failed_gen + 1; gen < failed_gen + 5; ++gen)
    CHECK(FlushSync(client, gen) == 0);
  const uint64_t newest = failed_gen + 4;
  for (uint64_t gen = 1; gen <= newest; ++gen) {
    std::string want(gen % 3 == 0 ? 200000 : 100, static_cast<char>('a' + gen % 26));
    if (LookupSync(client, "g" + std::to_string(gen)) != want) {
      std::fprintf(stderr, "generation %llu lost\n", static_cast<unsigned long long>(gen));
      failures++;
    }
  }
  CHECK(LookupSync(client, "last") == std::to_string(newest));
  wave::Result<ShardRecovery> r = client.Recover(0);
  CHECK(r.ok() && r->newest_generation == newest && r->max_op == newest);
  CHECK(client.stats().connects == 2);

  kill(host, SIGTERM);
  waitpid(host, &status, 0);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  CHECK(access(link.c_str(), F_OK) != 0);  // removed at exit
  std::filesystem::remove_all(tmpl);
  std::printf("%s\n", failures == 0 ? "PASS" : "FAIL");
  return failures == 0 ? 0 : 1;
}
