// Line diffs between two versions of a prompt text, as hunks (for the API and the UI) and as
// standard unified diff text (for the CLI). The edit script comes from the dtl library (Wu,
// Manber, Myers O(NP)); this file only splits lines and groups edits into hunks the way GNU
// `diff -u` does.
//
// Lines: text is split after each '\n'. A final line without '\n' is a different line from the
// same text with '\n' (as in GNU diff), so "a" vs "a\n" is a change, shown in unified text with
// "\ No newline at end of file". Pure functions; thread-safe.
#pragma once

#include <boost/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace promptops::registry {

struct DiffLine {
  char op;           // ' ' context, '-' removed, '+' added
  std::string text;  // the line without its '\n'
  // True for the last line of an input that does not end in '\n' (only such a line can be one).
  bool no_newline_at_end = false;

  friend bool operator==(const DiffLine&, const DiffLine&) = default;
};

// One hunk, numbered like unified diff: starts are 1-based; when a side's count is 0 its start
// is the line after which the change sits (0 = before the first line).
struct DiffHunk {
  int64_t old_start = 0, old_count = 0, new_start = 0, new_count = 0;
  std::vector<DiffLine> lines;  // within each change, removed lines come before added lines

  friend bool operator==(const DiffHunk&, const DiffHunk&) = default;
};

// The hunks turning a into b, each with up to `context` unchanged lines around its changes
// (negative counts as 0). Changes separated by at most 2*context unchanged lines share a hunk.
// Identical inputs -> no hunks.
std::vector<DiffHunk> LineDiff(std::string_view a, std::string_view b, int context = 3);

// Unified diff text: "--- FROM\n+++ TO\n" then each hunk as "@@ -l,s +l,s @@\n" (",s" omitted
// when s is 1, as GNU diff does) and its lines prefixed by ' ', '-' or '+'; a line without
// '\n' at the end of its input is followed by "\ No newline at end of file\n". Identical
// inputs -> "" (no header).
std::string UnifiedDiff(std::string_view a, std::string_view b, std::string_view from_label,
                        std::string_view to_label, int context = 3);

// [{"old_start":1,"old_count":2,"new_start":1,"new_count":2,
//   "lines":[{"op":"context"|"add"|"remove","text":"..."}]}]; a line lacking its '\n' at the end
// of its input also has "no_newline":true.
boost::json::array HunksToJson(const std::vector<DiffHunk>& hunks);

}  // namespace promptops::registry
