// The op and result encodings: round trips, and untrusted bytes refused without a crash.
#include "kv/store/kv_message.h"

#include <gtest/gtest.h>

#include <random>

namespace wave::kv {
namespace {

TEST(KvMessage, OpRoundTrips) {
  KvOp op{.code = KvOpCode::kCas,
          .flags = 7,
          .exptime = -3,
          .cas_unique = 99,
          .delta = 5,
          .delay_s = 2,
          .key = "key",
          .value = std::string("v\0\r\n", 4)};
  KvOp back;
  ASSERT_TRUE(DecodeOp(EncodeOp(op), &back));
  EXPECT_EQ(back.code, op.code);
  EXPECT_EQ(back.flags, 7u);
  EXPECT_EQ(back.exptime, -3);
  EXPECT_EQ(back.cas_unique, 99u);
  EXPECT_EQ(back.key, "key");
  EXPECT_EQ(back.value, op.value);
}

TEST(KvMessage, ResultRoundTripsWithAndWithoutStats) {
  KvResult r{.code = KvResultCode::kHit, .flags = 3, .cas = 8, .value = "val"};
  KvResult back;
  ASSERT_TRUE(DecodeResult(EncodeResult(r), &back));
  EXPECT_EQ(back.value, "val");
  EXPECT_FALSE(back.has_stats);
  r = {.code = KvResultCode::kOk, .has_stats = true};
  r.stats.items = 11;
  r.stats.bad_requests = 12;
  ASSERT_TRUE(DecodeResult(EncodeResult(r), &back));
  EXPECT_TRUE(back.has_stats);
  EXPECT_EQ(back.stats.items, 11u);
  EXPECT_EQ(back.stats.bad_requests, 12u);
}

TEST(KvMessage, OversizedKeysUnknownCodesAndTruncationsAreRefused) {
  KvOp op{.code = KvOpCode::kSet, .key = std::string(kMaxKeyBytes + 1, 'k')};
  KvOp back;
  EXPECT_FALSE(DecodeOp(EncodeOp(op), &back));
  op.key = "k";
  std::vector<std::byte> b = EncodeOp(op);
  for (size_t n = 0; n < b.size(); ++n)
    EXPECT_FALSE(DecodeOp(std::span(b).first(n), &back)) << n;
  b.push_back(std::byte{0});
  EXPECT_FALSE(DecodeOp(b, &back));  // trailing bytes
  b = EncodeOp(op);
  b[1] = std::byte{0xee};
  EXPECT_FALSE(DecodeOp(b, &back));
}

TEST(KvMessage, RandomBytesNeverDecodeIntoSomethingUnbounded) {
  std::mt19937_64 rng(1234);
  KvOp op;
  KvResult res;
  for (int i = 0; i < 20000; ++i) {
    std::vector<std::byte> b(rng() % 96);
    for (auto& x : b)
      x = static_cast<std::byte>(rng());
    if (!b.empty() && i % 2 == 0)
      b[0] = std::byte{0xa7};
    if (DecodeOp(b, &op)) {
      EXPECT_LE(op.key.size(), kMaxKeyBytes);
      EXPECT_LE(op.value.size(), kMaxValueBytes);
    }
    if (DecodeResult(b, &res)) {
      EXPECT_LE(res.value.size(), kMaxValueBytes);
    }
  }
}

TEST(KvMessage, KeyHashSpreadsKeys) {
  std::vector<int> buckets(16);
  for (int i = 0; i < 16000; ++i)
    ++buckets[KeyHash("key:" + std::to_string(i)) & 15];
  for (int n : buckets) {
    EXPECT_GT(n, 800);
    EXPECT_LT(n, 1200);
  }
}

}  // namespace
}  // namespace wave::kv
