/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The memory link's kernel batch path (uapi/wave_mem_kpath.h): wave.ko builds DAMON's access
 * batches from the kfuncs the damon_aggregated BPF program calls and ships them to the NIC.
 *
 * At most one memory link is attached in the system; it is published with RCU like the
 * scheduling link (wave_sched.h). The kfuncs run in the tracepoint's context (the kdamond,
 * preemption or migration off under the BPF program's RCU read lock): they never sleep, take
 * only the link's raw spinlock and ring the doorbell from irq_work.
 *
 * Lock order: wave_dev.lock > wave_mem_mutex > link->lock.
 */
#ifndef WAVE_KMOD_MEM_H
#define WAVE_KMOD_MEM_H

#include <linux/fs.h>

#include "wave.h"

void wave_mem_exit(void);
long wave_mem_ioctl(struct file *file, struct wave_dev *wd, unsigned int cmd, void __user *arg);
/* wave_cdev.c calls this when a file of the device is released. */
void wave_mem_file_release(struct file *file);
/* wave_kfuncs.c: whether @prog may call kfunc @kfunc_id (the memory ones: tracing only). */
struct bpf_prog;
bool wave_mem_kfunc_allowed(const struct bpf_prog *prog, u32 kfunc_id);
/* wave_queue.c calls this, wave_dev.lock held, before it unmaps queue @id. */
void wave_mem_queue_retiring(struct wave_dev *wd, u32 id);

#endif /* WAVE_KMOD_MEM_H */
