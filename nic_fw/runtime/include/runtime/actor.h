// Actors: a registered type (name + handlers) and instances created from it. An instance's
// state lives only in DMOs; its root object is allocated at creation and found again through
// ActorContext::root(), on the NIC and after migration on the host alike.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "runtime/message.h"
#include "runtime/status.h"

namespace wave::rt {

class DmoTable;    // the runtime's object table (private)
struct CoreGuard;  // a NIC core's watchdog state (private)

// What a handler sees: its identity, its memory (through the DMO table only) and its reply.
class ActorContext {
 public:
  // `guard` (NIC cores only) brackets every runtime call the actor makes, so that a watchdog
  // eviction is taken only where no runtime lock is held.
  ActorContext(ActorId self, ObjectId root, DmoTable& table, bool on_host,
               CoreGuard* guard = nullptr)
      : self_(self), root_(root), table_(table), on_host_(on_host), guard_(guard) {}

  ActorId self() const { return self_; }
  ObjectId root() const { return root_; }
  bool on_host() const { return on_host_; }

  // The DMO calls, on this actor's own space. A violation quarantines the actor (dmo_table).
  Status dmo_malloc(uint64_t size, ObjectId* out);
  Status dmo_free(ObjectId id);
  Status dmo_memset(ObjectId id, uint64_t off, uint8_t v, uint64_t len);
  Status dmo_memcpy(ObjectId dst, uint64_t doff, ObjectId src, uint64_t soff, uint64_t len);
  Status dmo_memmove(ObjectId dst, uint64_t doff, ObjectId src, uint64_t soff, uint64_t len);
  Status dmo_read(ObjectId id, uint64_t off, std::span<std::byte> out);
  Status dmo_write(ObjectId id, uint64_t off, std::span<const std::byte> in);
  Status dmo_size(ObjectId id, uint64_t* size);

  // Typed helpers for fixed-layout state.
  template <typename T>
  Status load(ObjectId id, uint64_t off, T* v) {
    return dmo_read(id, off, std::as_writable_bytes(std::span<T, 1>(v, 1)));
  }
  template <typename T>
  Status store(ObjectId id, uint64_t off, const T& v) {
    return dmo_write(id, off, std::as_bytes(std::span<const T, 1>(&v, 1)));
  }

  // The reply payload and status for the request being handled.
  void reply(std::span<const std::byte> payload, Status status = Status::kOk) {
    reply_.assign(payload.begin(), payload.end());
    reply_status_ = status;
  }
  // The reply buffer itself, for a handler that builds its reply in place (no copy).
  std::vector<std::byte>& reply_payload() { return reply_; }
  void set_reply_status(Status status) { reply_status_ = status; }
  Status reply_status() const { return reply_status_; }

 private:
  void enter();
  Status done(Status s);

  ActorId self_;
  ObjectId root_;
  DmoTable& table_;
  bool on_host_;
  CoreGuard* guard_;
  std::vector<std::byte> reply_;
  Status reply_status_ = Status::kOk;
};

// Runs one request. Handlers must not block; all their state goes through `ctx`.
using ActorHandler = std::function<void(ActorContext& ctx, const Message& msg)>;
// Runs once when an instance is created (not again after a migration): initialises the root.
using ActorInit = std::function<Status(ActorContext& ctx)>;

struct ActorType {
  std::string name;
  ActorHandler handler;
  ActorInit init;  // optional
};

struct ActorSpec {
  std::string type;  // a registered ActorType name
  std::string name;  // instance name for stats (truncated to 15 chars in the control page)
  uint64_t mem_cap_bytes = 1 << 20;
  uint64_t root_bytes = 64;  // size of the root object (counts against the cap)
  bool pinned = false;       // never migrated (Wave's policy agents)
  bool start_in_drr = false;
  // Runs on one core at a time. Turn off only for handlers that are safe to run concurrently
  // (iPipe lets FCFS cores run one actor in parallel).
  bool serial = true;
};

// Actor types both runtimes know: the host recreates a migrated actor from its type name, the
// way iPipe's host runtime runs the same actor binaries.
class ActorRegistry {
 public:
  bool register_type(ActorType type);
  // A copy, so the caller can run it without holding the registry lock.
  bool find(const std::string& name, ActorType* out) const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, ActorType> types_;
};

}  // namespace wave::rt
