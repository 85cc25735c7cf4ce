// The three single-producer single-consumer queues compared, behind one small interface:
//   uint32_t Push(const Msg64* msgs, uint32_t n)  -> how many went in
//   uint32_t Pop(Msg64* out, uint32_t max)        -> how many came out
// Each carries 64-byte messages. libwave's ring runs over a real shm device (the same code
// path as two processes; here two threads map it).
#ifndef WAVE_BENCH_LINK_QUEUES_H_
#define WAVE_BENCH_LINK_QUEUES_H_

// DPDK 24.11's rte_ring_elem.h declares its out-of-line functions without C linkage.
extern "C" {
#include <rte_ring.h>
#include <rte_ring_elem.h>
}

#include <boost/lockfree/spsc_queue.hpp>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "bench_util.h"
#include "wave/link.h"

namespace wave::bench {

inline constexpr uint32_t kQueueSlots = 4096;

// libwave: the message ring of a HostLink over shm:NAME, consumed through the NIC side.
// A 64-byte slot holds a 16-byte header and 48 bytes of payload, so the first 48 bytes of
// each Msg64 travel (seq included); the slot on the wire is 64 bytes like the peers' elements.
class WaveQueue {
 public:
  static std::unique_ptr<WaveQueue> Create(const std::string& name) {
    auto q = std::unique_ptr<WaveQueue>(new WaveQueue);
    auto host = Device::Open("shm:" + name, Role::kHost);
    if (!host.ok())
      return nullptr;
    q->host_dev_ = std::move(host.value());
    LinkConfig cfg;
    cfg.message_slots = kQueueSlots;
    cfg.decision_slots = kQueueSlots;
    cfg.dma_slots = 0;
    auto link = HostLink::Create(*q->host_dev_, cfg);
    if (!link.ok())
      return nullptr;
    q->host_ = std::move(link.value());
    auto nic = Device::Open("shm:" + name, Role::kNic);
    if (!nic.ok())
      return nullptr;
    q->nic_dev_ = std::move(nic.value());
    auto nl = NicLink::Attach(*q->nic_dev_);
    if (!nl.ok())
      return nullptr;
    q->nic_ = std::move(nl.value());
    return q;
  }

  // Host to NIC.
  uint32_t Push(const Msg64* m, uint32_t n) { return PushOn(host_->messages().ring(), m, n); }
  uint32_t Pop(Msg64* out, uint32_t max) { return PopOn(nic_->messages().ring(), out, max); }
  // NIC to host (the decision ring), for round trips.
  uint32_t PushBack(const Msg64* m, uint32_t n) {
    return PushOn(nic_->decisions().ring().ring(), m, n);
  }
  uint32_t PopBack(Msg64* out, uint32_t max) {
    return PopOn(host_->decisions().ring().ring(), out, max);
  }

 private:
  WaveQueue() = default;
  static uint32_t PushOn(RingProducer& p, const Msg64* m, uint32_t n) {
    return p.EnqueueBatch(n, [m](uint32_t i, uint8_t* payload) {
      std::memcpy(payload, &m[i], 48);
      return std::pair<uint16_t, uint16_t>{WAVE_MSG_RAW, 48};
    });
  }
  static uint32_t PopOn(RingConsumer& c, Msg64* out, uint32_t max) {
    uint32_t k = 0;
    return c.DequeueBatch(max, [&](uint16_t, const uint8_t* payload, uint16_t len) {
      // The expected size as a constant (an inlined copy), anything shorter as it came.
      if (len == 48)
        std::memcpy(&out[k], payload, 48);
      else
        std::memcpy(&out[k], payload, len < 48 ? len : 48);
      k++;
    });
  }

  std::unique_ptr<Device> host_dev_, nic_dev_;
  std::unique_ptr<HostLink> host_;
  std::unique_ptr<NicLink> nic_;
};

// boost::lockfree::spsc_queue with a compile-time capacity.
class BoostQueue {
 public:
  uint32_t Push(const Msg64* m, uint32_t n) { return static_cast<uint32_t>(fwd_.push(m, n)); }
  uint32_t Pop(Msg64* out, uint32_t max) { return static_cast<uint32_t>(fwd_.pop(out, max)); }
  uint32_t PushBack(const Msg64* m, uint32_t n) { return static_cast<uint32_t>(back_.push(m, n)); }
  uint32_t PopBack(Msg64* out, uint32_t max) { return static_cast<uint32_t>(back_.pop(out, max)); }

 private:
  boost::lockfree::spsc_queue<Msg64, boost::lockfree::capacity<kQueueSlots>> fwd_, back_;
};

// DPDK rte_ring in single-producer/single-consumer mode with 64-byte elements, initialised
// in plain memory (no EAL needed for rte_ring_init).
class DpdkQueue {
 public:
  static std::unique_ptr<DpdkQueue> Create() {
    auto q = std::unique_ptr<DpdkQueue>(new DpdkQueue);
    q->fwd_ = Make("wave_fwd");
    q->back_ = Make("wave_back");
    if (!q->fwd_ || !q->back_)
      return nullptr;
    return q;
  }
  ~DpdkQueue() {
    std::free(fwd_);
    std::free(back_);
  }
  uint32_t Push(const Msg64* m, uint32_t n) {
    return rte_ring_sp_enqueue_burst_elem(fwd_, m, sizeof(Msg64), n, nullptr);
  }
  uint32_t Pop(Msg64* out, uint32_t max) {
    return rte_ring_sc_dequeue_burst_elem(fwd_, out, sizeof(Msg64), max, nullptr);
  }
  uint32_t PushBack(const Msg64* m, uint32_t n) {
    return rte_ring_sp_enqueue_burst_elem(back_, m, sizeof(Msg64), n, nullptr);
  }
  uint32_t PopBack(Msg64* out, uint32_t max) {
    return rte_ring_sc_dequeue_burst_elem(back_, out, sizeof(Msg64), max, nullptr);
  }

 private:
  DpdkQueue() = default;
  static rte_ring* Make(const char* name) {
    const ssize_t size = rte_ring_get_memsize_elem(sizeof(Msg64), kQueueSlots);
    if (size <= 0)
      return nullptr;
    void* mem = std::aligned_alloc(128, (static_cast<size_t>(size) + 127) & ~size_t{127});
    if (!mem)
      return nullptr;
    auto* r = static_cast<rte_ring*>(mem);
    // Usable capacity kQueueSlots - 1, as boost's.
    if (rte_ring_init(r, name, kQueueSlots, RING_F_SP_ENQ | RING_F_SC_DEQ) != 0) {
      std::free(mem);
      return nullptr;
    }
    return r;
  }
  rte_ring* fwd_ = nullptr;
  rte_ring* back_ = nullptr;
};

}  // namespace wave::bench

#endif  // WAVE_BENCH_LINK_QUEUES_H_
