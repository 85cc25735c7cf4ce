// A memcached load generator: closed-loop connections over TCP, a Zipfian key mix, 90 % get /
// 10 % set, 64-byte keys, values of 100 B to 4 KiB (fixed per key, so every get is checked).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace wave::bench {

struct LoadConfig {
  int port = 11211;
  int threads = 1;
  int connections_per_thread = 8;
  uint64_t keys = 50000;
  double zipf_s = 0.99;
  double get_share = 0.9;
  double seconds = 3.0;
  uint64_t seed = 1;
};

struct LoadResult {
  uint64_t ops = 0;
  uint64_t gets = 0;
  uint64_t hits = 0;
  uint64_t errors = 0;  // wrong or malformed replies
  double seconds = 0;
  double p50_us = 0;
  double p99_us = 0;
  double client_cpu_s = 0;  // the generator's own CPU time
};

// The key and value of index i (the value length depends on the key only).
std::string KeyOf(uint64_t i);
size_t ValueLength(uint64_t i);

// Stores every key once (so gets hit), pipelined; false if the server misbehaved.
bool Preload(const LoadConfig& cfg, std::string* error);
LoadResult RunLoad(const LoadConfig& cfg);

}  // namespace wave::bench
