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
    std::size_t end = data.find_first_of("\r\n", pos);
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

void SseParser::Feed(std::string_view bytes, std::vector<SseMessage>& out) {
  static constexpr std::string_view kBom = "\xEF\xBB\xBF";
  while (!started_ && !bytes.empty()) {
    if (bytes.front() == kBom[bom_seen_]) {
      bytes.remove_prefix(1);
      if (++bom_seen_ == kBom.size()) started_ = true;
    } else {
      // Not a BOM after all: the bytes matched so far are ordinary input.
      started_ = true;
      std::string partial(kBom.substr(0, bom_seen_));
      Feed(partial, out);
    }
  }
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    char c = bytes[i];
    if (after_cr_) {
      after_cr_ = false;
      if (c == '\n') continue;  // the LF of a CRLF split across lines
    }
    if (c == '\r' || c == '\n') {
      after_cr_ = c == '\r';
      ProcessLine(line_, out);
      line_.clear();
      continue;
    }
    // Append the run up to the next line break at once.
    std::size_t end = bytes.find_first_of("\r\n", i);
    if (end == std::string_view::npos) end = bytes.size();
    line_.append(bytes.substr(i, end - i));
    i = end - 1;
  }
}

void SseParser::ProcessLine(std::string_view line, std::vector<SseMessage>& out) {
  if (line.empty()) {
    if (has_data_) {
      if (!data_.empty() && data_.back() == '\n') data_.pop_back();
      out.push_back({std::move(event_), std::move(data_)});
    }
    data_.clear();
    event_.clear();
    has_data_ = false;
    return;
  }
  if (line.front() == ':') return;  // comment
  std::string_view field = line, value;
  if (std::size_t colon = line.find(':'); colon != std::string_view::npos) {
    field = line.substr(0, colon);
    value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    data_.append(value);
    data_ += '\n';
    has_data_ = true;
  } else if (field == "event") {
    event_ = std::string(value);
  } else if (field == "id") {
    if (value.find('\0') == std::string_view::npos) last_event_id_ = std::string(value);
  }
  // "retry" and unknown fields are ignored.
}

}  // namespace promptops::http
