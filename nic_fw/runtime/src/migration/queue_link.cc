#include "runtime/migration/queue_link.h"

#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstring>
#include <optional>
#include <random>

#include "migration/slot_frame_channel.h"
#include "wave/device.h"
#include "wave/fence.h"
#include "wave/ring.h"
#include "wave/waiter.h"
#include "wave_frame_link.h"

namespace wave::rt::mig {
namespace {

constexpr uint32_t kRing = 0;    // each region holds one ring, at index 0
constexpr uint32_t kCredit = 0;  // and the peer ring's credit cell at credits[0]

bool power_of_two(uint64_t v) {
  return v != 0 && (v & (v - 1)) == 0;
}

uint64_t page_align(uint64_t v) {
  return (v + WAVE_PAGE_SIZE - 1) & ~uint64_t{WAVE_PAGE_SIZE - 1};
}

// The sleep cells: plain 32-bit words of shared memory; the fences around them are explicit.
uint32_t LoadCell(const uint32_t* p) {
  return std::atomic_ref<const uint32_t>(*p).load(std::memory_order_relaxed);
}

void StoreCell(uint32_t* p, uint32_t v) {
  std::atomic_ref<uint32_t>(*p).store(v, std::memory_order_relaxed);
}

wave_region_hdr* header(const QueueRegion& r) {
  return reinterpret_cast<wave_region_hdr*>(r.base);
}

wave_frame_link_info read_info(const QueueRegion& r) {
  wave_frame_link_info info;
  std::memcpy(&info, r.base + WAVE_FRAME_LINK_INFO_OFF, sizeof info);
  return info;
}

std::string name_of(const wave_frame_link_info& info) {
  return std::string(reinterpret_cast<const char*>(info.name),
                     strnlen(reinterpret_cast<const char*>(info.name), sizeof info.name));
}

std::string queue_name(uint32_t id) {
  return "queue " + std::to_string(id);
}

RingEndpoint endpoint(const QueueRegion& ring_region, const RingGeometry& g,
                      const QueueRegion& credit_region, bool host) {
  RingEndpoint ep;
  ep.slots = ring_region.base + g.slots_off;
  ep.geo = g;
  ep.credit = &header(credit_region)->credits[g.credit_index];
  ep.consumer = &header(ring_region)->consumers[kRing];
  if (host) {  // the NIC's side of the shared memory is plain write-back memory
    ep.slot_mem = ring_region.mem;
    ep.credit_mem = credit_region.mem;
    ep.slot_cache = ring_region.cache_mode;
    ep.credit_cache = credit_region.cache_mode;
  }
  return ep;
}

// The ring of one region, checked against the link's rules (every field is untrusted).
bool read_ring(const QueueRegion& r, uint32_t credit_queue, RingGeometry* out, std::string* error) {
  auto g = ReadRingDesc(&header(r)->rings[kRing], r.size);
  if (!g) {
    *error = queue_name(r.id) + ": " + g.error().message;
    return false;
  }
  if (g->kind != WAVE_RING_KIND_RAW || g->flags != 0 || g->slot_size < 128 ||
      g->credit_queue != credit_queue || g->credit_index != kCredit) {
    *error = queue_name(r.id) + ": not a frame ring of this link (kind, flags, slot size or " +
             "credit cell)";
    return false;
  }
  if (SlotFrameChannel::slots_for(g->slot_size, kMaxFramePayload) > g->nr_slots) {
    *error = queue_name(r.id) + ": " + std::to_string(g->nr_slots) + " slots of " +
             std::to_string(g->slot_size) + " bytes cannot hold a largest frame";
    return false;
  }
  *out = g.value();
  return true;
}

// Checks that an info block describes this region, as one direction of the link.
bool check_info(const QueueRegion& r, const wave_frame_link_info& info, uint16_t dir,
                std::string* error) {
  if (info.magic != WAVE_FRAME_LINK_MAGIC) {
    *error = queue_name(r.id) + ": no frame link info";
    return false;
  }
  if (info.version != WAVE_FRAME_LINK_VERSION) {
    *error = queue_name(r.id) + ": frame link version " + std::to_string(info.version) +
             ", this side knows " + std::to_string(WAVE_FRAME_LINK_VERSION);
    return false;
  }
  if (info.dir != dir || r.dir != dir || r.kind != WAVE_QKIND_RAW ||
      (info.flags & ~WAVE_FRAME_LINK_FLAGS_KNOWN) != 0) {
    *error = queue_name(r.id) + ": frame link info does not match the queue (direction, kind " +
             "or unknown flags)";
    return false;
  }
  return true;
}

void write_info(const QueueRegion& r, uint16_t dir, uint32_t peer, uint32_t flags, uint64_t link_id,
                const std::string& name) {
  wave_frame_link_info info{};
  info.version = WAVE_FRAME_LINK_VERSION;
  info.dir = dir;
  info.peer_queue = peer;
  info.flags = flags;
  info.link_id = link_id;
  std::memcpy(info.name, name.data(), name.size());
  uint8_t* dst = r.base + WAVE_FRAME_LINK_INFO_OFF;
  // Everything but the magic, then the magic: a reader sees a whole block or none.
  std::memcpy(dst + sizeof info.magic, reinterpret_cast<const uint8_t*>(&info) + sizeof info.magic,
              sizeof info - sizeof info.magic);
  StoreFence(r.mem);
  *reinterpret_cast<volatile uint32_t*>(dst) = WAVE_FRAME_LINK_MAGIC;
  FlushWrites(r.mem);
}

}  // namespace

struct QueueLink::Regions {
  QueueRegion to_nic;   // host-to-NIC
  QueueRegion to_host;  // NIC-to-host
};

QueueLink::QueueLink() = default;

QueueLink::~QueueLink() {
  if (!owns_queues_)
    return;
  // Unpublish first, so a NIC scanning the table never attaches to a region being freed.
  auto* magic = reinterpret_cast<volatile uint32_t*>(host_to_nic_base_ + WAVE_FRAME_LINK_INFO_OFF);
  *magic = 0;
  (void)device_->DestroyQueue(tx_queue_);
  (void)device_->DestroyQueue(rx_queue_);
}

FrameChannel& QueueLink::tx() {
  return *tx_;
}

FrameChannel& QueueLink::rx() {
  return *rx_;
}

FrameLinkStats QueueLink::tx_stats() const {
  return tx_->stats();
}

FrameLinkStats QueueLink::rx_stats() const {
  return rx_->stats();
}

std::unique_ptr<QueueLink> QueueLink::create(std::shared_ptr<Device> device,
                                             const QueueLinkConfig& config, std::string* error) {
  if (!device || device->role() != Role::kHost) {
    *error = "the host side creates a queue link";
    return nullptr;
  }
  if (config.name.empty() || config.name.size() >= WAVE_FRAME_LINK_NAME_LEN) {
    *error = "link name must be 1-15 bytes";
    return nullptr;
  }
  if (!power_of_two(config.slot_size) || config.slot_size < 128 ||
      config.slot_size > WAVE_RING_MAX_SLOT_SIZE || !power_of_two(config.nr_slots) ||
      config.nr_slots > WAVE_RING_MAX_SLOTS ||
      SlotFrameChannel::slots_for(config.slot_size, kMaxFramePayload) > config.nr_slots) {
    *error = "queue link: slot size a power of two 128..4096, slot count a power of two " +
             std::string("that holds a frame of kMaxFramePayload bytes");
    return nullptr;
  }
  const uint32_t nr_vectors = device->control()->nr_vectors;
  const int vector = config.vector >= 0 ? config.vector : static_cast<int>(nr_vectors) - 1;
  if (vector < 0 || static_cast<uint32_t>(vector) >= nr_vectors) {
    *error = "queue link: vector " + std::to_string(vector) + " outside the device's " +
             std::to_string(nr_vectors);
    return nullptr;
  }
  const uint64_t size =
      page_align(WAVE_REGION_HDR_SIZE + uint64_t{config.slot_size} * config.nr_slots);
  QueueSpec to_nic{size, WAVE_DIR_HOST_TO_NIC, WAVE_CACHE_WC, WAVE_QKIND_RAW,
                   static_cast<uint16_t>(vector)};
  QueueSpec to_host{size, WAVE_DIR_NIC_TO_HOST, WAVE_CACHE_WT, WAVE_QKIND_RAW,
                    static_cast<uint16_t>(vector)};
  auto a = device->CreateQueue(to_nic);
  if (!a) {
    *error = "host-to-NIC queue: " + a.error().message;
    return nullptr;
  }
  auto b = device->CreateQueue(to_host);
  if (!b) {
    (void)device->DestroyQueue(a->id);
    *error = "NIC-to-host queue: " + b.error().message;
    return nullptr;
  }
  const Regions r{a.value(), b.value()};
  // A region may hold an earlier queue's slots, whose sequence words could look valid.
  std::memset(r.to_nic.base, 0, r.to_nic.size);
  std::memset(r.to_host.base, 0, r.to_host.size);
  RingGeometry g;
  g.kind = WAVE_RING_KIND_RAW;
  g.slot_size = config.slot_size;
  g.nr_slots = config.nr_slots;
  g.credit_batch = config.nr_slots / 4;
  g.slots_off = WAVE_REGION_HDR_SIZE;
  g.credit_index = kCredit;
  g.credit_queue = r.to_host.id;  // the host-to-NIC ring's credits, written by the NIC
  WriteRingDesc(&header(r.to_nic)->rings[kRing], g);
  g.credit_queue = r.to_nic.id;
  WriteRingDesc(&header(r.to_host)->rings[kRing], g);
  const uint32_t flags =
      config.dma_window && !device->HostWindow().empty() ? WAVE_FRAME_LINK_F_DMA_WINDOW : 0;
  const uint64_t link_id = std::random_device{}() | (uint64_t{std::random_device{}()} << 32);
  // The NIC looks for the host-to-NIC region's block: it goes last.
  write_info(r.to_host, WAVE_DIR_NIC_TO_HOST, r.to_nic.id, flags, link_id, config.name);
  write_info(r.to_nic, WAVE_DIR_HOST_TO_NIC, r.to_host.id, flags, link_id, config.name);
  auto link = build(device, r, true, error);
  if (!link) {
    (void)device->DestroyQueue(r.to_nic.id);
    (void)device->DestroyQueue(r.to_host.id);
    return nullptr;
  }
  link->owns_queues_ = true;
  // Tell a NIC that sleeps on the vector that the queue table changed.
  (void)link->device_->Notify(r.to_nic.id, 0);
  return link;
}

std::unique_ptr<QueueLink> QueueLink::attach(std::shared_ptr<Device> device,
                                             const std::string& name, std::string* error) {
  if (!device || device->role() != Role::kNic) {
    *error = "the NIC side attaches to a queue link";
    return nullptr;
  }
  const volatile wave_control_page* c = device->control();
  std::optional<QueueRegion> found;
  for (uint32_t id = 0; id < WAVE_MAX_QUEUES; id++) {
    if (c->queues[id].state != WAVE_QSTATE_ACTIVE || c->queues[id].kind != WAVE_QKIND_RAW ||
        c->queues[id].dir != WAVE_DIR_HOST_TO_NIC)
      continue;
    auto q = device->MapQueue(id);
    if (!q || q->size < WAVE_REGION_HDR_SIZE)
      continue;
    const wave_frame_link_info info = read_info(*q);
    if (info.magic != WAVE_FRAME_LINK_MAGIC || name_of(info) != name)
      continue;
    if (found) {
      *error = "two frame links called '" + name + "' (" + queue_name(found->id) + ", " +
               queue_name(id) + ")";
      return nullptr;
    }
    found = q.value();
  }
  if (!found) {
    *error =
        "no frame link called '" + name + "' on " + device->spec() + " (the host side creates it)";
    return nullptr;
  }
  std::atomic_thread_fence(std::memory_order_acquire);
  const wave_frame_link_info info = read_info(*found);
  if (!check_info(*found, info, WAVE_DIR_HOST_TO_NIC, error))
    return nullptr;
  auto peer = device->MapQueue(info.peer_queue);
  if (!peer) {
    *error = queue_name(found->id) + ": peer " + queue_name(info.peer_queue) + ": " +
             peer.error().message;
    return nullptr;
  }
  if (peer->size < WAVE_REGION_HDR_SIZE) {
    *error = queue_name(peer->id) + ": smaller than its header";
    return nullptr;
  }
  const wave_frame_link_info back = read_info(*peer);
  if (!check_info(*peer, back, WAVE_DIR_NIC_TO_HOST, error))
    return nullptr;
  if (back.link_id != info.link_id || back.peer_queue != found->id || back.flags != info.flags ||
      name_of(back) != name) {
    *error = queue_name(found->id) + " and " + queue_name(peer->id) +
             " do not describe one link (link id, peer or flags differ)";
    return nullptr;
  }
  return build(std::move(device), Regions{found.value(), peer.value()}, false, error);
}

// Both sides: checks the two rings (the host reads back what it wrote, through the same
// checks) and makes the channels.
std::unique_ptr<QueueLink> QueueLink::build(std::shared_ptr<Device> device, const Regions& r,
                                            bool host, std::string* error) {
  RingGeometry to_nic, to_host;
  if (!read_ring(r.to_nic, r.to_host.id, &to_nic, error) ||
      !read_ring(r.to_host, r.to_nic.id, &to_host, error))
    return nullptr;
  if (r.to_nic.vector != r.to_host.vector) {
    *error = queue_name(r.to_nic.id) + " and " + queue_name(r.to_host.id) + " use two vectors";
    return nullptr;
  }
  std::unique_ptr<QueueLink> link(new QueueLink());
  Device* dev = device.get();
  const QueueRegion& out = host ? r.to_nic : r.to_host;
  const QueueRegion& in = host ? r.to_host : r.to_nic;
  const RingGeometry& out_g = host ? to_nic : to_host;
  const RingGeometry& in_g = host ? to_host : to_nic;
  const uint32_t out_id = out.id;
  QueueLink* raw = link.get();
  link->own_sleep_cells_ = reinterpret_cast<uint32_t*>(out.base + WAVE_FRAME_LINK_INFO_OFF +
                                                       offsetof(wave_frame_link_info, rx_sleeps));
  link->peer_sleep_cells_ = reinterpret_cast<const uint32_t*>(
      in.base + WAVE_FRAME_LINK_INFO_OFF + offsetof(wave_frame_link_info, rx_sleeps));
  link->own_cells_mem_ = static_cast<uint8_t>(host ? out.mem : MemKind::kWriteBack);
  link->peer_cells_mem_ = static_cast<uint8_t>(host ? in.mem : MemKind::kWriteBack);
  link->tx_ = std::make_unique<SlotFrameChannel>(
      RingProducer(endpoint(out, out_g, in, host)), out_g.slot_size, [raw, dev, out_id] {
        // The frame's stores before the read of the peer's cells (wait_rx: the other half).
        std::atomic_thread_fence(std::memory_order_seq_cst);
        const uint32_t* cells = raw->peer_sleep_cells_;
        if (static_cast<MemKind>(raw->peer_cells_mem_) == MemKind::kWriteThrough)
          InvalidateLine(cells);
        const uint32_t sleeps = LoadCell(cells), asleep = LoadCell(cells + 1);
        if (sleeps == 1 && asleep == 0) {
          raw->doorbells_skipped_.fetch_add(1, std::memory_order_relaxed);
          return;
        }
        (void)dev->Notify(out_id, 0);
        raw->doorbells_rung_.fetch_add(1, std::memory_order_relaxed);
      });
  link->rx_ = std::make_unique<SlotFrameChannel>(
      RingConsumer(endpoint(in, in_g, out, host), RingConsumer::Start::kFresh), in_g.slot_size);
  link->tx_queue_ = out.id;
  link->rx_queue_ = in.id;
  link->rx_eventfd_ = dev->EventFd(in.vector);
  link->host_to_nic_base_ = r.to_nic.base;
  if (read_info(r.to_nic).flags & WAVE_FRAME_LINK_F_DMA_WINDOW) {
    const std::span<uint8_t> w = dev->HostWindow();
    if (w.empty()) {
      *error = "the link offers a DMA window but " + dev->spec() + " has none on this side";
      return nullptr;
    }
    link->window_ = {reinterpret_cast<std::byte*>(w.data()), w.size()};
    // Fault the window in now (libwave maps it lazily), so that no migration pays for it.
    // Best effort: without MADV_POPULATE_WRITE the first migration pays.
    madvise(link->window_.data(), link->window_.size(), MADV_POPULATE_WRITE);
  }
  link->device_ = std::move(device);
  return link;
}

bool QueueLink::wait_rx(std::chrono::nanoseconds timeout) {
  if (!waiter_ && !waiter_failed_) {
    WaitPolicy policy;
    policy.spin = std::chrono::nanoseconds(0);  // callers spin before they wait
    auto w = Waiter::Create(policy);
    if (w && w.value()->Watch(rx_eventfd_)) {
      waiter_ = std::move(w.value());
    } else {
      waiter_failed_ = true;
    }
  }
  if (!waiter_)
    return false;
  // Announce the sleep before the last look at the ring, so that a producer whose frame this
  // look misses reads rx_asleep == 1 after its frame and rings (the fences pair up).
  if (!announced_sleeps_) {
    StoreCell(own_sleep_cells_, 1);
    announced_sleeps_ = true;
  }
  StoreCell(own_sleep_cells_ + 1, 1);
  FlushWrites(static_cast<MemKind>(own_cells_mem_));
  std::atomic_thread_fence(std::memory_order_seq_cst);
  waiter_->Wait([this] { return rx_->ready(); }, timeout);
  StoreCell(own_sleep_cells_ + 1, 0);
  FlushWrites(static_cast<MemKind>(own_cells_mem_));
  return true;
}

std::unique_ptr<QueueLink> QueueLink::open(const std::string& device_spec, LinkSide side,
                                           QueueLinkConfig config, uint64_t window_bytes,
                                           std::string* error) {
  DeviceOptions opts;
  if (window_bytes != 0) {
    opts.host_window_size = page_align(window_bytes);
  } else {
    opts.host_window_size = WAVE_PAGE_SIZE;  // shm: the smallest image; no window offered
    config.dma_window = false;
  }
  // Both rings and their headers, with room for other links on the same device.
  const uint64_t need =
      2 * page_align(WAVE_REGION_HDR_SIZE + uint64_t{config.slot_size} * config.nr_slots);
  opts.bar_size = std::max<uint64_t>(opts.bar_size, page_align(2 * need));
  const Role role = side == LinkSide::kHost ? Role::kHost : Role::kNic;
  auto dev = Device::Open(device_spec, role, opts);
  if (!dev) {
    *error = "cannot open " + device_spec + ": " + dev.error().message;
    return nullptr;
  }
  std::shared_ptr<Device> shared(std::move(dev.value()));
  if (side == LinkSide::kHost)
    return create(std::move(shared), config, error);
  return attach(std::move(shared), config.name, error);
}

}  // namespace wave::rt::mig
