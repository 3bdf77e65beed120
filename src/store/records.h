// Plain records as stored. JSON-valued columns are kept as serialized JSON text here; the domain
// modules parse them. Timestamps are Unix milliseconds (UTC).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace promptops::store {

struct ProjectRow {
  std::int64_t id = 0;
  std::string name;
  std::int64_t created_at = 0;
};

struct ApiKeyRow {
  std::int64_t id = 0;
  std::int64_t project_id = 0;
  std::string public_id;    // "pk-..."; shown in lists and logs
  std::string secret_hash;  // SHA-256 hex of the secret; the secret itself is never stored
  std::string role;         // admin | editor | viewer
  std::string name;         // free-form description
  std::string created_by;
  std::int64_t created_at = 0;
  std::optional<std::int64_t> revoked_at;
};

struct PromptRow {
  std::int64_t id = 0;
  std::int64_t project_id = 0;
  std::string name;
  std::string type;  // text | chat
  std::string description;
  std::string tags_json = "[]";
  std::string created_by;
  std::int64_t created_at = 0;
};

struct VersionRow {
  std::int64_t id = 0;
  std::int64_t prompt_id = 0;
  std::int64_t number = 0;  // 1, 2, ... unique per prompt across branches
  std::string branch = "main";
  std::optional<std::int64_t> parent;       // version number this one was derived from
  std::optional<std::int64_t> merged_from;  // for merge versions: the branch head merged
  std::string semver;
  std::string content_json;  // text: JSON string; chat: JSON array of messages
  std::string config_json = "{}";
  std::string variables_json = "[]";
  std::string metadata_json = "{}";
  std::string content_hash;
  std::string author;
  std::string message;
  std::int64_t created_at = 0;
};

struct LabelRow {
  std::string label;
  std::int64_t version = 0;
  bool is_protected = false;
  std::string updated_by;
  std::int64_t updated_at = 0;
};

struct LabelEventRow {
  std::int64_t id = 0;
  std::string label;
  std::optional<std::int64_t> from_version;  // null: label created
  std::optional<std::int64_t> to_version;    // null: label removed
  std::string actor;
  std::string reason;
  std::int64_t created_at = 0;
};

struct BranchRow {
  std::string name;
  std::int64_t base_version = 0;  // the version the branch was created from
  std::string created_by;
  std::int64_t created_at = 0;
};

}  // namespace promptops::store
