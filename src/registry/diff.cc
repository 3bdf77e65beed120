#include "registry/diff.h"

#include <dtl/dtl.hpp>

#include <algorithm>

namespace promptops::registry {
namespace {

// Lines including their '\n' (the last one may lack it), so that "x" and "x\n" differ.
std::vector<std::string> SplitLines(std::string_view s) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < s.size()) {
    std::size_t nl = s.find('\n', start);
    std::size_t end = nl == std::string_view::npos ? s.size() : nl + 1;
    lines.emplace_back(s.substr(start, end - start));
    start = end;
  }
  return lines;
}

enum class Op { kCommon, kDelete, kAdd };

struct Edit {
  Op op;
  const std::string* line;
};

// The edit script a -> b: common prefix and suffix are kept out of dtl (cheaper, and it matches
// GNU diff's own trimming); within each run of changes deletions are moved before additions.
std::vector<Edit> EditScript(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  std::size_t prefix = 0;
  while (prefix < a.size() && prefix < b.size() && a[prefix] == b[prefix]) ++prefix;
  std::size_t suffix = 0;
  while (suffix < a.size() - prefix && suffix < b.size() - prefix &&
         a[a.size() - 1 - suffix] == b[b.size() - 1 - suffix]) {
    ++suffix;
  }

  std::vector<Edit> out;
  for (std::size_t i = 0; i < prefix; ++i) out.push_back({Op::kCommon, &a[i]});

  std::vector<std::string> mid_a(a.begin() + prefix, a.end() - suffix);
  std::vector<std::string> mid_b(b.begin() + prefix, b.end() - suffix);
  // Pointers into a and b (stable) rather than into dtl's copies.
  std::size_t ia = prefix, ib = prefix;
  std::vector<Edit> dels, adds;
  auto flush = [&] {
    out.insert(out.end(), dels.begin(), dels.end());
    out.insert(out.end(), adds.begin(), adds.end());
    dels.clear();
    adds.clear();
  };
  if (mid_a.empty() || mid_b.empty()) {
    for (; ia < a.size() - suffix; ++ia) dels.push_back({Op::kDelete, &a[ia]});
    for (; ib < b.size() - suffix; ++ib) adds.push_back({Op::kAdd, &b[ib]});
  } else {
    dtl::Diff<std::string, std::vector<std::string>> d(mid_a, mid_b);
    d.compose();
    for (const auto& [elem, info] : d.getSes().getSequence()) {
      switch (info.type) {
        case dtl::SES_DELETE:
          dels.push_back({Op::kDelete, &a[ia++]});
          break;
        case dtl::SES_ADD:
          adds.push_back({Op::kAdd, &b[ib++]});
          break;
        default:
          flush();
          out.push_back({Op::kCommon, &a[ia++]});
          ++ib;
          break;
      }
    }
  }
  flush();
  for (std::size_t i = a.size() - suffix; i < a.size(); ++i) out.push_back({Op::kCommon, &a[i]});
  return out;
}

DiffLine MakeLine(const Edit& e) {
  DiffLine l;
  l.op = e.op == Op::kCommon ? ' ' : e.op == Op::kDelete ? '-' : '+';
  const std::string& s = *e.line;
  l.no_newline_at_end = s.empty() || s.back() != '\n';
  l.text = l.no_newline_at_end ? s : s.substr(0, s.size() - 1);
  return l;
}

void AppendRange(std::string& out, int64_t start, int64_t count) {
  out += std::to_string(start);
  if (count != 1) out += "," + std::to_string(count);
}

}  // namespace

std::vector<DiffHunk> LineDiff(std::string_view a, std::string_view b, int context) {
  const int64_t ctx = std::max(context, 0);
  std::vector<std::string> la = SplitLines(a), lb = SplitLines(b);
  std::vector<Edit> edits = EditScript(la, lb);
  const int64_t n = static_cast<int64_t>(edits.size());

  // Lines of a and b before edit i, to number the hunks.
  std::vector<int64_t> old_before(n + 1, 0), new_before(n + 1, 0);
  for (int64_t i = 0; i < n; ++i) {
    old_before[i + 1] = old_before[i] + (edits[i].op != Op::kAdd);
    new_before[i + 1] = new_before[i] + (edits[i].op != Op::kDelete);
  }

  std::vector<DiffHunk> hunks;
  int64_t i = 0;
  while (i < n) {
    if (edits[i].op == Op::kCommon) {
      ++i;
      continue;
    }
    // edits[i] starts a change; the hunk runs from `begin` to `end` (exclusive).
    int64_t begin = std::max<int64_t>(i - ctx, 0);
    // Never reach back into the previous hunk (it ended more than 2*ctx lines before i).
    int64_t change_end = i;
    for (;;) {
      while (change_end < n && edits[change_end].op != Op::kCommon) ++change_end;
      int64_t next = change_end;
      while (next < n && edits[next].op == Op::kCommon) ++next;
      if (next < n && next - change_end <= 2 * ctx) {
        change_end = next;  // merge the following change into this hunk
        continue;
      }
      break;
    }
    int64_t end = change_end;
    while (end < n && end - change_end < ctx && edits[end].op == Op::kCommon) ++end;

    DiffHunk h;
    h.old_count = old_before[end] - old_before[begin];
    h.new_count = new_before[end] - new_before[begin];
    h.old_start = old_before[begin] + (h.old_count > 0 ? 1 : 0);
    h.new_start = new_before[begin] + (h.new_count > 0 ? 1 : 0);
    for (int64_t k = begin; k < end; ++k) h.lines.push_back(MakeLine(edits[k]));
    hunks.push_back(std::move(h));
    i = end;
  }
  return hunks;
}

std::string UnifiedDiff(std::string_view a, std::string_view b, std::string_view from_label,
                        std::string_view to_label, int context) {
  std::vector<DiffHunk> hunks = LineDiff(a, b, context);
  if (hunks.empty()) return "";
  std::string out;
  out.append("--- ").append(from_label).append("\n+++ ").append(to_label).append("\n");
  for (const DiffHunk& h : hunks) {
    out += "@@ -";
    AppendRange(out, h.old_start, h.old_count);
    out += " +";
    AppendRange(out, h.new_start, h.new_count);
    out += " @@\n";
    for (const DiffLine& l : h.lines) {
      out += l.op;
      out += l.text;
      out += '\n';
      if (l.no_newline_at_end) out += "\\ No newline at end of file\n";
    }
  }
  return out;
}

boost::json::array HunksToJson(const std::vector<DiffHunk>& hunks) {
  boost::json::array arr;
  for (const DiffHunk& h : hunks) {
    boost::json::array lines;
    for (const DiffLine& l : h.lines) {
      boost::json::object lo;
      lo["op"] = l.op == '+' ? "add" : l.op == '-' ? "remove" : "context";
      lo["text"] = l.text;
      if (l.no_newline_at_end) lo["no_newline"] = true;
      lines.push_back(std::move(lo));
    }
    boost::json::object o;
    o["old_start"] = h.old_start;
    o["old_count"] = h.old_count;
    o["new_start"] = h.new_start;
    o["new_count"] = h.new_count;
    o["lines"] = std::move(lines);
    arr.push_back(std::move(o));
  }
  return arr;
}

}  // namespace promptops::registry
