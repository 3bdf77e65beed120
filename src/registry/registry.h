// Registry: the service layer of prompts, versions, labels, branches and rendering. Every change
// goes through it: it checks the caller's role, validates input, writes one store transaction,
// and publishes a new immutable Snapshot for readers.
//
// Threads: all methods are thread-safe. Writes are serialized by the store; snapshot publication
// is serialized by publish_mu_. Reads of the snapshot never block on writers.
#pragma once

#include <boost/json.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/actor.h"
#include "core/clock.h"
#include "core/error.h"
#include "registry/semver.h"
#include "registry/snapshot.h"
#include "store/store.h"

namespace promptops::registry {

// Which version of a prompt: exactly one of label, number or branch (head); none = "production"
// label if it exists, else "latest" (see DefaultSelector).
struct Selector {
  std::optional<std::string> label;
  std::optional<std::int64_t> number;
  std::optional<std::string> branch;
  std::string Describe() const;
};

struct PushRequest {
  std::string name;
  std::optional<std::string> type;  // required when the prompt does not exist yet
  boost::json::value content;       // see content.h
  boost::json::object config;
  boost::json::object metadata;
  std::string message;
  std::string author;  // defaults to the actor id
  std::string branch = "main";
  std::optional<std::string> semver;       // explicit; must be greater than the parent's
  std::vector<std::string> labels;         // labels to point at the resulting version
  std::optional<std::string> description;  // set on create, updated when given
  std::optional<std::vector<std::string>> tags;
  bool create_if_missing = true;
  std::optional<std::int64_t> merged_from;  // set by Merge: the branch version merged
};

struct PushResult {
  std::shared_ptr<const PromptView> prompt;
  const VersionView* version = nullptr;  // points into prompt
  bool created = false;                  // false: identical to the branch head (no-op)
  bool prompt_created = false;
};

struct LabelChange {
  std::string label;
  std::optional<std::int64_t> from;
  std::int64_t to = 0;
};

struct RenderResult {
  const VersionView* version = nullptr;
  std::shared_ptr<const PromptView> prompt;
  boost::json::value rendered;  // string (text) or array of messages (chat)
};

struct ListFilter {
  std::optional<std::string> tag;
  std::optional<std::string> label;
  std::optional<std::string> folder;  // "support" matches "support/x" and "support/a/b"
  std::optional<std::string> name_contains;
  std::size_t offset = 0;
  std::size_t limit = 50;
};

struct ListResult {
  std::vector<std::shared_ptr<const PromptView>> items;
  std::size_t total = 0;
};

struct ChangelogEntry {
  std::int64_t at = 0;       // Unix ms
  std::string kind;          // "version" | "label"
  std::int64_t version = 0;  // the version created, or the label's new target
  std::string semver;
  std::string actor;
  std::string text;  // commit message, or "production: 3 -> 4 (reason)"
};

class Registry {
 public:
  Registry(store::Store& store, Clock& clock);

  // Builds the first snapshot from the store. Call once before serving.
  Status Load();
  // The current snapshot; never null after Load().
  std::shared_ptr<const Snapshot> snapshot() const { return snapshot_.load(); }

  // --- writes ---------------------------------------------------------------------------------
  // Saves content as a new version on req.branch (creating the prompt if allowed). Identical
  // content, config and metadata to the branch head is a no-op returning the head. Needs editor.
  Result<PushResult> Push(const Actor& actor, PushRequest req);
  // Updates description/tags. Needs editor.
  Result<std::shared_ptr<const PromptView>> UpdateInfo(
      const Actor& actor, std::string_view name, std::optional<std::string> description,
      std::optional<std::vector<std::string>> tags);
  // Deletes a prompt with all its versions. Needs admin.
  Status Delete(const Actor& actor, std::string_view name);
  // Points `label` at `version` (recorded with reason). Protected labels need admin; others
  // editor. `make_protected` changes the flag (admin only). "latest" cannot be set.
  Result<LabelChange> SetLabel(const Actor& actor, std::string_view name, std::string_view label,
                               std::int64_t version, std::string_view reason,
                               std::optional<bool> make_protected = std::nullopt);
  // Removes a label (recorded). Same role rules as SetLabel.
  Status RemoveLabel(const Actor& actor, std::string_view name, std::string_view label,
                     std::string_view reason);
  // Moves `label` back to the version it pointed to before its last move, or to `to` if given.
  Result<LabelChange> Rollback(const Actor& actor, std::string_view name, std::string_view label,
                               std::optional<std::int64_t> to, std::string_view reason);
  // Creates a branch starting at version `from` (default: main head). Needs editor.
  Result<BranchView> CreateBranch(const Actor& actor, std::string_view name,
                                  std::string_view branch, std::optional<std::int64_t> from);
  // Merges a branch head into main as a new main version. Conflict if main moved since the
  // branch point (main head != branch base) unless force. Needs editor.
  Result<PushResult> Merge(const Actor& actor, std::string_view name, std::string_view branch,
                           bool force, std::string message);

  // --- reads (snapshot) -------------------------------------------------------------------------
  Result<std::shared_ptr<const PromptView>> Get(const Actor& actor, std::string_view name) const;
  // Resolves a selector to a version. NotFound names what was missing.
  Result<const VersionView*> Resolve(const PromptView& p, const Selector& s) const;
  ListResult List(const Actor& actor, const ListFilter& f) const;
  // Renders a version with variables. Partials resolve through the same snapshot.
  Result<RenderResult> Render(const Actor& actor, std::string_view name, const Selector& s,
                              const boost::json::object& variables, bool strict) const;
  // Render against an explicit snapshot (the gateway holds one for a whole request).
  static Result<boost::json::value> RenderVersion(const Snapshot& snap, std::int64_t project_id,
                                                  const VersionView& v,
                                                  const boost::json::object& variables,
                                                  bool strict);

  // --- reads (history, from the store) ------------------------------------------------------
  Result<std::vector<store::LabelEventRow>> LabelHistory(const Actor& actor, std::string_view name,
                                                         std::optional<std::string> label);
  Result<std::vector<ChangelogEntry>> Changelog(const Actor& actor, std::string_view name);

  // The derived compatibility report between two versions of one prompt.
  static CompatReport Compat(const VersionView& a, const VersionView& b);

 private:
  // Reloads one prompt from the store and publishes a new snapshot (or drops it if deleted).
  Status Publish(std::int64_t project_id, std::string_view name);
  Result<std::shared_ptr<const PromptView>> LoadPrompt(store::Tx& tx, const store::PromptRow& row,
                                                       const PromptView* previous);
  // Checks that every partial the content references exists, is a text prompt, and that
  // including it creates no cycle and no nesting deeper than kMaxPartialDepth.
  Status CheckComposition(const Snapshot& snap, std::int64_t project_id, std::string_view name,
                          const Content& content) const;

  store::Store& store_;
  Clock& clock_;
  std::mutex publish_mu_;
  std::atomic<std::shared_ptr<const Snapshot>> snapshot_;
};

inline constexpr int kMaxPartialDepth = 5;

// The default selector when none is given: label "production" if set, else "latest".
const VersionView* DefaultVersion(const PromptView& p);

// Parses a partial reference "name", "name@label", "name#3" and resolves it in the snapshot.
Result<const VersionView*> ResolvePartial(const Snapshot& snap, std::int64_t project_id,
                                          std::string_view ref,
                                          const PromptView** prompt_out = nullptr);

// JSON views used by the REST API and the CLI.
boost::json::object PromptToJson(const PromptView& p);
boost::json::object VersionToJson(const PromptView& p, const VersionView& v,
                                  bool with_content = true);

}  // namespace promptops::registry
