// The port's pieces that need no socket: memcached's UDP framing and the response order.
#include <gtest/gtest.h>

#include <string>

#include "rpc/response_order.h"
#include "rpc/udp_frame.h"

namespace wave::rpc {
namespace {

TEST(UdpFrame, RequestHeaderMustSayOneDatagram) {
  uint16_t id = 0;
  EXPECT_TRUE(ParseUdpRequest(std::string("\x12\x34\0\0\0\x01\0\0get k\r\n", 15), &id));
  EXPECT_EQ(id, 0x1234);
  EXPECT_FALSE(ParseUdpRequest(std::string("\x12\x34\0\x01\0\x01\0\0", 8), &id));  // seq 1
  EXPECT_FALSE(ParseUdpRequest(std::string("\x12\x34\0\0\0\x02\0\0", 8), &id));    // of 2
  EXPECT_FALSE(ParseUdpRequest(std::string("\x12\x34\0\0\0", 5), &id));            // short
}

TEST(UdpFrame, ReplySplitsIntoNumberedDatagrams) {
  const std::string reply(3000, 'v');
  std::vector<std::string> d = FrameUdpReply(7, reply);
  ASSERT_EQ(d.size(), 3u);  // 1392 payload bytes per datagram
  std::string joined;
  for (size_t i = 0; i < d.size(); ++i) {
    ASSERT_LE(d[i].size(), kUdpMaxDatagram);
    EXPECT_EQ(static_cast<uint8_t>(d[i][1]), 7);
    EXPECT_EQ(static_cast<uint8_t>(d[i][3]), i);
    EXPECT_EQ(static_cast<uint8_t>(d[i][5]), 3);
    joined += d[i].substr(kUdpHeader);
  }
  EXPECT_EQ(joined, reply);
  EXPECT_TRUE(FrameUdpReply(7, "").empty());
}

TEST(ResponseOrder, ReleasesOnlyFromTheFront) {
  ResponseOrder order;
  const uint64_t a = order.Reserve(), b = order.Reserve(), c = order.Reserve();
  std::string out;
  uint64_t released;
  ASSERT_TRUE(order.Fill(c, "C", &out, &released));
  ASSERT_TRUE(order.Fill(b, "B", &out, &released));
  EXPECT_EQ(released, 0u);
  EXPECT_EQ(out, "");
  ASSERT_TRUE(order.Fill(a, "A", &out, &released));
  EXPECT_EQ(released, 3u);
  EXPECT_EQ(out, "ABC");
  EXPECT_TRUE(order.empty());
  // A slot filled twice, or never reserved, changes nothing.
  EXPECT_FALSE(order.Fill(b, "again", &out, &released));
  EXPECT_FALSE(order.Fill(99, "never", &out, &released));
  EXPECT_EQ(out, "ABC");
}

}  // namespace
}  // namespace wave::rpc
