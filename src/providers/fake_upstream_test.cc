// The fake upstream (tests/support/fake_upstream.h) against a raw socket client, so that
// integration tests can trust it; and its stream builders against the adapters.
#include "support/fake_upstream.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "providers/adapter.h"
#include "providers/stream_test_util.h"

namespace promptops::testing {
namespace {

using namespace std::chrono_literals;

// A blocking client socket with a receive timeout.
class RawClient {
 public:
  explicit RawClient(int port, std::chrono::milliseconds timeout = 5000ms) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    timeval tv{};
    tv.tv_sec = timeout.count() / 1000;
    tv.tv_usec = (timeout.count() % 1000) * 1000;
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~RawClient() { ::close(fd_); }
  bool connected() const { return connected_; }

  void Send(std::string_view bytes) {
    ASSERT_EQ(::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(bytes.size()));
  }
  void Post(std::string_view path, std::string_view body, std::string_view extra_headers = "") {
    Send("POST " + std::string(path) + " HTTP/1.1\r\nHost: upstream\r\n" +
         std::string(extra_headers) + "Content-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + std::string(body));
  }

  // Reads once; returns bytes read, 0 at EOF, -errno on error.
  ssize_t ReadSome() {
    char tmp[4096];
    ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
    if (n < 0) return -errno;
    buf_.append(tmp, static_cast<std::size_t>(n));
    return n;
  }
  // Reads until the connection ends; returns the final ReadSome result (0 or -errno).
  ssize_t ReadToEnd() {
    ssize_t n;
    while ((n = ReadSome()) > 0) {
    }
    return n;
  }

  struct Response {
    int status = 0;
    std::string head;
    std::string body;  // de-chunked
  };
  // Reads one response (Content-Length or chunked). status 0 when the connection ended first.
  Response ReadResponse() {
    Response r;
    std::size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (ReadSome() <= 0) return r;
    }
    r.head = buf_.substr(0, end + 2);
    buf_.erase(0, end + 4);
    r.status = std::stoi(r.head.substr(9, 3));
    if (r.head.find("Transfer-Encoding: chunked") != std::string::npos) {
      for (;;) {
        std::size_t le;
        while ((le = buf_.find("\r\n")) == std::string::npos) {
          if (ReadSome() <= 0) return {};
        }
        std::size_t size = std::stoul(buf_.substr(0, le), nullptr, 16);
        while (buf_.size() < le + 2 + size + 2) {
          if (ReadSome() <= 0) return {};
        }
        r.body += buf_.substr(le + 2, size);
        buf_.erase(0, le + 2 + size + 2);
        if (size == 0) return r;
      }
    }
    auto cl = r.head.find("Content-Length: ");
    std::size_t length = cl == std::string::npos ? 0 : std::stoul(r.head.substr(cl + 16));
    while (buf_.size() < length) {
      if (ReadSome() <= 0) return {};
    }
    r.body = buf_.substr(0, length);
    buf_.erase(0, length);
    return r;
  }
  const std::string& buffered() const { return buf_; }

 private:
  int fd_ = -1;
  bool connected_ = false;
  std::string buf_;
};

TEST(FakeUpstream, AnswersQueuedResponsesInOrderOnOneKeptAliveConnection) {
  FakeUpstream up;
  up.Enqueue(OpenAiChatResponse("first"));
  up.Enqueue(ErrorResponse(429, R"({"error":{"message":"slow down"}})", 3));
  RawClient c(up.port());
  ASSERT_TRUE(c.connected());
  c.Post("/v1/chat/completions", R"({"model":"gpt-4o-mini"})",
         "Authorization: Bearer sk-provider\r\nContent-Type: application/json\r\n");
  auto r1 = c.ReadResponse();
  EXPECT_EQ(r1.status, 200);
  EXPECT_NE(r1.body.find(R"("content":"first")"), std::string::npos) << r1.body;
  c.Post("/v1/chat/completions", "{}");
  auto r2 = c.ReadResponse();
  EXPECT_EQ(r2.status, 429);
  EXPECT_NE(r2.head.find("Retry-After: 3\r\n"), std::string::npos) << r2.head;
  EXPECT_EQ(r2.body, R"({"error":{"message":"slow down"}})");

  auto reqs = up.requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].method, "POST");
  EXPECT_EQ(reqs[0].target, "/v1/chat/completions");
  EXPECT_EQ(reqs[0].Header("authorization"), "Bearer sk-provider");
  EXPECT_EQ(reqs[0].Header("Host"), "upstream");
  EXPECT_EQ(reqs[0].body, R"({"model":"gpt-4o-mini"})");
  EXPECT_EQ(reqs[0].connection, 1);
  EXPECT_EQ(reqs[1].connection, 1);
  EXPECT_EQ(up.connections_accepted(), 1);
}

TEST(FakeUpstream, HandlerAnswersWhenTheQueueIsEmptyAndUnscriptedIs500) {
  FakeUpstream up;
  {
    RawClient c(up.port());
    c.Post("/x", "");
    auto r = c.ReadResponse();
    EXPECT_EQ(r.status, 500);
    EXPECT_NE(r.body.find("no scripted response"), std::string::npos);
  }
  up.SetHandler(
      [](const FakeRequest& req) { return AnthropicResponse("you asked " + req.target); });
  RawClient c(up.port());
  c.Post("/v1/messages", "{}");
  auto r = c.ReadResponse();
  EXPECT_EQ(r.status, 200);
  auto parsed = providers::MakeAdapter("anthropic")->ParseChat(r.status, r.body, std::nullopt);
  ASSERT_EQ(parsed.index(), 0u);
  EXPECT_EQ(std::get<providers::ChatResponse>(parsed).content, "you asked /v1/messages");
  EXPECT_TRUE(up.WaitForRequests(2, 1000ms));
}

TEST(FakeUpstream, RecordsChunkedRequestBodies) {
  FakeUpstream up;
  up.Enqueue(OpenAiChatResponse("ok"));
  RawClient c(up.port());
  c.Send(
      "POST /v1/embeddings HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
  EXPECT_EQ(c.ReadResponse().status, 200);
  ASSERT_EQ(up.request_count(), 1u);
  EXPECT_EQ(up.requests()[0].body, "hello world");
}

TEST(FakeUpstream, OpenAiStreamDecodesWithTheAdapter) {
  FakeUpstream up;
  up.Enqueue(OpenAiStream({"안녕", "하세요", "!"}, /*with_usage=*/true, 0ms, 12));
  up.Enqueue(OpenAiStream({"a"}, /*with_usage=*/false));
  auto adapter = providers::MakeAdapter("openai");
  RawClient c(up.port());
  c.Post("/v1/chat/completions", "{}");
  auto r = c.ReadResponse();
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.head.find("Content-Type: text/event-stream"), std::string::npos);
  auto d = providers::testutil::DecodeWhole(*adapter, r.body);
  EXPECT_FALSE(d.failure.has_value());
  EXPECT_EQ(d.Summary(), "D:|D:안녕|D:하세요|D:!|F:stop|U:12/3");

  c.Post("/v1/chat/completions", "{}");
  auto r2 = c.ReadResponse();
  EXPECT_EQ(providers::testutil::DecodeWhole(*adapter, r2.body).Summary(), "D:|D:a|F:stop");
}

TEST(FakeUpstream, AnthropicStreamDecodesWithTheAdapter) {
  FakeUpstream up;
  up.Enqueue(AnthropicStream({"Hello", " there"}, 21, 0ms, "max_tokens"));
  RawClient c(up.port());
  c.Post("/v1/messages", "{}");
  auto r = c.ReadResponse();
  auto d = providers::testutil::DecodeWhole(*providers::MakeAdapter("anthropic"), r.body);
  EXPECT_FALSE(d.failure.has_value());
  EXPECT_EQ(d.Summary(), "D:Hello|D: there|F:length|U:21/2");
}

TEST(FakeUpstream, ResetsMidStream) {
  FakeUpstream up;
  FakeResponse r = OpenAiStream({"partial"}, true);
  r.stream.resize(2);  // role chunk and one token, then RST
  r.action = FakeResponse::Action::kStreamThenReset;
  up.Enqueue(r);
  RawClient c(up.port());
  c.Post("/v1/chat/completions", "{}");
  EXPECT_EQ(c.ReadToEnd(), -ECONNRESET);
  EXPECT_NE(c.buffered().find("partial"), std::string::npos);
  EXPECT_EQ(c.buffered().find("[DONE]"), std::string::npos);
}

TEST(FakeUpstream, ResetsCloseOrSendsRawBytesInsteadOfAnswering) {
  FakeUpstream up;
  FakeResponse reset;
  reset.action = FakeResponse::Action::kReset;
  FakeResponse close;
  close.action = FakeResponse::Action::kClose;
  FakeResponse raw;
  raw.action = FakeResponse::Action::kRaw;
  raw.body = "HTTP/1.1 banana\r\n\r\n";
  up.Enqueue(reset);
  up.Enqueue(close);
  up.Enqueue(raw);
  {
    RawClient c(up.port());
    c.Post("/", "");
    EXPECT_EQ(c.ReadToEnd(), -ECONNRESET);
    EXPECT_EQ(c.buffered(), "");
  }
  {
    RawClient c(up.port());
    c.Post("/", "");
    EXPECT_EQ(c.ReadToEnd(), 0);
    EXPECT_EQ(c.buffered(), "");
  }
  {
    RawClient c(up.port());
    c.Post("/", "");
    EXPECT_EQ(c.ReadToEnd(), 0);
    EXPECT_EQ(c.buffered(), "HTTP/1.1 banana\r\n\r\n");
  }
  EXPECT_EQ(up.request_count(), 3u);
}

TEST(FakeUpstream, MalformedBodyIsReportedByTheAdapter) {
  FakeUpstream up;
  FakeResponse bad;
  bad.body = R"({"choices": [ {"message": )";
  up.Enqueue(bad);
  RawClient c(up.port());
  c.Post("/v1/chat/completions", "{}");
  auto r = c.ReadResponse();
  auto parsed = providers::MakeAdapter("openai")->ParseChat(r.status, r.body, std::nullopt);
  ASSERT_EQ(parsed.index(), 1u);
  EXPECT_EQ(std::get<providers::UpstreamFailure>(parsed).cls, providers::FailureClass::kMalformed);
}

TEST(FakeUpstream, HangingAndDelayedResponsesEndAtStop) {
  auto start = std::chrono::steady_clock::now();
  {
    FakeUpstream up;
    FakeResponse hang;
    hang.action = FakeResponse::Action::kHang;
    up.Enqueue(hang);
    FakeResponse slow = OpenAiStream({"a"}, true, /*delay=*/60000ms);
    up.Enqueue(slow);
    RawClient hanging(up.port(), 100ms);
    hanging.Post("/", "");
    EXPECT_EQ(hanging.ReadSome(), -EAGAIN);  // nothing within the client's timeout
    RawClient streaming(up.port(), 100ms);
    streaming.Post("/", "");
    EXPECT_TRUE(up.WaitForRequests(2, 5000ms));
    streaming.ReadSome();  // headers and the role chunk, then a 60 s pause
    EXPECT_NE(streaming.buffered().find("200 OK"), std::string::npos);
    up.Stop();  // must not wait for the hang nor the delay
    EXPECT_EQ(hanging.ReadToEnd(), 0);
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
}

TEST(FakeUpstream, ConnectionCloseHeaderIsHonoured) {
  FakeUpstream up;
  up.Enqueue(OpenAiChatResponse("bye"));
  RawClient c(up.port());
  c.Post("/", "", "Connection: close\r\n");
  EXPECT_EQ(c.ReadResponse().status, 200);
  EXPECT_EQ(c.ReadToEnd(), 0);
}

}  // namespace
}  // namespace promptops::testing
