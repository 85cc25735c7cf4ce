// The decision interrupt's gate: one interrupt per batch the host has not drained yet, a
// resend when it goes unanswered, and always one before the poller sleeps.
#include "nicd/decision_irq.h"

#include <gtest/gtest.h>

namespace wave::nicd {
namespace {

using std::chrono::microseconds;
using Clock = DecisionIrqGate::Clock;

TEST(DecisionIrqGate, RaisesForNewDecisionsOnly) {
  DecisionIrqGate gate(microseconds(200));
  const Clock::time_point t0 = Clock::now();
  gate.Reset(10);
  EXPECT_FALSE(gate.ShouldRaise(10, 10, t0, false));  // nothing published since the reset
  EXPECT_FALSE(gate.ShouldRaise(10, 10, t0, true));
  ASSERT_TRUE(gate.ShouldRaise(12, 10, t0, false));
  gate.Raised(12, t0);
  EXPECT_FALSE(gate.ShouldRaise(12, 10, t0 + microseconds(1), false));  // covered already
  EXPECT_EQ(gate.stats().raised, 1u);
}

TEST(DecisionIrqGate, CoalescesUntilTheHostDrainedTheLastOne) {
  DecisionIrqGate gate(microseconds(200));
  const Clock::time_point t0 = Clock::now();
  gate.Reset(0);
  ASSERT_TRUE(gate.ShouldRaise(1, 0, t0, false));
  gate.Raised(1, t0);
  // More decisions while the host has not drained the first: the interrupt on its way covers
  // them (its handler reads the ring when it runs).
  EXPECT_FALSE(gate.ShouldRaise(3, 0, t0 + microseconds(10), false));
  EXPECT_EQ(gate.stats().coalesced, 1u);
  // The host drained up to the last interrupt's position: decisions after it may have come
  // too late for that handler, so they get their own interrupt.
  EXPECT_TRUE(gate.ShouldRaise(3, 1, t0 + microseconds(20), false));
}

TEST(DecisionIrqGate, ResendsAnUnansweredInterrupt) {
  DecisionIrqGate gate(microseconds(200));
  const Clock::time_point t0 = Clock::now();
  gate.Reset(0);
  gate.Raised(1, t0);
  EXPECT_FALSE(gate.ShouldRaise(2, 0, t0 + microseconds(199), false));
  EXPECT_TRUE(gate.ShouldRaise(2, 0, t0 + microseconds(200), false));
}

TEST(DecisionIrqGate, AlwaysCoversWhatWasPublishedBeforeSleeping) {
  DecisionIrqGate gate(microseconds(200));
  const Clock::time_point t0 = Clock::now();
  gate.Reset(0);
  gate.Raised(1, t0);
  EXPECT_TRUE(gate.ShouldRaise(2, 0, t0 + microseconds(1), true));
}

TEST(DecisionIrqGate, AHostWritingNonsenseOnlyCausesMoreInterrupts) {
  DecisionIrqGate gate(microseconds(200));
  const Clock::time_point t0 = Clock::now();
  gate.Reset(0);
  gate.Raised(4, t0);
  // A consumer position past everything produced reads as "drained": an extra interrupt,
  // never a decision left without one.
  EXPECT_TRUE(gate.ShouldRaise(5, ~0ull, t0, false));
  // A position going backwards reads as "not drained": the resend bound still holds.
  EXPECT_FALSE(gate.ShouldRaise(5, 0, t0 + microseconds(1), false));
  EXPECT_TRUE(gate.ShouldRaise(5, 0, t0 + microseconds(250), false));
}

}  // namespace
}  // namespace wave::nicd
