// wave-nic-function: the emulated SmartNIC's PCIe function, held apart from its firmware so
// that the firmware can be killed and restarted under a running VM (function_holder.h).
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "base/event_loop.h"
#include "base/pidfile.h"
#include "base/program.h"
#include "nic-emu/function_holder.h"
#include "nic-emu/function_options.h"

namespace {

int Fail(const std::string& what) {
  std::fprintf(stderr, "wave-nic-function: error: %s\n", what.c_str());
  return 1;
}

int Run(const wave::nic::emu::FunctionOptions& options) {
  using wave::nic::Status;
  sigset_t signals = wave::nic::TerminationSignals();
  wave::nic::UniqueFd sigfd(signalfd(-1, &signals, SFD_NONBLOCK | SFD_CLOEXEC));
  if (!sigfd) {
    return Fail(std::string("signalfd: ") + std::strerror(errno));
  }
  wave::nic::EventLoop loop;
  if (Status st = loop.Init(); !st.ok()) {
    return Fail(st.message());
  }
  wave::nic::emu::FunctionHolderConfig config;
  config.function.socket_path = options.socket_path;
  config.function.shm_path =
      options.shm_path.empty() ? "/dev/shm/wave-nic-" + std::to_string(getpid()) : options.shm_path;
  config.function.shm_may_exist = !options.shm_path.empty();
  config.function.bar_size = options.bar_size;
  config.function.nr_vectors = options.vectors;
  config.firmware_socket = options.firmware_path;
  std::unique_ptr<wave::nic::emu::FunctionHolder> holder;
  if (Status st = wave::nic::emu::FunctionHolder::Open(config, &holder); !st.ok()) {
    return Fail(st.message());
  }
  if (Status st = holder->Start(loop); !st.ok()) {
    return Fail(st.message());
  }
  int caught = 0;
  const int raw_sigfd = sigfd.get();
  loop.Watch(raw_sigfd, [&](uint32_t) {
    signalfd_siginfo info;
    while (read(raw_sigfd, &info, sizeof(info)) == sizeof(info)) {
      caught = static_cast<int>(info.ssi_signo);
      loop.Stop();
    }
  });
  wave::nic::Pidfile pidfile;
  if (!options.pidfile.empty()) {
    if (Status st = pidfile.Write(options.pidfile); !st.ok()) {
      return Fail(st.message());
    }
  }
  std::printf("wave-nic-function: ready socket=%s firmware=%s shm=%s vectors=%u bar=%llu\n",
              holder->function().socket_path().c_str(), holder->firmware_socket().c_str(),
              holder->function().shm_path().c_str(), options.vectors,
              static_cast<unsigned long long>(holder->function().bar().size()));
  std::fflush(stdout);
  Status run = loop.Run();
  holder->Stop();
  const wave::nic::emu::FunctionHolderCounters& c = holder->counters();
  std::fprintf(stderr,
               "wave-nic-function: leases=%llu ended=%llu refused_busy=%llu "
               "refused_garbage=%llu irqs_forwarded=%llu\n",
               static_cast<unsigned long long>(c.leases),
               static_cast<unsigned long long>(c.lease_ends),
               static_cast<unsigned long long>(c.refused_busy),
               static_cast<unsigned long long>(c.refused_garbage),
               static_cast<unsigned long long>(c.irqs_forwarded));
  holder.reset();
  if (!run.ok()) {
    return Fail(run.message());
  }
  std::fprintf(stderr, "wave-nic-function: stopped by %s\n",
               caught != 0 ? strsignal(caught) : "request");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  wave::nic::emu::FunctionOptions options;
  std::string error;
  switch (wave::nic::emu::ParseFunctionOptions(argc, argv, &options, &error)) {
    case wave::nic::ParseResult::kHelp:
      std::fputs(wave::nic::emu::FunctionUsage(), stdout);
      return 0;
    case wave::nic::ParseResult::kError:
      std::fprintf(stderr, "wave-nic-function: %s\n%s", error.c_str(),
                   wave::nic::emu::FunctionUsage());
      return 2;
    case wave::nic::ParseResult::kOk:
      break;
  }
  wave::nic::BlockTerminationSignals();
  return Run(options);
}
