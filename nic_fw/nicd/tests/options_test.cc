#include "nicd/options.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace wave::nicd {
namespace {

ParseResult Parse(std::vector<std::string> args, Options* out, std::string* error) {
  args.insert(args.begin(), "wave-nicd");
  std::vector<const char*> argv;
  for (const std::string& a : args) {
    argv.push_back(a.c_str());
  }
  return ParseOptions(static_cast<int>(argv.size()), argv.data(), out, error);
}

TEST(ParseSize, AcceptsPlainHexAndSuffixes) {
  uint64_t v = 0;
  EXPECT_TRUE(ParseSize("16777216", &v));
  EXPECT_EQ(v, 16ull << 20);
  EXPECT_TRUE(ParseSize("0x10000", &v));
  EXPECT_EQ(v, 0x10000u);
  EXPECT_TRUE(ParseSize("64K", &v));
  EXPECT_EQ(v, 64u << 10);
  EXPECT_TRUE(ParseSize("16MiB", &v));
  EXPECT_EQ(v, 16u << 20);
  EXPECT_TRUE(ParseSize("2G", &v));
  EXPECT_EQ(v, 2ull << 30);
}

TEST(ParseSize, RejectsJunkAndOverflow) {
  uint64_t v = 0;
  for (const char* bad :
       {"", "M", "-1", "+5", " 5", "5X", "5MB", "99999999999999999999", "17179869184G"}) {
    EXPECT_FALSE(ParseSize(bad, &v)) << bad;
  }
}

TEST(ParseOptions, DefaultsAndForms) {
  Options o;
  std::string err;
  ASSERT_EQ(Parse({"--socket", "/tmp/s"}, &o, &err), ParseResult::kOk) << err;
  EXPECT_EQ(o.socket_path, "/tmp/s");
  EXPECT_EQ(o.bar_size, 16ull << 20);
  EXPECT_EQ(o.vectors, 8u);
  EXPECT_EQ(o.heartbeat_us, 1000u);
  EXPECT_TRUE(o.shm_path.empty());

  ASSERT_EQ(Parse({"--socket=/tmp/s", "--shm=/dev/shm/x", "--bar-size=1M", "--vectors=4",
                   "--heartbeat-us=500", "--pidfile=/tmp/p"},
                  &o, &err),
            ParseResult::kOk)
      << err;
  EXPECT_EQ(o.shm_path, "/dev/shm/x");
  EXPECT_EQ(o.bar_size, 1u << 20);
  EXPECT_EQ(o.vectors, 4u);
  EXPECT_EQ(o.heartbeat_us, 500u);
  EXPECT_EQ(o.pidfile, "/tmp/p");

  ASSERT_EQ(Parse({"--device", "/dev/wave0", "--vectors", "2"}, &o, &err), ParseResult::kOk);
  EXPECT_EQ(o.device_path, "/dev/wave0");
  EXPECT_EQ(Parse({"-h"}, &o, &err), ParseResult::kHelp);
}

TEST(ParseOptions, ErrorsSayWhatIsWrong) {
  Options o;
  std::string err;
  EXPECT_EQ(Parse({"--socket", "/s", "--vectors", "12"}, &o, &err), ParseResult::kError);
  EXPECT_NE(err.find("--vectors"), std::string::npos) << err;
  EXPECT_EQ(Parse({"--socket", "/s", "--bar-size", "24K"}, &o, &err), ParseResult::kError);
  EXPECT_NE(err.find("power of two"), std::string::npos) << err;
  EXPECT_EQ(Parse({"--socket", "/s", "--heartbeat-us"}, &o, &err), ParseResult::kError);
  EXPECT_NE(err.find("needs a value"), std::string::npos) << err;
  EXPECT_EQ(Parse({"/s"}, &o, &err), ParseResult::kError);
  EXPECT_NE(err.find("unknown argument"), std::string::npos) << err;
  EXPECT_EQ(Parse({}, &o, &err), ParseResult::kError);
  EXPECT_NE(err.find("exactly one"), std::string::npos) << err;
}

TEST(ParseOptions, SchedAgentModes) {
  Options o;
  std::string err;
  ASSERT_EQ(Parse({"--socket", "/tmp/s"}, &o, &err), ParseResult::kOk) << err;
  // Default: the agent as an actor of the runtime, run to completion by the link's poller.
  EXPECT_TRUE(o.sched_agent);
  EXPECT_FALSE(o.sched_thread);
  EXPECT_FALSE(o.sched_handoff);
  for (const char* mode : {"actor", "on"}) {
    ASSERT_EQ(Parse({"--socket", "/tmp/s", "--sched-agent", mode}, &o, &err), ParseResult::kOk);
    EXPECT_TRUE(o.sched_agent && !o.sched_thread && !o.sched_handoff) << mode;
  }
  ASSERT_EQ(Parse({"--socket", "/tmp/s", "--sched-agent=handoff"}, &o, &err), ParseResult::kOk);
  EXPECT_TRUE(o.sched_agent && !o.sched_thread && o.sched_handoff);
  ASSERT_EQ(Parse({"--socket", "/tmp/s", "--sched-agent=thread"}, &o, &err), ParseResult::kOk);
  EXPECT_TRUE(o.sched_agent && o.sched_thread);
  ASSERT_EQ(Parse({"--socket", "/tmp/s", "--sched-agent=off"}, &o, &err), ParseResult::kOk);
  EXPECT_FALSE(o.sched_agent);
  EXPECT_EQ(Parse({"--socket", "/tmp/s", "--sched-agent=fast"}, &o, &err), ParseResult::kError);
  EXPECT_NE(err.find("actor, handoff, thread"), std::string::npos) << err;
}

TEST(ParseOptions, SchedIrq) {
  Options o;
  std::string err;
  ASSERT_EQ(Parse({"--socket", "/tmp/s"}, &o, &err), ParseResult::kOk) << err;
  EXPECT_TRUE(o.sched_irq);  // the NIC interrupts the host by default
  ASSERT_EQ(Parse({"--socket", "/tmp/s", "--sched-irq", "off"}, &o, &err), ParseResult::kOk);
  EXPECT_FALSE(o.sched_irq);
  ASSERT_EQ(Parse({"--socket", "/tmp/s", "--sched-irq=on"}, &o, &err), ParseResult::kOk);
  EXPECT_TRUE(o.sched_irq);
  EXPECT_EQ(Parse({"--socket", "/tmp/s", "--sched-irq", "maybe"}, &o, &err), ParseResult::kError);
  EXPECT_NE(err.find("--sched-irq: 'maybe'"), std::string::npos) << err;
}

}  // namespace
}  // namespace wave::nicd
