#include "store/migrations.h"

#include <array>

namespace promptops::store {
namespace {

constexpr std::string_view kInitial = R"sql(
CREATE TABLE projects (
  id          INTEGER PRIMARY KEY,
  name        TEXT NOT NULL UNIQUE,
  created_at  INTEGER NOT NULL
);

CREATE TABLE api_keys (
  id           INTEGER PRIMARY KEY,
  project_id   INTEGER NOT NULL REFERENCES projects(id),
  public_id    TEXT NOT NULL UNIQUE,
  secret_hash  TEXT NOT NULL UNIQUE,
  role         TEXT NOT NULL CHECK (role IN ('admin', 'editor', 'viewer')),
  name         TEXT NOT NULL DEFAULT '',
  created_by   TEXT NOT NULL DEFAULT '',
  created_at   INTEGER NOT NULL,
  revoked_at   INTEGER
);

CREATE TABLE prompts (
  id           INTEGER PRIMARY KEY,
  project_id   INTEGER NOT NULL REFERENCES projects(id),
  name         TEXT NOT NULL,
  type         TEXT NOT NULL CHECK (type IN ('text', 'chat')),
  description  TEXT NOT NULL DEFAULT '',
  tags         TEXT NOT NULL DEFAULT '[]',
  created_by   TEXT NOT NULL DEFAULT '',
  created_at   INTEGER NOT NULL,
  UNIQUE (project_id, name)
);

CREATE TABLE prompt_versions (
  id            INTEGER PRIMARY KEY,
  prompt_id     INTEGER NOT NULL REFERENCES prompts(id) ON DELETE CASCADE,
  number        INTEGER NOT NULL CHECK (number > 0),
  branch        TEXT NOT NULL,
  parent        INTEGER,
  merged_from   INTEGER,
  semver        TEXT NOT NULL,
  content       TEXT NOT NULL,
  config        TEXT NOT NULL,
  variables     TEXT NOT NULL,
  metadata      TEXT NOT NULL,
  content_hash  TEXT NOT NULL,
  author        TEXT NOT NULL,
  message       TEXT NOT NULL,
  created_at    INTEGER NOT NULL,
  UNIQUE (prompt_id, number)
);
CREATE INDEX prompt_versions_branch ON prompt_versions (prompt_id, branch, number);

CREATE TABLE prompt_branches (
  prompt_id     INTEGER NOT NULL REFERENCES prompts(id) ON DELETE CASCADE,
  name          TEXT NOT NULL,
  base_version  INTEGER NOT NULL,
  created_by    TEXT NOT NULL,
  created_at    INTEGER NOT NULL,
  PRIMARY KEY (prompt_id, name)
);

CREATE TABLE prompt_labels (
  prompt_id     INTEGER NOT NULL REFERENCES prompts(id) ON DELETE CASCADE,
  label         TEXT NOT NULL,
  version       INTEGER NOT NULL,
  protected     INTEGER NOT NULL DEFAULT 0,
  updated_by    TEXT NOT NULL,
  updated_at    INTEGER NOT NULL,
  PRIMARY KEY (prompt_id, label),
  FOREIGN KEY (prompt_id, version) REFERENCES prompt_versions (prompt_id, number)
);

CREATE TABLE label_events (
  id            INTEGER PRIMARY KEY,
  prompt_id     INTEGER NOT NULL REFERENCES prompts(id) ON DELETE CASCADE,
  label         TEXT NOT NULL,
  from_version  INTEGER,
  to_version    INTEGER,
  actor         TEXT NOT NULL,
  reason        TEXT NOT NULL,
  created_at    INTEGER NOT NULL
);
CREATE INDEX label_events_prompt ON label_events (prompt_id, label, id);
)sql";

constexpr std::array<Migration, 1> kMigrations = {{
    {1, "initial registry schema", kInitial},
}};

}  // namespace

std::span<const Migration> SqliteMigrations() { return kMigrations; }

}  // namespace promptops::store
