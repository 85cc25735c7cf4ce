#include "nicd/nicd.h"

#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "base/event_loop.h"
#include "base/pidfile.h"
#include "base/program.h"
#include "base/unique_fd.h"
#include "control_plane/control_plane.h"
#include "control_plane/echo_service.h"
#include "kv/server/kv_server.h"
#include "kv/storage/remote_host_storage.h"
#include "nicd/bar_device.h"
#include "nicd/mem_agent_decider.h"
#include "nicd/mem_service.h"
#include "nicd/open_transport.h"
#include "nicd/sched_service.h"
#include "runtime/migration/queue_link.h"
#include "runtime/migration/shm_link.h"
#include "runtime/nic_service.h"

namespace wave::nicd {
namespace {

int Fail(const std::string& what) {
  std::fprintf(stderr, "wave-nicd: error: %s\n", what.c_str());
  return 1;
}

}  // namespace

int RunNicd(const Options& options) {
  sigset_t signals = nic::TerminationSignals();
  nic::UniqueFd sigfd(signalfd(-1, &signals, SFD_NONBLOCK | SFD_CLOEXEC));
  if (!sigfd) {
    return Fail(std::string("signalfd: ") + std::strerror(errno));
  }

  // Declaration order is teardown order reversed: the link goes before the transport, the
  // transport before the loop it is registered with.
  nic::EventLoop loop;
  if (nic::Status st = loop.Init(); !st.ok()) {
    return Fail(st.message());
  }

  std::unique_ptr<nic::Transport> transport;
  std::string where;
  if (nic::Status st = OpenTransport(options, &transport, &where); !st.ok()) {
    return Fail(st.message());
  }

  nic::ControlPlane control_plane(*transport, loop);
  nic::EchoService echo(control_plane);
  echo.Attach();
  nic::ControlPlaneConfig link_config;
  link_config.heartbeat_period = std::chrono::microseconds(options.heartbeat_us);
  if (nic::Status st = control_plane.Start(link_config); !st.ok()) {
    return Fail(st.message());
  }

  // The actor runtime publishes its stats in the control page's NIC stats area; it stops
  // before the link does.
  std::unique_ptr<rt::NicRuntimeService> runtime;
  const bool agent_actor = options.sched_agent && !options.sched_thread;
  if (!options.runtime_config.empty() || !options.runtime_settings.empty() || agent_actor ||
      !options.kv_spec.empty() || !options.runtime_host.empty()) {
    std::string why;
    // In the hand-over mode the agent's core polls while the link is busy, like the thread
    // mode's loop (a wake-up costs more than a decision); --runtime core_spin_us=N overrides
    // it. Run to completion needs no spinning core: the link's poller runs the agent.
    std::vector<std::string> settings;
    if (agent_actor && options.sched_handoff)
      settings.push_back("core_spin_us=" + std::to_string(SchedServiceConfig{}.spin.count()));
    settings.insert(settings.end(), options.runtime_settings.begin(),
                    options.runtime_settings.end());
    runtime =
        rt::NicRuntimeService::Start(options.runtime_config, settings, transport->bar(), &why);
    if (!runtime) {
      control_plane.Stop();
      return Fail("actor runtime: " + why);
    }
    // The host runtime (wave-kv-host) made the link: a link file, or (device:SPEC) the queues
    // of a Wave device; the NIC maps it and may then move its unpinned actors there under
    // overload (RuntimeConfig::mean_threshold_ns).
    if (!options.runtime_host.empty()) {
      static constexpr std::string_view kDevice = "device:";
      std::unique_ptr<rt::mig::MigrationLink> end;
      if (options.runtime_host.starts_with(kDevice)) {
        end = rt::mig::QueueLink::open(options.runtime_host.substr(kDevice.size()),
                                       rt::mig::LinkSide::kNic, {}, 0, &why);
      } else {
        end = rt::mig::ShmLink::open_path(options.runtime_host, rt::mig::LinkSide::kNic, &why);
      }
      if (!end) {
        runtime.reset();
        control_plane.Stop();
        return Fail("--runtime-host: " + why);
      }
      runtime->runtime().attach_host_link(std::move(end));
      std::printf("wave-nicd: runtime host link %s\n", options.runtime_host.c_str());
    }
  }

  // The scheduling link's poller (and, in thread mode, the agent): its own thread, stopped
  // before the runtime and the link so that it never polls rings of a link going down.
  std::unique_ptr<SchedService> sched;
  if (options.sched_agent) {
    SchedServiceConfig sched_config;
    sched_config.mode = agent_actor ? SchedAgentMode::kActor : SchedAgentMode::kThread;
    sched_config.runtime = runtime.get();
    sched_config.pump.run_inline = !options.sched_handoff;
    sched_config.decision_irq = options.sched_irq;
    sched = std::make_unique<SchedService>(control_plane, transport->bar(), sched_config);
    if (std::string why; !sched->Start(&why)) {
      runtime.reset();
      control_plane.Stop();
      return Fail("scheduling agent: " + why);
    }
  }

  // The memory agent: its own thread on the BAR, woken by the DMA buffer's doorbell (the host
  // rings it with every batch); stopped before the link like the scheduling agent.
  std::unique_ptr<BarDevice> mem_device;
  std::unique_ptr<MemService> mem;
  if (options.mem_agent) {
    mem_device = std::make_unique<BarDevice>(transport->bar());
    MemServiceConfig mem_config;
    mem_config.factory = MakeMemAgentDecider;
    // The BAR device cannot interrupt the host: the link's transport does.
    mem_config.raise_irq = [&control_plane](uint32_t vector) {
      return control_plane.RaiseIrq(vector);
    };
    mem = std::make_unique<MemService>(*mem_device, mem_config);
    if (std::string why; !mem->Start(&why)) {
      sched.reset();
      runtime.reset();
      control_plane.Stop();
      return Fail("memory agent: " + why);
    }
    MemService* m = mem.get();
    control_plane.OnQueueKind(WAVE_QKIND_DMA, WAVE_DIR_HOST_TO_NIC,
                              [m](const nic::Queue&, uint32_t) { m->Wake(); });
  }

  // The key-value store's shards are actors of the runtime; the store goes before it.
  std::unique_ptr<kv::KvServer> kv_server;
  if (!options.kv_spec.empty()) {
    kv::KvServerConfig kv_config;
    std::string why;
    if (!kv::ParseKvOption(options.kv_spec, &kv_config, &why)) {
      return Fail(why);
    }
    if (!options.kv_replicas.empty()) {
      if (!kv::ParseReplicasOption(options.kv_replicas, &kv_config.replication, &why)) {
        return Fail(why);
      }
      kv_config.replicated = true;
      kv_config.replication.log_path = options.kv_log;
    }
    if (!kv_config.storage_link.empty()) {
      // The LSM tier's host half must be up: the shards ask it what it holds before the log
      // is replayed.
      auto remote = std::make_shared<kv::RemoteHostStorage>(
          kv::RemoteHostStorage::PathConnector(kv_config.storage_link));
      if (!remote->WaitConnected(std::chrono::seconds(5)))
        return Fail("kv: no host storage at " + kv_config.storage_link +
                    " (start wave-kv-host --storage-link " + kv_config.storage_link +
                    " --sst-dir DIR first)");
      kv_config.storage = std::move(remote);
    }
    rt::NicRuntimeService* service = runtime.get();
    kv::RuntimeAccess access{&service->runtime(), &service->registry(),
                             [service](rt::ActorId id, rt::ReplySink sink) {
                               service->route_replies(id, std::move(sink));
                             },
                             [service](rt::ActorId id) { service->unroute_replies(id); }};
    nic::Status st = nic::Status::Ok();
    kv_server = kv::KvServer::Start(kv_config, access, &st);
    if (!kv_server) {
      sched.reset();
      runtime.reset();
      control_plane.Stop();
      return Fail(st.message());
    }
    std::printf("wave-nicd: kv store on %s tcp %d udp %d shards %zu\n",
                kv_config.net.address.c_str(), kv_server->tcp_port(), kv_server->udp_port(),
                kv_server->shards().size());
  }

  int caught = 0;
  int raw_sigfd = sigfd.get();
  loop.Watch(raw_sigfd, [&](uint32_t) {
    signalfd_siginfo info;
    while (read(raw_sigfd, &info, sizeof(info)) == sizeof(info)) {
      caught = static_cast<int>(info.ssi_signo);
      loop.Stop();
    }
  });

  nic::Pidfile pidfile;
  if (!options.pidfile.empty()) {
    if (nic::Status st = pidfile.Write(options.pidfile); !st.ok()) {
      return Fail(st.message());
    }
  }
  std::printf("wave-nicd: ready %s vectors=%u bar=%llu\n", where.c_str(), transport->nr_vectors(),
              static_cast<unsigned long long>(transport->bar().size()));
  std::fflush(stdout);

  nic::Status run = loop.Run();
  kv_server.reset();  // closes the network port, then the shards
  if (mem) {
    control_plane.OnQueueKind(WAVE_QKIND_DMA, WAVE_DIR_HOST_TO_NIC,
                              [](const nic::Queue&, uint32_t) {});
    mem.reset();  // joins the memory agent and logs its counters
  }
  sched.reset();  // joins the agent's core and logs its counters
  runtime.reset();
  control_plane.Stop();
  transport.reset();  // closes the hosts, unlinks the socket and a BAR file we created
  if (!run.ok()) {
    return Fail(run.message());
  }
  std::fprintf(stderr, "wave-nicd: stopped by %s\n", caught != 0 ? strsignal(caught) : "request");
  return 0;
}

}  // namespace wave::nicd
