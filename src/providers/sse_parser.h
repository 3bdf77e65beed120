// An incremental parser for server-sent events (text/event-stream, WHATWG HTML "Server-sent
// events", section "Parsing an event stream"), private to the provider adapters: bytes arrive
// in any split (mid-line, mid-CRLF, mid-UTF-8) and complete events come out.
//
// Supported: LF, CRLF and CR line ends; comments (": ..."); "event:" and multi-line "data:"
// (joined with "\n"); one optional space after the colon; a leading UTF-8 BOM. "id:" and
// "retry:" are ignored (upstream calls are never resumed).
//
// Not thread-safe; one parser per stream.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "providers/adapter.h"

namespace promptops::providers {

struct SseEvent {
  std::string event;  // the "event:" field; empty means the default type ("message")
  std::string data;
  bool operator==(const SseEvent&) const = default;
};

class SseParser {
 public:
  // A line or an event larger than max_event_bytes makes Feed fail (protects memory against an
  // upstream that never sends a line end).
  explicit SseParser(std::size_t max_event_bytes = 4 * 1024 * 1024)
      : max_event_bytes_(max_event_bytes) {}

  // Appends the events completed by `bytes` to `out`. False when the size limit was passed; the
  // parser is then unusable.
  bool Feed(std::string_view bytes, std::vector<SseEvent>& out);
  // End of stream. Unlike a browser, which discards an unterminated last event, this treats the
  // end as a line end and an event end, so "data: [DONE]" without a final newline still counts.
  void Finish(std::vector<SseEvent>& out);

 private:
  void ProcessLine(std::string_view line, std::vector<SseEvent>& out);
  void Dispatch(std::vector<SseEvent>& out);

  std::size_t max_event_bytes_;
  std::string line_;
  std::string event_;
  std::string data_;
  bool has_data_ = false;
  bool last_was_cr_ = false;  // a CR ended the previous line; a following LF belongs to it
  bool at_start_ = true;      // for the BOM
  bool failed_ = false;
};

// The shared half of the SSE-based stream decoders (OpenAI, Anthropic): SSE framing, the
// failed/done state, and the check that the stream ended with its terminator. Subclasses
// interpret the events in Handle and set done_ when they see the terminator.
class SseStreamDecoder : public StreamDecoder {
 public:
  // `terminator` names the end marker in the error for a truncated stream ("data: [DONE]").
  explicit SseStreamDecoder(std::string terminator) : terminator_(std::move(terminator)) {}
  std::variant<std::monostate, UpstreamFailure> Feed(std::string_view bytes,
                                                     std::vector<StreamEvent>& out) final;
  std::variant<std::monostate, UpstreamFailure> Finish(std::vector<StreamEvent>& out) final;

 protected:
  virtual std::variant<std::monostate, UpstreamFailure> Handle(const std::vector<SseEvent>& events,
                                                               std::vector<StreamEvent>& out) = 0;
  // Marks the stream failed and returns a kMalformed failure.
  std::variant<std::monostate, UpstreamFailure> Fail(std::string message);

  bool done_ = false;    // the terminator was seen
  bool failed_ = false;  // a failure was returned; every later call fails too

 private:
  SseParser sse_;
  std::string terminator_;
};

}  // namespace promptops::providers
