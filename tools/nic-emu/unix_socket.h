// UNIX-domain socket paths for the NIC's listening sockets (the ivshmem server QEMU connects
// to, the function holder's firmware socket): address building and taking over a path that a
// dead server left behind.
#ifndef WAVE_TOOLS_NIC_EMU_UNIX_SOCKET_H_
#define WAVE_TOOLS_NIC_EMU_UNIX_SOCKET_H_

#include <sys/un.h>

#include <cstddef>
#include <functional>
#include <span>
#include <string>

#include "base/status.h"
#include "base/unique_fd.h"

namespace wave::nic::emu {

// Fills `addr` for `path`; fails if the path is empty or too long for sun_path.
Status MakeUnixAddress(const std::string& path, sockaddr_un* addr);

// Makes `path` free for a new server: nothing there is fine; a socket file left by a server
// that died is unlinked; a live server's socket, or any other file, is an error.
// `type` is the socket type the servers there speak (SOCK_STREAM, SOCK_SEQPACKET);
// `server_greets` says whether a live server sends first (then silence means dead).
Status ClaimUnixSocketPath(const std::string& path, int type, bool server_greets);

// Creates a non-blocking socket of `type`, bound to `path` with mode 0600 (whoever connects
// gets the NIC's memory: only our user may), listening.
Status ListenUnix(const std::string& path, int type, UniqueFd* out);

// Accepts every connection waiting on the non-blocking listening socket listen_fd and hands
// each to on_conn, non-blocking and close-on-exec. A failure other than "none left" is logged
// under `who` (the program's name) and ends the round; the next readiness retries.
void AcceptPending(int listen_fd, const char* who, const std::function<void(UniqueFd)>& on_conn);

// Sends one message of `len` bytes with `fds` attached (SCM_RIGHTS; none if empty), without
// blocking or raising SIGPIPE. Both protocols frame by message, so a short send would
// desynchronise the peer: it is an error, as is more than kMaxFdsPerSend descriptors.
inline constexpr size_t kMaxFdsPerSend = 32;
Status SendWithFds(int sock, const void* data, size_t len, std::span<const int> fds);

}  // namespace wave::nic::emu

#endif  // WAVE_TOOLS_NIC_EMU_UNIX_SOCKET_H_
