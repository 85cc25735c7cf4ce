// A memtable shard holding 32 MB of items, migrated to the host runtime and back while a
// client keeps reading it (in one process, over the shared-memory link with a DMA window).
#pragma once

#include <cstdint>

namespace wave::bench {

struct MemtableMigrationResult {
  bool ok = false;
  uint64_t bytes = 0;  // DMO bytes shipped
  uint64_t objects = 0;
  double to_host_ms = 0;  // stop + ship + recreate + replay
  double back_ms = 0;
  uint64_t requests = 0;       // gets posted while it moved
  uint64_t answered_once = 0;  // of those, answered exactly once
  uint64_t values_intact = 0;  // of those, with the value that was stored
};

MemtableMigrationResult RunMemtableMigration(uint64_t table_bytes);

}  // namespace wave::bench
