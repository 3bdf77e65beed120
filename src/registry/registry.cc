#include "registry/registry.h"

#include <algorithm>
#include <set>

#include "core/hash.h"
#include "core/json.h"
#include "registry/names.h"

namespace promptops::registry {

namespace bj = boost::json;

namespace {

std::vector<std::string> StringArray(const bj::value& v) {
  std::vector<std::string> out;
  if (!v.is_array()) return out;
  for (const auto& e : v.as_array()) {
    if (e.is_string()) out.emplace_back(e.as_string());
  }
  return out;
}

bj::array ToJsonArray(const std::vector<std::string>& v) {
  bj::array a;
  for (const auto& s : v) a.emplace_back(s);
  return a;
}

Result<bj::value> ParseStored(const std::string& text, std::string_view what) {
  auto r = json::Parse(text);
  if (!r.ok())
    return Error::Internal("stored " + std::string(what) + " is corrupt: " + r.error().message);
  return std::move(r).value();
}

PromptType TypeOfContent(const bj::value& content) {
  return content.is_array() ? PromptType::kChat : PromptType::kText;
}

// Hash of what runs: type, content and config, key order independent.
std::string ContentHash(const Content& c, const bj::object& config) {
  bj::object o;
  o["type"] = PromptTypeName(c.type);
  o["content"] = c.canonical;
  o["config"] = config;
  return Sha256Hex(json::CanonicalSerialize(o));
}

VersionShape ShapeOf(PromptType type, const std::vector<std::string>& variables,
                     const std::vector<std::string>& placeholders, const bj::object& config) {
  VersionShape s;
  s.type = std::string(PromptTypeName(type));
  std::set<std::string> vars(variables.begin(), variables.end());
  vars.insert(placeholders.begin(), placeholders.end());
  s.variables.assign(vars.begin(), vars.end());
  s.config = config;
  return s;
}

VersionShape ShapeOf(const VersionView& v) {
  return ShapeOf(v.content.type, v.content.variables, v.content.placeholders, v.config);
}

Result<std::shared_ptr<const VersionView>> ViewFromRow(const store::VersionRow& row) {
  PO_ASSIGN_OR_RETURN(bj::value content_json, ParseStored(row.content_json, "content"));
  PO_ASSIGN_OR_RETURN(bj::value config, ParseStored(row.config_json, "config"));
  PO_ASSIGN_OR_RETURN(bj::value metadata, ParseStored(row.metadata_json, "metadata"));
  auto content = ParseContent(TypeOfContent(content_json), content_json);
  if (!content.ok()) {
    return Error::Internal("stored content of version " + std::to_string(row.number) +
                           " does not parse: " + content.error().message);
  }
  auto v = std::make_shared<VersionView>();
  v->number = row.number;
  v->branch = row.branch;
  v->parent = row.parent;
  v->merged_from = row.merged_from;
  v->semver = row.semver;
  v->content = std::move(content).value();
  v->config = config.is_object() ? config.as_object() : bj::object();
  v->metadata = metadata.is_object() ? metadata.as_object() : bj::object();
  v->content_hash = row.content_hash;
  v->author = row.author;
  v->message = row.message;
  v->created_at = row.created_at;
  return std::shared_ptr<const VersionView>(std::move(v));
}

Result<const PromptView*> FindPrompt(const Snapshot& snap, const Actor& actor,
                                     std::string_view name) {
  const PromptView* p = snap.Find(actor.project_id, name);
  if (!p) return Error::NotFound("prompt '" + std::string(name) + "' not found");
  return p;
}

}  // namespace

std::string Selector::Describe() const {
  if (label) return "label '" + *label + "'";
  if (number) return "version " + std::to_string(*number);
  if (branch) return "branch '" + *branch + "'";
  return "default (production, else latest)";
}

const VersionView* DefaultVersion(const PromptView& p) {
  if (const VersionView* v = p.ByLabel("production")) return v;
  return p.Latest();
}

Result<const VersionView*> ResolvePartial(const Snapshot& snap, std::int64_t project_id,
                                          std::string_view ref, const PromptView** prompt_out) {
  PO_ASSIGN_OR_RETURN(PromptRef r, ParsePromptRef(ref));
  const PromptView* p = snap.Find(project_id, r.name);
  if (!p)
    return Error::NotFound("partial '" + std::string(ref) + "': prompt '" + r.name + "' not found");
  const VersionView* v = nullptr;
  if (r.label) {
    v = p->ByLabel(*r.label);
    if (!v)
      return Error::NotFound("partial '" + std::string(ref) + "': label '" + *r.label +
                             "' not found");
  } else if (r.version) {
    v = p->ByNumber(*r.version);
    if (!v)
      return Error::NotFound("partial '" + std::string(ref) + "': version " +
                             std::to_string(*r.version) + " not found");
  } else {
    v = DefaultVersion(*p);
    if (!v) return Error::NotFound("partial '" + std::string(ref) + "' has no version");
  }
  if (v->content.type != PromptType::kText) {
    return Error::InvalidArgument("partial '" + std::string(ref) +
                                  "' is a chat prompt; only text prompts can be included");
  }
  if (prompt_out) *prompt_out = p;
  return v;
}

Registry::Registry(store::Store& store, Clock& clock) : store_(store), clock_(clock) {
  snapshot_.store(std::make_shared<const Snapshot>());
}

Result<std::shared_ptr<const PromptView>> Registry::LoadPrompt(store::Tx& tx,
                                                               const store::PromptRow& row,
                                                               const PromptView* previous) {
  auto p = std::make_shared<PromptView>();
  p->id = row.id;
  p->project_id = row.project_id;
  p->name = row.name;
  p->description = row.description;
  if (auto tags = json::Parse(row.tags_json); tags.ok()) p->tags = StringArray(*tags);
  p->created_by = row.created_by;
  p->created_at = row.created_at;
  p->updated_at = row.created_at;
  auto parsed_type = ParsePromptType(row.type);
  p->type = parsed_type.ok() ? *parsed_type : PromptType::kText;

  // Versions are immutable: reuse the parsed views of the previous snapshot and read only the
  // versions created since.
  std::int64_t known = 0;
  if (previous && previous->id == row.id) {
    p->versions = previous->versions;
    known = static_cast<std::int64_t>(p->versions.size());
  }
  PO_ASSIGN_OR_RETURN(auto versions, tx.prompts().ListVersions(row.id, known));
  for (const auto& vr : versions) {
    if (vr.number != static_cast<std::int64_t>(p->versions.size()) + 1) {
      return Error::Internal("prompt '" + row.name + "' has a gap in version numbers at " +
                             std::to_string(vr.number));
    }
    PO_ASSIGN_OR_RETURN(auto view, ViewFromRow(vr));
    p->versions.push_back(std::move(view));
  }
  for (const auto& vp : p->versions) {
    const auto& v = *vp;
    p->updated_at = std::max(p->updated_at, v.created_at);
    auto& b = p->branches[v.branch];
    b.head = v.number;
    if (v.branch == "main" && b.created_at == 0) b.created_at = v.created_at;
  }
  PO_ASSIGN_OR_RETURN(auto branches, tx.prompts().ListBranches(row.id));
  for (const auto& br : branches) {
    auto& b = p->branches[br.name];
    b.base_version = br.base_version;
    if (b.head == 0) b.head = br.base_version;
    b.created_by = br.created_by;
    b.created_at = br.created_at;
  }
  PO_ASSIGN_OR_RETURN(auto labels, tx.prompts().ListLabels(row.id));
  for (const auto& l : labels) {
    p->labels[l.label] = LabelView{l.version, l.is_protected, l.updated_by, l.updated_at};
    p->updated_at = std::max(p->updated_at, l.updated_at);
  }
  if (const VersionView* latest = p->Latest()) p->type = latest->content.type;
  p->summary_json = bj::serialize(PromptToJson(*p));
  std::vector<std::int64_t> targets;
  for (const auto& [name, l] : p->labels) targets.push_back(l.version);
  if (const VersionView* latest = p->Latest()) targets.push_back(latest->number);
  for (std::int64_t n : targets) {
    if (const VersionView* v = p->ByNumber(n)) {
      p->labelled_version_json.try_emplace(n, bj::serialize(VersionToJson(*p, *v)));
    }
  }
  return std::shared_ptr<const PromptView>(std::move(p));
}

Status Registry::Load() {
  std::lock_guard lock(publish_mu_);
  auto snap = std::make_shared<Snapshot>();
  PO_RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> Status {
    PO_ASSIGN_OR_RETURN(auto rows, tx.prompts().ListAll());
    for (const auto& row : rows) {
      PO_ASSIGN_OR_RETURN(auto view, LoadPrompt(tx, row, nullptr));
      snap->projects[row.project_id][row.name] = std::move(view);
    }
    return OkStatus();
  }));
  snap->generation = snapshot_.load()->generation + 1;
  snapshot_.store(std::move(snap));
  return OkStatus();
}

Status Registry::Publish(std::int64_t project_id, std::string_view name) {
  std::lock_guard lock(publish_mu_);
  auto old = snapshot_.load();
  auto snap = std::make_shared<Snapshot>(*old);
  snap->generation = old->generation + 1;
  auto& prompts = snap->projects[project_id];
  PO_RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> Status {
    PO_ASSIGN_OR_RETURN(auto row, tx.prompts().Find(project_id, name));
    if (!row) {
      auto it = prompts.find(name);
      if (it != prompts.end()) prompts.erase(it);
      return OkStatus();
    }
    PO_ASSIGN_OR_RETURN(auto view, LoadPrompt(tx, *row, old->Find(project_id, name)));
    prompts[row->name] = std::move(view);
    return OkStatus();
  }));
  snapshot_.store(std::move(snap));
  return OkStatus();
}

Status Registry::CheckComposition(const Snapshot& snap, std::int64_t project_id,
                                  std::string_view name, const Content& content) const {
  // Depth-first walk of partial references; `path` holds prompt names from the root.
  std::vector<std::string> path{std::string(name)};
  std::function<Status(const std::vector<std::string>&)> walk =
      [&](const std::vector<std::string>& refs) -> Status {
    for (const auto& ref : refs) {
      PO_ASSIGN_OR_RETURN(PromptRef r, ParsePromptRef(ref));
      if (std::find(path.begin(), path.end(), r.name) != path.end()) {
        std::string cycle;
        for (const auto& n : path) cycle += n + " -> ";
        return Error::InvalidArgument("partial cycle: " + cycle + r.name);
      }
      if (static_cast<int>(path.size()) > kMaxPartialDepth) {
        return Error::InvalidArgument("partials nested deeper than " +
                                      std::to_string(kMaxPartialDepth) + " levels at '" + ref +
                                      "'");
      }
      PO_ASSIGN_OR_RETURN(const VersionView* v, ResolvePartial(snap, project_id, ref));
      path.push_back(r.name);
      PO_RETURN_IF_ERROR(walk(v->content.partials));
      path.pop_back();
    }
    return OkStatus();
  };
  return walk(content.partials);
}

Result<PushResult> Registry::Push(const Actor& actor, PushRequest req) {
  PO_RETURN_IF_ERROR(actor.Require(Role::kEditor, "push prompt versions"));
  PO_RETURN_IF_ERROR(ValidatePromptName(req.name));
  PO_RETURN_IF_ERROR(ValidateBranchName(req.branch));
  for (const auto& l : req.labels) {
    PO_RETURN_IF_ERROR(ValidateLabel(l));
    if (l == "latest")
      return Error::InvalidArgument("label 'latest' is automatic and cannot be set");
  }
  PromptType type = TypeOfContent(req.content);
  if (req.type) {
    PO_ASSIGN_OR_RETURN(PromptType declared, ParsePromptType(*req.type));
    if (req.content.is_string() || req.content.is_array()) {
      if (declared != type) {
        return Error::InvalidArgument("content does not match type '" + *req.type +
                                      "' (text content is a string, chat content an array)");
      }
    }
    type = declared;
  }
  if (req.content.is_null())
    return Error::InvalidArgument("field 'prompt' (the content) is required");
  PO_ASSIGN_OR_RETURN(Content content, ParseContent(type, req.content));
  std::optional<SemVer> explicit_semver;
  if (req.semver) {
    PO_ASSIGN_OR_RETURN(SemVer s, SemVer::Parse(*req.semver));
    explicit_semver = s;
  }
  {
    auto snap = snapshot();
    PO_RETURN_IF_ERROR(CheckComposition(*snap, actor.project_id, req.name, content));
  }
  if (req.tags) {
    for (const auto& t : *req.tags) {
      if (t.empty() || t.size() > 64) return Error::InvalidArgument("tags must be 1..64 bytes");
    }
  }
  const std::string hash = ContentHash(content, req.config);
  const std::string metadata_json = json::CanonicalSerialize(req.metadata);
  const std::string author = req.author.empty() ? actor.id : req.author;
  const std::int64_t now = ToUnixMillis(clock_.Now());

  bool created = false, prompt_created = false, changed = false;
  std::int64_t number = 0;
  PO_RETURN_IF_ERROR(store_.Write([&](store::Tx& tx) -> Status {
    auto& repo = tx.prompts();
    PO_ASSIGN_OR_RETURN(auto prompt, repo.Find(actor.project_id, req.name));
    if (!prompt) {
      if (!req.create_if_missing) return Error::NotFound("prompt '" + req.name + "' not found");
      if (req.branch != "main") {
        return Error::NotFound("prompt '" + req.name + "' does not exist; push to main first");
      }
      store::PromptRow row;
      row.project_id = actor.project_id;
      row.name = req.name;
      row.type = std::string(PromptTypeName(type));
      row.description = req.description.value_or("");
      row.tags_json = json::Serialize(ToJsonArray(req.tags.value_or(std::vector<std::string>{})));
      row.created_by = actor.id;
      row.created_at = now;
      PO_ASSIGN_OR_RETURN(auto inserted, repo.Insert(row));
      prompt = inserted;
      prompt_created = true;
    } else if (req.description || req.tags) {
      std::string desc = req.description.value_or(prompt->description);
      std::string tags = req.tags ? json::Serialize(ToJsonArray(*req.tags)) : prompt->tags_json;
      if (desc != prompt->description || tags != prompt->tags_json) {
        PO_RETURN_IF_ERROR(repo.UpdateInfo(prompt->id, desc, tags));
        changed = true;
      }
    }
    const std::int64_t pid = prompt->id;

    // The parent: the branch head, or for a new branch its base version.
    PO_ASSIGN_OR_RETURN(auto head, repo.BranchHead(pid, req.branch));
    std::optional<store::VersionRow> base;  // for branches: the branch point
    if (req.branch != "main") {
      PO_ASSIGN_OR_RETURN(auto branches, repo.ListBranches(pid));
      auto it = std::find_if(branches.begin(), branches.end(),
                             [&](const auto& b) { return b.name == req.branch; });
      if (it == branches.end()) {
        return Error::NotFound("branch '" + req.branch + "' of prompt '" + req.name +
                               "' does not exist; create it first");
      }
      PO_ASSIGN_OR_RETURN(base, repo.FindVersion(pid, it->base_version));
      if (!base) return Error::Internal("branch base version missing");
    }
    std::optional<store::VersionRow> parent = head ? head : base;

    if (head && head->content_hash == hash && head->metadata_json == metadata_json) {
      number = head->number;  // identical to the branch head: idempotent no-op
    } else {
      created = true;
      PO_ASSIGN_OR_RETURN(std::int64_t max, repo.MaxVersionNumber(pid));
      number = max + 1;

      // Semantic version, derived from what changed against the reference version.
      const VersionShape shape = ShapeOf(type, content.variables, content.placeholders, req.config);
      SemVer semver;
      std::optional<SemVer> parent_semver;
      if (parent) {
        PO_ASSIGN_OR_RETURN(parent_semver, SemVer::Parse(parent->semver));
      }
      // Main compares with its head; a branch compares with its branch point, so that the
      // branch's versions show the total change they would bring to main.
      const std::optional<store::VersionRow>& ref = req.branch == "main" ? head : base;
      if (explicit_semver) {
        if (parent_semver && !(*parent_semver < *explicit_semver)) {
          return Error::InvalidArgument("semver " + explicit_semver->ToString() +
                                        " must be greater than " + parent_semver->ToString());
        }
        semver = *explicit_semver;
      } else if (!ref) {
        semver = SemVer{1, 0, 0, ""};
      } else {
        PO_ASSIGN_OR_RETURN(auto ref_view, ViewFromRow(*ref));
        CompatReport rep = Compare(ShapeOf(*ref_view), shape,
                                   ref_view->content.canonical_json != content.canonical_json);
        Bump bump = rep.bump == Bump::kNone ? Bump::kPatch : rep.bump;
        PO_ASSIGN_OR_RETURN(SemVer ref_semver, SemVer::Parse(ref->semver));
        ref_semver.prerelease.clear();
        semver = Apply(ref_semver, bump);
        if (req.branch != "main") {
          std::int64_t on_branch = 1;
          PO_ASSIGN_OR_RETURN(auto all, repo.ListVersions(pid));
          for (const auto& v : all) on_branch += v.branch == req.branch ? 1 : 0;
          semver.prerelease = req.branch + "." + std::to_string(on_branch);
        }
      }

      store::VersionRow row;
      row.prompt_id = pid;
      row.number = number;
      row.branch = req.branch;
      if (parent) row.parent = parent->number;
      row.merged_from = req.merged_from;
      row.semver = semver.ToString();
      row.content_json = content.canonical_json;
      row.config_json = json::Serialize(req.config);
      bj::array vars;
      for (const auto& v : content.variables) vars.emplace_back(v);
      row.variables_json = json::Serialize(vars);
      row.metadata_json = metadata_json;
      row.content_hash = hash;
      row.author = author;
      row.message = req.message;
      row.created_at = now;
      auto inserted = repo.InsertVersion(row);
      if (!inserted.ok()) return std::move(inserted).error();
    }

    for (const auto& label : req.labels) {
      PO_ASSIGN_OR_RETURN(auto existing, repo.FindLabel(pid, label));
      if (existing && existing->version == number) continue;
      if (existing && existing->is_protected) {
        PO_RETURN_IF_ERROR(actor.Require(Role::kAdmin, "move protected label '" + label + "'"));
      }
      store::LabelRow l{label, number, existing && existing->is_protected, actor.id, now};
      PO_RETURN_IF_ERROR(repo.UpsertLabel(pid, l));
      store::LabelEventRow e;
      e.label = label;
      if (existing) e.from_version = existing->version;
      e.to_version = number;
      e.actor = actor.id;
      e.reason = created ? "push" : "push (no new version)";
      e.created_at = now;
      PO_RETURN_IF_ERROR(repo.InsertLabelEvent(pid, e));
      changed = true;
    }
    changed = changed || created || prompt_created;
    return OkStatus();
  }));
  // An identical push that moved nothing leaves the snapshot as it is.
  if (changed || !snapshot()->Find(actor.project_id, req.name)) {
    PO_RETURN_IF_ERROR(Publish(actor.project_id, req.name));
  }
  auto snap = snapshot();
  const PromptView* p = snap->Find(actor.project_id, req.name);
  if (!p) return Error::Internal("pushed prompt vanished from the snapshot");
  auto holder = snap->projects.at(actor.project_id).find(req.name)->second;
  PushResult out;
  out.prompt = holder;
  out.version = holder->ByNumber(number);
  out.created = created;
  out.prompt_created = prompt_created;
  return out;
}

Result<std::shared_ptr<const PromptView>> Registry::UpdateInfo(
    const Actor& actor, std::string_view name, std::optional<std::string> description,
    std::optional<std::vector<std::string>> tags) {
  PO_RETURN_IF_ERROR(actor.Require(Role::kEditor, "update prompts"));
  PO_RETURN_IF_ERROR(store_.Write([&](store::Tx& tx) -> Status {
    PO_ASSIGN_OR_RETURN(auto p, tx.prompts().Find(actor.project_id, name));
    if (!p) return Error::NotFound("prompt '" + std::string(name) + "' not found");
    std::string desc = description.value_or(p->description);
    std::string tags_json = tags ? json::Serialize(ToJsonArray(*tags)) : p->tags_json;
    return tx.prompts().UpdateInfo(p->id, desc, tags_json);
  }));
  PO_RETURN_IF_ERROR(Publish(actor.project_id, name));
  return Get(actor, name);
}

Status Registry::Delete(const Actor& actor, std::string_view name) {
  PO_RETURN_IF_ERROR(actor.Require(Role::kAdmin, "delete prompts"));
  PO_RETURN_IF_ERROR(store_.Write([&](store::Tx& tx) -> Status {
    PO_ASSIGN_OR_RETURN(auto p, tx.prompts().Find(actor.project_id, name));
    if (!p) return Error::NotFound("prompt '" + std::string(name) + "' not found");
    PO_ASSIGN_OR_RETURN(bool deleted, tx.prompts().Delete(p->id));
    (void)deleted;
    return OkStatus();
  }));
  return Publish(actor.project_id, name);
}

Result<LabelChange> Registry::SetLabel(const Actor& actor, std::string_view name,
                                       std::string_view label, std::int64_t version,
                                       std::string_view reason,
                                       std::optional<bool> make_protected) {
  PO_RETURN_IF_ERROR(actor.Require(Role::kEditor, "move labels"));
  PO_RETURN_IF_ERROR(ValidateLabel(label));
  if (label == "latest") {
    return Error::InvalidArgument("label 'latest' is automatic (the newest version on main)");
  }
  if (make_protected) {
    PO_RETURN_IF_ERROR(actor.Require(Role::kAdmin, "change label protection"));
  }
  LabelChange change{std::string(label), std::nullopt, version};
  const std::int64_t now = ToUnixMillis(clock_.Now());
  PO_RETURN_IF_ERROR(store_.Write([&](store::Tx& tx) -> Status {
    auto& repo = tx.prompts();
    PO_ASSIGN_OR_RETURN(auto p, repo.Find(actor.project_id, name));
    if (!p) return Error::NotFound("prompt '" + std::string(name) + "' not found");
    PO_ASSIGN_OR_RETURN(auto v, repo.FindVersion(p->id, version));
    if (!v) {
      return Error::NotFound("prompt '" + std::string(name) + "' has no version " +
                             std::to_string(version));
    }
    PO_ASSIGN_OR_RETURN(auto existing, repo.FindLabel(p->id, label));
    if (existing && existing->is_protected) {
      PO_RETURN_IF_ERROR(
          actor.Require(Role::kAdmin, "move protected label '" + std::string(label) + "'"));
    }
    bool prot = make_protected.value_or(existing && existing->is_protected);
    if (existing) change.from = existing->version;
    if (existing && existing->version == version && existing->is_protected == prot) {
      return OkStatus();  // nothing changes; nothing recorded
    }
    PO_RETURN_IF_ERROR(
        repo.UpsertLabel(p->id, store::LabelRow{std::string(label), version, prot, actor.id, now}));
    if (!existing || existing->version != version) {
      store::LabelEventRow e;
      e.label = label;
      e.from_version = change.from;
      e.to_version = version;
      e.actor = actor.id;
      e.reason = reason;
      e.created_at = now;
      PO_RETURN_IF_ERROR(repo.InsertLabelEvent(p->id, e));
    }
    return OkStatus();
  }));
  PO_RETURN_IF_ERROR(Publish(actor.project_id, name));
  return change;
}

Status Registry::RemoveLabel(const Actor& actor, std::string_view name, std::string_view label,
                             std::string_view reason) {
  PO_RETURN_IF_ERROR(actor.Require(Role::kEditor, "remove labels"));
  PO_RETURN_IF_ERROR(ValidateLabel(label));
  const std::int64_t now = ToUnixMillis(clock_.Now());
  PO_RETURN_IF_ERROR(store_.Write([&](store::Tx& tx) -> Status {
    auto& repo = tx.prompts();
    PO_ASSIGN_OR_RETURN(auto p, repo.Find(actor.project_id, name));
    if (!p) return Error::NotFound("prompt '" + std::string(name) + "' not found");
    PO_ASSIGN_OR_RETURN(auto existing, repo.FindLabel(p->id, label));
    if (!existing) return Error::NotFound("label '" + std::string(label) + "' not found");
    if (existing->is_protected) {
      PO_RETURN_IF_ERROR(
          actor.Require(Role::kAdmin, "remove protected label '" + std::string(label) + "'"));
    }
    PO_RETURN_IF_ERROR(repo.DeleteLabel(p->id, label));
    store::LabelEventRow e;
    e.label = label;
    e.from_version = existing->version;
    e.actor = actor.id;
    e.reason = reason;
    e.created_at = now;
    return repo.InsertLabelEvent(p->id, e);
  }));
  return Publish(actor.project_id, name);
}

Result<LabelChange> Registry::Rollback(const Actor& actor, std::string_view name,
                                       std::string_view label, std::optional<std::int64_t> to,
                                       std::string_view reason) {
  std::string why = reason.empty() ? "rollback" : "rollback: " + std::string(reason);
  if (to) return SetLabel(actor, name, label, *to, why);
  std::optional<std::int64_t> target;
  PO_RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> Status {
    PO_ASSIGN_OR_RETURN(auto p, tx.prompts().Find(actor.project_id, name));
    if (!p) return Error::NotFound("prompt '" + std::string(name) + "' not found");
    PO_ASSIGN_OR_RETURN(auto current, tx.prompts().FindLabel(p->id, label));
    if (!current) return Error::NotFound("label '" + std::string(label) + "' not found");
    PO_ASSIGN_OR_RETURN(auto events, tx.prompts().ListLabelEvents(p->id, label));
    // The newest event that moved the label to where it is now tells where it was before.
    for (auto it = events.rbegin(); it != events.rend(); ++it) {
      if (it->to_version == current->version && it->from_version) {
        target = it->from_version;
        break;
      }
    }
    if (!target) {
      return Error::FailedPrecondition("label '" + std::string(label) +
                                       "' has no earlier version to roll back to");
    }
    return OkStatus();
  }));
  return SetLabel(actor, name, label, *target, why);
}

Result<BranchView> Registry::CreateBranch(const Actor& actor, std::string_view name,
                                          std::string_view branch,
                                          std::optional<std::int64_t> from) {
  PO_RETURN_IF_ERROR(actor.Require(Role::kEditor, "create branches"));
  PO_RETURN_IF_ERROR(ValidateBranchName(branch));
  if (branch == "main") return Error::AlreadyExists("branch 'main' always exists");
  const std::int64_t now = ToUnixMillis(clock_.Now());
  BranchView out;
  PO_RETURN_IF_ERROR(store_.Write([&](store::Tx& tx) -> Status {
    auto& repo = tx.prompts();
    PO_ASSIGN_OR_RETURN(auto p, repo.Find(actor.project_id, name));
    if (!p) return Error::NotFound("prompt '" + std::string(name) + "' not found");
    std::int64_t base = 0;
    if (from) {
      PO_ASSIGN_OR_RETURN(auto v, repo.FindVersion(p->id, *from));
      if (!v) return Error::NotFound("version " + std::to_string(*from) + " not found");
      base = *from;
    } else {
      PO_ASSIGN_OR_RETURN(auto head, repo.BranchHead(p->id, "main"));
      if (!head) return Error::FailedPrecondition("prompt has no version on main");
      base = head->number;
    }
    store::BranchRow b{std::string(branch), base, actor.id, now};
    PO_RETURN_IF_ERROR(repo.InsertBranch(p->id, b));
    out = BranchView{base, base, actor.id, now};
    return OkStatus();
  }));
  PO_RETURN_IF_ERROR(Publish(actor.project_id, name));
  return out;
}

Result<PushResult> Registry::Merge(const Actor& actor, std::string_view name,
                                   std::string_view branch, bool force, std::string message) {
  PO_RETURN_IF_ERROR(actor.Require(Role::kEditor, "merge branches"));
  auto snap = snapshot();
  PO_ASSIGN_OR_RETURN(const PromptView* p, FindPrompt(*snap, actor, name));
  auto bit = p->branches.find(std::string(branch));
  if (branch == "main" || bit == p->branches.end()) {
    return Error::NotFound("branch '" + std::string(branch) + "' not found");
  }
  const VersionView* head = p->Head(branch);
  if (!head) {
    return Error::FailedPrecondition("branch '" + std::string(branch) +
                                     "' has no versions to merge");
  }
  const VersionView* main_head = p->Latest();
  if (!force && main_head && main_head->number != bit->second.base_version) {
    return Error::Conflict("main moved since branch '" + std::string(branch) +
                           "' was created (branch point " +
                           std::to_string(bit->second.base_version) + ", main head " +
                           std::to_string(main_head->number) + "); merge with force to overwrite");
  }
  PushRequest req;
  req.name = std::string(name);
  req.content = head->content.canonical;
  req.config = head->config;
  req.metadata = head->metadata;
  req.message = message.empty() ? "Merge branch '" + std::string(branch) + "' (version " +
                                      std::to_string(head->number) + ")"
                                : std::move(message);
  req.create_if_missing = false;
  req.merged_from = head->number;
  return Push(actor, std::move(req));
}

Result<std::shared_ptr<const PromptView>> Registry::Get(const Actor& actor,
                                                        std::string_view name) const {
  auto snap = snapshot();
  auto pit = snap->projects.find(actor.project_id);
  if (pit != snap->projects.end()) {
    auto it = pit->second.find(name);
    if (it != pit->second.end()) return it->second;
  }
  return Error::NotFound("prompt '" + std::string(name) + "' not found");
}

Result<const VersionView*> Registry::Resolve(const PromptView& p, const Selector& s) const {
  const VersionView* v = nullptr;
  if (s.label) {
    PO_RETURN_IF_ERROR(ValidateLabel(*s.label));
    v = p.ByLabel(*s.label);
    if (!v) return Error::NotFound("prompt '" + p.name + "' has no label '" + *s.label + "'");
  } else if (s.number) {
    v = p.ByNumber(*s.number);
    if (!v) {
      return Error::NotFound("prompt '" + p.name + "' has no version " + std::to_string(*s.number));
    }
  } else if (s.branch) {
    v = p.Head(*s.branch);
    if (!v)
      return Error::NotFound("prompt '" + p.name + "' has no versions on branch '" + *s.branch +
                             "'");
  } else {
    v = DefaultVersion(p);
    if (!v) return Error::NotFound("prompt '" + p.name + "' has no versions");
  }
  return v;
}

ListResult Registry::List(const Actor& actor, const ListFilter& f) const {
  ListResult out;
  auto snap = snapshot();
  auto pit = snap->projects.find(actor.project_id);
  if (pit == snap->projects.end()) return out;
  std::string prefix = f.folder ? *f.folder + "/" : "";
  for (const auto& [name, p] : pit->second) {
    if (f.folder && name.rfind(prefix, 0) != 0) continue;
    if (f.name_contains && name.find(*f.name_contains) == std::string::npos) continue;
    if (f.tag && std::find(p->tags.begin(), p->tags.end(), *f.tag) == p->tags.end()) continue;
    if (f.label && !p->ByLabel(*f.label)) continue;
    if (out.total >= f.offset && out.items.size() < f.limit) out.items.push_back(p);
    ++out.total;
  }
  return out;
}

Result<bj::value> Registry::RenderVersion(const Snapshot& snap, std::int64_t project_id,
                                          const VersionView& v, const bj::object& variables,
                                          bool strict) {
  RenderOptions opts;
  opts.strict = strict;
  opts.max_partial_depth = kMaxPartialDepth;
  opts.partials = [&snap,
                   project_id](std::string_view ref) -> Result<std::shared_ptr<const Template>> {
    PO_ASSIGN_OR_RETURN(const VersionView* pv, ResolvePartial(snap, project_id, ref));
    return pv->content.templates.at(0);
  };
  return RenderContent(v.content, variables, opts);
}

Result<RenderResult> Registry::Render(const Actor& actor, std::string_view name, const Selector& s,
                                      const bj::object& variables, bool strict) const {
  auto snap = snapshot();
  PO_ASSIGN_OR_RETURN(auto p, Get(actor, name));
  PO_ASSIGN_OR_RETURN(const VersionView* v, Resolve(*p, s));
  PO_ASSIGN_OR_RETURN(bj::value rendered,
                      RenderVersion(*snap, actor.project_id, *v, variables, strict));
  return RenderResult{v, p, std::move(rendered)};
}

Result<std::vector<store::LabelEventRow>> Registry::LabelHistory(const Actor& actor,
                                                                 std::string_view name,
                                                                 std::optional<std::string> label) {
  std::vector<store::LabelEventRow> out;
  PO_RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> Status {
    PO_ASSIGN_OR_RETURN(auto p, tx.prompts().Find(actor.project_id, name));
    if (!p) return Error::NotFound("prompt '" + std::string(name) + "' not found");
    std::optional<std::string_view> l;
    if (label) l = *label;
    PO_ASSIGN_OR_RETURN(out, tx.prompts().ListLabelEvents(p->id, l));
    return OkStatus();
  }));
  return out;
}

Result<std::vector<ChangelogEntry>> Registry::Changelog(const Actor& actor, std::string_view name) {
  PO_ASSIGN_OR_RETURN(auto p, Get(actor, name));
  PO_ASSIGN_OR_RETURN(auto events, LabelHistory(actor, name, std::nullopt));
  std::vector<ChangelogEntry> out;
  for (const auto& v : p->versions) {
    std::string text = v->message.empty() ? "(no message)" : v->message;
    if (v->branch != "main") text += " [branch " + v->branch + "]";
    out.push_back({v->created_at, "version", v->number, v->semver, v->author, text});
  }
  for (const auto& e : events) {
    std::string text = e.label + ": " + (e.from_version ? std::to_string(*e.from_version) : "-") +
                       " -> " + (e.to_version ? std::to_string(*e.to_version) : "removed");
    if (!e.reason.empty()) text += " (" + e.reason + ")";
    const VersionView* target = e.to_version ? p->ByNumber(*e.to_version) : nullptr;
    out.push_back({e.created_at, "label", e.to_version.value_or(0), target ? target->semver : "",
                   e.actor, text});
  }
  // Newest first; at equal times versions before the label moves they caused.
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    if (a.at != b.at) return a.at > b.at;
    return a.kind == "label" && b.kind == "version";
  });
  return out;
}

CompatReport Registry::Compat(const VersionView& a, const VersionView& b) {
  return Compare(ShapeOf(a), ShapeOf(b), a.content.canonical_json != b.content.canonical_json);
}

bj::object PromptToJson(const PromptView& p) {
  bj::object o;
  o["name"] = p.name;
  o["type"] = PromptTypeName(p.type);
  o["description"] = p.description;
  o["tags"] = ToJsonArray(p.tags);
  bj::object labels;
  for (const auto& [name, l] : p.labels) labels[name] = l.version;
  if (const VersionView* latest = p.Latest()) labels["latest"] = latest->number;
  o["labels"] = std::move(labels);
  bj::array protected_labels;
  for (const auto& [name, l] : p.labels) {
    if (l.is_protected) protected_labels.emplace_back(name);
  }
  o["protected_labels"] = std::move(protected_labels);
  bj::array branches;
  for (const auto& [name, b] : p.branches) branches.emplace_back(name);
  o["branches"] = std::move(branches);
  o["versions"] = static_cast<std::int64_t>(p.versions.size());
  if (const VersionView* latest = p.Latest()) o["latest_semver"] = latest->semver;
  o["created_by"] = p.created_by;
  o["created_at"] = FormatRfc3339(FromUnixMillis(p.created_at));
  o["updated_at"] = FormatRfc3339(FromUnixMillis(p.updated_at));
  return o;
}

bj::object VersionToJson(const PromptView& p, const VersionView& v, bool with_content) {
  bj::object o;
  o["name"] = p.name;
  o["version"] = v.number;
  o["semver"] = v.semver;
  o["type"] = PromptTypeName(v.content.type);
  o["branch"] = v.branch;
  o["parent"] = v.parent ? bj::value(*v.parent) : bj::value(nullptr);
  if (v.merged_from) o["merged_from"] = *v.merged_from;
  if (with_content) o["prompt"] = v.content.canonical;
  o["config"] = v.config;
  o["variables"] = ToJsonArray(v.content.variables);
  if (v.content.type == PromptType::kChat) o["placeholders"] = ToJsonArray(v.content.placeholders);
  o["partials"] = ToJsonArray(v.content.partials);
  o["metadata"] = v.metadata;
  o["labels"] = ToJsonArray(p.LabelsOf(v.number));
  o["content_hash"] = v.content_hash;
  o["author"] = v.author;
  o["message"] = v.message;
  o["created_at"] = FormatRfc3339(FromUnixMillis(v.created_at));
  return o;
}

}  // namespace promptops::registry
