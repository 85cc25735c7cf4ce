#include "status_doc.h"

#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>

namespace wave::mem {
namespace {

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string Number(double v) {
  if (!std::isfinite(v))
    return "null";
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.6g", v);
  return buf;
}

bool WriteAtomically(const std::string& path, const std::string& body, std::string* why) {
  const std::string tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "w");
  if (!f) {
    *why = tmp + ": " + std::strerror(errno);
    return false;
  }
  const bool ok = std::fwrite(body.data(), 1, body.size(), f) == body.size();
  if (std::fclose(f) != 0 || !ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    *why = path + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

}  // namespace

std::string StatusDoc::ToJson() const {
  std::string out = "{";
  for (size_t i = 0; i < items_.size(); i++) {
    out += i ? ", " : "";
    out += JsonString(items_[i].key) + ": ";
    const auto& v = items_[i].value;
    if (const auto* u = std::get_if<uint64_t>(&v))
      out += std::to_string(*u);
    else if (const auto* d = std::get_if<double>(&v))
      out += Number(*d);
    else
      out += JsonString(std::get<std::string>(v));
  }
  return out + "}\n";
}

std::string StatusDoc::ToText() const {
  size_t width = 0;
  for (const Item& it : items_)
    width = std::max(width, it.key.size());
  std::string out;
  for (const Item& it : items_) {
    out += it.key + ":" + std::string(width + 2 - it.key.size(), ' ');
    if (const auto* u = std::get_if<uint64_t>(&it.value))
      out += std::to_string(*u);
    else if (const auto* d = std::get_if<double>(&it.value))
      out += Number(*d);
    else
      out += std::get<std::string>(it.value);
    out += "\n";
  }
  return out;
}

bool StatusDoc::WriteFiles(const std::string& path_stem, std::string* why) const {
  return WriteAtomically(path_stem + ".json", ToJson(), why) &&
         WriteAtomically(path_stem + ".txt", ToText(), why);
}

}  // namespace wave::mem
