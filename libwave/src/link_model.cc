#include "wave/link_model.h"

#include <cerrno>
#include <charconv>

#include "clock.h"

namespace wave {

void LinkModel::Spin(uint32_t ns) {
  if (ns == 0)
    return;
  const uint64_t end = NowNs() + ns;
  while (NowNs() < end) {
  }
}

Result<LinkModel> LinkModel::Parse(std::string_view spec) {
  LinkModel m;
  while (!spec.empty()) {
    const size_t comma = spec.find(',');
    const std::string_view item = spec.substr(0, comma);
    spec = comma == std::string_view::npos ? std::string_view{} : spec.substr(comma + 1);
    if (item.empty())
      continue;
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos)
      return Error{EINVAL, "link model: want key=ns"};
    const std::string_view key = item.substr(0, eq);
    const std::string_view val = item.substr(eq + 1);
    uint32_t ns = 0;
    auto [ptr, ec] = std::from_chars(val.data(), val.data() + val.size(), ns);
    if (ec != std::errc{} || ptr != val.data() + val.size() || ns > 1000000)
      return Error{EINVAL, "link model: bad value for " + std::string(key)};
    if (key == "mmio_read") {
      m.mmio_read_ns = ns;
    } else if (key == "uc_write") {
      m.uc_write_ns = ns;
    } else if (key == "wc_flush") {
      m.wc_flush_ns = ns;
    } else if (key == "dma") {
      m.dma_ns = ns;
    } else if (key == "dma_per_kib") {
      m.dma_ns_per_kib = ns;
    } else {
      return Error{EINVAL, "link model: unknown key " + std::string(key)};
    }
  }
  return m;
}

std::string LinkModel::ToString() const {
  return "mmio_read=" + std::to_string(mmio_read_ns) + ",uc_write=" + std::to_string(uc_write_ns) +
         ",wc_flush=" + std::to_string(wc_flush_ns) + ",dma=" + std::to_string(dma_ns) +
         ",dma_per_kib=" + std::to_string(dma_ns_per_kib);
}

LinkModel LinkModel::Pcie() {
  LinkModel m;
  m.mmio_read_ns = 800;    // DESIGN.md: host MMIO reads are 0.5-1 us round trips
  m.uc_write_ns = 60;      // serialised UC stores, one TLP each
  m.wc_flush_ns = 40;      // one merged burst
  m.dma_ns = 1000;         // small DMA read of host memory, pcie-bench class figure
  m.dma_ns_per_kib = 160;  // ~6 GB/s effective
  return m;
}

}  // namespace wave
