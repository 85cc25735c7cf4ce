// The durable log: what sync() makes durable survives a reopen exactly; what it did not, or what
// a crash tore, is cut off at the last whole batch and never half-applied.
#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include <gtest/gtest.h>

#include "kv/replication/log.h"
#include "temp_dir.h"

namespace wave::kv::repl {
namespace {

Entry E(uint64_t view, uint64_t op, std::string_view s) {
  Entry e{.view = view, .op_number = op};
  for (char c : s)
    e.op.push_back(static_cast<std::byte>(c));
  return e;
}

std::vector<Entry> Contents(const Log& log) {
  std::vector<Entry> out;
  for (uint64_t op = 1; op <= log.last_op(); ++op)
    out.push_back(*log.read(op));
  return out;
}

std::unique_ptr<FileLog> OpenOrDie(const std::string& path) {
  std::unique_ptr<FileLog> log;
  EXPECT_EQ(FileLog::Open(path, &log), Status::kOk) << path;
  return log;
}

std::vector<char> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

void WriteFile(const std::string& path, const std::vector<char>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

TEST(ReplLog, Crc32cIsCastagnoli) {
  const std::string check = "123456789";
  EXPECT_EQ(Crc32c(reinterpret_cast<const std::byte*>(check.data()), check.size()), 0xE3069283u);
}

TEST(ReplLog, AppendEnforcesContiguousNumbersAndTheOpBound) {
  MemoryLog log;
  EXPECT_EQ(log.append(E(0, 2, "gap")), Status::kBadArgument);
  EXPECT_EQ(log.append(E(0, 0, "zero")), Status::kBadArgument);
  EXPECT_EQ(log.append(E(0, 1, "a")), Status::kOk);
  Entry big{.view = 0, .op_number = 2};
  big.op.resize(kMaxOpBytes + 1);
  EXPECT_EQ(log.append(big), Status::kTooLarge);
  EXPECT_EQ(log.last_op(), 1u);
  EXPECT_EQ(log.read(0), nullptr);
  EXPECT_EQ(log.read(2), nullptr);
  ASSERT_NE(log.read(1), nullptr);
  EXPECT_EQ(*log.read(1), E(0, 1, "a"));
}

TEST(ReplLog, MemoryLogCrashKeepsOnlyWhatWasSynced) {
  MemoryLog log;
  EXPECT_FALSE(log.dirty());
  ASSERT_EQ(log.append(E(1, 1, "a")), Status::kOk);
  ASSERT_EQ(log.append(E(1, 2, "b")), Status::kOk);
  ASSERT_EQ(log.set_metadata({.view = 1, .commit_number = 1}), Status::kOk);
  EXPECT_TRUE(log.dirty());
  ASSERT_EQ(log.sync(), Status::kOk);
  EXPECT_FALSE(log.dirty());
  EXPECT_EQ(log.syncs(), 1u);
  EXPECT_EQ(log.sync(), Status::kOk);  // clean: no sync
  EXPECT_EQ(log.syncs(), 1u);
  // Setting the same metadata again is no mutation.
  ASSERT_EQ(log.set_metadata({.view = 1, .commit_number = 1}), Status::kOk);
  EXPECT_FALSE(log.dirty());

  ASSERT_EQ(log.truncate_after(1), Status::kOk);
  ASSERT_EQ(log.append(E(2, 2, "c")), Status::kOk);
  ASSERT_EQ(log.set_metadata({.view = 2, .commit_number = 2}), Status::kOk);
  EXPECT_EQ(log.read(2)->view, 2u);  // visible at once
  log.crash();
  EXPECT_EQ(Contents(log), (std::vector<Entry>{E(1, 1, "a"), E(1, 2, "b")}));
  EXPECT_EQ(log.metadata(), (Metadata{.view = 1, .commit_number = 1}));
  EXPECT_FALSE(log.dirty());
}

TEST(ReplLog, FileLogReopensWithEntriesAndMetadata) {
  TempDir dir;
  const std::string path = dir.file("r0.log");
  const Metadata meta{.view = 4, .last_normal_view = 3, .commit_number = 2, .incarnation = 7};
  {
    auto log = OpenOrDie(path);
    EXPECT_EQ(log->last_op(), 0u);
    EXPECT_EQ(log->metadata(), Metadata{});
    ASSERT_EQ(log->append(E(1, 1, "one")), Status::kOk);
    ASSERT_EQ(log->append(E(1, 2, "")), Status::kOk);
    ASSERT_EQ(log->sync(), Status::kOk);
    ASSERT_EQ(log->truncate_after(1), Status::kOk);
    ASSERT_EQ(log->append(E(3, 2, "two")), Status::kOk);
    ASSERT_EQ(log->append(E(3, 3, std::string(5000, 'x'))), Status::kOk);
    ASSERT_EQ(log->set_metadata(meta), Status::kOk);
    ASSERT_EQ(log->sync(), Status::kOk);
    // Not synced: gone after the reopen.
    ASSERT_EQ(log->append(E(3, 4, "lost")), Status::kOk);
    ASSERT_EQ(log->set_metadata({.view = 9}), Status::kOk);
  }
  auto log = OpenOrDie(path);
  EXPECT_EQ(log->cut_bytes(), 0u);
  EXPECT_EQ(Contents(*log),
            (std::vector<Entry>{E(1, 1, "one"), E(3, 2, "two"), E(3, 3, std::string(5000, 'x'))}));
  EXPECT_EQ(log->metadata(), meta);
  // It keeps appending where it left off.
  ASSERT_EQ(log->append(E(3, 4, "four")), Status::kOk);
  ASSERT_EQ(log->sync(), Status::kOk);
  log.reset();
  log = OpenOrDie(path);
  EXPECT_EQ(log->last_op(), 4u);
  EXPECT_EQ(*log->read(4), E(3, 4, "four"));
}

TEST(ReplLog, NotALogIsCorruptAndATornMagicStartsAfresh) {
  TempDir dir;
  const std::string path = dir.file("x.log");
  WriteFile(path, {'n', 'o', 't', ' ', 'a', ' ', 'l', 'o', 'g', '!'});
  std::unique_ptr<FileLog> log;
  EXPECT_EQ(FileLog::Open(path, &log), Status::kCorrupt);
  EXPECT_EQ(log, nullptr);
  WriteFile(path, {'W', 'V', 'R'});
  log = OpenOrDie(path);
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->cut_bytes(), 3u);
  EXPECT_EQ(log->last_op(), 0u);
  EXPECT_EQ(ReadFile(path).size(), 8u);
  std::unique_ptr<FileLog> none;
  EXPECT_EQ(FileLog::Open(dir.file("no/such/dir.log"), &none), Status::kIoError);
}

// Two batches on disk; the offsets where each ends.
struct TwoBatches {
  std::vector<char> bytes;
  size_t first_end = 0;
  std::vector<Entry> first_entries;
  Metadata first_meta;
};

TwoBatches WriteTwoBatches(const std::string& path) {
  TwoBatches out;
  {
    auto log = OpenOrDie(path);
    EXPECT_EQ(log->append(E(1, 1, "a")), Status::kOk);
    EXPECT_EQ(log->append(E(1, 2, "bb")), Status::kOk);
    out.first_meta = {.view = 1, .commit_number = 1, .incarnation = 1};
    EXPECT_EQ(log->set_metadata(out.first_meta), Status::kOk);
    EXPECT_EQ(log->sync(), Status::kOk);
    out.first_entries = Contents(*log);
    out.first_end = ReadFile(path).size();
    // The second batch rewrites op 2 and commits: all or nothing of it may survive.
    EXPECT_EQ(log->truncate_after(1), Status::kOk);
    EXPECT_EQ(log->append(E(2, 2, "ccc")), Status::kOk);
    EXPECT_EQ(log->append(E(2, 3, "dddd")), Status::kOk);
    EXPECT_EQ(log->set_metadata({.view = 2, .last_normal_view = 2, .commit_number = 3}),
              Status::kOk);
    EXPECT_EQ(log->sync(), Status::kOk);
  }
  out.bytes = ReadFile(path);
  return out;
}

TEST(ReplLog, EveryTornTailKeepsTheLastWholeBatch) {
  TempDir dir;
  const std::string path = dir.file("torn.log");
  const TwoBatches two = WriteTwoBatches(path);
  ASSERT_GT(two.bytes.size(), two.first_end);
  for (size_t len = two.first_end; len < two.bytes.size(); ++len) {
    SCOPED_TRACE(len);
    WriteFile(path, {two.bytes.begin(), two.bytes.begin() + len});
    auto log = OpenOrDie(path);
    ASSERT_NE(log, nullptr);
    EXPECT_EQ(Contents(*log), two.first_entries);
    EXPECT_EQ(log->metadata(), two.first_meta);
    EXPECT_EQ(log->cut_bytes(), len - two.first_end);
    EXPECT_EQ(ReadFile(path).size(), two.first_end);  // the tail is cut off the file too
  }
  // After a cut, new batches go where the cut was and read back.
  WriteFile(path, {two.bytes.begin(), two.bytes.end() - 1});
  {
    auto log = OpenOrDie(path);
    ASSERT_EQ(log->append(E(1, 3, "after the cut")), Status::kOk);
    ASSERT_EQ(log->sync(), Status::kOk);
  }
  auto log = OpenOrDie(path);
  EXPECT_EQ(log->cut_bytes(), 0u);
  EXPECT_EQ(log->last_op(), 3u);
  EXPECT_EQ(*log->read(3), E(1, 3, "after the cut"));
  EXPECT_EQ(*log->read(2), E(1, 2, "bb"));
}

TEST(ReplLog, AFlippedByteCutsItsBatchAndEverythingAfter) {
  TempDir dir;
  const std::string path = dir.file("flip.log");
  const TwoBatches two = WriteTwoBatches(path);
  for (size_t at = 8; at < two.bytes.size(); ++at) {
    SCOPED_TRACE(at);
    std::vector<char> bad = two.bytes;
    bad[at] ^= 0x10;
    WriteFile(path, bad);
    auto log = OpenOrDie(path);
    ASSERT_NE(log, nullptr);
    if (at < two.first_end) {
      EXPECT_EQ(log->last_op(), 0u);
      EXPECT_EQ(log->metadata(), Metadata{});
      EXPECT_EQ(log->cut_bytes(), two.bytes.size() - 8);
    } else {
      EXPECT_EQ(Contents(*log), two.first_entries);
      EXPECT_EQ(log->metadata(), two.first_meta);
      EXPECT_EQ(log->cut_bytes(), two.bytes.size() - two.first_end);
    }
  }
}

// A record written by hand from the format log.h documents.
void AppendRecord(std::vector<char>& file, uint8_t type, bool end_of_batch,
                  const std::vector<uint64_t>& words) {
  std::vector<std::byte> rec(12);
  rec[8] = std::byte{type};
  rec[9] = std::byte{static_cast<uint8_t>(end_of_batch ? 1 : 0)};
  for (uint64_t w : words)
    for (int i = 0; i < 8; ++i)
      rec.push_back(static_cast<std::byte>(w >> (8 * i)));
  const uint32_t len = static_cast<uint32_t>(rec.size() - 12);
  const uint32_t crc = Crc32c(rec.data() + 8, 4 + len);
  for (int i = 0; i < 4; ++i) {
    rec[i] = static_cast<std::byte>(len >> (8 * i));
    rec[4 + i] = static_cast<std::byte>(crc >> (8 * i));
  }
  for (std::byte b : rec)
    file.push_back(static_cast<char>(b));
}

TEST(ReplLog, HandWrittenRecordsFollowTheDocumentedFormat) {
  TempDir dir;
  const std::string path = dir.file("hand.log");
  std::vector<char> file = {'W', 'V', 'R', 'L', 'O', 'G', '0', '1'};
  AppendRecord(file, 1, false, {5, 1});       // append view 5 op 1, empty op
  AppendRecord(file, 3, true, {5, 4, 1, 2});  // meta, end of batch
  const size_t good = file.size();
  AppendRecord(file, 1, true, {5, 3});  // op 3 after op 1: a gap
  WriteFile(path, file);
  auto log = OpenOrDie(path);
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(Contents(*log), (std::vector<Entry>{E(5, 1, "")}));
  EXPECT_EQ(log->metadata(),
            (Metadata{.view = 5, .last_normal_view = 4, .commit_number = 1, .incarnation = 2}));
  EXPECT_EQ(log->cut_bytes(), file.size() - good);
  // A batch that never ends (no end-of-batch flag) is not taken either.
  file.resize(good);
  AppendRecord(file, 1, false, {5, 2});
  WriteFile(path, file);
  log = OpenOrDie(path);
  EXPECT_EQ(log->last_op(), 1u);
  EXPECT_EQ(log->cut_bytes(), file.size() - good);
  // Nor a record of an unknown type, or of a known type with the wrong length.
  for (auto [type, words] :
       {std::pair<uint8_t, std::vector<uint64_t>>{9, {1}}, {2, {0, 0}}, {3, {1, 2, 3}}}) {
    file.resize(good);
    AppendRecord(file, type, true, words);
    WriteFile(path, file);
    log = OpenOrDie(path);
    EXPECT_EQ(log->last_op(), 1u) << int{type};
    EXPECT_EQ(log->cut_bytes(), file.size() - good) << int{type};
  }
}

}  // namespace
}  // namespace wave::kv::repl
