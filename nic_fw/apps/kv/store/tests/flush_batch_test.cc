// The flush batch: the writer's round trips, and the validator refusing every malformed,
// truncated or corrupted batch (the bytes come from the other side of the link) without a crash.
#include "kv/store/flush_batch.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <random>

namespace wave::kv {
namespace {

FlushEntry Item(std::string key, std::string value, uint32_t flags = 0, uint64_t exptime = 0,
                uint64_t cas = 0) {
  return FlushEntry{std::move(key), std::move(value), flags, exptime, cas, false};
}

FlushEntry Tombstone(std::string key, uint64_t cas = 0) {
  return FlushEntry{std::move(key), "", 0, 0, cas, true};
}

std::vector<std::byte> ValidBatch() {
  FlushBatchWriter w({.shard = 3, .generation = 7, .first_op = 100, .last_op = 180});
  EXPECT_TRUE(w.Add(Item("zeta", "last", 1, 0, 11)));
  EXPECT_TRUE(w.Add(Item("alpha", "first value", 0xdeadbeef, 1700000000, 12)));
  EXPECT_TRUE(w.Add(Tombstone("gone", 13)));
  EXPECT_TRUE(w.Add(Item("mid", "", 0, 0, 14)));
  EXPECT_TRUE(w.Add(Item(std::string("bin\0ary", 7), std::string("\0\r\n\xff", 4))));
  Result<std::vector<std::byte>> b = w.Encode();
  EXPECT_TRUE(b.ok());
  return b.ok() ? b.value() : std::vector<std::byte>{};
}

// Recomputes the checksum, so a test can make one specific field wrong and see that the
// validator names it (not just the checksum).
void Reseal(std::vector<std::byte>& b) {
  uint64_t h = Fnv1a64(std::span(b).first(offsetof(wave_kv_flush_hdr, checksum)));
  h = Fnv1a64(std::span(b).subspan(sizeof(wave_kv_flush_hdr)), h);
  std::memcpy(b.data() + offsetof(wave_kv_flush_hdr, checksum), &h, sizeof(h));
}

// A batch written by hand, entries in the order given (the writer would sort them).
std::vector<std::byte> RawBatch(const std::vector<FlushEntry>& entries) {
  std::vector<std::byte> b(sizeof(wave_kv_flush_hdr));
  for (const FlushEntry& e : entries) {
    wave_kv_flush_entry eh{};
    eh.value_len = static_cast<uint32_t>(e.value.size());
    eh.key_len = static_cast<uint16_t>(e.key.size());
    eh.entry_flags = e.tombstone ? WAVE_KV_FLUSH_TOMBSTONE : 0;
    size_t off = b.size();
    b.resize(off + FlushEntryBytes(e.key.size(), e.value.size()));
    std::memcpy(b.data() + off, &eh, sizeof(eh));
    std::memcpy(b.data() + off + sizeof(eh), e.key.data(), e.key.size());
    std::memcpy(b.data() + off + sizeof(eh) + e.key.size(), e.value.data(), e.value.size());
  }
  wave_kv_flush_hdr h{};
  h.magic = WAVE_KV_FLUSH_MAGIC;
  h.version = WAVE_KV_FLUSH_VERSION;
  h.hdr_size = sizeof(h);
  h.entry_count = static_cast<uint32_t>(entries.size());
  h.generation = 1;
  h.total_bytes = b.size();
  std::memcpy(b.data(), &h, sizeof(h));
  Reseal(b);
  return b;
}

std::string ErrorOf(const std::vector<std::byte>& b) {
  Result<DecodedFlushBatch> d = DecodeFlushBatch(b);
  return d.ok() ? "accepted" : d.error().message;
}

TEST(FlushBatch, RoundTripsSortedWithEveryField) {
  std::vector<std::byte> b = ValidBatch();
  ASSERT_FALSE(b.empty());
  Result<DecodedFlushBatch> d = DecodeFlushBatch(b);
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(d->info.shard, 3u);
  EXPECT_EQ(d->info.generation, 7u);
  EXPECT_EQ(d->info.first_op, 100u);
  EXPECT_EQ(d->info.last_op, 180u);
  EXPECT_EQ(d->total_bytes, b.size());
  ASSERT_EQ(d->entries.size(), 5u);
  EXPECT_EQ(d->entries[0].key, "alpha");
  EXPECT_EQ(d->entries[0].value, "first value");
  EXPECT_EQ(d->entries[0].flags, 0xdeadbeefu);
  EXPECT_EQ(d->entries[0].exptime, 1700000000u);
  EXPECT_EQ(d->entries[0].cas, 12u);
  EXPECT_EQ(d->entries[1].key, std::string("bin\0ary", 7));
  EXPECT_EQ(d->entries[1].value, std::string("\0\r\n\xff", 4));
  EXPECT_EQ(d->entries[2].key, "gone");
  EXPECT_TRUE(d->entries[2].tombstone);
  EXPECT_EQ(d->entries[2].cas, 13u);
  EXPECT_EQ(d->entries[3].key, "mid");
  EXPECT_EQ(d->entries[3].value, "");
  EXPECT_FALSE(d->entries[3].tombstone);
  EXPECT_EQ(d->entries[4].key, "zeta");
  EXPECT_EQ(b.size() % WAVE_KV_FLUSH_ALIGN, 0u);
}

TEST(FlushBatch, OrderIsBytewiseUnsigned) {
  FlushBatchWriter w({.shard = 0, .generation = 1});
  for (std::string k : {"b", "\xff", "ab", "a", "z", "\x01"})
    ASSERT_TRUE(w.Add(Item(k, "v")));
  Result<std::vector<std::byte>> b = w.Encode();
  ASSERT_TRUE(b.ok());
  Result<DecodedFlushBatch> d = DecodeFlushBatch(*b);
  ASSERT_TRUE(d.ok()) << d.error().message;
  std::vector<std::string> keys;
  for (const FlushEntryView& e : d->entries)
    keys.emplace_back(e.key);
  EXPECT_EQ(keys, (std::vector<std::string>{"\x01", "a", "ab", "b", "z", "\xff"}));
}

TEST(FlushBatch, EmptyBatchRoundTrips) {
  FlushBatchWriter w({.shard = 1, .generation = 2});
  Result<std::vector<std::byte>> b = w.Encode();
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->size(), sizeof(wave_kv_flush_hdr));
  Result<DecodedFlushBatch> d = DecodeFlushBatch(*b);
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_TRUE(d->entries.empty());
}

TEST(FlushBatch, EncodeIntoRefusesASmallBufferAndFitsAnExactOne) {
  FlushBatchWriter w({.shard = 0, .generation = 1});
  ASSERT_TRUE(w.Add(Item("key", "value")));
  std::vector<std::byte> buf(w.encoded_size() - 1);
  Result<size_t> n = w.EncodeInto(buf);
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.error().code, ENOSPC);
  buf.resize(w.encoded_size() + 100);
  n = w.EncodeInto(buf);
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(*n, w.encoded_size());
  EXPECT_TRUE(DecodeFlushBatch(std::span(buf).first(*n)).ok());
}

TEST(FlushBatch, WriterRefusesBadEntries) {
  FlushBatchWriter w({.shard = 0, .generation = 1});
  EXPECT_EQ(w.Add(Item("", "v")).error().code, EINVAL);
  EXPECT_EQ(w.Add(Item(std::string(251, 'k'), "v")).error().code, E2BIG);
  EXPECT_EQ(w.Add(Item("k", std::string(WAVE_KV_FLUSH_MAX_VALUE + 1, 'v'))).error().code, E2BIG);
  FlushEntry t = Tombstone("k");
  t.value = "x";
  EXPECT_EQ(w.Add(t).error().code, EINVAL);
  EXPECT_EQ(w.entry_count(), 0u);
  // The limits themselves are fine.
  EXPECT_TRUE(w.Add(Item(std::string(250, 'k'), std::string(WAVE_KV_FLUSH_MAX_VALUE, 'v'))));
  Result<std::vector<std::byte>> b = w.Encode();
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(DecodeFlushBatch(*b).ok());
}

TEST(FlushBatch, WriterRefusesDuplicateKeys) {
  FlushBatchWriter w({.shard = 0, .generation = 1});
  ASSERT_TRUE(w.Add(Item("a", "1")));
  ASSERT_TRUE(w.Add(Item("b", "2")));
  ASSERT_TRUE(w.Add(Tombstone("a")));
  Result<std::vector<std::byte>> b = w.Encode();
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.error().message.find("twice"), std::string::npos) << b.error().message;
}

TEST(FlushBatch, EveryTruncationAndExtensionIsRefused) {
  std::vector<std::byte> b = ValidBatch();
  for (size_t len = 0; len < b.size(); ++len)
    EXPECT_FALSE(DecodeFlushBatch(std::span(b).first(len)).ok()) << "length " << len;
  b.push_back(std::byte{0});
  EXPECT_FALSE(DecodeFlushBatch(b).ok());
}

TEST(FlushBatch, SeededRandomByteFlipsAreRefused) {
  const std::vector<std::byte> good = ValidBatch();
  std::mt19937_64 rng(0x5eed);
  for (int round = 0; round < 3000; ++round) {
    std::vector<std::byte> b = good;
    int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) {
      size_t at = rng() % b.size();
      b[at] ^= static_cast<std::byte>(1 + rng() % 255);
    }
    if (b == good)
      continue;  // two flips cancelled out
    EXPECT_FALSE(DecodeFlushBatch(b).ok()) << "round " << round;
  }
}

TEST(FlushBatch, ChecksumMismatchIsNamed) {
  std::vector<std::byte> b = ValidBatch();
  b[sizeof(wave_kv_flush_hdr) + sizeof(wave_kv_flush_entry)] ^= std::byte{1};  // a key byte
  Result<DecodedFlushBatch> d = DecodeFlushBatch(b);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().code, EBADMSG) << d.error().message;
}

TEST(FlushBatch, ValidatorNamesEachMalformedField) {
  EXPECT_EQ(ErrorOf(RawBatch({Item("a", "1"), Item("b", "2")})), "accepted");
  EXPECT_NE(ErrorOf(RawBatch({Item("b", "1"), Item("a", "2")})).find("out of order"),
            std::string::npos);
  EXPECT_NE(ErrorOf(RawBatch({Item("a", "1"), Tombstone("a")})).find("duplicate"),
            std::string::npos);
  EXPECT_NE(ErrorOf(RawBatch({Item(std::string(251, 'k'), "1")})).find("key length"),
            std::string::npos);
  EXPECT_NE(ErrorOf(RawBatch({Item("", "1")})).find("key length"), std::string::npos);
  FlushEntry t = Tombstone("t");
  t.value = "x";
  EXPECT_NE(ErrorOf(RawBatch({t})).find("tombstone"), std::string::npos);
  EXPECT_NE(ErrorOf(RawBatch({Item("k", std::string(WAVE_KV_FLUSH_MAX_VALUE + 1, 'v'))}))
                .find("value length"),
            std::string::npos);

  auto patched = [](size_t off, const void* v, size_t n, bool reseal = true) {
    std::vector<std::byte> b = RawBatch({Item("a", "1"), Item("bb", "22")});
    std::memcpy(b.data() + off, v, n);
    if (reseal)
      Reseal(b);
    return ErrorOf(b);
  };
  const size_t e0 = sizeof(wave_kv_flush_hdr);
  uint8_t one = 1;
  uint32_t u32 = 0;
  uint16_t u16 = 2;
  EXPECT_NE(patched(e0 + sizeof(wave_kv_flush_entry) + 2, &one, 1).find("padding"),
            std::string::npos);
  EXPECT_NE(patched(e0 + offsetof(wave_kv_flush_entry, entry_flags), &u16, 2).find("flags"),
            std::string::npos);
  u32 = 0x11223344;
  EXPECT_NE(patched(0, &u32, 4).find("magic"), std::string::npos);
  u16 = 2;
  EXPECT_NE(patched(offsetof(wave_kv_flush_hdr, version), &u16, 2).find("version"),
            std::string::npos);
  u32 = 100;  // the second entry's value_len
  EXPECT_NE(
      patched(e0 + 40 + offsetof(wave_kv_flush_entry, value_len), &u32, 4).find("past the end"),
      std::string::npos);
  u32 = 1;
  EXPECT_NE(patched(offsetof(wave_kv_flush_hdr, entry_count), &u32, 4).find("after the last"),
            std::string::npos);
  u32 = 3;
  EXPECT_NE(patched(offsetof(wave_kv_flush_hdr, entry_count), &u32, 4).find("cannot fit"),
            std::string::npos);
  uint64_t first = 9;
  EXPECT_NE(patched(offsetof(wave_kv_flush_hdr, first_op), &first, 8).find("first_op"),
            std::string::npos);
  uint64_t total = 1ull << 40;
  EXPECT_NE(patched(offsetof(wave_kv_flush_hdr, total_bytes), &total, 8).find("total_bytes"),
            std::string::npos);
}

TEST(FlushBatch, HeaderAloneTellsTheSizeToPull) {
  std::vector<std::byte> b = ValidBatch();
  Result<FlushBatchHeader> h = DecodeFlushBatchHeader(std::span(b).first(64));
  ASSERT_TRUE(h.ok()) << h.error().message;
  EXPECT_EQ(h->total_bytes, b.size());
  EXPECT_EQ(h->entry_count, 5u);
  EXPECT_FALSE(DecodeFlushBatchHeader(std::span(b).first(63)).ok());
}

TEST(FlushBatch, ReplacingFlagRoundTripsAndMayHaveNoEntries) {
  FlushBatchWriter w(
      {.shard = 2, .generation = 9, .first_op = 0, .last_op = 0, .replaces_older = true});
  Result<std::vector<std::byte>> b = w.Encode();
  ASSERT_TRUE(b.ok());
  ASSERT_EQ(b->size(), sizeof(wave_kv_flush_hdr));
  wave_kv_flush_hdr h;
  std::memcpy(&h, b->data(), sizeof(h));
  EXPECT_EQ(h.flags, WAVE_KV_FLUSH_REPLACES_OLDER);
  Result<DecodedFlushBatch> d = DecodeFlushBatch(*b);
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_TRUE(d->info.replaces_older);
  EXPECT_EQ(d->info.generation, 9u);
  EXPECT_TRUE(d->entries.empty());
  Result<DecodedFlushBatch> plain = DecodeFlushBatch(ValidBatch());
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->info.replaces_older);
}

TEST(FlushBatch, UnknownHeaderFlagsAreRefused) {
  for (uint32_t flags :
       {WAVE_KV_FLUSH_REPLACES_OLDER << 1, 1u << 31, WAVE_KV_FLUSH_REPLACES_OLDER | (1u << 5)}) {
    std::vector<std::byte> b = ValidBatch();
    std::memcpy(b.data() + offsetof(wave_kv_flush_hdr, flags), &flags, sizeof(flags));
    Reseal(b);
    EXPECT_NE(ErrorOf(b).find("flags"), std::string::npos) << flags;
  }
  std::vector<std::byte> b = ValidBatch();
  uint32_t known = WAVE_KV_FLUSH_FLAGS_KNOWN;
  std::memcpy(b.data() + offsetof(wave_kv_flush_hdr, flags), &known, sizeof(known));
  Reseal(b);
  EXPECT_EQ(ErrorOf(b), "accepted");
}

}  // namespace
}  // namespace wave::kv
