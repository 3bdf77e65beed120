// The storage interface: a Store runs transactions; inside one, repositories (one per aggregate)
// read and write records. Domain code depends only on these interfaces, so that a PostgreSQL
// backend can be added beside the SQLite one without touching it.
//
// Thread safety: Store methods may be called from any thread. Write transactions are serialized;
// Read transactions see a consistent snapshot and may run concurrently with a writer.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "store/records.h"
#include "store/trace_repository.h"

namespace promptops::store {

class ProjectRepository {
 public:
  virtual ~ProjectRepository() = default;
  virtual Result<std::optional<ProjectRow>> FindByName(std::string_view name) = 0;
  virtual Result<std::optional<ProjectRow>> FindById(std::int64_t id) = 0;
  virtual Result<ProjectRow> Create(std::string_view name, std::int64_t now) = 0;
  virtual Result<std::vector<ProjectRow>> List() = 0;
};

class ApiKeyRepository {
 public:
  virtual ~ApiKeyRepository() = default;
  // Conflict if the public id exists.
  virtual Result<ApiKeyRow> Insert(const ApiKeyRow& key) = 0;
  virtual Result<std::optional<ApiKeyRow>> FindByPublicId(std::string_view public_id) = 0;
  // All keys, revoked ones included, oldest first.
  virtual Result<std::vector<ApiKeyRow>> List() = 0;
  // Sets revoked_at; false if no such active key.
  virtual Result<bool> Revoke(std::string_view public_id, std::int64_t now) = 0;
  virtual Result<std::int64_t> Count() = 0;
};

// Prompts with their versions, labels (and label history) and branches: one aggregate.
class PromptRepository {
 public:
  virtual ~PromptRepository() = default;
  virtual Result<std::optional<PromptRow>> Find(std::int64_t project_id, std::string_view name) = 0;
  virtual Result<std::optional<PromptRow>> FindById(std::int64_t id) = 0;
  // Conflict if the name exists in the project.
  virtual Result<PromptRow> Insert(const PromptRow& p) = 0;
  virtual Status UpdateInfo(std::int64_t prompt_id, std::string_view description,
                            std::string_view tags_json) = 0;
  // Deletes the prompt and everything it owns. False if it did not exist.
  virtual Result<bool> Delete(std::int64_t prompt_id) = 0;
  // Every prompt of every project, ordered by project and name.
  virtual Result<std::vector<PromptRow>> ListAll() = 0;

  virtual Result<std::optional<VersionRow>> FindVersion(std::int64_t prompt_id,
                                                        std::int64_t number) = 0;
  // The newest version on a branch, if any.
  virtual Result<std::optional<VersionRow>> BranchHead(std::int64_t prompt_id,
                                                       std::string_view branch) = 0;
  virtual Result<std::int64_t> MaxVersionNumber(std::int64_t prompt_id) = 0;
  // Conflict if (prompt, number) exists: two writers can never both create the same number.
  virtual Result<VersionRow> InsertVersion(const VersionRow& v) = 0;
  // Versions numbered above `after` (0: all), ascending by number.
  virtual Result<std::vector<VersionRow>> ListVersions(std::int64_t prompt_id,
                                                       std::int64_t after = 0) = 0;

  virtual Result<std::vector<LabelRow>> ListLabels(std::int64_t prompt_id) = 0;
  virtual Result<std::optional<LabelRow>> FindLabel(std::int64_t prompt_id,
                                                    std::string_view label) = 0;
  virtual Status UpsertLabel(std::int64_t prompt_id, const LabelRow& label) = 0;
  virtual Status DeleteLabel(std::int64_t prompt_id, std::string_view label) = 0;
  virtual Status InsertLabelEvent(std::int64_t prompt_id, const LabelEventRow& e) = 0;
  // Oldest first; only `label`'s events when given.
  virtual Result<std::vector<LabelEventRow>> ListLabelEvents(
      std::int64_t prompt_id, std::optional<std::string_view> label) = 0;

  virtual Result<std::vector<BranchRow>> ListBranches(std::int64_t prompt_id) = 0;
  virtual Status InsertBranch(std::int64_t prompt_id, const BranchRow& b) = 0;
};

// A transaction's view of the repositories. Valid only inside Store::Read/Write callbacks.
class Tx {
 public:
  virtual ~Tx() = default;
  virtual ProjectRepository& projects() = 0;
  virtual ApiKeyRepository& keys() = 0;
  virtual PromptRepository& prompts() = 0;
  virtual TraceRepository& traces() = 0;
};

class Store {
 public:
  virtual ~Store() = default;
  // Runs fn in one write transaction: committed if fn returns ok, rolled back otherwise (and on
  // exceptions, which propagate). Writers are serialized; the commit is durable when this returns.
  virtual Status Write(const std::function<Status(Tx&)>& fn) = 0;
  // Like Write, for telemetry (trace batches): the commit survives a process crash when this
  // returns, but an OS crash or power loss may lose it until the next durable write or
  // checkpoint (SQLite: synchronous=NORMAL for this transaction, no fsync at commit). A store
  // without the distinction makes it durable.
  virtual Status WriteRelaxed(const std::function<Status(Tx&)>& fn) { return Write(fn); }
  // Runs fn in a read transaction (consistent snapshot). Writes inside fn are a bug.
  virtual Status Read(const std::function<Status(Tx&)>& fn) = 0;
  // Human-readable backend description, e.g. "sqlite:/data/promptops.db (schema 1)".
  virtual std::string Describe() const = 0;
};

// Opens (creating if needed) the SQLite database at `file` and applies pending migrations.
// Errors: Unavailable if the file cannot be opened; Internal if a migration fails;
// FailedPrecondition if the database has a newer schema than this binary knows.
Result<std::unique_ptr<Store>> OpenSqliteStore(const std::filesystem::path& file);

}  // namespace promptops::store
