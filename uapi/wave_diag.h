/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * Link self-test ("echo") service of the NIC firmware, used by selftests and `wavectl`.
 *
 * The host writes a struct wave_echo_cmd at the start of a RAW host-to-NIC queue, then rings
 * that queue's doorbell with value WAVE_ECHO_DOORBELL. The NIC validates the command, writes a
 * struct wave_echo_reply followed by the command's payload with every byte inverted at the
 * start of the RAW NIC-to-host queue dst_queue, and raises dst_queue's interrupt vector.
 * A command that fails validation is counted and answered with a reply whose status says why
 * (when dst_queue is usable), never acted on.
 */
#ifndef WAVE_UAPI_DIAG_H
#define WAVE_UAPI_DIAG_H

#include "wave_types.h"

#define WAVE_ECHO_DOORBELL 0x4543484fu /* "ECHO" */
#define WAVE_ECHO_CMD_MAGIC 0x43484345u /* "ECHC" */
#define WAVE_ECHO_REPLY_MAGIC 0x52484345u /* "ECHR" */

#define WAVE_ECHO_OK 0u
#define WAVE_ECHO_EBADCMD 1u /* bad magic or reserved bits */
#define WAVE_ECHO_EBADLEN 2u /* payload does not fit the source or the destination */

struct wave_echo_cmd {
	__le32 magic; /* WAVE_ECHO_CMD_MAGIC */
	__le32 dst_queue; /* id of an active RAW NIC-to-host queue */
	__le32 len; /* payload bytes following this header */
	__le32 seq; /* copied into the reply */
};

struct wave_echo_reply {
	__le32 magic; /* WAVE_ECHO_REPLY_MAGIC, written last */
	__le32 status; /* WAVE_ECHO_* */
	__le32 len; /* payload bytes following this header */
	__le32 seq; /* from the command */
};

WAVE_STATIC_ASSERT(sizeof(struct wave_echo_cmd) == 16, "echo cmd size");
WAVE_STATIC_ASSERT(sizeof(struct wave_echo_reply) == 16, "echo reply size");

#endif /* WAVE_UAPI_DIAG_H */
