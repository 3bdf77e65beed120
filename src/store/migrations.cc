#include "store/migrations.h"

#include <array>

#include "store/sqlite_traces.h"

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

// Telemetry: one row per gateway request, and end-user feedback. No foreign keys: traces arrive
// in batches from the trace writer, and one bad row must not fail a batch; feedback copies the
// trace's prompt, version and model so that aggregates survive trace retention.
constexpr std::string_view kTelemetry = R"sql(
CREATE TABLE traces (
  id               TEXT PRIMARY KEY,
  project_id       INTEGER NOT NULL,
  time_ms          INTEGER NOT NULL,
  key_id           TEXT NOT NULL DEFAULT '',
  user             TEXT NOT NULL DEFAULT '',
  session          TEXT NOT NULL DEFAULT '',
  metadata         TEXT NOT NULL DEFAULT '{}',
  prompt_name      TEXT NOT NULL DEFAULT '',
  prompt_version   INTEGER NOT NULL DEFAULT 0,
  prompt_label     TEXT NOT NULL DEFAULT '',
  model            TEXT NOT NULL DEFAULT '',
  provider         TEXT NOT NULL DEFAULT '',
  upstream_model   TEXT NOT NULL DEFAULT '',
  input_tokens     INTEGER NOT NULL DEFAULT 0,
  output_tokens    INTEGER NOT NULL DEFAULT 0,
  usage_estimated  INTEGER NOT NULL DEFAULT 0,
  cost_usd         REAL NOT NULL DEFAULT 0,
  latency_us       INTEGER NOT NULL DEFAULT 0,
  ttft_us          INTEGER NOT NULL DEFAULT -1,
  status           INTEGER NOT NULL,
  error_class      TEXT NOT NULL DEFAULT '',
  retries          INTEGER NOT NULL DEFAULT 0,
  fallback_used    INTEGER NOT NULL DEFAULT 0,
  cache_hit        INTEGER NOT NULL DEFAULT 0,
  stream           INTEGER NOT NULL DEFAULT 0,
  request_body     TEXT NOT NULL DEFAULT '',
  response_body    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX traces_project_time ON traces (project_id, time_ms);
CREATE INDEX traces_prompt ON traces (project_id, prompt_name, prompt_version, time_ms);
CREATE INDEX traces_model ON traces (project_id, model, time_ms);
CREATE INDEX traces_status ON traces (project_id, status, time_ms);
CREATE INDEX traces_user ON traces (project_id, user, time_ms);
CREATE INDEX traces_time ON traces (time_ms);

CREATE TABLE feedback (
  id              INTEGER PRIMARY KEY,
  project_id      INTEGER NOT NULL,
  trace_id        TEXT NOT NULL,
  prompt_name     TEXT NOT NULL DEFAULT '',
  prompt_version  INTEGER NOT NULL DEFAULT 0,
  model           TEXT NOT NULL DEFAULT '',
  value           TEXT NOT NULL CHECK (value IN ('up', 'down', 'score')),
  score           INTEGER CHECK (score BETWEEN 1 AND 5),
  comment         TEXT NOT NULL DEFAULT '',
  user            TEXT NOT NULL DEFAULT '',
  created_at      INTEGER NOT NULL
);
CREATE INDEX feedback_trace ON feedback (trace_id, id);
CREATE INDEX feedback_prompt ON feedback (project_id, prompt_name, prompt_version, model);
CREATE INDEX feedback_time ON feedback (created_at);
)sql";

// Cheaper trace inserts: every index is one more B-tree insert per trace on the writer thread.
// traces_time served only retention across all projects, which now deletes project by project
// through traces_project_time; traces_model served only the model filter, which now reads the
// project's time range through traces_project_time (newest first, so a page stops early) and
// checks the model per row.
constexpr std::string_view kLeanerTraceIndexes = R"sql(
DROP INDEX traces_model;
DROP INDEX traces_time;
)sql";

// Cheaper trace inserts, part two (measured with bench/trace_store_bench, traces arriving in
// completion order as the gateway enqueues them). What a trace costs the writer is mostly the
// index pages each commit dirties: an index keyed by a value with many distinct values
// (traces_user: one insertion point per user) takes each new entry on a different page, so every
// trace rewrites ~1 page of it (~20k instructions: WAL checksum, write, checkpoint copy), while
// an index whose new entries cluster at one edge (time) shares pages between traces.
// - traces_user goes. The user filter, like model and the non-error statuses, is checked on the
//   entries of traces_project_time, which now carries status, model and user: those filters and
//   their counts read only that index (newest first, within the time range), never the rows.
// - traces_status goes. The error filters (status >= 400, status=error, error_class) use
//   traces_errors, a partial index holding only failed traces; queries name its condition
//   literally so that SQLite may use it.
// - traces_prompt keeps only traces that used a prompt (prompt_name != ''), likewise.
// Rows and trace ids are untouched.
constexpr std::string_view kTraceIndexesByCost = R"sql(
DROP INDEX traces_user;
DROP INDEX traces_status;
DROP INDEX traces_project_time;
DROP INDEX traces_prompt;
CREATE INDEX traces_project_time ON traces (project_id, time_ms, status, model, user);
CREATE INDEX traces_prompt ON traces (project_id, prompt_name, prompt_version, time_ms)
  WHERE prompt_name != '';
CREATE INDEX traces_errors ON traces (project_id, time_ms)
  WHERE status >= 400 OR error_class != '';
)sql";

// Traces in compressed blocks (store/trace_blocks.h, sqlite_traces.cc): one row per block instead
// of one row and two index entries per trace. What a trace costs the writer and the disk is
// mostly its row and index entries (~194 bytes, written to the WAL and again at the checkpoint,
// plus the B-tree work per index); a block of gateway traces takes ~16 bytes per trace. The old
// table's rows are moved into blocks (ConvertLegacyTraces) and the table dropped.
constexpr std::string_view kTraceBlocks = R"sql(
CREATE TABLE trace_blocks (
  id            INTEGER PRIMARY KEY,
  project_id    INTEGER NOT NULL,
  min_time_ms   INTEGER NOT NULL,
  max_time_ms   INTEGER NOT NULL,
  id_min_ms     INTEGER NOT NULL,
  id_max_ms     INTEGER NOT NULL,
  row_count     INTEGER NOT NULL,
  failed_count  INTEGER NOT NULL,
  raw_bytes     INTEGER NOT NULL,
  prompts       TEXT,
  models        TEXT,
  id_filter     BLOB NOT NULL,
  user_filter   BLOB NOT NULL,
  data          BLOB NOT NULL
);
CREATE INDEX trace_blocks_time ON trace_blocks (project_id, max_time_ms);
CREATE INDEX trace_blocks_ids ON trace_blocks (project_id, id_max_ms, id_min_ms);
CREATE INDEX trace_blocks_project ON trace_blocks (project_id);
CREATE TABLE trace_block_stats (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT INTO trace_block_stats (name, value) VALUES ('max_id_span_ms', 0);
)sql";

constexpr std::array<Migration, 5> kMigrations = {{
    {1, "initial registry schema", kInitial},
    {2, "traces and feedback", kTelemetry},
    {3, "drop trace indexes traces_model and traces_time", kLeanerTraceIndexes},
    {4, "trace indexes: covering project/time, partial prompt and errors, no user and status",
     kTraceIndexesByCost},
    {5, "traces in compressed blocks", kTraceBlocks, sqlite_traces::ConvertLegacyTraces},
}};

}  // namespace

std::span<const Migration> SqliteMigrations() { return kMigrations; }

}  // namespace promptops::store
