// SPDX-License-Identifier: GPL-2.0
/*
 * sysfs attributes of /sys/class/wave/waveN: what the device is, its queues, its interrupt
 * counts and the counters of input it refused.
 *
 * The attributes are removed before the device is marked dead and its BAR unmapped, and
 * sysfs waits for running show() calls, so a show() always sees a live device.
 */
#include <linux/device.h>
#include <linux/sysfs.h>

#include "wave.h"

static struct wave_dev *to_wave(struct device *dev)
{
	return dev_get_drvdata(dev);
}

static ssize_t abi_version_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	struct wave_dev *wd = to_wave(dev);

	return sysfs_emit(buf, "%u.%u\n", wd->abi_major, wd->abi_minor);
}
static DEVICE_ATTR_RO(abi_version);

static ssize_t backend_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%s\n", to_wave(dev)->ops->name);
}
static DEVICE_ATTR_RO(backend);

static ssize_t bar_size_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%llu\n", to_wave(dev)->bar_size);
}
static DEVICE_ATTR_RO(bar_size);

/* Bytes of the host DMA window, 0 when the device has none. */
static ssize_t host_window_size_show(struct device *dev, struct device_attribute *attr,
				     char *buf)
{
	return sysfs_emit(buf, "%llu\n", to_wave(dev)->window.size);
}
static DEVICE_ATTR_RO(host_window_size);

static ssize_t nic_state_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	static const char *const names[] = {
		[WAVE_NIC_STATE_OFF] = "off",
		[WAVE_NIC_STATE_READY] = "ready",
		[WAVE_NIC_STATE_STOPPING] = "stopping",
	};
	u32 state = readl(&to_wave(dev)->ctrl->nic_state);

	if (state < ARRAY_SIZE(names))
		return sysfs_emit(buf, "%s\n", names[state]);
	return sysfs_emit(buf, "unknown (%u)\n", state);
}
static DEVICE_ATTR_RO(nic_state);

static ssize_t heartbeat_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%llu\n", readq(&to_wave(dev)->ctrl->heartbeat));
}
static DEVICE_ATTR_RO(heartbeat);

static ssize_t nr_vectors_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", to_wave(dev)->nr_vectors);
}
static DEVICE_ATTR_RO(nr_vectors);

static ssize_t nr_queues_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	struct wave_dev *wd = to_wave(dev);
	unsigned int n;

	mutex_lock(&wd->lock);
	n = wd->nr_queues;
	mutex_unlock(&wd->lock);
	return sysfs_emit(buf, "%u\n", n);
}
static DEVICE_ATTR_RO(nr_queues);

static const char *wave_dir_name(u16 dir)
{
	return dir == WAVE_DIR_HOST_TO_NIC ? "h2n" : "n2h";
}

static const char *wave_cache_name(u16 mode)
{
	switch (mode) {
	case WAVE_CACHE_WC:
		return "wc";
	case WAVE_CACHE_WT:
		return "wt";
	case WAVE_CACHE_WB:
		return "wb";
	default:
		return "uc";
	}
}

/* One line per live queue: id dir cache kind vector offset size. */
static ssize_t queues_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	struct wave_dev *wd = to_wave(dev);
	int len = 0;
	u32 id;

	mutex_lock(&wd->lock);
	for (id = 0; id < WAVE_MAX_QUEUES; id++) {
		const struct wave_queue *q = &wd->queues[id];

		if (!q->live)
			continue;
		len += sysfs_emit_at(buf, len, "%u %s %s %u %u %#llx %llu\n", id,
				     wave_dir_name(q->dir), wave_cache_name(q->cache_mode), q->kind,
				     q->vector, q->offset, q->size);
	}
	mutex_unlock(&wd->lock);
	return len;
}
static DEVICE_ATTR_RO(queues);

/* One line per vector: vector count. */
static ssize_t irq_counts_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	struct wave_dev *wd = to_wave(dev);
	int len = 0;
	u32 v;

	for (v = 0; v < wd->nr_vectors; v++)
		len += sysfs_emit_at(buf, len, "%u %lld\n", v, atomic64_read(&wd->vec[v].irqs));
	return len;
}
static DEVICE_ATTR_RO(irq_counts);

/* All host interrupts delivered, over every vector. */
static ssize_t irq_count_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	struct wave_dev *wd = to_wave(dev);
	s64 sum = 0;
	u32 v;

	for (v = 0; v < WAVE_MAX_VECTORS; v++)
		sum += atomic64_read(&wd->vec[v].irqs);
	return sysfs_emit(buf, "%lld\n", sum);
}
static DEVICE_ATTR_RO(irq_count);

#define WAVE_COUNTER_ATTR(field)						\
static ssize_t field##_show(struct device *dev, struct device_attribute *attr,	\
			    char *buf)						\
{										\
	return sysfs_emit(buf, "%lld\n", atomic64_read(&to_wave(dev)->field));	\
}										\
static DEVICE_ATTR_RO(field)

WAVE_COUNTER_ATTR(rejected_ioctls);
WAVE_COUNTER_ATTR(rejected_mmaps);
WAVE_COUNTER_ATTR(bad_nic_fields);
WAVE_COUNTER_ATTR(doorbells);
WAVE_COUNTER_ATTR(sigbus_faults);

static struct attribute *wave_dev_attrs[] = {
	&dev_attr_abi_version.attr,
	&dev_attr_backend.attr,
	&dev_attr_bar_size.attr,
	&dev_attr_host_window_size.attr,
	&dev_attr_nic_state.attr,
	&dev_attr_heartbeat.attr,
	&dev_attr_nr_vectors.attr,
	&dev_attr_nr_queues.attr,
	&dev_attr_queues.attr,
	&dev_attr_irq_counts.attr,
	&dev_attr_irq_count.attr,
	&dev_attr_rejected_ioctls.attr,
	&dev_attr_rejected_mmaps.attr,
	&dev_attr_bad_nic_fields.attr,
	&dev_attr_doorbells.attr,
	&dev_attr_sigbus_faults.attr,
	NULL,
};

static const struct attribute_group wave_dev_group = {
	.attrs = wave_dev_attrs,
};

const struct attribute_group *wave_dev_groups[] = {
	&wave_dev_group,
	NULL,
};
