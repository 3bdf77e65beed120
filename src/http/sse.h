// Server-sent events (text/event-stream): formatting events for a streamed response and
// parsing a stream incrementally as it arrives from an upstream. Asio-free, plain values.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace promptops::http {

// One dispatched event. `event` is empty when the event had no "event:" field (the WHATWG
// spec calls that type "message"); `data` is the data lines joined with '\n'.
struct SseMessage {
  std::string event;
  std::string data;
  bool operator==(const SseMessage&) const = default;
};

// Formats one event: "event: <event>\n" (only if `event` is not empty), then one "data: " line
// per line of `data` (split at LF, CRLF or CR, so that a line break in the payload cannot end
// the event early), then the blank line that dispatches it. Line breaks in `event` are
// removed.
std::string SseEvent(std::string_view data, std::string_view event = {});

// Incremental event-stream parser following the WHATWG HTML "event stream interpretation":
// lines end at CRLF, LF or CR; one leading UTF-8 BOM is skipped; lines starting with ':' are
// comments; in "field: value" one leading space of the value is dropped; a line without ':'
// is a field with an empty value; "data" lines accumulate, an empty line dispatches the event
// (only if a data field was seen; the last '\n' is removed); "id" is remembered
// (last_event_id), "retry" and unknown fields are ignored. Input may be split anywhere, even
// inside a CRLF or the BOM. An event not terminated by a blank line when the stream ends is
// never dispatched, as the spec says. Not thread-safe; one parser per stream.
class SseParser {
 public:
  // Parses `bytes` and appends every event completed by them to `out`.
  void Feed(std::string_view bytes, std::vector<SseMessage>& out);
  // The last "id" field seen (ids containing NUL are ignored).
  const std::string& last_event_id() const { return last_event_id_; }

 private:
  void ProcessLine(std::string_view line, std::vector<SseMessage>& out);

  std::string line_;          // the incomplete current line
  std::string data_;          // data buffer of the event being built
  std::string event_;         // event type buffer
  bool has_data_ = false;     // a data field was seen since the last dispatch
  bool after_cr_ = false;     // the last line ended with CR: an immediate LF belongs to it
  std::size_t bom_seen_ = 0;  // bytes of a leading BOM matched so far
  bool started_ = false;      // past the possible BOM
  std::string last_event_id_;
};

}  // namespace promptops::http
