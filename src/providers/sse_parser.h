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
#include <vector>

namespace promptops::providers {

struct SseEvent {
  std::string event;  // the "event:" field; empty means the default type ("message")
  std::string data;
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

}  // namespace promptops::providers
