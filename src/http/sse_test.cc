#include "http/sse.h"

#include <gtest/gtest.h>

namespace promptops::http {
namespace {

TEST(SseEvent, FormatsDataAndEvent) {
  struct Case {
    std::string data, event, want;
  } cases[] = {
      {"hello", "", "data: hello\n\n"},
      {"{\"a\":1}", "delta", "event: delta\ndata: {\"a\":1}\n\n"},
      {"a\nb", "", "data: a\ndata: b\n\n"},
      {"a\r\nb\rc", "", "data: a\ndata: b\ndata: c\n\n"},
      {"", "", "data: \n\n"},
      {"x", "bad\nname", "event: badname\ndata: x\n\n"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(SseEvent(c.data, c.event), c.want) << c.data;
  }
}

}  // namespace
}  // namespace promptops::http
