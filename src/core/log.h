// Process-wide structured logging to stderr: one line per event, either human text or JSON
// lines ("format: json"). Thread-safe; a line is written with one write() call.
//
// Never pass secrets (API keys, provider keys) to the logger: callers log public ids only.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace promptops::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3, kOff = 4 };

// Parses "debug|info|warn|error|off".
bool ParseLevel(std::string_view s, Level* out);
void SetLevel(Level level);
void SetJson(bool json);
bool Enabled(Level level);

using Field = std::pair<std::string_view, std::string>;
// Writes one event: message plus key=value fields.
void Write(Level level, std::string_view msg, std::initializer_list<Field> fields = {});

inline void Debug(std::string_view m, std::initializer_list<Field> f = {}) {
  Write(Level::kDebug, m, f);
}
inline void Info(std::string_view m, std::initializer_list<Field> f = {}) {
  Write(Level::kInfo, m, f);
}
inline void Warn(std::string_view m, std::initializer_list<Field> f = {}) {
  Write(Level::kWarn, m, f);
}
inline void Error(std::string_view m, std::initializer_list<Field> f = {}) {
  Write(Level::kError, m, f);
}

}  // namespace promptops::log
