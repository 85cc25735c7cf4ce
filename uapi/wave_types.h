/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * Fixed-width types and compile-time checks for the Wave ABI headers, so that the same
 * headers compile unchanged in the kernel, in BPF programs (after vmlinux.h), in C and in C++.
 */
#ifndef WAVE_UAPI_TYPES_H
#define WAVE_UAPI_TYPES_H

#if defined(__KERNEL__)
#include <linux/types.h>
#elif defined(__bpf__)
/* BPF programs include vmlinux.h first, which defines __u8 .. __u64 and __le16 .. __le64. */
#else
#include <linux/types.h>
#endif

#if defined(__cplusplus)
#define WAVE_STATIC_ASSERT(expr, msg) static_assert(expr, msg)
#else
#define WAVE_STATIC_ASSERT(expr, msg) _Static_assert(expr, msg)
#endif

#endif /* WAVE_UAPI_TYPES_H */
