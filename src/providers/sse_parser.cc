#include "providers/sse_parser.h"

#include "providers/wire_util.h"

namespace promptops::providers {

bool SseParser::Feed(std::string_view bytes, std::vector<SseEvent>& out) {
  if (failed_) return false;
  for (char c : bytes) {
    if (last_was_cr_) {
      last_was_cr_ = false;
      if (c == '\n') continue;
    }
    if (c == '\r' || c == '\n') {
      last_was_cr_ = c == '\r';
      ProcessLine(line_, out);
      line_.clear();
      continue;
    }
    line_ += c;
    if (line_.size() + data_.size() > max_event_bytes_) {
      failed_ = true;
      return false;
    }
  }
  return true;
}

void SseParser::Finish(std::vector<SseEvent>& out) {
  if (failed_) return;
  if (!line_.empty()) ProcessLine(line_, out);
  line_.clear();
  Dispatch(out);
}

void SseParser::ProcessLine(std::string_view line, std::vector<SseEvent>& out) {
  if (at_start_) {
    at_start_ = false;
    if (line.substr(0, 3) == "\xEF\xBB\xBF") line.remove_prefix(3);
  }
  if (line.empty()) {
    Dispatch(out);
    return;
  }
  if (line.front() == ':') return;  // comment (keep-alive)
  std::string_view field = line;
  std::string_view value;
  if (auto colon = line.find(':'); colon != std::string_view::npos) {
    field = line.substr(0, colon);
    value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    if (has_data_) data_ += '\n';
    data_ += value;
    has_data_ = true;
  } else if (field == "event") {
    event_.assign(value);
  }
}

void SseParser::Dispatch(std::vector<SseEvent>& out) {
  if (has_data_) out.push_back({std::move(event_), std::move(data_)});
  event_.clear();
  data_.clear();
  has_data_ = false;
}

std::variant<std::monostate, UpstreamFailure> SseStreamDecoder::Fail(std::string message) {
  failed_ = true;
  return wire::Malformed(std::move(message));
}

std::variant<std::monostate, UpstreamFailure> SseStreamDecoder::Feed(
    std::string_view bytes, std::vector<StreamEvent>& out) {
  if (failed_) return Fail("stream already failed");
  std::vector<SseEvent> events;
  if (!sse_.Feed(bytes, events)) return Fail("stream event larger than 4 MiB");
  return Handle(events, out);
}

std::variant<std::monostate, UpstreamFailure> SseStreamDecoder::Finish(
    std::vector<StreamEvent>& out) {
  if (failed_) return Fail("stream already failed");
  std::vector<SseEvent> events;
  sse_.Finish(events);
  auto r = Handle(events, out);
  if (r.index() != 0) return r;
  if (!done_) {
    failed_ = true;
    UpstreamFailure f;
    f.cls = FailureClass::kStreamError;
    f.message = "the stream ended before " + terminator_;
    return f;
  }
  return {};
}

}  // namespace promptops::providers
