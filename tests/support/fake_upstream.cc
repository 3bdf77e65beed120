#include "support/fake_upstream.h"

#include <boost/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace promptops::testing {
namespace {

namespace bj = boost::json;

bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

bool SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

std::string_view Reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 408:
      return "Request Timeout";
    case 413:
      return "Payload Too Large";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 529:
      return "Site Overloaded";
    default:
      return "Status";
  }
}

std::string Head(const FakeResponse& r, bool chunked, std::size_t content_length) {
  std::string h =
      "HTTP/1.1 " + std::to_string(r.status) + " " + std::string(Reason(r.status)) + "\r\n";
  bool has_type = false;
  for (const auto& [k, v] : r.headers) {
    h += k + ": " + v + "\r\n";
    if (IEquals(k, "Content-Type")) has_type = true;
  }
  if (!has_type) h += "Content-Type: application/json\r\n";
  if (chunked) {
    h += "Transfer-Encoding: chunked\r\n";
  } else {
    h += "Content-Length: " + std::to_string(content_length) + "\r\n";
  }
  h += "\r\n";
  return h;
}

std::string ChunkOf(std::string_view bytes) {
  char size[32];
  std::snprintf(size, sizeof size, "%zx\r\n", bytes.size());
  std::string c = size;
  c += bytes;
  c += "\r\n";
  return c;
}

void ResetAndClose(int fd) {
  linger l{};
  l.l_onoff = 1;
  l.l_linger = 0;
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  ::close(fd);
}

// Incremental request reader over a blocking socket; keeps bytes of a pipelined next request.
class RequestReader {
 public:
  explicit RequestReader(int fd) : fd_(fd) {}

  // False when the peer closed or the request is malformed.
  bool Read(FakeRequest& req) {
    std::size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (buf_.size() > 1 << 20 || !Fill()) return false;
    }
    std::string head = buf_.substr(0, end);
    buf_.erase(0, end + 4);
    std::size_t line_end = head.find("\r\n");
    std::string first = head.substr(0, line_end);
    auto sp1 = first.find(' ');
    auto sp2 = first.find(' ', sp1 == std::string::npos ? 0 : sp1 + 1);
    if (sp1 == std::string::npos || sp2 == std::string::npos) return false;
    req.method = first.substr(0, sp1);
    req.target = first.substr(sp1 + 1, sp2 - sp1 - 1);
    std::size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
    while (pos < head.size()) {
      std::size_t e = head.find("\r\n", pos);
      if (e == std::string::npos) e = head.size();
      std::string line = head.substr(pos, e - pos);
      pos = e + 2;
      auto colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(" \t"));
      while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.pop_back();
      req.headers.emplace_back(line.substr(0, colon), value);
    }
    auto te = req.Header("Transfer-Encoding");
    if (te && IEquals(*te, "chunked")) return ReadChunked(req.body);
    std::size_t length = 0;
    if (auto cl = req.Header("Content-Length")) length = std::stoul(*cl);
    while (buf_.size() < length) {
      if (!Fill()) return false;
    }
    req.body = buf_.substr(0, length);
    buf_.erase(0, length);
    return true;
  }

 private:
  bool Fill() {
    char tmp[16384];
    ssize_t n;
    do {
      n = ::recv(fd_, tmp, sizeof tmp, 0);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<std::size_t>(n));
    return true;
  }

  bool ReadLine(std::string& line) {
    std::size_t e;
    while ((e = buf_.find("\r\n")) == std::string::npos) {
      if (!Fill()) return false;
    }
    line = buf_.substr(0, e);
    buf_.erase(0, e + 2);
    return true;
  }

  bool ReadChunked(std::string& body) {
    for (;;) {
      std::string line;
      if (!ReadLine(line)) return false;
      std::size_t size = std::stoul(line, nullptr, 16);
      if (size == 0) {
        // Trailers until an empty line.
        do {
          if (!ReadLine(line)) return false;
        } while (!line.empty());
        return true;
      }
      while (buf_.size() < size + 2) {
        if (!Fill()) return false;
      }
      body += buf_.substr(0, size);
      buf_.erase(0, size + 2);
    }
  }

  int fd_;
  std::string buf_;
};

std::string Sse(std::string_view event, const bj::value& data) {
  std::string s;
  if (!event.empty()) s += "event: " + std::string(event) + "\n";
  s += "data: " + bj::serialize(data) + "\n\n";
  return s;
}

bj::object OpenAiChunk(const std::string& model) {
  return {{"id", "chatcmpl-fake"},
          {"object", "chat.completion.chunk"},
          {"created", 1700000000},
          {"model", model},
          {"system_fingerprint", "fp_fake"}};
}

}  // namespace

std::optional<std::string> FakeRequest::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (IEquals(k, name)) return v;
  }
  return std::nullopt;
}

FakeUpstream::FakeUpstream() {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) throw std::runtime_error("fake upstream: socket failed");
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd_, 128) != 0) {
    ::close(listen_fd_);
    throw std::runtime_error(std::string("fake upstream: bind/listen failed: ") +
                             std::strerror(errno));
  }
  socklen_t len = sizeof addr;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  accept_thread_ = std::thread([this] { AcceptLoop(); });
}

FakeUpstream::~FakeUpstream() { Stop(); }

std::string FakeUpstream::base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }

void FakeUpstream::Enqueue(FakeResponse response) {
  std::lock_guard lock(mu_);
  queue_.push_back(std::move(response));
}

void FakeUpstream::SetHandler(Handler handler) {
  std::lock_guard lock(mu_);
  handler_ = std::move(handler);
}

std::vector<FakeRequest> FakeUpstream::requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

std::size_t FakeUpstream::request_count() const {
  std::lock_guard lock(mu_);
  return requests_.size();
}

int FakeUpstream::connections_accepted() const {
  std::lock_guard lock(mu_);
  return connections_;
}

bool FakeUpstream::WaitForRequests(std::size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return requests_.size() >= n; });
}

void FakeUpstream::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
  }
  cv_.notify_all();
  ::shutdown(listen_fd_, SHUT_RDWR);  // wakes accept()
  if (accept_thread_.joinable()) accept_thread_.join();
  ::close(listen_fd_);
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mu_);
    threads.swap(connection_threads_);
  }
  for (auto& t : threads) t.join();
}

void FakeUpstream::AcceptLoop() {
  for (;;) {
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return;  // shut down
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::lock_guard lock(mu_);
    if (stopping_) {
      ::close(fd);
      return;
    }
    open_fds_.insert(fd);
    int connection = ++connections_;
    connection_threads_.emplace_back([this, fd, connection] { Serve(fd, connection); });
  }
}

bool FakeUpstream::SleepFor(std::chrono::milliseconds d) {
  std::unique_lock lock(mu_);
  return !cv_.wait_for(lock, d, [&] { return stopping_; });
}

FakeResponse FakeUpstream::Next(const FakeRequest& request) {
  Handler handler;
  {
    std::lock_guard lock(mu_);
    requests_.push_back(request);
    if (!queue_.empty()) {
      FakeResponse r = std::move(queue_.front());
      queue_.pop_front();
      cv_.notify_all();
      return r;
    }
    handler = handler_;
  }
  cv_.notify_all();
  if (handler) return handler(request);
  return ErrorResponse(500, R"({"error":{"message":"fake upstream: no scripted response",)"
                            R"("type":"server_error","param":null,"code":null}})");
}

void FakeUpstream::Serve(int fd, int connection) {
  RequestReader reader(fd);
  bool reset = false;
  for (;;) {
    FakeRequest req;
    req.connection = connection;
    bool got = false;
    try {
      got = reader.Read(req);
    } catch (const std::exception&) {  // a malformed Content-Length or chunk size
    }
    if (!got) break;
    auto conn_header = req.Header("Connection");
    bool close_after = conn_header && IEquals(*conn_header, "close");
    FakeResponse r = Next(req);
    if (r.delay_before_headers.count() > 0 && !SleepFor(r.delay_before_headers)) break;
    using A = FakeResponse::Action;
    if (r.action == A::kReset) {
      reset = true;
      break;
    }
    if (r.action == A::kClose) break;
    if (r.action == A::kHang) {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_; });
      break;
    }
    if (r.action == A::kRaw) {
      SendAll(fd, r.body);
      break;
    }
    if (r.action == A::kRespond) {
      if (!SendAll(fd, Head(r, false, r.body.size()) + r.body)) break;
      if (close_after) break;
      continue;
    }
    // kStream / kStreamThenReset
    if (!SendAll(fd, Head(r, true, 0))) break;
    bool ok = true;
    for (const StreamStep& step : r.stream) {
      if (step.delay_before.count() > 0 && !SleepFor(step.delay_before)) {
        ok = false;
        break;
      }
      if (step.bytes.empty()) continue;
      if (!SendAll(fd, ChunkOf(step.bytes))) {
        ok = false;
        break;
      }
    }
    if (!ok) break;
    if (r.action == A::kStreamThenReset) {
      reset = true;
      break;
    }
    if (!SendAll(fd, "0\r\n\r\n") || close_after) break;
  }
  {
    std::lock_guard lock(mu_);
    open_fds_.erase(fd);
  }
  if (reset) {
    ResetAndClose(fd);
  } else {
    ::close(fd);
  }
}

FakeResponse OpenAiChatResponse(const std::string& text, std::int64_t prompt_tokens,
                                std::int64_t completion_tokens, const std::string& model,
                                const std::string& finish_reason) {
  bj::object o{
      {"id", "chatcmpl-fake"},
      {"object", "chat.completion"},
      {"created", 1700000000},
      {"model", model},
      {"choices",
       bj::array{bj::object{
           {"index", 0},
           {"message", bj::object{{"role", "assistant"}, {"content", text}, {"refusal", nullptr}}},
           {"logprobs", nullptr},
           {"finish_reason", finish_reason}}}},
      {"usage", bj::object{{"prompt_tokens", prompt_tokens},
                           {"completion_tokens", completion_tokens},
                           {"total_tokens", prompt_tokens + completion_tokens}}},
      {"system_fingerprint", "fp_fake"}};
  FakeResponse r;
  r.body = bj::serialize(o);
  return r;
}

std::string OpenAiChunkEvent(const std::string& text, const std::string& model) {
  bj::object c = OpenAiChunk(model);
  c["choices"] = bj::array{bj::object{{"index", 0},
                                      {"delta", bj::object{{"content", text}}},
                                      {"logprobs", nullptr},
                                      {"finish_reason", nullptr}}};
  return Sse("", c);
}

FakeResponse OpenAiStream(const std::vector<std::string>& tokens, bool with_usage,
                          std::chrono::milliseconds delay, std::int64_t prompt_tokens,
                          const std::string& model) {
  FakeResponse r;
  r.action = FakeResponse::Action::kStream;
  r.headers = {{"Content-Type", "text/event-stream"}, {"Cache-Control", "no-cache"}};
  bj::object first = OpenAiChunk(model);
  first["choices"] = bj::array{bj::object{
      {"index", 0},
      {"delta", bj::object{{"role", "assistant"}, {"content", ""}, {"refusal", nullptr}}},
      {"logprobs", nullptr},
      {"finish_reason", nullptr}}};
  if (with_usage) first["usage"] = nullptr;
  r.stream.push_back({Sse("", first), {}});
  for (const auto& t : tokens) {
    bj::object c = OpenAiChunk(model);
    c["choices"] = bj::array{bj::object{{"index", 0},
                                        {"delta", bj::object{{"content", t}}},
                                        {"logprobs", nullptr},
                                        {"finish_reason", nullptr}}};
    if (with_usage) c["usage"] = nullptr;
    r.stream.push_back({Sse("", c), delay});
  }
  bj::object fin = OpenAiChunk(model);
  fin["choices"] = bj::array{bj::object{
      {"index", 0}, {"delta", bj::object{}}, {"logprobs", nullptr}, {"finish_reason", "stop"}}};
  if (with_usage) fin["usage"] = nullptr;
  r.stream.push_back({Sse("", fin), {}});
  if (with_usage) {
    bj::object u = OpenAiChunk(model);
    auto n = static_cast<std::int64_t>(tokens.size());
    u["choices"] = bj::array{};
    u["usage"] = bj::object{{"prompt_tokens", prompt_tokens},
                            {"completion_tokens", n},
                            {"total_tokens", prompt_tokens + n}};
    r.stream.push_back({Sse("", u), {}});
  }
  r.stream.push_back({"data: [DONE]\n\n", {}});
  return r;
}

FakeResponse AnthropicResponse(const std::string& text, std::int64_t input_tokens,
                               std::int64_t output_tokens, const std::string& stop_reason,
                               const std::string& model) {
  bj::object o{
      {"id", "msg_fake"},
      {"type", "message"},
      {"role", "assistant"},
      {"model", model},
      {"content", bj::array{bj::object{{"type", "text"}, {"text", text}}}},
      {"stop_reason", stop_reason},
      {"stop_sequence", nullptr},
      {"usage", bj::object{{"input_tokens", input_tokens}, {"output_tokens", output_tokens}}}};
  FakeResponse r;
  r.body = bj::serialize(o);
  return r;
}

FakeResponse AnthropicStream(const std::vector<std::string>& tokens, std::int64_t input_tokens,
                             std::chrono::milliseconds delay, const std::string& stop_reason,
                             const std::string& model) {
  FakeResponse r;
  r.action = FakeResponse::Action::kStream;
  r.headers = {{"Content-Type", "text/event-stream; charset=utf-8"}, {"Cache-Control", "no-cache"}};
  bj::object start{
      {"type", "message_start"},
      {"message",
       bj::object{{"id", "msg_fake"},
                  {"type", "message"},
                  {"role", "assistant"},
                  {"content", bj::array{}},
                  {"model", model},
                  {"stop_reason", nullptr},
                  {"stop_sequence", nullptr},
                  {"usage", bj::object{{"input_tokens", input_tokens}, {"output_tokens", 1}}}}}};
  r.stream.push_back({Sse("message_start", start), {}});
  r.stream.push_back(
      {Sse("content_block_start",
           bj::object{{"type", "content_block_start"},
                      {"index", 0},
                      {"content_block", bj::object{{"type", "text"}, {"text", ""}}}}),
       {}});
  r.stream.push_back({Sse("ping", bj::object{{"type", "ping"}}), {}});
  for (const auto& t : tokens) {
    r.stream.push_back({Sse("content_block_delta",
                            bj::object{{"type", "content_block_delta"},
                                       {"index", 0},
                                       {"delta", bj::object{{"type", "text_delta"}, {"text", t}}}}),
                        delay});
  }
  r.stream.push_back(
      {Sse("content_block_stop", bj::object{{"type", "content_block_stop"}, {"index", 0}}), {}});
  r.stream.push_back(
      {Sse("message_delta",
           bj::object{
               {"type", "message_delta"},
               {"delta", bj::object{{"stop_reason", stop_reason}, {"stop_sequence", nullptr}}},
               {"usage", bj::object{{"output_tokens", static_cast<std::int64_t>(tokens.size())}}}}),
       {}});
  r.stream.push_back({Sse("message_stop", bj::object{{"type", "message_stop"}}), {}});
  return r;
}

FakeResponse ErrorResponse(int status, const std::string& json_body,
                           std::optional<int> retry_after_seconds) {
  FakeResponse r;
  r.status = status;
  r.body = json_body;
  if (retry_after_seconds)
    r.headers.emplace_back("Retry-After", std::to_string(*retry_after_seconds));
  return r;
}

}  // namespace promptops::testing
