// Injected delays for the emulated link, to reproduce the cost of a real PCIe link (Wave's
// ablation) on a machine where both sides share coherent memory. All delays are busy waits:
// a host core stalled on an MMIO read cannot do anything else either.
#ifndef WAVE_LINK_MODEL_H_
#define WAVE_LINK_MODEL_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "wave/result.h"

namespace wave {

struct LinkModel {
  uint32_t mmio_read_ns = 0;    // one non-posted read across the link (UC load, WT line fill)
  uint32_t uc_write_ns = 0;     // one uncached store (each is its own serialised TLP)
  uint32_t wc_flush_ns = 0;     // pushing the WC buffers to the link (one burst)
  uint32_t dma_ns = 0;          // fixed latency of one DMA transfer
  uint32_t dma_ns_per_kib = 0;  // transfer time per KiB

  bool enabled() const {
    return (mmio_read_ns | uc_write_ns | wc_flush_ns | dma_ns | dma_ns_per_kib) != 0;
  }
  void MmioRead() const { Spin(mmio_read_ns); }
  void UcWrite() const { Spin(uc_write_ns); }
  void WcFlush() const { Spin(wc_flush_ns); }
  void Dma(uint64_t bytes) const {
    Spin(dma_ns + static_cast<uint32_t>((bytes * dma_ns_per_kib) / 1024));
  }

  // Busy-waits ns nanoseconds on the monotonic clock.
  static void Spin(uint32_t ns);

  // "mmio_read=800,uc_write=150,wc_flush=100,dma=1000,dma_per_kib=80"; unknown keys fail.
  static Result<LinkModel> Parse(std::string_view spec);
  std::string ToString() const;

  // A PCIe Gen3-class link as described in DESIGN.md (reads 0.5-1 us, posted writes cheap).
  static LinkModel Pcie();
};

}  // namespace wave

#endif  // WAVE_LINK_MODEL_H_
