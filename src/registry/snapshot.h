// The registry's immutable in-memory snapshot: every prompt with its versions (content parsed,
// templates compiled), labels and branches. The hot read path (fetch by label, render, the
// gateway) reads only this, never the database.
//
// Ownership and threads: a Snapshot is immutable once published and shared by shared_ptr; readers
// hold it for the duration of a request. Registry builds a new one after every change (reusing the
// unchanged, immutable parts) and swaps it atomically.
#pragma once

#include <boost/json.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "registry/content.h"

namespace promptops::registry {

struct VersionView {
  std::int64_t number = 0;
  std::string branch;
  std::optional<std::int64_t> parent;
  std::optional<std::int64_t> merged_from;
  std::string semver;
  Content content;
  boost::json::object config;
  boost::json::object metadata;
  std::string content_hash;
  std::string author;
  std::string message;
  std::int64_t created_at = 0;  // Unix ms
};

struct LabelView {
  std::int64_t version = 0;
  bool is_protected = false;
  std::string updated_by;
  std::int64_t updated_at = 0;
};

struct BranchView {
  std::int64_t base_version = 0;
  std::int64_t head = 0;  // newest version on the branch (== base_version if none yet)
  std::string created_by;
  std::int64_t created_at = 0;
};

struct PromptView {
  std::int64_t id = 0;
  std::int64_t project_id = 0;
  std::string name;
  PromptType type = PromptType::kText;
  std::string description;
  std::vector<std::string> tags;
  std::string created_by;
  std::int64_t created_at = 0;
  std::int64_t updated_at = 0;  // newest version or label move
  // versions[i] has number i + 1 (numbers are dense per prompt).
  std::vector<std::shared_ptr<const VersionView>> versions;
  std::map<std::string, LabelView> labels;     // stored labels ("latest" is virtual)
  std::map<std::string, BranchView> branches;  // includes "main" when it has versions

  // Serialized JSON, computed once when the snapshot is built, for the hot read path:
  // PromptToJson(*this), and VersionToJson(*this, v) for every version a label points to.
  std::string summary_json;
  std::map<std::int64_t, std::string> labelled_version_json;

  // The version a label points to; "latest" is the newest version on main.
  const VersionView* ByLabel(std::string_view label) const;
  const VersionView* ByNumber(std::int64_t number) const;
  // Head of a branch, or nullptr.
  const VersionView* Head(std::string_view branch) const;
  const VersionView* Latest() const { return Head("main"); }
  // Labels (including "latest") pointing at `number`, sorted.
  std::vector<std::string> LabelsOf(std::int64_t number) const;
};

struct Snapshot {
  std::uint64_t generation = 0;
  // project id -> prompt name -> prompt (ordered by name for listing).
  std::unordered_map<std::int64_t,
                     std::map<std::string, std::shared_ptr<const PromptView>, std::less<>>>
      projects;

  const PromptView* Find(std::int64_t project_id, std::string_view name) const;
};

}  // namespace promptops::registry
