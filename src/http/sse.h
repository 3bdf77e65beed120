// Server-sent events (text/event-stream): formatting events for a streamed response. Streams
// from upstreams are parsed by providers/sse_parser.h. Asio-free, plain values.
#pragma once

#include <string>
#include <string_view>

namespace promptops::http {

// Formats one event: "event: <event>\n" (only if `event` is not empty), then one "data: " line
// per line of `data` (split at LF, CRLF or CR, so that a line break in the payload cannot end
// the event early), then the blank line that dispatches it. Line breaks in `event` are
// removed.
std::string SseEvent(std::string_view data, std::string_view event = {});

}  // namespace promptops::http
