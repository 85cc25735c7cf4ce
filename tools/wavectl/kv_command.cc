#include "kv_command.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <sstream>
#include <vector>

namespace wave::wavectl {
namespace {

constexpr char kUsage[] = "usage: wavectl kv status --server ADDR:PORT [--json]\n";

bool IsNumber(const std::string& s) {
  if (s.empty())
    return false;
  for (char c : s) {
    if (c < '0' || c > '9')
      return false;
  }
  return s.size() < 20;
}

std::string JsonValue(const std::string& v) {
  if (IsNumber(v))
    return v;
  std::string out = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\')
      out += '\\';
    if (static_cast<unsigned char>(c) >= 0x20)
      out += c;
  }
  return out + "\"";
}

// Asks the store; the reply up to and including END.
bool Ask(const std::string& server, std::string* reply, std::string* err) {
  size_t colon = server.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    *err = "wavectl kv: --server wants ADDR:PORT, got '" + server + "'\n";
    return false;
  }
  std::string host = server.substr(0, colon), port = server.substr(colon + 1);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &res) != 0 || res == nullptr) {
    *err = "wavectl kv: cannot resolve '" + server + "'\n";
    return false;
  }
  int fd = socket(res->ai_family, SOCK_STREAM, 0);
  bool connected = fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) == 0;
  freeaddrinfo(res);
  if (!connected) {
    if (fd >= 0)
      close(fd);
    *err = "wavectl kv: cannot connect to " + server + " (is wave-nicd running with --kv?)\n";
    return false;
  }
  const char req[] = "stats wave\r\n";
  if (send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) != sizeof(req) - 1) {
    close(fd);
    *err = "wavectl kv: send failed\n";
    return false;
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  char buf[16384];
  while (std::chrono::steady_clock::now() < deadline) {
    if (reply->size() >= 5 && reply->compare(reply->size() - 5, 5, "END\r\n") == 0)
      break;
    if (reply->size() > (1 << 20))
      break;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0)
      continue;
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0)
      break;
    reply->append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return true;
}

}  // namespace

bool FormatKvStatus(const std::string& server, const std::string& reply, bool json,
                    std::string* out, std::string* err) {
  std::vector<std::pair<std::string, std::string>> stats;
  std::istringstream in(reply);
  std::string line;
  bool ended = false;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r')
      line.pop_back();
    if (line == "END") {
      ended = true;
      break;
    }
    if (line.rfind("STAT ", 0) != 0) {
      *err = "wavectl kv: the server does not answer 'stats wave': " + line.substr(0, 80) + "\n";
      return false;
    }
    size_t sp = line.find(' ', 5);
    if (sp == std::string::npos) {
      *err = "wavectl kv: malformed STAT line: " + line.substr(0, 80) + "\n";
      return false;
    }
    stats.emplace_back(line.substr(5, sp - 5), line.substr(sp + 1));
  }
  if (!ended) {
    *err = "wavectl kv: the reply ended early\n";
    return false;
  }
  // shard.N.field -> shards[N][field]; group.field -> groups[group][field].
  std::map<size_t, std::vector<std::pair<std::string, std::string>>> shards;
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> groups;
  std::vector<std::string> group_order;
  std::map<std::string, std::string> top;
  for (auto& [name, value] : stats) {
    size_t dot = name.find('.');
    if (dot == std::string::npos) {
      top[name] = value;
      continue;
    }
    std::string group = name.substr(0, dot), rest = name.substr(dot + 1);
    if (group == "shard") {
      size_t dot2 = rest.find('.');
      if (dot2 == std::string::npos || !IsNumber(rest.substr(0, dot2)))
        continue;
      shards[std::stoul(rest.substr(0, dot2))].emplace_back(rest.substr(dot2 + 1), value);
      continue;
    }
    if (!groups.count(group))
      group_order.push_back(group);
    groups[group].emplace_back(rest, value);
  }
  auto field = [](const std::vector<std::pair<std::string, std::string>>& f,
                  const std::string& name) {
    for (auto& [k, v] : f) {
      if (k == name)
        return v;
    }
    return std::string("-");
  };
  if (json) {
    *out = "{\"server\":" + JsonValue(server) + ",\"shards\":[";
    bool first = true;
    for (auto& [index, fields] : shards) {
      *out += first ? "{" : ",{";
      first = false;
      *out += "\"shard\":" + std::to_string(index);
      for (auto& [k, v] : fields)
        *out += ",\"" + k + "\":" + JsonValue(v);
      *out += "}";
    }
    *out += "]";
    for (const std::string& g : group_order) {
      *out += ",\"" + g + "\":{";
      bool f = true;
      for (auto& [k, v] : groups[g]) {
        *out += (f ? "\"" : ",\"") + k + "\":" + JsonValue(v);
        f = false;
      }
      *out += "}";
    }
    *out += "}\n";
    return true;
  }
  char buf[512];
  const auto& repl = groups["repl"];
  *out = "kv store at " + server + ": " + std::to_string(shards.size()) + " shards, replication " +
         (field(repl, "enabled") == "1" ? "on" : "off") + "\n";
  std::snprintf(buf, sizeof(buf), "%-5s %-5s %-10s %-7s %-5s %10s %7s %9s %9s %10s %8s %4s\n",
                "shard", "actor", "name", "where", "group", "processed", "queued", "mean_us",
                "tail_us", "mem_used", "objects", "migr");
  *out += buf;
  for (auto& [index, f] : shards) {
    auto us = [&](const char* name) {
      std::string v = field(f, name);
      return IsNumber(v) ? std::to_string(std::stoull(v) / 1000) : v;
    };
    std::snprintf(
        buf, sizeof(buf), "%-5zu %-5s %-10s %-7s %-5s %10s %7s %9s %9s %10s %8s %4s\n", index,
        field(f, "actor").c_str(), field(f, "name").c_str(), field(f, "where").c_str(),
        field(f, "group").c_str(), field(f, "processed").c_str(), field(f, "queued").c_str(),
        us("latency_mean_ns").c_str(), us("latency_tail_ns").c_str(), field(f, "mem_used").c_str(),
        field(f, "objects").c_str(), field(f, "migrations").c_str());
    *out += buf;
  }
  for (const std::string& g : group_order) {
    *out += g + ":";
    for (auto& [k, v] : groups[g])
      *out += " " + k + "=" + v;
    *out += "\n";
  }
  return true;
}

int RunKv(int argc, const char* const* argv, std::string* out, std::string* err) {
  if (argc < 2 || std::string(argv[1]) != "status") {
    *err = kUsage;
    return 2;
  }
  std::string server;
  bool json = false;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--json") {
      json = true;
    } else if (a == "--server" && i + 1 < argc) {
      server = argv[++i];
    } else if (a.rfind("--server=", 0) == 0) {
      server = a.substr(9);
    } else {
      *err = "wavectl kv: unknown argument '" + a + "'\n" + kUsage;
      return 2;
    }
  }
  if (server.empty()) {
    *err = std::string("wavectl kv: --server is required\n") + kUsage;
    return 2;
  }
  std::string reply;
  if (!Ask(server, &reply, err))
    return 1;
  return FormatKvStatus(server, reply, json, out, err) ? 0 : 1;
}

}  // namespace wave::wavectl
