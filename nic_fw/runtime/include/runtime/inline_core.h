// Run to completion on the thread that polls the link (iPipe: the NIC core that receives a
// packet runs the actor's handler itself). An InlineCore is a core slot of the runtime lent to
// an outside thread: run() executes the request's handler synchronously on the caller's thread,
// with what a runtime core gives it: the actor's DMOs through its context, the per-actor
// execution and latency statistics the FCFS/DRR scheduler decides on, quarantine on a DMO
// violation, and the watchdog (which evicts an overlong handler by a signal to the caller).
//
// run() refuses, leaving the request untouched, whenever running it now could break the
// runtime's rules: the actor runs on a core or has requests waiting (order: an actor never
// runs twice at once, and a request never overtakes an earlier one), is in the DRR group, is
// migrating or on the host, quarantined, destroyed, or the runtime is stopping. The caller
// then post()s the request, which queues it behind the others or answers it with the error.
//
// One thread at a time uses an InlineCore; close it (destroy it) before the runtime.
#pragma once

#include "runtime/message.h"
#include "runtime/runtime.h"
#include "runtime/status.h"

namespace wave::rt {

struct CoreState;  // the slot's watchdog state (runtime_impl.h)

class InlineCore {
 public:
  ~InlineCore();
  InlineCore(const InlineCore&) = delete;
  InlineCore& operator=(const InlineCore&) = delete;

  // Runs msg's handler now. kOk: it ran (or the watchdog evicted it) and *reply is its answer,
  // which does not go through the runtime's reply sink. Any other status: nothing ran and
  // `msg` is as it was; kBusy is transient, the others say what post() would answer.
  Status run(Message& msg, Reply* reply);

 private:
  friend class Runtime;
  InlineCore(Runtime::Impl& rt, CoreState& slot) : rt_(rt), slot_(slot) {}

  Runtime::Impl& rt_;
  CoreState& slot_;
};

}  // namespace wave::rt
