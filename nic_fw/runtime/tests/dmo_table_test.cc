// Isolation of DMOs: every call refuses another actor's objects, out-of-bounds ranges and
// freed objects, counts the violation, quarantines the caller, and leaves the victim intact.
#include "dmo_table.h"

#include <gtest/gtest.h>

#include <array>
#include <vector>

namespace wave::rt {
namespace {

constexpr ActorId kA = 1;
constexpr ActorId kB = 2;

class DmoTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    table.set_violation_hook([this](ActorId a, Status s) { hooked.push_back({a, s}); });
    ASSERT_EQ(table.create_space(kA, 4096), Status::kOk);
    ASSERT_EQ(table.create_space(kB, 4096), Status::kOk);
    ASSERT_EQ(table.dmo_malloc(kA, 64, &a_obj), Status::kOk);
    ASSERT_EQ(table.dmo_malloc(kB, 64, &b_obj), Status::kOk);
    ASSERT_EQ(table.dmo_memset(kB, b_obj, 0, 0x5b, 64), Status::kOk);
  }

  // B's object must still hold 64 bytes of 0x5b, untouched by whatever A tried.
  void expect_b_intact() {
    std::array<std::byte, 64> buf{};
    ASSERT_EQ(table.dmo_read(kB, b_obj, 0, buf), Status::kOk);
    for (std::byte b : buf)
      ASSERT_EQ(b, std::byte{0x5b});
  }

  // The call failed with `want`, was counted, and quarantined A through the hook.
  void expect_violation(Status got, Status want) {
    EXPECT_EQ(got, want);
    EXPECT_EQ(table.usage(kA).violations, 1u);
    ASSERT_EQ(hooked.size(), 1u);
    EXPECT_EQ(hooked[0].first, kA);
    EXPECT_EQ(hooked[0].second, want);
    expect_b_intact();
  }

  DmoTable table;
  ObjectId a_obj = kNoObjectId, b_obj = kNoObjectId;
  std::vector<std::pair<ActorId, Status>> hooked;
};

TEST_F(DmoTableTest, OwnerCanUseItsObjects) {
  const std::array<std::byte, 4> in{std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4}};
  std::array<std::byte, 4> out{};
  EXPECT_EQ(table.dmo_write(kA, a_obj, 60, in), Status::kOk);
  EXPECT_EQ(table.dmo_read(kA, a_obj, 60, out), Status::kOk);
  EXPECT_EQ(in, out);
  EXPECT_EQ(table.dmo_memmove(kA, a_obj, 1, a_obj, 0, 63), Status::kOk);
  EXPECT_EQ(table.dmo_memcpy(kA, a_obj, 0, a_obj, 32, 32), Status::kOk);
  EXPECT_TRUE(hooked.empty());
}

TEST_F(DmoTableTest, ReadOfOtherActorRefused) {
  std::array<std::byte, 8> buf{};
  expect_violation(table.dmo_read(kA, b_obj, 0, buf), Status::kNotOwner);
  for (std::byte b : buf)
    EXPECT_EQ(b, std::byte{0});
}

TEST_F(DmoTableTest, WriteOfOtherActorRefused) {
  const std::array<std::byte, 8> buf{};
  expect_violation(table.dmo_write(kA, b_obj, 0, buf), Status::kNotOwner);
}

TEST_F(DmoTableTest, MemsetOfOtherActorRefused) {
  expect_violation(table.dmo_memset(kA, b_obj, 0, 0, 64), Status::kNotOwner);
}

TEST_F(DmoTableTest, MemcpyFromOtherActorRefused) {
  expect_violation(table.dmo_memcpy(kA, a_obj, 0, b_obj, 0, 64), Status::kNotOwner);
}

TEST_F(DmoTableTest, MemcpyIntoOtherActorRefused) {
  expect_violation(table.dmo_memcpy(kA, b_obj, 0, a_obj, 0, 64), Status::kNotOwner);
}

TEST_F(DmoTableTest, MemmoveAcrossActorsRefused) {
  expect_violation(table.dmo_memmove(kA, b_obj, 0, a_obj, 0, 8), Status::kNotOwner);
}

TEST_F(DmoTableTest, FreeOfOtherActorRefused) {
  expect_violation(table.dmo_free(kA, b_obj), Status::kNotOwner);
}

TEST_F(DmoTableTest, SizeOfOtherActorRefused) {
  uint64_t size = 0;
  expect_violation(table.dmo_size(kA, b_obj, &size), Status::kNotOwner);
}

TEST_F(DmoTableTest, ForgedIdWithOwnOwnerFieldRefused) {
  // Same slot and generation as B's object, but claiming A as owner: names nothing of A's.
  const ObjectId forged = make_object_id(kA, object_generation(b_obj) + 5, object_slot(b_obj));
  const std::array<std::byte, 8> buf{};
  expect_violation(table.dmo_write(kA, forged, 0, buf), Status::kNoObject);
}

TEST_F(DmoTableTest, OutOfBoundsRefusedForEveryCall) {
  std::array<std::byte, 8> buf{};
  EXPECT_EQ(table.dmo_read(kA, a_obj, 60, buf), Status::kOutOfBounds);
  EXPECT_EQ(table.usage(kA).violations, 1u);
  EXPECT_TRUE(table.usage(kA).quarantined == false);  // the hook quarantines, not the table
  table.set_violation_hook({});
  EXPECT_EQ(table.dmo_write(kA, a_obj, 57, buf), Status::kOutOfBounds);
  EXPECT_EQ(table.dmo_memset(kA, a_obj, 1, 0, 64), Status::kOutOfBounds);
  EXPECT_EQ(table.dmo_memcpy(kA, a_obj, 0, a_obj, 63, 2), Status::kOutOfBounds);
  EXPECT_EQ(table.dmo_memmove(kA, a_obj, 63, a_obj, 0, 2), Status::kOutOfBounds);
  // Offsets chosen to overflow a naive off + len check.
  EXPECT_EQ(table.dmo_memset(kA, a_obj, UINT64_MAX - 2, 0, 8), Status::kOutOfBounds);
  EXPECT_EQ(table.dmo_read(kA, a_obj, 8, std::span<std::byte>(buf.data(), 0)), Status::kOk);
  EXPECT_EQ(table.usage(kA).violations, 6u);
  expect_b_intact();
}

TEST_F(DmoTableTest, UseAfterFreeDetectedEvenWhenSlotReused) {
  ASSERT_EQ(table.dmo_free(kA, a_obj), Status::kOk);
  ObjectId reused;
  ASSERT_EQ(table.dmo_malloc(kA, 64, &reused), Status::kOk);
  ASSERT_EQ(object_slot(reused), object_slot(a_obj));  // same slot, new generation
  ASSERT_NE(reused, a_obj);
  table.set_violation_hook({});
  std::array<std::byte, 8> buf{};
  EXPECT_EQ(table.dmo_read(kA, a_obj, 0, buf), Status::kStaleObject);
  EXPECT_EQ(table.dmo_write(kA, a_obj, 0, buf), Status::kStaleObject);
  EXPECT_EQ(table.dmo_memset(kA, a_obj, 0, 1, 1), Status::kStaleObject);
  EXPECT_EQ(table.dmo_memcpy(kA, reused, 0, a_obj, 0, 1), Status::kStaleObject);
  EXPECT_EQ(table.dmo_memmove(kA, a_obj, 0, reused, 0, 1), Status::kStaleObject);
  EXPECT_EQ(table.dmo_free(kA, a_obj), Status::kStaleObject);
  EXPECT_EQ(table.usage(kA).violations, 6u);
  EXPECT_EQ(table.dmo_free(kA, reused), Status::kOk);
  EXPECT_EQ(table.dmo_free(kA, reused), Status::kStaleObject);  // double free
}

TEST_F(DmoTableTest, MemoryCapFixedAtCreation) {
  ObjectId big;
  EXPECT_EQ(table.dmo_malloc(kA, 4096, &big), Status::kOverCap);  // 64 bytes already used
  EXPECT_EQ(table.dmo_malloc(kA, 4096 - 64, &big), Status::kOk);
  ObjectId one;
  EXPECT_EQ(table.dmo_malloc(kA, 1, &one), Status::kOverCap);
  EXPECT_EQ(table.dmo_malloc(kA, UINT64_MAX, &one), Status::kOverCap);
  EXPECT_EQ(table.usage(kA).over_cap, 3u);
  EXPECT_EQ(table.usage(kA).violations, 0u);  // a resource limit, not a violation
  EXPECT_EQ(table.dmo_free(kA, big), Status::kOk);
  EXPECT_EQ(table.dmo_malloc(kA, 1, &one), Status::kOk);
}

TEST_F(DmoTableTest, QuarantinedActorCanDoNothing) {
  table.quarantine(kA);
  std::array<std::byte, 8> buf{};
  ObjectId o;
  EXPECT_EQ(table.dmo_malloc(kA, 8, &o), Status::kQuarantined);
  EXPECT_EQ(table.dmo_read(kA, a_obj, 0, buf), Status::kQuarantined);
  EXPECT_EQ(table.dmo_write(kA, a_obj, 0, buf), Status::kQuarantined);
  EXPECT_EQ(table.dmo_free(kA, a_obj), Status::kQuarantined);
  EXPECT_TRUE(table.usage(kA).quarantined);
  EXPECT_FALSE(table.usage(kB).quarantined);
  expect_b_intact();
}

TEST_F(DmoTableTest, DestroyedSpaceRefusesCalls) {
  table.destroy_space(kA);
  std::array<std::byte, 8> buf{};
  EXPECT_EQ(table.dmo_read(kA, a_obj, 0, buf), Status::kNoActor);
  EXPECT_FALSE(table.has_space(kA));
  expect_b_intact();
}

TEST_F(DmoTableTest, ExportImportKeepsIdsAndBytes) {
  ASSERT_EQ(table.dmo_memset(kA, a_obj, 0, 0xa7, 64), Status::kOk);
  ObjectId second;
  ASSERT_EQ(table.dmo_malloc(kA, 300, &second), Status::kOk);
  ASSERT_EQ(table.dmo_free(kA, a_obj), Status::kOk);  // leaves a hole in slot 0
  DmoTable other;
  ASSERT_EQ(other.create_space(kA, 4096), Status::kOk);
  table.for_each_object(kA, [&](ObjectId id, std::span<const std::byte> d) {
    std::span<std::byte> dst;
    ASSERT_EQ(other.import_object(kA, id, d.size(), &dst), Status::kOk);
    std::copy(d.begin(), d.end(), dst.begin());
  });
  uint64_t size = 0;
  EXPECT_EQ(other.dmo_size(kA, second, &size), Status::kOk);
  EXPECT_EQ(size, 300u);
  // A fresh allocation on the new side reuses the hole without colliding.
  ObjectId fresh;
  EXPECT_EQ(other.dmo_malloc(kA, 8, &fresh), Status::kOk);
  EXPECT_NE(fresh, second);
  // Imports are checked too: foreign owner, taken slot, over cap.
  std::span<std::byte> dst;
  EXPECT_EQ(other.import_object(kA, make_object_id(kB, 1, 9), 8, &dst), Status::kInvalid);
  EXPECT_EQ(other.import_object(kA, second, 8, &dst), Status::kInvalid);
  EXPECT_EQ(other.import_object(kA, make_object_id(kA, 1, 50), 1 << 20, &dst), Status::kOverCap);
}

}  // namespace
}  // namespace wave::rt
