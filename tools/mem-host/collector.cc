#include "collector.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sys/epoll.h>
#include <time.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "wave_mem_collect.skel.h"

namespace wave::mem {
namespace {

uint64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

BatchAssembler::Options AssemblerOptions(const CollectorOptions& o) {
  BatchAssembler::Options a;
  a.aggr_us = o.aggr_us;
  a.max_accesses = o.max_accesses;
  a.timeout_ns = o.timeout_ns ? o.timeout_ns : static_cast<uint64_t>(o.aggr_us) * 500ull;
  return a;
}

int Silent(enum libbpf_print_level level, const char* fmt, va_list args) {
  if (level == LIBBPF_WARN)
    return vfprintf(stderr, fmt, args);
  return 0;
}

}  // namespace

Collector::Collector(const CollectorOptions& o, BatchCallback cb, const PagedOutSet* paged_out)
    : o_(o), assembler_(AssemblerOptions(o), std::move(cb), paged_out) {}

Result<std::unique_ptr<Collector>> Collector::Create(const CollectorOptions& o, BatchCallback cb,
                                                     const PagedOutSet* paged_out,
                                                     pid_t kdamond_pid) {
  if (o.ringbuf_bytes < 4096 || (o.ringbuf_bytes & (o.ringbuf_bytes - 1)) != 0)
    return Error{EINVAL, "ringbuf_bytes must be a power of two >= 4096"};
  if (o.aggr_us == 0 || o.max_accesses == 0)
    return Error{EINVAL, "aggr_us and max_accesses must be non-zero"};
  libbpf_set_print(Silent);
  std::unique_ptr<Collector> c(new Collector(o, std::move(cb), paged_out));
  c->skel_ = wave_mem_collect__open();
  if (!c->skel_)
    return ErrnoError("open the wave_mem_collect BPF object", errno);
  int err = bpf_map__set_max_entries(c->skel_->maps.records, o.ringbuf_bytes);
  if (err)
    return ErrnoError("size the ring buffer", -err);
  err = wave_mem_collect__load(c->skel_);
  if (err)
    return ErrnoError(
        "load wave_mem_collect (needs root, BTF and DAMON's damon_aggregated "
        "tracepoint)",
        -err);
  c->skel_->bss->filter_pid = static_cast<__u32>(kdamond_pid);
  c->kdamond_pid_ = kdamond_pid;
  err = wave_mem_collect__attach(c->skel_);
  if (err)
    return ErrnoError("attach to tp_btf/damon_aggregated", -err);
  c->rb_ =
      ring_buffer__new(bpf_map__fd(c->skel_->maps.records), &Collector::OnRecord, c.get(), nullptr);
  if (!c->rb_)
    return ErrnoError("ring_buffer__new", errno);
  return c;
}

Collector::~Collector() {
  if (rb_)
    ring_buffer__free(rb_);
  if (skel_)
    wave_mem_collect__destroy(skel_);
}

void Collector::SetKdamondPid(pid_t pid) {
  std::lock_guard<std::mutex> lock(mu_);
  kdamond_pid_ = pid;
  skel_->bss->filter_pid = static_cast<__u32>(pid);
}

void Collector::SetTargets(std::vector<TargetSlot> slots) {
  std::lock_guard<std::mutex> lock(mu_);
  slots_ = slots;
  assembler_.SetTargets(std::move(slots));
  if (kernel_path_) {
    if (Status st = WriteKernelSlots(); !st.ok())
      std::fprintf(stderr, "wave-mem-host: collector: %s\n", st.error().message.c_str());
  }
}

// The program's index -> target map; mu_ held. Indices past the list are cleared first, the
// count last, so the program never looks up a slot it was not given.
Status Collector::WriteKernelSlots() {
  if (slots_.size() > WAVE_MEM_COLLECT_MAX_KSLOTS)
    return Error{EINVAL, "more than " + std::to_string(WAVE_MEM_COLLECT_MAX_KSLOTS) +
                             " targets for the kernel batch path"};
  const int fd = bpf_map__fd(skel_->maps.kslots);
  skel_->bss->nr_kslots = 0;
  for (uint32_t i = 0; i < WAVE_MEM_COLLECT_MAX_KSLOTS; i++) {
    wave_mem_collect_kslot v{};
    if (i < slots_.size()) {
      v.target = slots_[i].target;
      v.valid_from_ns = slots_[i].valid_from_ns;
    }
    if (bpf_map_update_elem(fd, &i, &v, BPF_ANY) != 0)
      return ErrnoError("update the kslots map", errno);
  }
  skel_->bss->nr_kslots = static_cast<__u32>(slots_.size());
  return {};
}

Status Collector::SetKernelPath(bool on) {
  std::lock_guard<std::mutex> lock(mu_);
  if (on) {
    if (Status st = WriteKernelSlots(); !st.ok())
      return st;
  }
  kernel_path_ = on;
  skel_->bss->kernel_path = on ? 1 : 0;
  return {};
}

int Collector::fd() const {
  return ring_buffer__epoll_fd(rb_);
}

int Collector::OnRecord(void* ctx, void* data, size_t size) {
  auto* self = static_cast<Collector*>(ctx);
  wave_mem_collect_rec rec;
  if (size < sizeof(rec))
    return 0;
  memcpy(&rec, data, sizeof(rec));
  // Records already in the ring when the filter changed.
  if (self->kdamond_pid_ != 0 && rec.kdamond_pid != static_cast<__u32>(self->kdamond_pid_)) {
    self->foreign_++;
    return 0;
  }
  self->assembler_.Add(rec);
  return 0;
}

Result<int> Collector::Consume() {
  std::lock_guard<std::mutex> lock(mu_);
  const int n = ring_buffer__consume(rb_);
  if (n < 0)
    return ErrnoError("ring_buffer__consume", -n);
  assembler_.Tick(NowNs());
  return n;
}

Result<int> Collector::Poll(int timeout_ms) {
  int wait = timeout_ms;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (assembler_.pending()) {
      const uint64_t now = NowNs(), deadline = assembler_.deadline_ns();
      const int left = deadline > now ? static_cast<int>((deadline - now) / 1000000 + 1) : 0;
      if (wait < 0 || left < wait)
        wait = left;
    }
  }
  // Wait on the ring buffer's epoll instance without the lock (SetTargets may come from
  // another thread meanwhile), then consume under it.
  epoll_event ev;
  const int r = epoll_wait(fd(), &ev, 1, wait);
  if (r < 0 && errno != EINTR)
    return ErrnoError("epoll_wait on the ring buffer", errno);
  return Consume();
}

CollectorCounters Collector::counters() const {
  std::lock_guard<std::mutex> lock(mu_);
  CollectorCounters c;
  c.assembler = assembler_.counters();
  c.bpf_recorded = skel_->bss->nr_recorded;
  c.bpf_filtered = skel_->bss->nr_filtered;
  c.bpf_lost = skel_->bss->nr_lost;
  c.foreign = foreign_;
  c.kernel_path = kernel_path_;
  c.kernel_added = skel_->bss->nr_kadded;
  c.kernel_refused = skel_->bss->nr_krefused;
  c.kernel_unknown = skel_->bss->nr_kunknown;
  c.kernel_shipped = skel_->bss->nr_kshipped;
  c.kernel_dropped = skel_->bss->nr_kdropped;
  c.kernel_missing = skel_->bss->nr_kmissing;
  return c;
}

}  // namespace wave::mem
