// `wavectl kv status --server ADDR:PORT [--json]`: the key-value store's actors (where each
// shard runs, its load and memory), network port, front end and replication, asked of the
// store itself over its network port ("stats wave", memcached's stats framing).
#pragma once

#include <string>

namespace wave::wavectl {

int RunKv(int argc, const char* const* argv, std::string* out, std::string* err);

// Renders a "stats wave" reply (STAT lines up to END) as text or JSON; false with *err set if
// the reply is not one.
bool FormatKvStatus(const std::string& server, const std::string& reply, bool json,
                    std::string* out, std::string* err);

}  // namespace wave::wavectl
