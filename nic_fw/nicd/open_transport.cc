#include "nicd/open_transport.h"

#include <unistd.h>

#include <chrono>

#include "control_plane/loopback_transport.h"
#ifdef WAVE_HAVE_NIC_EMU
#include "nic-emu/held_function.h"
#include "nic-emu/ivshmem_server.h"
#endif

namespace wave::nicd {
namespace {

nic::Status OpenLoopback(const Options& options, std::unique_ptr<nic::Transport>* out,
                         std::string* where) {
  std::unique_ptr<nic::LoopbackTransport> device;
  if (nic::Status st = nic::LoopbackTransport::Open(options.device_path, options.vectors, &device);
      !st.ok()) {
    return st;
  }
  *where = "device=" + device->path();
  *out = std::move(device);
  return nic::Status::Ok();
}

#ifdef WAVE_HAVE_NIC_EMU
nic::Status OpenIvshmemServer(const Options& options, std::unique_ptr<nic::Transport>* out,
                              std::string* where) {
  nic::emu::IvshmemServerConfig config;
  config.socket_path = options.socket_path;
  config.shm_path =
      options.shm_path.empty() ? "/dev/shm/wave-nic-" + std::to_string(getpid()) : options.shm_path;
  config.shm_may_exist = !options.shm_path.empty();
  config.bar_size = options.bar_size;
  config.nr_vectors = options.vectors;
  std::unique_ptr<nic::emu::IvshmemServer> server;
  if (nic::Status st = nic::emu::IvshmemServer::Open(config, &server); !st.ok()) {
    return st;
  }
  *where = "socket=" + server->socket_path() + " shm=" + server->shm_path();
  *out = std::move(server);
  return nic::Status::Ok();
}

nic::Status AttachHeldFunction(const Options& options, std::unique_ptr<nic::Transport>* out,
                               std::string* where) {
  std::unique_ptr<nic::emu::HeldFunction> function;
  if (nic::Status st = nic::emu::HeldFunction::Attach(options.attach_path,
                                                      std::chrono::milliseconds(5000), &function);
      !st.ok()) {
    return st;
  }
  *where = "function=" + function->socket_path() + " lease=" + std::to_string(function->lease());
  *out = std::move(function);
  return nic::Status::Ok();
}
#endif

}  // namespace

nic::Status OpenTransport(const Options& options, std::unique_ptr<nic::Transport>* out,
                          std::string* where) {
  if (options.socket_path.empty() && options.attach_path.empty()) {
    return OpenLoopback(options, out, where);
  }
#ifdef WAVE_HAVE_NIC_EMU
  if (!options.socket_path.empty()) {
    return OpenIvshmemServer(options, out, where);
  }
  return AttachHeldFunction(options, out, where);
#else
  return nic::Status::Error(
      "--socket and --attach serve the emulated SmartNIC, and this wave-nicd was built without "
      "the NIC emulation (cmake -DWAVE_NIC_EMU=OFF); use --device /dev/waveN");
#endif
}

}  // namespace wave::nicd
