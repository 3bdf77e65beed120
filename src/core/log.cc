#include "core/log.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

#include "core/clock.h"

namespace promptops::log {
namespace {
std::atomic<int> g_level{static_cast<int>(Level::kInfo)};
std::atomic<bool> g_json{false};

std::string_view LevelName(Level l) {
  switch (l) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
    default:
      return "off";
  }
}

std::string Quote(std::string_view s) { return boost::json::serialize(boost::json::string(s)); }
}  // namespace

bool ParseLevel(std::string_view s, Level* out) {
  for (Level l : {Level::kDebug, Level::kInfo, Level::kWarn, Level::kError, Level::kOff}) {
    if (s == LevelName(l)) {
      *out = l;
      return true;
    }
  }
  return false;
}

void SetLevel(Level level) { g_level = static_cast<int>(level); }
void SetJson(bool json) { g_json = json; }
bool Enabled(Level level) { return static_cast<int>(level) >= g_level.load(); }

void Write(Level level, std::string_view msg, std::initializer_list<Field> fields) {
  if (!Enabled(level)) return;
  std::string line;
  std::string ts = FormatRfc3339(Clock::Real().Now());
  if (g_json) {
    line = "{\"ts\":\"" + ts + "\",\"level\":\"" + std::string(LevelName(level)) +
           "\",\"msg\":" + Quote(msg);
    for (const auto& [k, v] : fields) line += "," + Quote(k) + ":" + Quote(v);
    line += "}\n";
  } else {
    line = ts + " " + std::string(LevelName(level)) + " " + std::string(msg);
    for (const auto& [k, v] : fields) {
      line += " ";
      line += k;
      line += "=";
      // A plain loop: find_first_of calls memchr on its set once per byte.
      bool plain = !v.empty() && std::none_of(v.begin(), v.end(), [](char c) {
        return c == ' ' || c == '"' || c == '=' || c == '\n' || c == '\t';
      });
      line += plain ? v : Quote(v);
    }
    line += "\n";
  }
  ssize_t ignored = ::write(2, line.data(), line.size());
  (void)ignored;
}

}  // namespace promptops::log
