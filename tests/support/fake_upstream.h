// Test helper: a fake LLM upstream (OpenAI- or Anthropic-shaped) for integration tests. It is a
// small blocking HTTP/1.1 server written on plain POSIX sockets, independent of promptops's own
// server, so a bug in promptops's HTTP code cannot hide itself in both ends.
//
// It listens on 127.0.0.1 port 0, runs one thread per connection, keeps connections alive and
// answers each request with a scripted FakeResponse: from the queue (Enqueue, first in first
// out) or else from the handler (SetHandler), or else a 500 "no scripted response". A response
// can also misbehave: reset the connection (at once or mid-stream), close without answering,
// hang, or send raw bytes (malformed HTTP). Every request is recorded for assertions.
//
// Thread safety: all methods may be called from any thread while the server runs. Stop (or the
// destructor) closes every connection and joins every thread, including hanging ones.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace promptops::testing {

struct FakeRequest {
  std::string method;
  std::string target;  // path and query as sent, e.g. "/v1/chat/completions"
  std::vector<std::pair<std::string, std::string>> headers;  // in order, names as sent
  std::string body;    // de-chunked if the request was chunked
  int connection = 0;  // 1-based index of the connection it came on (keep-alive checks)
  // The first header with this name (case-insensitive).
  std::optional<std::string> Header(std::string_view name) const;
};

struct StreamStep {
  std::string bytes;                          // one HTTP chunk (skipped when empty)
  std::chrono::milliseconds delay_before{0};  // waited before sending it
};

struct FakeResponse {
  enum class Action {
    kRespond,  // status, headers, body with Content-Length
    kStream,   // status, headers, Transfer-Encoding: chunked; each step one chunk; then the end
    kStreamThenReset,  // as kStream, but after the steps the connection is reset (RST), no end
    kReset,            // reset the connection at once (SO_LINGER 0 + close)
    kClose,            // close the connection without answering
    kHang,             // never answer (until Stop)
    kRaw,              // write `body` as the raw bytes of the response, then close
  };
  Action action = Action::kRespond;
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;  // Content-Type etc.
  std::string body;
  std::vector<StreamStep> stream;
  std::chrono::milliseconds delay_before_headers{0};
};

class FakeUpstream {
 public:
  using Handler = std::function<FakeResponse(const FakeRequest&)>;

  // Starts listening. Aborts the test binary (throws std::runtime_error) if it cannot.
  FakeUpstream();
  ~FakeUpstream();
  FakeUpstream(const FakeUpstream&) = delete;
  FakeUpstream& operator=(const FakeUpstream&) = delete;

  int port() const { return port_; }
  // "http://127.0.0.1:PORT" (no trailing slash); append "/v1" for an OpenAI-style base URL.
  std::string base_url() const;

  void Enqueue(FakeResponse response);
  void SetHandler(Handler handler);

  std::vector<FakeRequest> requests() const;
  std::size_t request_count() const;
  int connections_accepted() const;
  // Waits until at least n requests arrived; false on timeout.
  bool WaitForRequests(std::size_t n, std::chrono::milliseconds timeout) const;

  // Closes the listener and every connection, wakes hanging and delayed responses and joins all
  // threads. Idempotent.
  void Stop();

 private:
  void AcceptLoop();
  void Serve(int fd, int connection);
  FakeResponse Next(const FakeRequest& request);
  // Waits up to d; false when Stop was called meanwhile.
  bool SleepFor(std::chrono::milliseconds d);

  int listen_fd_ = -1;
  int port_ = 0;
  std::thread accept_thread_;

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  bool stopping_ = false;
  std::deque<FakeResponse> queue_;
  Handler handler_;
  std::vector<FakeRequest> requests_;
  std::vector<std::thread> connection_threads_;
  std::set<int> open_fds_;
  int connections_ = 0;
};

// Convenience builders. Usage numbers are passed as plain integers (tests/support does not
// depend on providers/).

// A `chat.completion` object with one choice.
FakeResponse OpenAiChatResponse(const std::string& text, std::int64_t prompt_tokens = 10,
                                std::int64_t completion_tokens = 5,
                                const std::string& model = "gpt-4o-mini",
                                const std::string& finish_reason = "stop");
// A chat.completion.chunk stream: a role chunk, one chunk per token, a finish chunk, the usage
// chunk (empty choices) when with_usage, and `data: [DONE]`; `delay` before each token.
FakeResponse OpenAiStream(const std::vector<std::string>& tokens, bool with_usage = true,
                          std::chrono::milliseconds delay = std::chrono::milliseconds(0),
                          std::int64_t prompt_tokens = 10,
                          const std::string& model = "gpt-4o-mini");
// One SSE line-pair for a chat.completion.chunk carrying `text` (helper of OpenAiStream).
std::string OpenAiChunkEvent(const std::string& text, const std::string& model = "gpt-4o-mini");
// A Messages API `message` with one text block.
FakeResponse AnthropicResponse(const std::string& text, std::int64_t input_tokens = 10,
                               std::int64_t output_tokens = 5,
                               const std::string& stop_reason = "end_turn",
                               const std::string& model = "claude-3-5-haiku-20241022");
// A Messages API event stream: message_start, content_block_start, ping, one
// content_block_delta per token, content_block_stop, message_delta, message_stop.
FakeResponse AnthropicStream(const std::vector<std::string>& tokens, std::int64_t input_tokens = 10,
                             std::chrono::milliseconds delay = std::chrono::milliseconds(0),
                             const std::string& stop_reason = "end_turn",
                             const std::string& model = "claude-3-5-haiku-20241022");
// An error answer with a JSON body and, if given, a Retry-After header (in whole seconds).
FakeResponse ErrorResponse(int status, const std::string& json_body,
                           std::optional<int> retry_after_seconds = std::nullopt);

}  // namespace promptops::testing
