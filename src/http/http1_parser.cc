#include "http/http1_parser.h"

#include <algorithm>
#include <array>
#include <boost/asio/error.hpp>
#include <boost/beast/http/error.hpp>
#include <charconv>
#include <cstring>
#include <limits>

#include "http/message.h"
#include "http/text_scan.h"

namespace promptops::http::wire {
namespace {

using Err = boost::beast::http::error;

// A request target's characters: visible ASCII and obs-text (as Beast accepts them).
constexpr std::array<bool, 256> kTarget = [] {
  std::array<bool, 256> t{};
  for (int c = 0x21; c <= 0x7e; ++c) t[c] = true;
  for (int c = 0x80; c <= 0xff; ++c) t[c] = true;
  return t;
}();

using text::ForEachElement;
using text::HexValue;
using text::IsSpace;
using text::IsToken;
using text::kFieldText;
using text::SkipFieldText;
using text::Trim;

inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool AllToken(std::string_view s) {
  for (char c : s) {
    if (!IsToken(c)) return false;
  }
  return true;
}

// 1*DIGIT that fits 64 bits, all of `s`.
bool ParseDecimal(std::string_view s, std::uint64_t& v) {
  const char* end = s.data() + s.size();
  auto [at, err] = std::from_chars(s.data(), end, v);
  return err == std::errc() && at == end && !s.empty() && IsDigit(s.front());
}

// The first "\r\n\r\n" in [p, end), or nullptr.
const char* FindEmptyLine(const char* p, const char* end) {
  while (end - p >= 4) {
    const void* lf = std::memchr(p + 3, '\n', static_cast<std::size_t>(end - p - 3));
    if (lf == nullptr) return nullptr;
    const char* q = static_cast<const char*>(lf);  // q >= p + 3
    if (q[-1] == '\r' && q[-2] == '\n' && q[-3] == '\r') return q + 1;
    p = q - 2;  // the next candidate's '\n' is past q
  }
  return nullptr;
}

// chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ), the value a token
// or a quoted-string (RFC 9112 7.1.1); with `value_required`, a transfer coding's parameters
// (RFC 9112 7: *( OWS ";" OWS token BWS "=" BWS ( token / quoted-string ) )).
bool ValidParameters(std::string_view s, bool value_required) {
  std::size_t i = 0;
  auto skip_space = [&] {
    while (i < s.size() && IsSpace(s[i])) ++i;
  };
  auto token = [&] {
    std::size_t start = i;
    while (i < s.size() && IsToken(s[i])) ++i;
    return i > start;
  };
  for (;;) {
    std::size_t before = i;
    skip_space();
    if (i == s.size()) return i == before;  // whitespace only before ';' or '='
    if (s[i] != ';') return false;
    ++i;
    skip_space();
    if (!token()) return false;
    std::size_t after_name = i;
    skip_space();
    if (i == s.size() || s[i] != '=') {
      if (value_required) return false;
      i = after_name;
      continue;
    }
    ++i;
    skip_space();
    if (i < s.size() && s[i] == '"') {
      ++i;
      for (;;) {
        if (i == s.size()) return false;
        auto c = static_cast<unsigned char>(s[i]);
        if (c == '"') {
          ++i;
          break;
        }
        if (c == '\\') {
          if (++i == s.size() || !kFieldText[static_cast<unsigned char>(s[i])]) return false;
        } else if (!kFieldText[c]) {
          return false;
        }
        ++i;
      }
    } else if (!token()) {
      return false;
    }
  }
}

// Parses field lines from `p` up to and including the empty line that ends them. With
// `complete` false, [p, end) may stop short of the empty line: need_more then means that no
// error was found in what is there. Calls on_field(name, value) for each field when complete.
template <class OnField>
const char* ParseFields(const char* p, const char* end, bool complete,
                        boost::system::error_code& ec, OnField&& on_field) {
  for (;;) {
    if (end - p < 2) {
      ec = Err::need_more;
      return nullptr;
    }
    if (p[0] == '\r') {
      if (p[1] != '\n') {
        ec = Err::bad_line_ending;
        return nullptr;
      }
      return p + 2;
    }
    const char* name = p;
    while (p < end && IsToken(*p)) ++p;
    if (p == end) {
      ec = Err::need_more;
      return nullptr;
    }
    if (*p != ':' || p == name) {
      ec = Err::bad_field;
      return nullptr;
    }
    std::string_view field_name(name, static_cast<std::size_t>(p - name));
    ++p;
    while (p < end && IsSpace(*p)) ++p;
    const char* value = p;
    p = SkipFieldText(p, end);
    if (end - p < 3) {  // CR LF and the next line's first byte
      if (p < end && *p != '\r') {
        ec = Err::bad_value;
      } else if (end - p >= 2 && p[1] != '\n') {
        ec = Err::bad_line_ending;
      } else {
        ec = Err::need_more;
      }
      return nullptr;
    }
    if (*p != '\r') {
      ec = Err::bad_value;
      return nullptr;
    }
    if (p[1] != '\n') {
      ec = Err::bad_line_ending;
      return nullptr;
    }
    if (IsSpace(p[2])) {  // obs-fold: refused (see the header)
      ec = Err::bad_value;
      return nullptr;
    }
    const char* value_end = p;
    while (value_end > value && IsSpace(value_end[-1])) --value_end;
    p += 2;
    if (complete) {
      on_field(field_name, std::string_view(value, static_cast<std::size_t>(value_end - value)));
      if (ec) return nullptr;
    }
  }
}

}  // namespace

bool Http1Parser::keep_alive() const {
  if (need_eof_) return false;
  if (version_ >= 11) return !connection_close_;
  // HTTP/1.0: only when asked for, and not with Transfer-Encoding, whose framing is faulty
  // there (RFC 9112 6.1).
  return connection_keep_alive_ && !has_transfer_encoding_;
}

std::size_t Http1Parser::Put(std::string_view data, error_code& ec) {
  ec = {};
  const char* const begin = data.data();
  const char* const end = begin + data.size();
  const char* p = begin;
  switch (state_) {
    case State::kComplete:
      return 0;
    case State::kNothingYet:
      if (data.empty()) {
        ec = Err::need_more;
        return 0;
      }
      got_some_ = true;
      state_ = State::kHead;
      [[fallthrough]];
    case State::kHead: {
      const char* eom = nullptr;
      for (;;) {
        const auto avail = static_cast<std::size_t>(end - p);
        const std::size_t window = std::min<std::size_t>(avail, header_limit_);
        eom = FindEmptyLine(p + scanned_, p + window);
        if (eom == nullptr) {
          // Not all of the head yet. Check what is there now and then (each check at least
          // doubles what was checked: linear in all) so that garbage gets its answer at once.
          if (window >= 2 * checked_ || window == header_limit_) {
            checked_ = window;
            ParseHead(p, p + window, false, ec);
            if (ec && ec != Err::need_more) return static_cast<std::size_t>(p - begin);
          }
          if (avail >= header_limit_) {
            ec = Err::header_limit;
            return static_cast<std::size_t>(p - begin);
          }
          scanned_ = window >= 3 ? window - 3 : 0;
          ec = Err::need_more;
          return static_cast<std::size_t>(p - begin);
        }
        if (!Interim(p, eom)) break;
        // An interim answer (100 Continue, 103 Early Hints, ...) before the final one: skipped,
        // as a client must (RFC 9110 15.2).
        p = eom;
        scanned_ = 0;
        checked_ = 0;
      }
      p += ParseHead(p, eom, true, ec);
      if (ec) return static_cast<std::size_t>(p - begin);
      FinishHead(ec);
      if (ec) return static_cast<std::size_t>(p - begin);
      if (!eager_) return static_cast<std::size_t>(p - begin);
      break;
    }
    default:
      break;
  }
  if (state_ != State::kComplete) p += Body(p, end, ec);
  return static_cast<std::size_t>(p - begin);
}

bool Http1Parser::Interim(const char* head, const char* end) {
  // "HTTP/1.x 1yz " but not 101 (Switching Protocols, which ends HTTP on the connection).
  if (is_request_ || end - head < 13 || head[9] != '1' || std::memcmp(head, "HTTP/1.", 7) != 0 ||
      (head[10] == '0' && head[11] == '1')) {
    return false;
  }
  // A head that is not valid is left to the full parse, which reports it.
  error_code ec;
  const char* p = head;
  if (!StartLine(p, end, false, ec)) return false;
  return ParseFields(p, end, false, ec, [](std::string_view, std::string_view) {}) == end;
}

std::size_t Http1Parser::ParseHead(const char* begin, const char* end, bool complete,
                                   error_code& ec) {
  const char* p = begin;
  if (!StartLine(p, end, complete, ec)) return 0;
  p = ParseFields(p, end, complete, ec,
                  [&](std::string_view name, std::string_view value) { Field(name, value, ec); });
  if (p == nullptr) return 0;
  if (complete) OnFieldsDone();
  return static_cast<std::size_t>(p - begin);
}

bool Http1Parser::StartLine(const char*& in, const char* end, bool complete, error_code& ec) {
  const char* p = in;
  auto need = [&](std::ptrdiff_t n) {
    if (end - p >= n) return true;
    ec = Err::need_more;
    return false;
  };
  auto version = [&]() {
    if (!need(8)) return false;
    if (std::memcmp(p, "HTTP/", 5) != 0 || !IsDigit(p[5]) || p[6] != '.' || !IsDigit(p[7])) {
      ec = Err::bad_version;
      return false;
    }
    version_ = 10 * (p[5] - '0') + (p[7] - '0');
    p += 8;
    if (version_ < 10 || version_ > 11) {
      ec = Err::bad_version;
      return false;
    }
    return true;
  };
  if (is_request_) {
    const char* method = p;
    while (p < end && IsToken(*p)) ++p;
    if (!need(1)) return false;
    if (*p != ' ' || p == method) {
      ec = Err::bad_method;
      return false;
    }
    std::string_view method_view(method, static_cast<std::size_t>(p - method));
    const char* target = ++p;
    while (p < end && kTarget[static_cast<unsigned char>(*p)]) ++p;
    if (!need(1)) return false;
    if (*p != ' ' || p == target) {
      ec = Err::bad_target;
      return false;
    }
    std::string_view target_view(target, static_cast<std::size_t>(p - target));
    ++p;
    if (!version()) return false;
    if (!need(2)) return false;
    if (p[0] != '\r' || p[1] != '\n') {
      ec = Err::bad_version;
      return false;
    }
    p += 2;
    if (complete) OnRequest(method_view, target_view);
  } else {
    if (!version()) return false;
    if (!need(1)) return false;
    if (*p++ != ' ') {
      ec = Err::bad_version;
      return false;
    }
    if (!need(4)) return false;
    if (!IsDigit(p[0]) || !IsDigit(p[1]) || !IsDigit(p[2]) || p[3] != ' ') {
      ec = Err::bad_status;
      return false;
    }
    status_ = 100 * (p[0] - '0') + 10 * (p[1] - '0') + (p[2] - '0');
    p += 4;
    p = SkipFieldText(p, end);
    if (!need(2)) return false;
    if (p[0] != '\r') {
      ec = Err::bad_reason;
      return false;
    }
    if (p[1] != '\n') {
      ec = Err::bad_line_ending;
      return false;
    }
    p += 2;
    if (complete) OnStatus(status_);
  }
  in = p;
  return true;
}

void Http1Parser::Field(std::string_view name, std::string_view value, error_code& ec) {
  switch (name.size()) {
    case 14:  // Content-Length: a list of equal decimals is one length (RFC 9110 8.6)
      if (EqualsIgnoreCase(name, "content-length")) {
        if (has_transfer_encoding_) {
          ec = Err::bad_content_length;
          return;
        }
        std::optional<std::uint64_t> length = content_length_;
        bool ok = ForEachElement(value, [&](std::string_view e) {
          std::uint64_t v = 0;
          if (!ParseDecimal(e, v)) {
            ec = Err::bad_content_length;
            return false;
          }
          if (length && *length != v) {
            ec = Err::multiple_content_length;
            return false;
          }
          length = v;
          return true;
        });
        if (!ok) return;
        content_length_ = length;
      }
      break;
    case 17:  // Transfer-Encoding
      if (EqualsIgnoreCase(name, "transfer-encoding")) {
        if (chunked_ || content_length_) {
          ec = Err::bad_transfer_encoding;
          return;
        }
        has_transfer_encoding_ = true;
        std::string_view last;
        int chunked_count = 0;
        // transfer-coding = token *( OWS ";" OWS transfer-parameter ) (RFC 9112 7).
        bool valid = ForEachElement(value, [&](std::string_view e) {
          if (e.empty()) return true;
          std::size_t name = 0;
          while (name < e.size() && IsToken(e[name])) ++name;
          if (name == 0 || !ValidParameters(e.substr(name), true)) return false;
          // chunked defines no parameters; RFC 9112 7.1 asks to treat them as an error.
          if (EqualsIgnoreCase(e.substr(0, name), "chunked")) {
            if (name != e.size()) return false;
            ++chunked_count;
          }
          last = e;
          return true;
        });
        if (!valid) {
          ec = Err::bad_transfer_encoding;
          return;
        }
        chunked_ = chunked_count == 1 && EqualsIgnoreCase(last, "chunked");
        // A request's body length must be known (RFC 9112 6.3): chunked, last and once.
        if (is_request_ && !chunked_) {
          ec = Err::bad_transfer_encoding;
          return;
        }
      }
      break;
    case 10:  // Connection
    case 16:  // Proxy-Connection
      if (EqualsIgnoreCase(name, "connection") || EqualsIgnoreCase(name, "proxy-connection")) {
        bool ok = ForEachElement(value, [&](std::string_view e) {
          if (!AllToken(e)) return false;
          if (EqualsIgnoreCase(e, "close")) connection_close_ = true;
          if (EqualsIgnoreCase(e, "keep-alive")) connection_keep_alive_ = true;
          return true;
        });
        if (!ok) {
          ec = Err::bad_value;
          return;
        }
      }
      break;
    default:
      break;
  }
  OnField(name, value);
}

void Http1Parser::FinishHead(error_code& ec) {
  bool no_body = skip_body_;
  if (!is_request_ && (status_ / 100 == 1 || status_ == 204 || status_ == 304)) no_body = true;
  if (no_body) {
    state_ = State::kComplete;
  } else if (content_length_) {
    if (*content_length_ == 0) {
      state_ = State::kComplete;
      return;
    }
    if (body_limit_ && *content_length_ > *body_limit_) {
      ec = Err::body_limit;
      return;
    }
    remaining_ = *content_length_;
    state_ = State::kBody;
  } else if (chunked_) {
    state_ = State::kChunkSize;
  } else if (is_request_) {
    state_ = State::kComplete;
  } else {
    need_eof_ = true;
    state_ = State::kBodyToEof;
  }
  if (state_ != State::kComplete) OnBodyInit(content_length_);
}

bool Http1Parser::Deliver(std::string_view piece, error_code& ec) {
  if (piece.empty() || OnBody(piece)) return true;
  ec = boost::asio::error::operation_aborted;
  return false;
}

std::size_t Http1Parser::Body(const char* const begin, const char* const end, error_code& ec) {
  const char* p = begin;
  auto taken = [&] { return static_cast<std::size_t>(p - begin); };
  while (state_ != State::kComplete) {
    auto avail = static_cast<std::size_t>(end - p);
    switch (state_) {
      case State::kBody:  // Content-Length bytes, or a chunk's data
      case State::kChunkData: {
        if (avail == 0) return taken();
        std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, avail));
        std::string_view piece(p, n);
        p += n;
        remaining_ -= n;
        if (remaining_ == 0) {
          state_ = state_ == State::kBody ? State::kComplete : State::kChunkDataEnd;
        }
        if (!Deliver(piece, ec)) return taken();
        break;
      }
      case State::kBodyToEof: {
        if (avail == 0) return taken();
        if (body_limit_) {
          if (avail > *body_limit_) {
            ec = Err::body_limit;
            return taken();
          }
          *body_limit_ -= avail;
        }
        std::string_view piece(p, avail);
        p = end;
        if (!Deliver(piece, ec)) return taken();
        break;
      }
      case State::kChunkSize: {
        const std::size_t window = std::min(avail, kMaxChunkLine);
        const auto* cr = static_cast<const char*>(std::memchr(p, '\r', window));
        if (cr == nullptr || cr + 1 == end) {
          if (cr == nullptr && avail >= kMaxChunkLine) {
            ec = Err::bad_chunk;
          } else {
            ec = Err::need_more;
          }
          return taken();
        }
        if (cr[1] != '\n') {
          ec = Err::bad_line_ending;
          return taken();
        }
        const char* q = p;
        std::uint64_t size = 0;
        int digit = q < cr ? HexValue(*q) : -1;
        if (digit < 0) {
          ec = Err::bad_chunk;
          return taken();
        }
        do {
          if (size > (std::numeric_limits<std::uint64_t>::max() >> 4)) {
            ec = Err::bad_chunk;
            return taken();
          }
          size = size * 16 + static_cast<std::uint64_t>(digit);
          ++q;
        } while (q < cr && (digit = HexValue(*q)) >= 0);
        if (size != 0 && body_limit_) {
          if (size > *body_limit_) {
            ec = Err::body_limit;
            return taken();
          }
          *body_limit_ -= size;
        }
        if (!ValidParameters(std::string_view(q, static_cast<std::size_t>(cr - q)), false)) {
          ec = Err::bad_chunk_extension;
          return taken();
        }
        p = cr + 2;
        if (size == 0) {
          state_ = State::kTrailer;
          scanned_ = 0;
        } else {
          remaining_ = size;
          state_ = State::kChunkData;
        }
        break;
      }
      case State::kChunkDataEnd:
        if (avail < 2) {
          ec = Err::need_more;
          return taken();
        }
        if (p[0] != '\r' || p[1] != '\n') {
          ec = Err::bad_chunk;
          return taken();
        }
        p += 2;
        state_ = State::kChunkSize;
        break;
      case State::kTrailer: {
        if (avail < 2) {
          ec = Err::need_more;
          return taken();
        }
        const char* done = nullptr;
        if (p[0] == '\r') {
          if (p[1] != '\n') {
            ec = Err::bad_line_ending;
            return taken();
          }
          done = p + 2;
        } else {
          // Trailer fields: checked like the head's, then dropped.
          const std::size_t window = std::min<std::size_t>(avail, header_limit_);
          const char* eom = FindEmptyLine(p + std::min(scanned_, window), p + window);
          if (eom == nullptr) {
            if (avail >= header_limit_) {
              ec = Err::header_limit;
            } else {
              scanned_ = window >= 3 ? window - 3 : 0;
              ec = Err::need_more;
            }
            return taken();
          }
          done = ParseFields(p, eom, true, ec, [](std::string_view, std::string_view) {});
          if (done == nullptr) return taken();
        }
        p = done;
        state_ = State::kComplete;
        break;
      }
      default:
        return taken();
    }
  }
  return taken();
}

void Http1Parser::PutEof(error_code& ec) {
  ec = {};
  switch (state_) {
    case State::kNothingYet:
    case State::kHead:
      ec = Err::partial_message;
      return;
    case State::kBodyToEof:
      state_ = State::kComplete;
      return;
    case State::kComplete:
      return;
    default:
      ec = Err::partial_message;
      return;
  }
}

}  // namespace promptops::http::wire
