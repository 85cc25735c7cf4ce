// `wavectl kv status` rendering of a "stats wave" reply, and its refusals.
#include <gtest/gtest.h>

#include "kv_command.h"

namespace wave::wavectl {
namespace {

const char kReply[] =
    "STAT shards 2\r\nSTAT shard.0.actor 3\r\nSTAT shard.0.name kv.shard0\r\n"
    "STAT shard.0.where nic\r\nSTAT shard.0.latency_mean_ns 12000\r\n"
    "STAT shard.1.actor 4\r\nSTAT shard.1.name kv.shard1\r\nSTAT shard.1.where host\r\n"
    "STAT net.open 1\r\nSTAT repl.enabled 1\r\nSTAT repl.role primary\r\nEND\r\n";

TEST(KvCommand, TextShowsEachShardAndWhereItRuns) {
  std::string out, err;
  ASSERT_TRUE(FormatKvStatus("127.0.0.1:1", kReply, false, &out, &err)) << err;
  EXPECT_NE(out.find("2 shards, replication on"), std::string::npos) << out;
  EXPECT_NE(out.find("kv.shard0  nic"), std::string::npos) << out;
  EXPECT_NE(out.find("kv.shard1  host"), std::string::npos) << out;
  EXPECT_NE(out.find(" 12 "), std::string::npos) << out;  // mean in microseconds
  EXPECT_NE(out.find("repl: enabled=1 role=primary"), std::string::npos) << out;
}

TEST(KvCommand, JsonGroupsTheFields) {
  std::string out, err;
  ASSERT_TRUE(FormatKvStatus("127.0.0.1:1", kReply, true, &out, &err)) << err;
  EXPECT_NE(out.find("\"shards\":[{\"shard\":0,\"actor\":3,\"name\":\"kv.shard0\""),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("\"repl\":{\"enabled\":1,\"role\":\"primary\"}"), std::string::npos) << out;
  EXPECT_NE(out.find("\"net\":{\"open\":1}"), std::string::npos) << out;
}

TEST(KvCommand, ReplyThatIsNotStatsIsRefused) {
  std::string out, err;
  EXPECT_FALSE(FormatKvStatus("s", "ERROR\r\n", false, &out, &err));
  EXPECT_NE(err.find("does not answer"), std::string::npos);
  EXPECT_FALSE(FormatKvStatus("s", "STAT a 1\r\n", false, &out, &err));
  EXPECT_NE(err.find("ended early"), std::string::npos);
}

TEST(KvCommand, UsageErrors) {
  std::string out, err;
  const char* no_server[] = {"kv", "status"};
  EXPECT_EQ(RunKv(2, no_server, &out, &err), 2);
  EXPECT_NE(err.find("--server is required"), std::string::npos);
  const char* closed[] = {"kv", "status", "--server", "127.0.0.1:1"};
  EXPECT_EQ(RunKv(4, closed, &out, &err), 1);
  EXPECT_NE(err.find("cannot connect"), std::string::npos);
}

}  // namespace
}  // namespace wave::wavectl
