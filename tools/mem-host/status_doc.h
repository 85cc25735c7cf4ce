// The status of wave-mem-host as an ordered list of named values, written as JSON (for
// `wavectl mem status --json` and the benchmarks) and as aligned text (for people).
#ifndef WAVE_MEM_HOST_STATUS_DOC_H_
#define WAVE_MEM_HOST_STATUS_DOC_H_

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace wave::mem {

class StatusDoc {
 public:
  void Add(std::string key, uint64_t v) { items_.push_back({std::move(key), v}); }
  void Add(std::string key, double v) { items_.push_back({std::move(key), v}); }
  void Add(std::string key, std::string v) { items_.push_back({std::move(key), std::move(v)}); }

  std::string ToJson() const;
  std::string ToText() const;
  // Writes both next to each other (PATH.json, PATH.txt) atomically (temporary + rename).
  bool WriteFiles(const std::string& path_stem, std::string* why) const;

 private:
  struct Item {
    std::string key;
    std::variant<uint64_t, double, std::string> value;
  };
  std::vector<Item> items_;
};

}  // namespace wave::mem

#endif  // WAVE_MEM_HOST_STATUS_DOC_H_
