#include "cli/output.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>

namespace promptops::cli {

namespace bj = boost::json;

namespace {

void AppendIndent(std::string& out, int depth) {
  out.append(static_cast<std::size_t>(depth) * 2, ' ');
}

void PrettyInto(std::string& out, const bj::value& v, int depth) {
  if (v.is_object()) {
    const auto& o = v.as_object();
    if (o.empty()) {
      out += "{}";
      return;
    }
    out += "{\n";
    bool first = true;
    for (const auto& kv : o) {
      if (!first) out += ",\n";
      first = false;
      AppendIndent(out, depth + 1);
      out += bj::serialize(bj::value(kv.key()));
      out += ": ";
      PrettyInto(out, kv.value(), depth + 1);
    }
    out += "\n";
    AppendIndent(out, depth);
    out += "}";
  } else if (v.is_array()) {
    const auto& a = v.as_array();
    if (a.empty()) {
      out += "[]";
      return;
    }
    out += "[\n";
    bool first = true;
    for (const auto& e : a) {
      if (!first) out += ",\n";
      first = false;
      AppendIndent(out, depth + 1);
      PrettyInto(out, e, depth + 1);
    }
    out += "\n";
    AppendIndent(out, depth);
    out += "]";
  } else {
    out += bj::serialize(v);
  }
}

// Decodes one code point at s[i], advancing i; invalid bytes decode as themselves.
char32_t NextCodePoint(std::string_view s, std::size_t& i) {
  auto b = static_cast<unsigned char>(s[i]);
  int len = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 1;
  if (i + static_cast<std::size_t>(len) > s.size()) len = 1;
  char32_t cp = len == 1 ? b : len == 2 ? (b & 0x1F) : len == 3 ? (b & 0x0F) : (b & 0x07);
  for (int k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  i += static_cast<std::size_t>(len);
  return cp;
}

bool IsWide(char32_t c) {
  return (c >= 0x1100 && c <= 0x115F) || (c >= 0x2E80 && c <= 0x303E) ||
         (c >= 0x3041 && c <= 0x33FF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0xA000 && c <= 0xA4CF) ||
         (c >= 0xAC00 && c <= 0xD7A3) || (c >= 0xF900 && c <= 0xFAFF) ||
         (c >= 0xFE30 && c <= 0xFE4F) || (c >= 0xFF00 && c <= 0xFF60) ||
         (c >= 0xFFE0 && c <= 0xFFE6) || (c >= 0x1F300 && c <= 0x1F64F) ||
         (c >= 0x1F900 && c <= 0x1F9FF) || (c >= 0x20000 && c <= 0x3FFFD);
}

bool IsZeroWidth(char32_t c) {
  return (c >= 0x0300 && c <= 0x036F) || (c >= 0x200B && c <= 0x200F) || c == 0xFEFF ||
         (c >= 0x1160 && c <= 0x11FF);  // Hangul medial vowels/final consonants (conjoining)
}

std::string OneLine(std::string s) {
  std::replace(s.begin(), s.end(), '\n', ' ');
  std::replace(s.begin(), s.end(), '\r', ' ');
  std::replace(s.begin(), s.end(), '\t', ' ');
  return s;
}

}  // namespace

std::string PrettyJson(const bj::value& v) {
  std::string out;
  PrettyInto(out, v, 0);
  out += "\n";
  return out;
}

std::size_t DisplayWidth(std::string_view s) {
  std::size_t w = 0, i = 0;
  while (i < s.size()) {
    char32_t c = NextCodePoint(s, i);
    if (IsZeroWidth(c)) continue;
    w += IsWide(c) ? 2 : 1;
  }
  return w;
}

Table::Table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }

void Table::AddRow(std::vector<std::string> row) {
  for (auto& cell : row) cell = OneLine(std::move(cell));
  rows_.push_back(std::move(row));
}

std::string Table::Render() const {
  std::vector<std::size_t> widths;
  for (const auto& row : rows_) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (std::size_t c = 0; c < row.size(); ++c)
      widths[c] = std::max(widths[c], DisplayWidth(row[c]));
  }
  std::string out;
  for (const auto& row : rows_) {
    std::string line;
    for (std::size_t c = 0; c < row.size(); ++c) {
      line += row[c];
      if (c + 1 < row.size()) line.append(widths[c] - DisplayWidth(row[c]) + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line;
    out += '\n';
  }
  return out;
}

std::string KeyValues(const std::vector<std::pair<std::string, std::string>>& pairs) {
  std::size_t w = 0;
  for (const auto& [k, v] : pairs) w = std::max(w, DisplayWidth(k));
  std::string out;
  for (const auto& [k, v] : pairs) {
    out += k;
    out += ':';
    if (!v.empty()) {
      out.append(w - DisplayWidth(k) + 1, ' ');
      out += v;
    }
    out += '\n';
  }
  return out;
}

std::string ColorizeDiff(std::string_view diff) {
  std::string out;
  std::size_t pos = 0;
  while (pos < diff.size()) {
    std::size_t end = diff.find('\n', pos);
    std::size_t next = end == std::string_view::npos ? diff.size() : end + 1;
    std::string_view line =
        diff.substr(pos, (end == std::string_view::npos ? diff.size() : end) - pos);
    const char* color = nullptr;
    if (line.rfind("---", 0) == 0 || line.rfind("+++", 0) == 0)
      color = "\x1b[1m";
    else if (line.rfind("@@", 0) == 0)
      color = "\x1b[36m";
    else if (!line.empty() && line[0] == '-')
      color = "\x1b[31m";
    else if (!line.empty() && line[0] == '+')
      color = "\x1b[32m";
    if (color) {
      out += color;
      out += line;
      out += "\x1b[0m";
    } else {
      out += line;
    }
    if (end != std::string_view::npos) out += '\n';
    pos = next;
  }
  return out;
}

bool StdoutIsTerminal() { return ::isatty(STDOUT_FILENO) == 1; }

bool UseColor() {
  const char* no_color = std::getenv("NO_COLOR");
  return StdoutIsTerminal() && (no_color == nullptr || *no_color == '\0');
}

std::string Join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += sep;
    out += items[i];
  }
  return out;
}

std::vector<std::string> StringList(const bj::value* v) {
  std::vector<std::string> out;
  if (!v || !v->is_array()) return out;
  for (const auto& e : v->as_array()) {
    if (e.is_string()) out.emplace_back(e.as_string());
  }
  return out;
}

std::string ScalarText(const bj::value* v) {
  if (!v || v->is_null()) return "";
  if (v->is_string()) return std::string(v->as_string());
  return bj::serialize(*v);
}

}  // namespace promptops::cli
