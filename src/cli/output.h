// Output helpers of the CLI: aligned tables for people, pretty JSON for scripts, and diff
// colouring. Pure functions (except StdoutIsTerminal); thread-safe.
#pragma once

#include <boost/json.hpp>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace promptops::cli {

// JSON with two-space indentation, keys in their stored order, UTF-8 kept as is, and a
// trailing newline. Stable for the same value, so scripts and tests can rely on it.
std::string PrettyJson(const boost::json::value& v);

// Terminal columns taken by UTF-8 text: East Asian wide and fullwidth characters (Hangul,
// CJK, fullwidth forms, most emoji) count 2, combining marks 0, everything else 1.
std::size_t DisplayWidth(std::string_view s);

// A table of text cells rendered with columns aligned by display width, separated by two
// spaces; the last column is not padded and trailing spaces are never written. The first row
// is the header. Cells must not contain newlines (they are replaced by spaces).
class Table {
 public:
  explicit Table(std::vector<std::string> header);
  void AddRow(std::vector<std::string> row);
  std::size_t rows() const { return rows_.size() - 1; }
  std::string Render() const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

// Two-column "key: value" block with keys padded to the same width.
std::string KeyValues(const std::vector<std::pair<std::string, std::string>>& pairs);

// Unified diff text with ANSI colours: headers bold, hunk headers cyan, removals red,
// additions green.
std::string ColorizeDiff(std::string_view diff);

// True when stdout is a terminal (and NO_COLOR is not set, for colour decisions use
// UseColor()).
bool StdoutIsTerminal();
bool UseColor();

// Joins strings with a separator.
std::string Join(const std::vector<std::string>& items, std::string_view sep);

// A JSON array of strings as a vector (non-strings are skipped); empty for non-arrays.
std::vector<std::string> StringList(const boost::json::value* v);

// A JSON value as one short line: strings unquoted, everything else serialized compactly.
std::string ScalarText(const boost::json::value* v);

}  // namespace promptops::cli
