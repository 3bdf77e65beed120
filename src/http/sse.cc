#include "http/sse.h"

namespace promptops::http {

std::string SseEvent(std::string_view data, std::string_view event) {
  std::string out;
  out.reserve(data.size() + event.size() + 16);
  if (!event.empty()) {
    out += "event: ";
    for (char c : event) {
      if (c != '\r' && c != '\n') out += c;
    }
    out += '\n';
  }
  std::size_t pos = 0;
  while (true) {
    // A plain loop: find_first_of calls memchr on its set once per byte (a streamed chunk's JSON
    // is a few hundred bytes, written once per token).
    std::size_t end = pos;
    while (end < data.size() && data[end] != '\r' && data[end] != '\n') ++end;
    if (end == data.size()) end = std::string_view::npos;
    out += "data: ";
    out.append(
        data.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos));
    out += '\n';
    if (end == std::string_view::npos) break;
    pos = end + 1;
    if (data[end] == '\r' && pos < data.size() && data[pos] == '\n') ++pos;
  }
  out += '\n';
  return out;
}

}  // namespace promptops::http
