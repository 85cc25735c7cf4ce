// The text protocol parser: every command's grammar, memcached's exact error replies, and
// untrusted bytes (random, truncated, byte by byte) handled without a crash or an overrun.
#include "kv/protocol/memcache_text.h"

#include <gtest/gtest.h>

#include <random>

namespace wave::kv {
namespace {

ParseResult Parse(std::string_view in, Request* req, ParseLimits limits = {}) {
  return ParseRequest(in, limits, req);
}

Request MustParse(std::string_view in) {
  Request req;
  ParseResult r = Parse(in, &req);
  EXPECT_EQ(r.status, ParseStatus::kRequest) << in << " -> " << r.error_reply;
  EXPECT_EQ(r.consumed, in.size()) << in;
  return req;
}

std::string ErrorOf(std::string_view in, ParseLimits limits = {}) {
  Request req;
  ParseResult r = Parse(in, &req, limits);
  EXPECT_EQ(r.status, ParseStatus::kError) << in;
  return r.error_reply;
}

TEST(MemcacheText, Retrievals) {
  Request r = MustParse("get a b c\r\n");
  EXPECT_EQ(r.op, Op::kGet);
  EXPECT_EQ(r.keys, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(MustParse("gets k\r\n").op, Op::kGets);
  r = MustParse("gat 100 k1 k2\r\n");
  EXPECT_EQ(r.op, Op::kGat);
  EXPECT_EQ(r.exptime, 100);
  EXPECT_EQ(r.keys.size(), 2u);
  EXPECT_EQ(MustParse("gats -1 k\n").op, Op::kGats);
  EXPECT_EQ(ErrorOf("get\r\n"), "ERROR\r\n");
  EXPECT_EQ(ErrorOf("get " + std::string(251, 'k') + "\r\n"),
            "CLIENT_ERROR bad command line format\r\n");
  EXPECT_EQ(ErrorOf("gat x k\r\n"), "CLIENT_ERROR invalid exptime argument\r\n");
}

TEST(MemcacheText, StorageCommandsTakeTheirDataBlock) {
  std::string value("a\r\nb\0c", 6);
  Request r = MustParse("set k 42 -1 6\r\n" + value + "\r\n");
  EXPECT_EQ(r.op, Op::kSet);
  EXPECT_EQ(r.keys[0], "k");
  EXPECT_EQ(r.flags, 42u);
  EXPECT_EQ(r.exptime, -1);
  EXPECT_EQ(r.value, value);
  EXPECT_FALSE(r.noreply);
  r = MustParse("cas k 0 0 1 77 noreply\r\nx\r\n");
  EXPECT_EQ(r.op, Op::kCas);
  EXPECT_EQ(r.cas_unique, 77u);
  EXPECT_TRUE(r.noreply);
  EXPECT_EQ(MustParse("add k 0 0 0\r\n\r\n").op, Op::kAdd);
  EXPECT_EQ(MustParse("replace k 0 0 1\r\nx\r\n").op, Op::kReplace);
  EXPECT_EQ(MustParse("append k 0 0 1\r\nx\r\n").op, Op::kAppend);
  EXPECT_EQ(MustParse("prepend k 0 0 1\r\nx\r\n").op, Op::kPrepend);
}

TEST(MemcacheText, StorageErrorsKeepTheStreamInStep) {
  Request req;
  EXPECT_EQ(ErrorOf("set k 0 0 -1\r\n"), "CLIENT_ERROR bad command line format\r\n");
  EXPECT_EQ(ErrorOf("set k 0 0\r\n"), "CLIENT_ERROR bad command line format\r\n");
  EXPECT_EQ(ErrorOf("cas k 0 0 1\r\nx\r\n"), "CLIENT_ERROR bad command line format\r\n");
  // A bad flags field: the data block is skipped with the line.
  ParseResult r = Parse("set k x 0 1\r\nx\r\nget k\r\n", &req);
  EXPECT_EQ(r.status, ParseStatus::kError);
  EXPECT_EQ(r.consumed, 16u);
  // memcached reads bytes + 2 and checks the last two; what follows is parsed as commands.
  r = Parse("set k 0 0 3\r\nabcdef\r\n", &req);
  EXPECT_EQ(r.error_reply, "CLIENT_ERROR bad data chunk\r\n");
  EXPECT_EQ(r.consumed, 18u);
  // Too large: refused at once, the data block swallowed even before it has arrived.
  ParseLimits small{.max_value = 10};
  r = Parse("add k 0 0 100\r\n0123456789", &req, small);
  EXPECT_EQ(r.error_reply, "SERVER_ERROR object too large for cache\r\n");
  EXPECT_EQ(r.consumed, 25u);
  EXPECT_EQ(r.swallow, 92u);
  EXPECT_FALSE(r.close_connection);
  // A too-large set is refused the same way but still drops the key's old value: a delete
  // whose reply is the refusal.
  r = Parse("set k 0 0 100\r\n0123456789", &req, small);
  EXPECT_EQ(r.status, ParseStatus::kRequest);
  EXPECT_EQ(r.consumed, 25u);
  EXPECT_EQ(r.swallow, 92u);
  EXPECT_EQ(req.op, Op::kDelete);
  EXPECT_EQ(req.keys, std::vector<std::string>{"k"});
  ASSERT_TRUE(req.fixed_reply.has_value());
  EXPECT_EQ(*req.fixed_reply, "SERVER_ERROR object too large for cache\r\n");
  r = Parse("set k 0 0 100 noreply\r\n", &req, small);
  EXPECT_EQ(req.fixed_reply, std::string());
}

TEST(MemcacheText, NoreplySilencesErrorsToo) {
  Request req;
  // memcached sends nothing at all for a line that ends in noreply, refused or not.
  ParseResult r = Parse("set k x 0 1 noreply\r\nx\r\n", &req);
  EXPECT_EQ(r.status, ParseStatus::kError);
  EXPECT_EQ(r.error_reply, "");
  EXPECT_EQ(r.consumed, 24u);  // the data block still goes with the line
  r = Parse("incr k notanumber noreply\r\n", &req);
  EXPECT_EQ(r.status, ParseStatus::kError);
  EXPECT_EQ(r.error_reply, "");
  r = Parse("bogus noreply\r\n", &req);
  EXPECT_EQ(r.error_reply, "");
  // Without noreply the same lines are answered.
  EXPECT_EQ(Parse("incr k notanumber\r\n", &req).error_reply,
            "CLIENT_ERROR invalid numeric delta argument\r\n");
}

TEST(MemcacheText, KeyedCommands) {
  Request r = MustParse("delete k\r\n");
  EXPECT_EQ(r.op, Op::kDelete);
  EXPECT_TRUE(MustParse("delete k 0 noreply\r\n").noreply);
  EXPECT_EQ(ErrorOf("delete k 5\r\n"),
            "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n");
  r = MustParse("incr n 18446744073709551615\r\n");
  EXPECT_EQ(r.op, Op::kIncr);
  EXPECT_EQ(r.delta, 18446744073709551615ull);
  EXPECT_EQ(MustParse("decr n 1 noreply\r\n").op, Op::kDecr);
  EXPECT_EQ(ErrorOf("incr n -1\r\n"), "CLIENT_ERROR invalid numeric delta argument\r\n");
  EXPECT_EQ(ErrorOf("incr n 18446744073709551616\r\n"),
            "CLIENT_ERROR invalid numeric delta argument\r\n");
  r = MustParse("touch k 10 noreply\r\n");
  EXPECT_EQ(r.op, Op::kTouch);
  EXPECT_EQ(r.exptime, 10);
  EXPECT_TRUE(r.noreply);
  EXPECT_EQ(ErrorOf("touch k soon\r\n"), "CLIENT_ERROR invalid exptime argument\r\n");
}

TEST(MemcacheText, ServerCommands) {
  Request r = MustParse("flush_all\r\n");
  EXPECT_EQ(r.op, Op::kFlushAll);
  EXPECT_FALSE(r.has_flush_delay);
  r = MustParse("flush_all 30 noreply\r\n");
  EXPECT_TRUE(r.has_flush_delay);
  EXPECT_EQ(r.flush_delay, 30);
  EXPECT_TRUE(r.noreply);
  EXPECT_TRUE(MustParse("flush_all noreply\r\n").noreply);
  EXPECT_EQ(MustParse("version\r\n").op, Op::kVersion);
  EXPECT_EQ(MustParse("version foo bar\r\n").op, Op::kVersion);
  EXPECT_TRUE(MustParse("verbosity noreply\r\n").noreply);
  EXPECT_EQ(MustParse("quit\r\n").op, Op::kQuit);
  EXPECT_EQ(MustParse("stats\r\n").stats_arg, "");
  EXPECT_EQ(MustParse("stats slabs\r\n").stats_arg, "slabs");
  EXPECT_EQ(MustParse("verbosity 1 noreply\r\n").verbosity, 1u);
  EXPECT_EQ(ErrorOf("verbosity\r\n"), "ERROR\r\n");
  EXPECT_EQ(ErrorOf("bogus\r\n"), "ERROR\r\n");
  EXPECT_EQ(ErrorOf("\r\n"), "ERROR\r\n");
}

TEST(MemcacheText, LongLinesCloseTheConnection) {
  Request req;
  ParseResult r = Parse(std::string(3000, 'x'), &req);
  EXPECT_EQ(r.error_reply, "CLIENT_ERROR line too long\r\n");
  EXPECT_TRUE(r.close_connection);
  // A retrieval may be long: many keys on one line.
  std::string get = "get";
  for (int i = 0; i < 500; ++i)
    get += " key" + std::to_string(i);
  EXPECT_EQ(MustParse(get + "\r\n").keys.size(), 500u);
  EXPECT_EQ(Parse("get a b", &req).status, ParseStatus::kNeedMore);
}

TEST(MemcacheText, PipelinedStreamFedByteByByteGivesTheSameRequests) {
  const std::string stream =
      "set a 1 0 3\r\nabc\r\nget a b\r\nbogus\r\nincr n 5\r\ncas a 0 0 2 9\r\nxy\r\n"
      "delete a noreply\r\nversion\r\n";
  auto all = [](std::string_view in, bool bytewise) {
    std::vector<std::string> seen;
    std::string buf;
    size_t fed = 0;
    while (true) {
      if (bytewise && fed < in.size())
        buf.push_back(in[fed++]);
      else if (!bytewise && fed == 0)
        buf = std::string(in), fed = in.size();
      Request req;
      ParseResult r = ParseRequest(buf, {}, &req);
      if (r.status == ParseStatus::kNeedMore) {
        if (fed == in.size())
          break;
        continue;
      }
      EXPECT_LE(r.consumed, buf.size());
      seen.push_back(r.status == ParseStatus::kError
                         ? r.error_reply
                         : std::to_string(static_cast<int>(req.op)) + ":" +
                               (req.keys.empty() ? "" : req.keys[0]) + ":" + req.value);
      buf.erase(0, r.consumed);
    }
    return seen;
  };
  std::vector<std::string> whole = all(stream, false);
  EXPECT_EQ(whole.size(), 7u);
  EXPECT_EQ(whole, all(stream, true));
}

TEST(MemcacheText, RandomAndTruncatedInputIsHandled) {
  std::mt19937_64 rng(99);
  const std::vector<std::string> valid = {"set key 0 0 5\r\nhello\r\n",
                                          "get a b c\r\n",
                                          "cas k 1 2 3 4 noreply\r\nabc\r\n",
                                          "incr x 1\r\n",
                                          "gat 5 k\r\n",
                                          "flush_all 3\r\n"};
  ParseLimits limits{.max_value = 64, .max_line = 128};
  for (int i = 0; i < 50000; ++i) {
    std::string in;
    if (i % 2 == 0) {
      in = valid[rng() % valid.size()];
      in.resize(rng() % (in.size() + 1));
      if (!in.empty() && rng() % 3 == 0)
        in[rng() % in.size()] = static_cast<char>(rng());
    } else {
      in.resize(rng() % 300);
      for (char& c : in)
        c = " \r\nsetg0123456789"[rng() % 16];
    }
    Request req;
    ParseResult r = ParseRequest(in, limits, &req);
    ASSERT_LE(r.consumed, in.size());
    if (r.status == ParseStatus::kNeedMore) {
      ASSERT_EQ(r.consumed, 0u);
    } else {
      ASSERT_GT(r.consumed, 0u);
    }
    if (r.status == ParseStatus::kRequest) {
      for (const std::string& k : req.keys)
        ASSERT_LE(k.size(), limits.max_key);
      ASSERT_LE(req.value.size(), limits.max_value);
    }
  }
}

TEST(MemcacheText, ReplyFormatting) {
  std::string out;
  uint64_t cas = 12;
  AppendValue(&out, "k", 3, "data", nullptr);
  AppendValue(&out, "k", 3, "data", &cas);
  AppendStat(&out, "pid", "1");
  AppendLine(&out, "END");
  EXPECT_EQ(out, "VALUE k 3 4\r\ndata\r\nVALUE k 3 4 12\r\ndata\r\nSTAT pid 1\r\nEND\r\n");
}

}  // namespace
}  // namespace wave::kv
