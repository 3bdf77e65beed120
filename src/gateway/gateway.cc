#include "gateway/gateway.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/container/small_vector.hpp>

#include <cstdlib>
#include <cstring>
#include <deque>
#include <random>

#include "core/hash.h"
#include "core/json.h"
#include "core/log.h"
#include "gateway/circuit_breaker.h"
#include "gateway/openai_wire.h"
#include "gateway/response_cache.h"
#include "http/async.h"
#include "http/sse.h"
#include "http/text_scan.h"
#include "http/upstream.h"
#include "providers/adapter.h"
#include "providers/simulated.h"

namespace promptops::gateway {

namespace asio = boost::asio;
namespace bj = boost::json;
using providers::ChatRequest;
using providers::ChatResponse;
using providers::FailureClass;
using providers::UpstreamFailure;
using providers::Usage;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

// One configured provider at run time.
struct ProviderRuntime {
  ProviderConfig config;
  std::unique_ptr<providers::Adapter> adapter;   // null for simulated
  std::shared_ptr<http::UpstreamClient> client;  // null for simulated
  std::string api_key;                           // from the environment; never logged
  std::unique_ptr<CircuitBreaker> breaker;
};

// Outcome of one attempt against one upstream.
struct Attempt {
  std::optional<UpstreamFailure> failure;
  ChatResponse response;           // complete answer (also assembled for streams)
  bool client_bytes_sent = false;  // stream: something reached the client
  bool client_gone = false;
  bool circuit_open = false;  // not attempted: the upstream's circuit breaker is open
  std::int64_t ttft_us = -1;
  // The time of the upstream exchange itself (for HTTP upstreams from sending the request to
  // the answer's end, for the simulated provider its whole plan); the rest is the gateway's.
  std::int64_t upstream_us = 0;
};

// Sends one piece of a streamed answer to the client: its text and, from an HTTP upstream, the
// event it came in (null for the simulated provider's tokens) for its tool calls, logprobs,
// refusal and reasoning. Returns false when the client is gone.
using DeltaSink = std::function<asio::awaitable<bool>(std::string_view text,
                                                      const providers::StreamEvent* piece)>;

// The OpenAI parameters a prompt version's config may set for its calls besides model,
// temperature, top_p, max_tokens / max_completion_tokens, stop and seed (which are typed).
constexpr std::string_view kPromptConfigParameters[] = {
    "tools",           "tool_choice",      "parallel_tool_calls",
    "response_format", "presence_penalty", "frequency_penalty",
    "logit_bias",      "logprobs",         "top_logprobs",
    "reasoning_effort"};

// Complete tool calls (a cached answer's) in the streamed shape: each with its "index". Null
// when there are none.
bj::value StreamedToolCalls(const bj::value& calls) {
  const bj::array* all = calls.if_array();
  if (!all || all->empty()) return nullptr;
  bj::array out;
  for (std::size_t i = 0; i < all->size(); ++i) {
    bj::object piece{{"index", static_cast<std::int64_t>(i)}};
    if (const bj::object* c = (*all)[i].if_object()) {
      for (const auto& kv : *c) piece[kv.key()] = kv.value();
    }
    out.push_back(std::move(piece));
  }
  return out;
}

// Whether a request's Cache-Control asks not to use the cache: a no-cache or no-store directive
// (tokens, case-insensitive, RFC 9111 5.2; arguments ignored).
bool BypassesCache(std::string_view value) {
  bool bypass = false;
  http::text::ForEachElement(value, [&](std::string_view directive) {
    directive = http::text::Trim(directive.substr(0, directive.find('=')));
    bypass = http::EqualsIgnoreCase(directive, "no-cache") ||
             http::EqualsIgnoreCase(directive, "no-store");
    return !bypass;
  });
  return bypass;
}

std::optional<std::chrono::milliseconds> RetryAfter(const http::Headers& headers) {
  for (const auto& [k, v] : headers) {
    if (!http::EqualsIgnoreCase(k, "retry-after")) continue;
    char* end = nullptr;
    double secs = std::strtod(v.c_str(), &end);
    if (end != v.c_str() && secs >= 0) {
      return std::chrono::milliseconds(static_cast<std::int64_t>(secs * 1000));
    }
  }
  return std::nullopt;
}

UpstreamFailure TransportFailure(const Error& e) {
  UpstreamFailure f;
  f.cls = e.code == ErrorCode::kTimeout       ? FailureClass::kTimeout
          : e.code == ErrorCode::kUnavailable ? FailureClass::kConnect
                                              : FailureClass::kMalformed;
  f.message = e.message;
  return f;
}

// The request cannot be expressed in the upstream's format (e.g. an image for a text-only API).
UpstreamFailure RequestFailure(const Error& e) {
  UpstreamFailure f;
  f.cls = FailureClass::kClientError;
  f.status = 400;
  f.message = e.message;
  return f;
}

std::string ErrorClassOf(const UpstreamFailure& f) {
  return std::string(providers::FailureClassName(f.cls));
}

std::int64_t MicrosSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() -
                                                               t0)
      .count();
}

asio::awaitable<void> Sleep(std::chrono::microseconds d) {
  if (d.count() <= 0) co_return;
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(kTuple);
}

// --- the simulated provider: executes a plan with timers -------------------------------------
// One exit path at the end and each co_await result in a variable (GCC 12: see server.cc's
// write helpers and the note at HttpAttempt).
asio::awaitable<Attempt> RunSimulated(const ProviderRuntime& p, const ChatRequest& req,
                                      DeltaSink* sink) {
  Attempt a;
  providers::SimulatedPlan plan = providers::PlanSimulated(p.config.simulated, req);
  auto t0 = std::chrono::steady_clock::now();
  auto fail = [&](FailureClass cls) {
    UpstreamFailure f;
    f.cls = cls;
    f.status = plan.error_status;
    f.retry_after = plan.retry_after;
    f.message = "simulated " + std::string(providers::FailureClassName(cls)) + " (injected)";
    a.failure = f;
  };
  // One timer for the whole call (not one per token).
  asio::steady_timer timer(co_await asio::this_coro::executor);
  bool complete = false;  // every token (or the whole answer) was delivered
  if (!sink) {
    if (plan.total_latency.count() > 0) {
      timer.expires_after(plan.total_latency);
      co_await timer.async_wait(kTuple);
    }
    if (!plan.error && !plan.reasoning_tokens.empty()) {
      a.response.message_extra.emplace();
      (*a.response.message_extra)["reasoning_content"] = plan.Reasoning();
    }
    if (plan.error) {
      fail(*plan.error);
    } else if (plan.tool_call) {
      a.response.tool_calls = bj::array{bj::object{
          {"id", plan.tool_call->id},
          {"type", "function"},
          {"function", {{"name", plan.tool_call->name}, {"arguments", plan.Content()}}}}};
      complete = true;
    } else {
      a.response.content = plan.Content();
      complete = true;
    }
  } else {
    if (plan.ttft.count() > 0) {
      timer.expires_after(plan.ttft);
      co_await timer.async_wait(kTuple);
    }
    bool failed = false;
    if (plan.error && *plan.error != FailureClass::kStreamError) {
      fail(*plan.error);
      failed = true;
    }
    // The reasoning's tokens, then the answer's, one per interval.
    const std::size_t reasoning = plan.reasoning_tokens.size();
    for (std::size_t j = 0; !failed && j < reasoning + plan.tokens.size(); ++j) {
      const std::size_t i = j - reasoning;  // the answer's token (when j >= reasoning)
      if (plan.error && j >= reasoning && i == plan.error_after_tokens) {
        fail(FailureClass::kStreamError);
        failed = true;
        break;
      }
      if (j > 0 && plan.inter_token.count() > 0) {
        timer.expires_after(plan.inter_token);
        co_await timer.async_wait(kTuple);
      }
      if (a.ttft_us < 0) a.ttft_us = MicrosSince(t0);
      a.client_bytes_sent = true;
      bool sent = false;
      if (j < reasoning) {
        providers::StreamEvent piece;
        piece.reasoning = plan.reasoning_tokens[j];
        providers::AppendStreamPiece(a.response, piece);
        sent = co_await (*sink)("", &piece);
      } else if (plan.tool_call) {
        // A piece of the call, as OpenAI streams one: the first with its id and name.
        providers::StreamEvent piece;
        bj::object call{{"index", 0}, {"function", {{"arguments", plan.tokens[i]}}}};
        if (i == 0) {
          call["id"] = plan.tool_call->id;
          call["type"] = "function";
          call["function"].get_object()["name"] = plan.tool_call->name;
        }
        piece.tool_calls = bj::array{std::move(call)};
        providers::AppendStreamPiece(a.response, piece);
        sent = co_await (*sink)("", &piece);
      } else {
        a.response.content += plan.tokens[i];
        sent = co_await (*sink)(plan.tokens[i], nullptr);
      }
      if (!sent) {
        a.client_gone = true;
        failed = true;
      }
    }
    complete = !failed;
  }
  a.upstream_us = MicrosSince(t0);
  if (complete) {
    a.response.finish_reason = plan.finish_reason;
    a.response.model = req.model;
    a.response.usage = plan.usage;
  }
  co_return a;
}

// --- HTTP upstreams --------------------------------------------------------------------------
// Set by the handler when the client disconnects; wakes whatever the attempt waits on.
struct ClientWatch {
  bool gone = false;
  asio::steady_timer* wake = nullptr;        // the timer the stream writer currently waits on
  http::UpstreamCancel* upstream = nullptr;  // the upstream call in flight, if any
};

// A plain (not streamed) HTTP attempt: StartHttp builds the upstream request and returns the
// fetch to await, FinishHttp reads its answer. Call awaits the fetch itself, between the two:
// a coroutine of its own per attempt cost a frame on every request. (GCC 12 destroys some
// coroutine locals twice when a co_return sits in a branch after a co_await that initialized
// a variable: the awaited status goes into `status`, a member, instead.)
struct HttpAttempt {
  http::UpstreamCancel cancel;
  std::pair<http::UpstreamResponseHead, std::string> answer;
  Status status;
  std::chrono::steady_clock::time_point t0;
};

// nullopt, with a.failure set, when the adapter cannot build the request.
std::optional<asio::awaitable<Status>> StartHttp(const ProviderRuntime& p, const ChatRequest& req,
                                                 ClientWatch& watch, HttpAttempt& h, Attempt& a) {
  auto built = p.adapter->BuildChat(req, p.api_key);
  if (!built.ok()) {
    a.failure = RequestFailure(built.error());
    return std::nullopt;
  }
  // A client leaving cancels the fetch at once (see ServeUpstream's cancel slot).
  if (watch.gone) h.cancel.Cancel();
  watch.upstream = &h.cancel;
  h.t0 = std::chrono::steady_clock::now();
  return p.client->FetchInto(std::move(built->method), std::move(built->path),
                             std::move(built->headers), std::move(built->body), h.answer,
                             &h.cancel);
}

void FinishHttp(const ProviderRuntime& p, HttpAttempt& h, ClientWatch& watch, Attempt& a) {
  a.upstream_us = MicrosSince(h.t0);
  watch.upstream = nullptr;
  if (watch.gone) {
    a.client_gone = true;
  } else if (!h.status.ok()) {
    a.failure = TransportFailure(h.status.error());
  } else {
    const auto& [head, body] = h.answer;
    auto parsed = p.adapter->ParseChat(head.status, body, RetryAfter(head.headers));
    if (auto* f = std::get_if<UpstreamFailure>(&parsed)) {
      a.failure = *f;
    } else {
      a.response = std::get<ChatResponse>(std::move(parsed));
    }
  }
}

// Streams from an HTTP upstream. The upstream reader (a spawned coroutine whose callbacks are
// synchronous) decodes events into a queue; this coroutine drains the queue to the client. Both
// run on the connection's strand. When the client goes away the reader is cancelled at once.
asio::awaitable<Attempt> StreamHttp(const ProviderRuntime& p, const ChatRequest& req,
                                    DeltaSink& sink, ClientWatch& watch) {
  Attempt a;
  auto t0 = std::chrono::steady_clock::now();
  auto built = p.adapter->BuildChat(req, p.api_key);
  if (!built.ok()) {
    a.failure = RequestFailure(built.error());
    co_return a;
  }
  auto exchange0 = std::chrono::steady_clock::now();
  providers::UpstreamRequest& ur = *built;
  auto decoder = p.adapter->NewStreamDecoder();
  struct Pipe {
    std::deque<providers::StreamEvent> events;
    bool done = false;  // the reader finished (whatever the outcome)
    bool abort = false;
    int status = 0;
    std::string error_body;
    std::optional<std::chrono::milliseconds> retry_after;
    std::optional<UpstreamFailure> failure;
  } pipe;
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer signal(ex, std::chrono::steady_clock::time_point::max());
  asio::cancellation_signal cancel_reader;

  auto on_head = [&](const http::UpstreamResponseHead& head) {
    pipe.status = head.status;
    pipe.retry_after = RetryAfter(head.headers);
    return !pipe.abort;
  };
  auto on_data = [&](std::string_view data) {
    if (pipe.abort) return false;
    if (pipe.status < 200 || pipe.status >= 300) {
      pipe.error_body.append(data);
      return pipe.error_body.size() < (1 << 20);
    }
    std::vector<providers::StreamEvent> out;
    auto fed = decoder->Feed(data, out);
    for (auto& e : out) pipe.events.push_back(std::move(e));
    if (auto* f = std::get_if<UpstreamFailure>(&fed)) {
      pipe.failure = *f;
      signal.cancel();
      return false;
    }
    if (!out.empty()) signal.cancel();
    return true;
  };
  auto finish = [&](const Status& s) {
    if (!pipe.failure && !pipe.abort) {
      if (!s.ok()) {
        pipe.failure = TransportFailure(s.error());
      } else if (pipe.status < 200 || pipe.status >= 300) {
        auto parsed = p.adapter->ParseChat(pipe.status, pipe.error_body, pipe.retry_after);
        if (auto* f = std::get_if<UpstreamFailure>(&parsed)) pipe.failure = *f;
      } else {
        std::vector<providers::StreamEvent> out;
        auto fin = decoder->Finish(out);
        for (auto& e : out) pipe.events.push_back(std::move(e));
        if (auto* f = std::get_if<UpstreamFailure>(&fin)) pipe.failure = *f;
      }
    }
    pipe.done = true;
    signal.cancel();
  };
  asio::co_spawn(
      ex, p.client->Stream(ur.method, ur.path, ur.headers, ur.body, on_head, on_data),
      asio::bind_cancellation_slot(cancel_reader.slot(), [&](std::exception_ptr e, Status s) {
        if (e) s = Error::Internal("upstream stream failed");
        finish(s);
      }));

  watch.wake = &signal;
  while (true) {
    while (!pipe.events.empty() && !a.client_gone) {
      providers::StreamEvent e = std::move(pipe.events.front());
      pipe.events.pop_front();
      DeltaExtras extras = DeltaExtras::Of(e);
      if (e.kind == providers::StreamEvent::Kind::kDelta &&
          (!e.text.empty() || extras.StandsAlone() || extras.logprobs)) {
        if (a.ttft_us < 0) a.ttft_us = MicrosSince(t0);
        providers::AppendStreamPiece(a.response, e);
        a.client_bytes_sent = true;
        bool sent = co_await sink(e.text, &e);
        if (!sent) a.client_gone = true;
      } else if (e.kind == providers::StreamEvent::Kind::kFinish && e.finish_reason) {
        a.response.finish_reason = *e.finish_reason;
      } else if (e.kind == providers::StreamEvent::Kind::kUsage) {
        a.response.usage = e.usage;
      }
    }
    if (watch.gone) a.client_gone = true;
    if (pipe.done || pipe.failure || a.client_gone) break;
    signal.expires_at(std::chrono::steady_clock::time_point::max());
    co_await signal.async_wait(kTuple);
  }
  if (!pipe.done) {
    // Stop the upstream call (client gone, or a failure decoded mid-stream) and wait for the
    // reader to finish: it references this frame.
    pipe.abort = true;
    cancel_reader.emit(asio::cancellation_type::terminal);
    while (!pipe.done) {
      signal.expires_at(std::chrono::steady_clock::time_point::max());
      co_await signal.async_wait(kTuple);
    }
  }
  watch.wake = nullptr;
  if (pipe.failure && !a.client_gone) a.failure = pipe.failure;
  a.upstream_us = MicrosSince(exchange0);
  co_return a;
}

}  // namespace

struct Gateway::Impl {
  GatewayConfig config;
  GatewayDeps deps;
  std::map<std::string, std::unique_ptr<ProviderRuntime>> providers;
  std::unique_ptr<ResponseCache> cache;
  std::unique_ptr<UsageLimiter> limiter;
  std::int64_t started_at = 0;

  Impl(GatewayConfig c, GatewayDeps d) : config(std::move(c)), deps(d) {}

  // --- helpers -------------------------------------------------------------------------------
  // `head_lines`: the request's x-promptops-* headers so far (AddHeader).
  static http::Response Fail(const Error& e, std::string_view code = {},
                             std::string_view head_lines = {}) {
    auto w = OpenAiError(e, code);
    http::Response r = http::Response::Json(w.status, std::move(w.body));
    r.head_lines = head_lines;
    return r;
  }

  // A response header of the chat request (its head lines). A value that could split the head
  // (a line break in a configured name) is left out, as the server would drop it.
  static void AddHeader(std::string& lines, http::StaticHeaderName name, std::string_view value) {
    if (!http::AppendHeaderLine(lines, name, value)) {
      log::Warn("response header dropped: invalid value", {{"header", std::string(name.view())}});
    }
  }

  // USD: input tokens at their prices (the prompt cache's reads and writes at theirs, when the
  // upstream reports them and the model's pricing has them), output tokens at the output price.
  double Cost(const ModelConfig& m, const Usage& u) const {
    const Pricing& p = m.pricing;
    std::int64_t prompt = std::max<std::int64_t>(u.prompt_tokens, 0);
    std::int64_t cached = std::min(std::max<std::int64_t>(u.cached_tokens.value_or(0), 0), prompt);
    std::int64_t written =
        std::min(std::max<std::int64_t>(u.cache_write_tokens.value_or(0), 0), prompt - cached);
    auto tokens = [](std::int64_t n) { return static_cast<double>(n); };
    return (tokens(prompt - cached - written) * p.input_per_1m +
            tokens(cached) * p.cached_input_per_1m.value_or(p.input_per_1m) +
            tokens(written) * p.cache_write_per_1m.value_or(p.input_per_1m) +
            static_cast<double>(u.completion_tokens) * p.output_per_1m) /
           1e6;
  }

  std::string Body(std::string_view text) const {
    if (config.policy.trace_bodies == "none") return {};
    if (config.policy.trace_bodies == "full") return std::string(text);
    return MaskForTrace(text);
  }
  // What a trace keeps of an answer: its text, then its tool calls (as JSON) when it has any.
  std::string AnswerBody(const ChatResponse& r) const {
    if (r.tool_calls.is_null() || config.policy.trace_bodies == "none") return Body(r.content);
    std::string text = r.content;
    if (!text.empty()) text += '\n';
    json::AppendValue(text, r.tool_calls);
    return Body(text);
  }

  telemetry::Metrics* metrics() { return deps.telemetry ? &deps.telemetry->metrics() : nullptr; }

  // Completes a trace and hands it to telemetry (metrics now, storage through the bounded queue;
  // never blocks; a full queue is counted there).
  void Finish(telemetry::TraceRecord& t, std::chrono::steady_clock::time_point t0,
              const std::string& cache_state) {
    t.latency_us = MicrosSince(t0);
    if (deps.telemetry) deps.telemetry->RecordRequest(std::move(t), !cache_state.empty());
  }

  // --- the attempt loop: retries with backoff, then fallbacks ---------------------------------
  struct CallOutcome {
    Attempt attempt;
    const ModelConfig* served_by = nullptr;
    int retries = 0;
    bool fallback_used = false;
    bool called = false;           // an upstream was called (not only open circuits)
    std::int64_t upstream_us = 0;  // the attempts' upstream exchanges and the backoff between
  };

  // Sets req.model to each model of the fallback chain in turn (no copy of the request). Fills
  // `out` (a default one) in place: returned through the awaitable, the outcome (its answer's
  // strings and JSON) was moved twice more on every request.
  asio::awaitable<void> Call(const ModelConfig& first, ChatRequest& req, DeltaSink* sink,
                             ClientWatch& watch, CallOutcome& out) {
    boost::container::small_vector<const ModelConfig*, 4> chain{&first};
    for (const auto& f : first.fallbacks) {
      if (const ModelConfig* m = config.Find(f)) chain.push_back(m);
    }
    thread_local std::mt19937_64 rng{std::random_device{}()};
    for (std::size_t i = 0; i < chain.size(); ++i) {
      const ModelConfig* m = chain[i];
      ProviderRuntime& p = *providers.at(m->provider);
      req.model = m->upstream_model;
      if (i > 0) {
        out.fallback_used = true;
        if (auto* mx = metrics()) mx->Fallback(chain[i - 1]->name, m->name);
      }
      for (int attempt = 0; attempt <= config.policy.max_retries; ++attempt) {
        if (!p.breaker->Allow()) {
          UpstreamFailure f;
          f.cls = FailureClass::kConnect;
          f.message = "circuit open for provider '" + p.config.name + "' after repeated failures";
          out.attempt = Attempt{};
          out.attempt.failure = f;
          out.attempt.circuit_open = true;
          break;  // next model in the chain
        }
        if (p.config.type == "simulated") {
          out.attempt = co_await RunSimulated(p, req, sink);
        } else if (sink) {
          out.attempt = co_await StreamHttp(p, req, *sink, watch);
        } else {
          // A retry, or a fallback after an attempt or an open circuit, starts afresh.
          if (out.called || out.attempt.failure) out.attempt = Attempt{};
          HttpAttempt h;
          if (auto fetch = StartHttp(p, req, watch, h, out.attempt)) {
            h.status = co_await std::move(*fetch);
            FinishHttp(p, h, watch, out.attempt);
          }
        }
        out.served_by = m;
        out.called = true;
        out.upstream_us += out.attempt.upstream_us;
        // A client that left says nothing about the upstream's health.
        if (out.attempt.client_gone) co_return;
        const auto& f = out.attempt.failure;
        if (!f) {
          p.breaker->RecordSuccess();
          co_return;
        }
        if (auto* m = metrics()) m->UpstreamError(p.config.name, ErrorClassOf(*f));
        if (providers::IsRetryable(f->cls)) {
          p.breaker->RecordFailure();
        } else {
          co_return;  // the request itself is bad: neither retry nor fall back
        }
        // Once bytes reached the client, the answer cannot be restarted elsewhere.
        if (out.attempt.client_bytes_sent) co_return;
        if (attempt == config.policy.max_retries) break;
        ++out.retries;
        if (auto* m = metrics()) m->Retry(p.config.name);
        auto base = config.policy.backoff_base * (1 << std::min(attempt, 10));
        auto capped = std::min<std::chrono::milliseconds>(base, config.policy.backoff_max);
        std::uniform_int_distribution<std::int64_t> jitter(capped.count() / 2, capped.count());
        std::chrono::milliseconds wait(jitter(rng));
        if (f->retry_after)
          wait = std::max(wait, std::min(*f->retry_after, config.policy.backoff_max * 5));
        auto slept0 = std::chrono::steady_clock::now();
        co_await Sleep(wait);
        out.upstream_us += MicrosSince(slept0);
        if (watch.gone) {
          out.attempt.client_gone = true;
          co_return;
        }
      }
    }
    co_return;
  }

  // --- POST /v1/chat/completions -------------------------------------------------------------
  // A request's state from its preparation to its end. Preparation is a plain function and the
  // rest is split into small coroutines, so that a stream in flight holds little memory (GCC
  // keeps every local of a coroutine, temporaries included, in its heap frame).
  struct ChatState {
    std::chrono::steady_clock::time_point t0;
    telemetry::TraceRecord trace;
    std::string head_lines;  // the response's own headers (AddHeader)
    std::string key_id;
    std::int64_t project_id = 0;
    std::string client_model;  // the model as the client named it
    bool stream = false;
    bool include_usage = false;
    const ModelConfig* model = nullptr;
    ChatRequest up;
    bool cacheable = false;
    std::string cache_state;  // "", "hit" or "miss"
    std::string cache_key;
    std::shared_ptr<const CachedAnswer> hit;
    std::string completion_id;
    std::int64_t created = 0;
    std::string stream_error;  // an error event for a stream that had already started
  };

  // Records the failed request and returns its OpenAI-shaped error.
  http::Response FailChat(ChatState& st, const Error& e, std::string_view code = {},
                          std::string error_class = {}) {
    st.trace.status = HttpStatusFor(e.code);
    st.trace.error_class = error_class.empty() ? std::string(ErrorCodeName(e.code)) : error_class;
    st.trace.response_body = Body(e.message);
    Finish(st.trace, st.t0, "");
    return Fail(e, code, st.head_lines);
  }

  // Authenticates, parses, admits, resolves the model or prompt and looks the cache up. Returns
  // the response to send at once (an error), or nullopt when `st` is ready for the call.
  std::optional<http::Response> PrepareChat(http::Request& req, ChatState& st) {
    st.t0 = std::chrono::steady_clock::now();
    telemetry::TraceRecord& trace = st.trace;
    trace.id = telemetry::NewTraceId();
    trace.time_ms = ToUnixMillis(deps.clock->Now());
    st.head_lines.reserve(256);
    AddHeader(st.head_lines, "x-promptops-trace-id", trace.id);

    auto actor = deps.keys.AuthenticateHeader(req.Header("authorization"));
    if (!actor.ok()) {
      // Unauthenticated calls are neither traced nor counted per model: there is no project to
      // file them in, and counting them would let anyone inflate the metrics.
      return Fail(actor.error(), "invalid_api_key", st.head_lines);
    }
    st.key_id = actor->id;
    st.project_id = actor->project_id;
    trace.project_id = actor->project_id;
    trace.key_id = actor->id;
    if (req.body.size() > config.policy.max_request_bytes) {
      return FailChat(st, Error{ErrorCode::kPayloadTooLarge,
                                "request body is larger than " +
                                    std::to_string(config.policy.max_request_bytes) + " bytes"});
    }
    trace.request_body = Body(req.body);
    auto parsed = ParseChatRequest(req.body);
    if (!parsed.ok()) return FailChat(st, parsed.error());
    InboundChat& in = *parsed;
    trace.model = in.model;
    trace.user = in.user;
    trace.stream = in.stream;
    st.client_model = in.model;
    st.stream = in.stream;
    st.include_usage = in.include_usage;
    if (auto s = in.metadata.find("session_id"); s != in.metadata.end() && s->value().is_string()) {
      trace.session = std::string(s->value().as_string());
    } else if (auto h = req.Header("x-promptops-session")) {
      trace.session = std::string(*h);
    }
    if (!in.metadata.empty()) trace.metadata = std::move(in.metadata);  // not read from `in` after

    std::chrono::seconds retry_after{0};
    if (auto admitted = limiter->Admit(actor->id, actor->project_id, &retry_after);
        !admitted.ok()) {
      AddHeader(st.head_lines, "retry-after", std::to_string(retry_after.count()));
      return FailChat(st, admitted.error(), "rate_limit_exceeded");
    }

    // Resolve what to call: a model, or a prompt version rendered with the variables.
    ChatRequest& up = st.up;
    bj::array& messages = up.messages;       // built in place (st.up is new: empty)
    std::string_view model_name = in.model;  // or the prompt version's config.model
    std::string prompt_model;
    bj::object prompt_config;
    if (in.ref.is_prompt) {
      auto snap = deps.registry.snapshot();
      const registry::PromptView* p = snap->Find(actor->project_id, in.ref.prompt.name);
      if (!p) {
        return FailChat(st, Error::NotFound("prompt '" + in.ref.prompt.name + "' not found"),
                        "model_not_found");
      }
      registry::Selector sel;
      sel.label = in.ref.prompt.label;
      sel.number = in.ref.prompt.version;
      auto v = deps.registry.Resolve(*p, sel);
      if (!v.ok()) return FailChat(st, v.error(), "model_not_found");
      trace.prompt_name = p->name;
      trace.prompt_version = (*v)->number;
      trace.prompt_label = in.ref.prompt.label.value_or("");
      AddHeader(st.head_lines, "x-promptops-prompt", p->name + "@" + std::to_string((*v)->number));
      auto rendered =
          registry::Registry::RenderVersion(*snap, actor->project_id, **v, in.variables, true);
      if (!rendered.ok()) return FailChat(st, rendered.error());
      if (rendered->is_string()) {
        // A text prompt becomes one message: the system message when the request brings its own
        // messages, else the user message.
        bool own_messages = !in.messages.empty() || !in.messages_text.empty();
        messages.push_back(bj::object{{"role", own_messages ? "system" : "user"},
                                      {"content", rendered->as_string()}});
      } else {
        messages = std::move(rendered->as_array());
      }
      prompt_config = (*v)->config;
      auto m = prompt_config.find("model");
      if (m == prompt_config.end() || !m->value().is_string()) {
        return FailChat(st, Error::InvalidArgument("prompt '" + p->name + "' version " +
                                                   std::to_string((*v)->number) +
                                                   " has no config.model to call"));
      }
      prompt_model = std::string(m->value().as_string());
      model_name = prompt_model;
    }
    if (messages.empty()) {
      // No prompt messages before them: taken whole (as text when the fast pass kept them so:
      // an OpenAI-compatible upstream gets them as the client sent them).
      if (!in.messages.empty()) messages = std::move(in.messages);
      up.messages_text = in.messages_text;
    } else {
      for (auto& m : MessagesOf(in)) messages.push_back(std::move(m));
    }
    const ModelConfig* model = config.Find(model_name);
    if (!model) {
      return FailChat(st,
                      Error::NotFound("The model '" + std::string(model_name) +
                                      "' does not exist or is not configured"),
                      "model_not_found");
    }
    st.model = model;
    AddHeader(st.head_lines, "x-promptops-model", model->name);
    AddHeader(st.head_lines, "x-promptops-provider", model->provider);
    trace.provider = providers.at(model->provider)->config.name;
    trace.upstream_model = model->upstream_model;

    // The prompt version's config first, then the request's own parameters override it.
    // (Most requests name a model: no prompt config to look into.)
    if (!prompt_config.empty()) {
      if (auto t = prompt_config.find("temperature");
          t != prompt_config.end() && t->value().is_number()) {
        up.temperature = t->value().to_number<double>();
      }
      if (auto t = prompt_config.find("top_p");
          t != prompt_config.end() && t->value().is_number()) {
        up.top_p = t->value().to_number<double>();
      }
      if (auto t = prompt_config.find("max_tokens");
          t != prompt_config.end() && t->value().is_number()) {
        up.max_tokens = t->value().to_number<std::int64_t>();
      }
      if (auto t = prompt_config.find("max_completion_tokens");
          t != prompt_config.end() && t->value().is_number()) {
        up.max_tokens = t->value().to_number<std::int64_t>();
      }
      if (auto t = prompt_config.find("seed"); t != prompt_config.end() && t->value().is_int64()) {
        up.seed = t->value().get_int64();
      }
      if (auto t = prompt_config.find("stop"); t != prompt_config.end()) {
        if (t->value().is_string()) up.stop = {std::string(t->value().get_string())};
        if (t->value().is_array()) {
          for (const auto& s : t->value().get_array()) {
            if (s.is_string()) up.stop.emplace_back(s.get_string());
          }
        }
      }
    }
    if (in.temperature) up.temperature = in.temperature;
    if (in.top_p) up.top_p = in.top_p;
    if (in.max_tokens) up.max_tokens = in.max_tokens;
    if (!in.stop.empty()) up.stop = std::move(in.stop);
    if (in.seed) up.seed = in.seed;
    up.user = in.user;
    up.stream = in.stream;
    up.include_usage = in.include_usage;
    up.extra = std::move(in.extra);
    // Other OpenAI parameters of the version's config (its tools, response format, ...) where
    // the request has none. Only these: a config may hold keys of its owner's own.
    if (!prompt_config.empty()) {
      for (std::string_view key : kPromptConfigParameters) {
        auto t = prompt_config.find(key);
        if (t != prompt_config.end() && !t->value().is_null() && !up.extra.contains(key)) {
          up.extra[key] = t->value();
        }
      }
    }
    up.model = model->upstream_model;

    // Cache: exact match, by default only for deterministic (temperature 0) requests.
    bool no_cache = false;
    if (auto cc = req.Header("cache-control")) no_cache = BypassesCache(*cc);
    st.cacheable =
        config.policy.cache_enabled && !no_cache &&
        (!config.policy.cache_only_temperature_zero || (up.temperature && *up.temperature == 0.0));
    if (st.cacheable) {
      st.cache_key = ResponseCache::Key(model->provider, up);
      st.hit = cache->Get(st.cache_key);
      st.cache_state = st.hit ? "hit" : "miss";
    }
    AddHeader(st.head_lines, "x-promptops-cache",
              st.cache_state.empty() ? std::string_view("off") : std::string_view(st.cache_state));
    // The completion id carries the trace id's characters: a completion id in a client's log
    // finds its trace (GET /api/v1/traces/tr-...).
    st.completion_id.reserve(9 + trace.id.size() - 3);
    st.completion_id.append("chatcmpl-").append(trace.id, 3);
    st.created = ToUnixMillis(deps.clock->Now()) / 1000;
    return std::nullopt;
  }

  std::string Chunk(const ChatState& st, std::optional<std::string_view> role,
                    std::optional<std::string_view> text,
                    std::optional<std::string_view> finish_reason, const Usage* usage = nullptr,
                    const DeltaExtras& extras = {}) const {
    return http::SseEvent(ChunkJson(st.completion_id, st.created, st.client_model, role, text,
                                    finish_reason, usage, extras));
  }

  // The head lines of a streamed answer (for ResponseWriter::StartStream).
  static std::string StreamHeadLines(const ChatState& st) {
    std::string lines = st.head_lines;
    AddHeader(lines, "content-type", "text/event-stream");
    AddHeader(lines, "cache-control", "no-cache");
    return lines;
  }

  // The answer of a non-streamed call; the last use of st.head_lines (they are moved out).
  http::Response CompletionResponse(ChatState& st, const providers::ChatResponse& r,
                                    const Usage& usage) const {
    http::Response out;
    out.body = CompletionJson(st.completion_id, st.created, st.client_model, r, usage);
    out.head_lines = std::move(st.head_lines);
    AddHeader(out.head_lines, "content-type", "application/json");
    return out;
  }

  // Not a coroutine itself: the request is prepared when the server calls it (it awaits the
  // result at once), and the coroutine that serves it owns the state, so that a proxied request
  // has one frame less.
  asio::awaitable<http::Response> ChatCompletions(http::Request& req, http::ResponseWriter& w) {
    auto st = std::make_unique<ChatState>();
    if (std::optional<http::Response> early = PrepareChat(req, *st)) {
      return Ready(std::move(*early));
    }
    if (st->hit) return ServeCached(std::move(st), w);
    return ServeUpstream(std::move(st), w);
  }

  static asio::awaitable<http::Response> Ready(http::Response r) { co_return r; }

  // Answers from the cache, as a plain response or replayed as a stream.
  asio::awaitable<http::Response> ServeCached(std::unique_ptr<ChatState> state,
                                              http::ResponseWriter& w) {
    ChatState& st = *state;
    const CachedAnswer& hit = *st.hit;
    telemetry::TraceRecord& trace = st.trace;
    trace.cache_hit = true;
    trace.input_tokens = hit.usage.prompt_tokens;
    trace.output_tokens = hit.usage.completion_tokens;
    trace.usage_estimated = hit.usage.estimated;
    trace.response_body = AnswerBody(hit.response);
    http::Response out;
    if (!st.stream) {
      Finish(trace, st.t0, st.cache_state);
      out = CompletionResponse(st, hit.response, hit.usage);
    } else {
      bool started = co_await w.StartStream(200, {}, StreamHeadLines(st));
      if (started) {
        trace.ttft_us = MicrosSince(st.t0);
        co_await w.Write(Chunk(st, "assistant", "", std::nullopt));
        const std::optional<bj::object>& extra = hit.response.message_extra;
        auto member = [&](std::string_view key) -> const bj::value* {
          return extra ? extra->if_contains(key) : nullptr;
        };
        // One chunk per part of the answer (its delta has that part only), the reasoning first,
        // as it was generated.
        auto part = [&](std::optional<std::string_view> text, auto&& set) {
          DeltaExtras x;
          set(x);
          return Chunk(st, std::nullopt, text, std::nullopt, nullptr, x);
        };
        for (std::string_view key : {"reasoning_content", "reasoning"}) {
          const bj::value* r = member(key);
          if (r && r->is_string()) {
            co_await w.Write(part(std::nullopt, [&](DeltaExtras& x) {
              x.reasoning = r->get_string();
              x.reasoning_field = key;
            }));
          }
        }
        if (const bj::value* b = member("thinking_blocks"); b && b->is_array()) {
          co_await w.Write(part(std::nullopt, [&](DeltaExtras& x) { x.thinking_blocks = b; }));
        }
        bj::value calls = StreamedToolCalls(hit.response.tool_calls);
        if (!hit.response.content.empty() || calls.is_null()) {
          co_await w.Write(part(hit.response.content, [&](DeltaExtras& x) {
            if (hit.response.logprobs) x.logprobs = &*hit.response.logprobs;
          }));
        }
        if (const bj::value* refusal = member("refusal"); refusal && refusal->is_string()) {
          co_await w.Write(
              part(std::nullopt, [&](DeltaExtras& x) { x.refusal = refusal->get_string(); }));
        }
        if (!calls.is_null()) {
          co_await w.Write(part(std::nullopt, [&](DeltaExtras& x) { x.tool_calls = &calls; }));
        }
        co_await w.Write(Chunk(st, std::nullopt, std::nullopt, hit.response.finish_reason));
        if (st.include_usage) {
          co_await w.Write(Chunk(st, std::nullopt, std::nullopt, std::nullopt, &hit.usage));
        }
      }
      if (w.ClientGone()) {  // traced like a client leaving an upstream stream
        trace.status = 499;
        trace.error_class = "client_cancelled";
      }
      Finish(trace, st.t0, st.cache_state);  // recorded before the client sees the end
      if (started) {
        co_await w.Write(http::SseEvent("[DONE]"));
        co_await w.Finish();
      }
    }
    co_return out;
  }

  // Calls the model's chain (retries, fallbacks), streaming to the client as tokens arrive.
  asio::awaitable<http::Response> ServeUpstream(std::unique_ptr<ChatState> state,
                                                http::ResponseWriter& w) {
    ChatState& st = *state;
    ClientWatch watch;
    w.CancelSlot().assign([&watch](asio::cancellation_type) {
      watch.gone = true;
      if (watch.wake) watch.wake->cancel();
      if (watch.upstream) watch.upstream->Cancel();
    });
    // The signal is emitted once; a client that left before the slot was bound is seen here.
    if (w.ClientGone()) watch.gone = true;

    CallOutcome outcome;
    bool stream_started = false;
    if (!st.stream) {
      co_await Call(*st.model, st.up, nullptr, watch, outcome);
    } else {
      // Headers (and the role chunk) go out with the first token, so that a failure before it
      // can still fall back or answer with a proper error status.
      DeltaSink sink = [&](std::string_view text,
                           const providers::StreamEvent* piece) -> asio::awaitable<bool> {
        DeltaExtras extras = piece ? DeltaExtras::Of(*piece) : DeltaExtras{};
        bool ok = true;
        if (!stream_started) {
          stream_started = true;
          ok = co_await w.StartStream(200, {}, StreamHeadLines(st));
          if (ok) ok = co_await w.Write(Chunk(st, "assistant", "", std::nullopt));
        }
        std::optional<std::string_view> content;
        if (!text.empty() || !extras.StandsAlone()) content = text;
        if (ok)
          ok = co_await w.Write(Chunk(st, std::nullopt, content, std::nullopt, nullptr, extras));
        co_return ok;
      };
      co_await Call(*st.model, st.up, &sink, watch, outcome);
    }
    w.CancelSlot().clear();

    Usage usage;
    std::optional<http::Response> done = Conclude(st, outcome, stream_started, &usage);
    http::Response out;
    if (done) {
      out = std::move(*done);
    } else if (outcome.attempt.failure) {
      // Bytes already reached the client: report the error inside the stream, then end it.
      co_await w.Write(http::SseEvent(st.stream_error));
      co_await w.Finish();
    } else if (st.stream) {
      if (!stream_started) {  // an empty answer: still a well-formed stream
        co_await w.StartStream(200, {}, StreamHeadLines(st));
        co_await w.Write(Chunk(st, "assistant", "", std::nullopt));
      }
      co_await w.Write(
          Chunk(st, std::nullopt, std::nullopt, outcome.attempt.response.finish_reason));
      if (st.include_usage) {
        co_await w.Write(Chunk(st, std::nullopt, std::nullopt, std::nullopt, &usage));
      }
      // Recorded before the client sees the end of the stream, so that a client that reads the
      // whole answer can already find its trace (after the writer's next batch).
      Finish(st.trace, st.t0, st.cache_state);
      co_await w.Write(http::SseEvent("[DONE]"));
      co_await w.Finish();
    }
    co_return out;
  }

  // Completes the trace and the usage accounting after the call. Returns the response when the
  // answer is complete without more streaming (an error before any byte, a plain answer, or
  // nothing for a client that left), or nullopt when the stream still has to be finished (its
  // end, or st.stream_error for a failure after bytes were sent).
  std::optional<http::Response> Conclude(ChatState& st, CallOutcome& outcome, bool stream_started,
                                         Usage* usage_out) {
    telemetry::TraceRecord& trace = st.trace;
    Attempt& a = outcome.attempt;
    trace.retries = outcome.retries;
    trace.fallback_used = outcome.fallback_used;
    trace.ttft_us = a.ttft_us;
    trace.upstream_us = outcome.called ? outcome.upstream_us : -1;
    const ModelConfig& served = outcome.served_by ? *outcome.served_by : *st.model;
    if (outcome.fallback_used) {
      trace.provider = served.provider;
      trace.upstream_model = served.upstream_model;
    }
    Usage& usage = *usage_out;
    if (a.response.usage) {
      usage = *a.response.usage;
    } else {
      usage.prompt_tokens = providers::EstimateRequestTokens(st.up);
      usage.completion_tokens =
          providers::EstimateTokens(a.response.content) +
          providers::EstimateTokens(providers::ReasoningText(a.response.message_extra)) +
          providers::EstimateToolCallTokens(a.response.tool_calls);
      usage.estimated = true;
    }
    trace.input_tokens = usage.prompt_tokens;
    trace.output_tokens = usage.completion_tokens;
    trace.usage_estimated = usage.estimated;
    trace.cost_usd = Cost(served, usage);
    trace.response_body = AnswerBody(a.response);
    limiter->Record(st.key_id, st.project_id, usage.prompt_tokens + usage.completion_tokens,
                    trace.cost_usd);

    if (a.client_gone) {
      trace.status = 499;
      trace.error_class = "client_cancelled";
      Finish(trace, st.t0, st.cache_state);
      return http::Response{};
    }
    if (a.failure) {
      Error e = a.failure->ToError();
      if (a.circuit_open) e = Error::Unavailable(a.failure->message);
      trace.error_class = ErrorClassOf(*a.failure);
      if (stream_started) {
        trace.status = 200;
        st.stream_error = OpenAiError(e).body;
        Finish(trace, st.t0, st.cache_state);
        return std::nullopt;
      }
      trace.status = HttpStatusFor(e.code);
      Finish(trace, st.t0, st.cache_state);
      if (a.failure->retry_after) {
        AddHeader(st.head_lines, "retry-after",
                  std::to_string((a.failure->retry_after->count() + 999) / 1000));
      }
      return Fail(e, {}, st.head_lines);
    }

    if (st.cacheable) cache->Put(st.cache_key, CachedAnswer{a.response, usage});
    trace.status = 200;
    if (!st.stream) {
      Finish(trace, st.t0, st.cache_state);
      return CompletionResponse(st, a.response, usage);
    }
    return std::nullopt;
  }

  // --- GET /v1/models, GET /v1/models/{model} ------------------------------------------------
  // One model object: `owned_by` names the provider ("promptops-simulated" for the simulated
  // one), or "alias:TARGET" for an alias.
  bj::object ModelObject(const std::string& id, const std::string& owner) const {
    return bj::object{
        {"id", id}, {"object", "model"}, {"created", started_at}, {"owned_by", owner}};
  }
  std::string ModelOwner(const ModelConfig& m) const {
    const auto& p = providers.at(m.provider)->config;
    return p.type == "simulated" ? "promptops-simulated" : p.name;
  }

  http::Response Models(http::Request& req) {
    auto actor = deps.keys.AuthenticateHeader(req.Header("authorization"));
    if (!actor.ok()) return Fail(actor.error(), "invalid_api_key");
    bj::array data;
    for (const auto& [name, m] : config.models) data.push_back(ModelObject(name, ModelOwner(m)));
    for (const auto& [alias, target] : config.aliases) {
      data.push_back(ModelObject(alias, "alias:" + target));
    }
    return http::Response::Json(
        200, bj::serialize(bj::object{{"object", "list"}, {"data", std::move(data)}}));
  }

  // The SDKs' models.retrieve(id). Ids may hold slashes ("meta-llama/Llama-3"): the rest of
  // the path is the id.
  http::Response Model(http::Request& req) {
    auto actor = deps.keys.AuthenticateHeader(req.Header("authorization"));
    if (!actor.ok()) return Fail(actor.error(), "invalid_api_key");
    std::string id(req.Param("model"));
    if (auto m = config.models.find(id); m != config.models.end()) {
      return http::Response::Json(200, bj::serialize(ModelObject(id, ModelOwner(m->second))));
    }
    if (auto a = config.aliases.find(id); a != config.aliases.end()) {
      return http::Response::Json(200, bj::serialize(ModelObject(id, "alias:" + a->second)));
    }
    return Fail(Error::NotFound("The model '" + id + "' does not exist or is not configured"),
                "model_not_found");
  }

  // --- POST /v1/embeddings -------------------------------------------------------------------
  asio::awaitable<http::Response> Embeddings(http::Request& req, http::ResponseWriter&) {
    auto t0 = std::chrono::steady_clock::now();
    telemetry::TraceRecord trace;
    trace.id = telemetry::NewTraceId();
    trace.time_ms = ToUnixMillis(deps.clock->Now());
    std::string head_lines;  // as for chat: the response's own headers (AddHeader)
    AddHeader(head_lines, "x-promptops-trace-id", trace.id);
    http::Response out = co_await EmbeddingsInner(req, trace, head_lines);
    out.head_lines.append(head_lines);
    trace.status = out.status;
    if (trace.project_id != 0) Finish(trace, t0, "");
    co_return out;
  }

  // The work of /v1/embeddings; fills the trace (project 0: not authenticated, not traced).
  asio::awaitable<http::Response> EmbeddingsInner(http::Request& req, telemetry::TraceRecord& trace,
                                                  std::string& head_lines) {
    auto fail = [&](const Error& e, std::string_view code = {}) {
      trace.error_class = std::string(ErrorCodeName(e.code));
      return Fail(e, code);
    };
    auto actor = deps.keys.AuthenticateHeader(req.Header("authorization"));
    if (!actor.ok()) co_return Fail(actor.error(), "invalid_api_key");
    trace.project_id = actor->project_id;
    trace.key_id = actor->id;
    auto body = json::ParseObject(req.body);
    if (!body.ok()) co_return fail(body.error());
    auto model_name = json::RequireString(*body, "model");
    if (!model_name.ok()) co_return fail(model_name.error());
    trace.model = *model_name;
    auto input = body->find("input");
    if (input == body->end() || !(input->value().is_string() || input->value().is_array())) {
      co_return fail(Error::InvalidArgument("field 'input' must be a string or an array"));
    }
    for (auto f : {"api_base", "base_url", "api_key"}) {
      if (body->contains(f))
        co_return fail(Error::InvalidArgument(std::string("field '") + f + "' is not allowed"));
    }
    const ModelConfig* model = config.Find(*model_name);
    if (!model) {
      co_return fail(
          Error::NotFound("The model '" + *model_name + "' does not exist or is not configured"),
          "model_not_found");
    }
    trace.provider = model->provider;
    trace.upstream_model = model->upstream_model;
    std::chrono::seconds retry_after{0};
    if (auto admitted = limiter->Admit(actor->id, actor->project_id, &retry_after);
        !admitted.ok()) {
      AddHeader(head_lines, "retry-after", std::to_string(retry_after.count()));
      co_return fail(admitted.error(), "rate_limit_exceeded");
    }
    ProviderRuntime& p = *providers.at(model->provider);
    std::vector<std::string> inputs;
    if (input->value().is_string()) {
      inputs.emplace_back(input->value().as_string());
    } else {
      for (const auto& v : input->value().as_array()) {
        if (!v.is_string())
          co_return fail(Error::InvalidArgument("field 'input' must contain strings"));
        inputs.emplace_back(v.as_string());
      }
    }
    if (p.config.type == "simulated") {
      // Deterministic pseudo-embeddings: 16 dimensions from the SHA-256 of each input, as floats
      // or, with encoding_format "base64" (the OpenAI SDKs' default), as little-endian float32.
      auto format = json::OptString(*body, "encoding_format");
      if (!format.ok()) co_return fail(format.error());
      bool base64 = format->value_or("float") == "base64";
      if (!base64 && format->value_or("float") != "float") {
        co_return fail(
            Error::InvalidArgument("field 'encoding_format' must be 'float' or 'base64'"));
      }
      bj::array data;
      std::int64_t tokens = 0;
      for (std::size_t i = 0; i < inputs.size(); ++i) {
        std::string h = Sha256Hex(inputs[i]);
        bj::array vec;
        std::string packed;
        for (int d = 0; d < 16; ++d) {
          int byte = std::stoi(h.substr(static_cast<std::size_t>(d) * 2, 2), nullptr, 16);
          float f = static_cast<float>(byte) / 127.5f - 1.0f;
          vec.push_back(static_cast<double>(f));
          char raw[sizeof f];
          std::memcpy(raw, &f, sizeof f);  // x86-64 and ARM64 are little-endian
          packed.append(raw, sizeof raw);
        }
        tokens += providers::EstimateTokens(inputs[i]);
        bj::value embedding = base64 ? bj::value(Base64Encode(packed)) : bj::value(std::move(vec));
        data.push_back(bj::object{{"object", "embedding"},
                                  {"index", static_cast<std::int64_t>(i)},
                                  {"embedding", std::move(embedding)}});
      }
      trace.input_tokens = tokens;
      trace.usage_estimated = true;
      Usage estimated;
      estimated.prompt_tokens = tokens;
      estimated.estimated = true;
      trace.cost_usd = Cost(*model, estimated);
      co_return http::Response::Json(
          200, bj::serialize(bj::object{
                   {"object", "list"},
                   {"data", std::move(data)},
                   {"model", *model_name},
                   {"usage", bj::object{{"prompt_tokens", tokens}, {"total_tokens", tokens}}}}));
    }
    auto ur = p.adapter->BuildEmbeddings(*body, model->upstream_model, p.api_key);
    if (!ur) {
      co_return fail(Error::InvalidArgument("model '" + *model_name + "' (provider type " +
                                            p.config.type + ") does not support embeddings"));
    }
    http::UpstreamClient::FetchResult r =
        co_await p.client->Fetch(ur->method, ur->path, ur->headers, ur->body);
    http::Response out;
    if (!r.ok()) {
      out = fail(TransportFailure(r.error()).ToError());
    } else if (r->first.status < 200 || r->first.status >= 300) {
      // Keep the upstream's error message (never its headers) and its Retry-After.
      UpstreamFailure f;
      f.cls = providers::ClassifyStatus(r->first.status);
      f.status = r->first.status;
      f.message = "upstream answered " + std::to_string(r->first.status);
      if (auto v = json::Parse(r->second); v.ok() && v->is_object()) {
        if (auto* e = v->as_object().if_contains("error"); e && e->is_object()) {
          if (auto* m = e->as_object().if_contains("message"); m && m->is_string()) {
            f.message = std::string(m->as_string());
          }
        }
      }
      if (auto ra = RetryAfter(r->first.headers)) {
        AddHeader(head_lines, "retry-after", std::to_string((ra->count() + 999) / 1000));
      }
      out = fail(f.ToError());
    } else {
      if (auto v = json::Parse(r->second); v.ok() && v->is_object()) {
        if (auto* u = v->as_object().if_contains("usage"); u && u->is_object()) {
          if (auto* pt = u->as_object().if_contains("prompt_tokens"); pt && pt->is_int64()) {
            trace.input_tokens = pt->as_int64();
          }
        }
      }
      Usage reported;
      reported.prompt_tokens = trace.input_tokens;
      trace.cost_usd = Cost(*model, reported);
      out = http::Response::Json(200, std::move(r->second));
    }
    co_return out;
  }

  // --- GET /api/v1/usage: the caller's key and project against their limits ------------------
  http::Response UsageReport(http::Request& req) {
    auto actor = deps.keys.AuthenticateHeader(req.Header("authorization"));
    if (!actor.ok()) return http::Response::FromError(actor.error());
    auto one = [](const LimitUsage& u, const LimitConfig& l) {
      return bj::object{
          {"requests_per_minute_limit", l.requests_per_minute},
          {"requests_available",
           u.requests_available < 0 ? bj::value(nullptr) : bj::value(u.requests_available)},
          {"tokens_today", u.tokens_today},
          {"tokens_per_day_limit", l.tokens_per_day},
          {"cost_today_usd", u.cost_today_usd},
          {"cost_per_day_limit_usd", l.cost_per_day_usd}};
    };
    bj::object key = one(limiter->KeyUsage(actor->id), limiter->per_key());
    key["id"] = actor->id;
    bj::object project = one(limiter->ProjectUsage(actor->project_id), limiter->per_project());
    project["id"] = actor->project_id;
    bj::object o{{"key", std::move(key)}, {"project", std::move(project)}};
    return http::Response::Json(200, bj::serialize(o));
  }
};

Result<std::unique_ptr<Gateway>> Gateway::Create(GatewayConfig config, GatewayDeps deps) {
  PO_RETURN_IF_ERROR(ValidateGatewayConfig(config));
  auto impl = std::make_unique<Impl>(std::move(config), deps);
  impl->started_at = ToUnixMillis(deps.clock->Now()) / 1000;
  const auto& policy = impl->config.policy;
  for (const auto& [name, pc] : impl->config.providers) {
    auto rt = std::make_unique<ProviderRuntime>();
    rt->config = pc;
    rt->breaker = std::make_unique<CircuitBreaker>(*deps.clock, policy.breaker_failures,
                                                   policy.breaker_cooldown);
    if (pc.type != "simulated") {
      rt->adapter = providers::MakeAdapter(pc.type);
      if (!rt->adapter)
        return Error::InvalidArgument("provider '" + name + "': unknown type " + pc.type);
      if (!pc.api_key_env.empty()) {
        const char* key = std::getenv(pc.api_key_env.c_str());
        if (!key || !*key) {
          return Error::FailedPrecondition("provider '" + name + "': environment variable " +
                                           pc.api_key_env + " (its API key) is not set");
        }
        rt->api_key = key;
      }
      http::UpstreamOptions uo;
      uo.base_url = pc.base_url;
      uo.connect_timeout = pc.connect_timeout;
      uo.first_byte_timeout = pc.first_byte_timeout;
      uo.total_timeout = pc.total_timeout;
      uo.ca_file = pc.ca_file;
      uo.response_headers = {"retry-after"};  // all the gateway reads of an upstream's head
      auto client = http::UpstreamClient::Create(uo);
      if (!client.ok())
        return Error::InvalidArgument("provider '" + name + "': " + client.error().message);
      rt->client = std::move(client).value();
    } else {
      PO_RETURN_IF_ERROR(providers::ValidateSimulatedConfig(pc.simulated));
    }
    impl->providers[name] = std::move(rt);
  }
  impl->cache =
      std::make_unique<ResponseCache>(policy.cache_max_bytes, policy.cache_ttl, *deps.clock);
  impl->limiter = std::make_unique<UsageLimiter>(*deps.clock, policy.per_key, policy.per_project);
  return std::unique_ptr<Gateway>(new Gateway(std::move(impl)));
}

Gateway::Gateway(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Gateway::~Gateway() = default;

const GatewayConfig& Gateway::config() const { return impl_->config; }
UsageLimiter& Gateway::limiter() { return *impl_->limiter; }

void Gateway::AddRoutes(http::Router& router) {
  Impl* impl = impl_.get();
  http::AddAsyncRoute(
      router, "POST", "/v1/chat/completions",
      [impl](http::Request& r, http::ResponseWriter& w) { return impl->ChatCompletions(r, w); });
  http::AddAsyncRoute(
      router, "POST", "/v1/embeddings",
      [impl](http::Request& r, http::ResponseWriter& w) { return impl->Embeddings(r, w); });
  router.Add("GET", "/v1/models", [impl](http::Request& r) { return impl->Models(r); });
  router.Add("GET", "/v1/models/{model...}", [impl](http::Request& r) { return impl->Model(r); });
  router.Add("GET", "/api/v1/usage", [impl](http::Request& r) { return impl->UsageReport(r); });
}

std::string MaskForTrace(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  auto is_word = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' ||
           c == '+';
  };
  std::size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    // Digit runs (allowing separators) of 6+ digits: phone, card, account numbers.
    if (std::isdigit(static_cast<unsigned char>(c))) {
      std::size_t j = i, digits = 0;
      while (j < text.size() && (std::isdigit(static_cast<unsigned char>(text[j])) ||
                                 ((text[j] == '-' || text[j] == ' ') && j + 1 < text.size() &&
                                  std::isdigit(static_cast<unsigned char>(text[j + 1]))))) {
        digits += std::isdigit(static_cast<unsigned char>(text[j])) ? 1 : 0;
        ++j;
      }
      if (digits >= 6) {
        out += "[NUMBER]";
      } else {
        out.append(text.substr(i, j - i));
      }
      i = j;
      continue;
    }
    if (is_word(c)) {
      std::size_t j = i;
      while (j < text.size() && (is_word(text[j]) || text[j] == '@')) ++j;
      std::string_view word = text.substr(i, j - i);
      auto at = word.find('@');
      bool email =
          at != std::string_view::npos && at > 0 && word.find('.', at) != std::string_view::npos;
      bool secret = word.size() >= 20 && (word.rfind("sk-", 0) == 0 || word.rfind("po-", 0) == 0 ||
                                          word.rfind("sk_", 0) == 0 || word.rfind("pk-", 0) == 0);
      if (email)
        out += "[EMAIL]";
      else if (secret)
        out += "[SECRET]";
      else
        out.append(word);
      i = j;
      continue;
    }
    out.push_back(c);
    ++i;
  }
  return out;
}

}  // namespace promptops::gateway
