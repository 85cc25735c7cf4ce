// What the replica's source files (replica.cc, replica_view_change.cc, replica_recovery.cc)
// share and its embedder does not need.
#pragma once

#include <cstdint>
#include <vector>

#include "kv/replication/types.h"

namespace wave::kv::repl::detail {

// Entries that are ops from_op+1, from_op+2, ... of a log of view at most max_view, their views
// never decreasing: the shape every log a message carries must have.
bool Contiguous(const std::vector<Entry>& es, uint64_t from_op, uint64_t max_view);

}  // namespace wave::kv::repl::detail
