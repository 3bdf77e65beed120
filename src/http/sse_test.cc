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
      {"a\n", "", "data: a\ndata: \n\n"},
      {"\r\n", "", "data: \ndata: \n\n"},
      {"\n\n", "", "data: \ndata: \ndata: \n\n"},
      {"\r", "", "data: \ndata: \n\n"},
      {"안녕\n하세요", "", "data: 안녕\ndata: 하세요\n\n"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(SseEvent(c.data, c.event), c.want) << c.data;
  }
}

}  // namespace
}  // namespace promptops::http
