#include "runtime/runtime_config.h"

#include <charconv>
#include <fstream>
#include <sstream>

namespace wave::rt {
namespace {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos)
    return "";
  const auto e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

bool to_u64(const std::string& s, uint64_t* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

bool to_double(const std::string& s, double* out) {
  std::istringstream in(s);
  in >> *out;
  return !in.fail() && in.eof();
}

bool parse_actor(const std::string& v, ActorSpec* spec, std::string* err) {
  std::istringstream in(v);
  std::string word;
  if (!(in >> spec->type >> spec->name)) {
    *err = "actor needs TYPE NAME";
    return false;
  }
  while (in >> word) {
    if (word == "pinned") {
      spec->pinned = true;
    } else if (word == "drr") {
      spec->start_in_drr = true;
    } else if (word.rfind("cap=", 0) == 0) {
      if (!to_u64(word.substr(4), &spec->mem_cap_bytes) || spec->mem_cap_bytes == 0) {
        *err = "bad cap: " + word;
        return false;
      }
    } else {
      *err = "unknown actor option: " + word;
      return false;
    }
  }
  return true;
}

}  // namespace

const char* sched_mode_name(SchedMode m) {
  switch (m) {
    case SchedMode::kHybrid:
      return "hybrid";
    case SchedMode::kFcfsOnly:
      return "fcfs";
    case SchedMode::kDrrOnly:
      return "drr";
  }
  return "?";
}

bool parse_sched_mode(const std::string& s, SchedMode* out) {
  if (s == "hybrid")
    *out = SchedMode::kHybrid;
  else if (s == "fcfs")
    *out = SchedMode::kFcfsOnly;
  else if (s == "drr")
    *out = SchedMode::kDrrOnly;
  else
    return false;
  return true;
}

bool apply_setting(RuntimeConfig* cfg, const std::string& key, const std::string& value,
                   std::string* err) {
  uint64_t n = 0;
  auto num = [&](uint64_t lo, uint64_t hi) {
    if (!to_u64(value, &n) || n < lo || n > hi) {
      *err = key + ": expected an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) +
             "], got '" + value + "'";
      return false;
    }
    return true;
  };
  if (key == "cores") {
    if (!num(1, 64))
      return false;
    cfg->sched.cores = static_cast<uint32_t>(n);
  } else if (key == "mode") {
    if (!parse_sched_mode(value, &cfg->sched.mode)) {
      *err = "mode: expected hybrid, fcfs or drr";
      return false;
    }
  } else if (key == "tail_threshold_us") {
    if (!num(1, 10'000'000))
      return false;
    cfg->sched.tail_threshold_ns = n * 1000;
  } else if (key == "mean_threshold_us") {
    if (!num(1, 10'000'000))
      return false;
    cfg->mean_threshold_ns = n * 1000;
  } else if (key == "alpha") {
    double a;
    if (!to_double(value, &a) || a < 0 || a >= 1) {
      *err = "alpha: expected a number in [0, 1)";
      return false;
    }
    cfg->sched.alpha = a;
  } else if (key == "window") {
    if (!num(1, 1'000'000))
      return false;
    cfg->sched.window = static_cast<uint32_t>(n);
  } else if (key == "drr_quantum_us") {
    if (!num(1, 1'000'000))
      return false;
    cfg->sched.drr_quantum_ns = n * 1000;
  } else if (key == "watchdog_ms") {
    if (!num(1, 600'000))
      return false;
    cfg->watchdog_ns = n * 1'000'000;
  } else if (key == "core_spin_us") {
    if (!num(0, 1'000'000))
      return false;
    cfg->core_spin_ns = n * 1000;
  } else if (key == "tick_us") {
    if (!num(10, 1'000'000))
      return false;
    cfg->tick_ns = n * 1000;
  } else if (key == "migration") {
    if (value != "on" && value != "off") {
      *err = "migration: expected on or off";
      return false;
    }
    cfg->migration = value == "on";
  } else if (key == "migration_cooldown_ms") {
    if (!num(0, 600'000))
      return false;
    cfg->migration_cooldown_ns = n * 1'000'000;
  } else if (key == "pin_cpus") {
    cfg->pin_cpus.clear();
    std::istringstream in(value);
    std::string cpu;
    while (std::getline(in, cpu, ',')) {
      uint64_t c;
      if (!to_u64(trim(cpu), &c) || c > 4095) {
        *err = "pin_cpus: bad cpu '" + cpu + "'";
        return false;
      }
      cfg->pin_cpus.push_back(static_cast<int>(c));
    }
  } else if (key == "actor") {
    ActorSpec spec;
    if (!parse_actor(value, &spec, err))
      return false;
    cfg->actors.push_back(spec);
  } else {
    *err = "unknown key: " + key;
    return false;
  }
  return true;
}

bool parse_config(const std::string& text, RuntimeConfig* cfg, std::string* err) {
  std::istringstream in(text);
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    const auto hash = line.find('#');
    if (hash != std::string::npos)
      line.resize(hash);
    line = trim(line);
    if (line.empty())
      continue;
    const auto eq = line.find('=');
    if (eq == std::string::npos) {
      *err = "line " + std::to_string(lineno) + ": expected key = value";
      return false;
    }
    std::string e;
    if (!apply_setting(cfg, trim(line.substr(0, eq)), trim(line.substr(eq + 1)), &e)) {
      *err = "line " + std::to_string(lineno) + ": " + e;
      return false;
    }
  }
  return true;
}

bool load_config_file(const std::string& path, RuntimeConfig* cfg, std::string* err) {
  std::ifstream f(path);
  if (!f) {
    *err = "cannot open " + path;
    return false;
  }
  std::stringstream ss;
  ss << f.rdbuf();
  return parse_config(ss.str(), cfg, err);
}

}  // namespace wave::rt
