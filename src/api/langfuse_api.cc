#include "api/langfuse_api.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "api/request_util.h"
#include "core/clock.h"
#include "core/json.h"
#include "registry/names.h"
#include "registry/registry.h"

namespace promptops::api {
namespace {

namespace bj = boost::json;
using registry::PromptView;
using registry::VersionView;

constexpr std::string_view kProductionLabel = "production";
constexpr std::int64_t kDefaultListLimit = 10;  // Langfuse's default page size
constexpr std::int64_t kMaxListLimit = 100;     // and its maximum

// A Langfuse error: status and the class name Langfuse reports in "error".
struct LangfuseErrorKind {
  int status;
  std::string_view name;
};

LangfuseErrorKind KindOf(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return {400, "InvalidRequestError"};
    case ErrorCode::kUnauthenticated:
      return {401, "UnauthorizedError"};
    case ErrorCode::kPermissionDenied:
      return {403, "ForbiddenError"};
    case ErrorCode::kNotFound:
      return {404, "LangfuseNotFoundError"};
    case ErrorCode::kMethodNotAllowed:
      return {405, "MethodNotAllowedError"};
    case ErrorCode::kConflict:
    case ErrorCode::kAlreadyExists:
    case ErrorCode::kFailedPrecondition:
      return {409, "LangfuseConflictError"};
    case ErrorCode::kRateLimited:
      return {429, "TooManyRequestsError"};
    case ErrorCode::kInternal:
      return {500, "InternalServerError"};
    case ErrorCode::kUnavailable:
      return {503, "ServiceUnavailableError"};
    default:
      return {HttpStatusFor(code), "ApiError"};
  }
}

http::Response ErrorResponse(int status, std::string_view name, std::string_view message) {
  bj::object body;
  body["message"] = message;
  body["error"] = name;
  return JsonResponse(status, body);
}

// Runs `fn` (returning Result<http::Response>) and maps an error to Langfuse's error shape.
template <typename Fn>
http::Response HandleLangfuse(Fn&& fn) {
  auto r = fn();
  if (!r.ok()) return LangfuseErrorResponse(r.error());
  return std::move(r).value();
}

std::string Iso(std::int64_t unix_ms) { return FormatRfc3339(FromUnixMillis(unix_ms)); }

// When a version last changed as Langfuse sees it: created, or a label moved onto it.
std::int64_t VersionUpdatedAt(const PromptView& p, const VersionView& v) {
  std::int64_t t = v.created_at;
  for (const auto& [name, l] : p.labels) {
    if (l.version == v.number) t = std::max(t, l.updated_at);
  }
  return t;
}

bj::array StringArray(const std::vector<std::string>& v) {
  bj::array a;
  for (const auto& s : v) a.emplace_back(s);
  return a;
}

// "Prompt not found: 'NAME' with label 'L'" / "... with version N", as Langfuse words it.
Error PromptNotFound(std::string_view name, const registry::Selector& s) {
  std::string m = "Prompt not found: '" + std::string(name) + "'";
  if (s.number) {
    m += " with version " + std::to_string(*s.number);
  } else {
    m += " with label '" + s.label.value_or(std::string(kProductionLabel)) + "'";
  }
  return Error::NotFound(std::move(m));
}

// A required array of strings (`what` names the field in errors).
Result<std::vector<std::string>> StringList(const bj::value& v, std::string_view what) {
  if (!v.is_array())
    return Error::InvalidArgument("field '" + std::string(what) + "' must be an array of strings");
  std::vector<std::string> out;
  for (const auto& e : v.as_array()) {
    if (!e.is_string()) {
      return Error::InvalidArgument("field '" + std::string(what) +
                                    "' must be an array of strings");
    }
    out.emplace_back(e.as_string());
  }
  return out;
}

Result<std::optional<std::vector<std::string>>> OptStringList(const bj::object& o,
                                                              std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) return std::optional<std::vector<std::string>>();
  PO_ASSIGN_OR_RETURN(auto list, StringList(it->value(), key));
  return std::optional<std::vector<std::string>>(std::move(list));
}

// Converts Langfuse chat messages to promptops canonical chat content: the SDK sends
// {role, content, type:"chatmessage"} and {type:"placeholder", name}; promptops stores
// {role, content} and {type:"placeholder", name}.
Result<bj::value> ChatContentFromLangfuse(const bj::value& prompt) {
  if (!prompt.is_array()) {
    return Error::InvalidArgument(
        "field 'prompt' must be an array of chat messages for type 'chat'");
  }
  bj::array out;
  std::size_t i = 0;
  for (const auto& m : prompt.as_array()) {
    const std::string where = "prompt[" + std::to_string(i++) + "]";
    if (!m.is_object()) return Error::InvalidArgument(where + " must be an object");
    const auto& o = m.as_object();
    std::string type = "chatmessage";
    if (auto t = o.find("type"); t != o.end() && !t->value().is_null()) {
      if (!t->value().is_string()) return Error::InvalidArgument(where + ".type must be a string");
      type = std::string(t->value().as_string());
    }
    if (type == "placeholder") {
      auto n = o.find("name");
      if (n == o.end() || !n->value().is_string()) {
        return Error::InvalidArgument(where + ": a placeholder needs a string 'name'");
      }
      out.push_back(bj::object{{"type", "placeholder"}, {"name", n->value()}});
    } else if (type == "chatmessage") {
      auto role = o.find("role");
      auto content = o.find("content");
      if (role == o.end() || !role->value().is_string() || content == o.end() ||
          !content->value().is_string()) {
        return Error::InvalidArgument(where + ": a chat message needs string 'role' and 'content'");
      }
      out.push_back(bj::object{{"role", role->value()}, {"content", content->value()}});
    } else {
      return Error::InvalidArgument(where + ".type must be 'chatmessage' or 'placeholder', not '" +
                                    type + "'");
    }
  }
  return bj::value(std::move(out));
}

// --- handlers --------------------------------------------------------------------------------

Result<http::Response> GetPrompt(ApiContext& ctx, http::Request& req) {
  PO_ASSIGN_OR_RETURN(Actor actor, Authenticate(req, ctx.keys));
  const std::string name(req.Param("name"));
  registry::Selector sel;
  if (auto v = req.Query("version")) {
    PO_ASSIGN_OR_RETURN(sel.number, ParseVersionNumber(*v));
  }
  if (auto l = req.Query("label")) {
    if (sel.number) return Error::InvalidArgument("cannot specify both version and label");
    sel.label = *l;
  }
  if (!sel.number && !sel.label) sel.label = std::string(kProductionLabel);

  auto prompt = ctx.registry.Get(actor, name);
  if (!prompt.ok()) {
    if (prompt.error().code == ErrorCode::kNotFound) return PromptNotFound(name, sel);
    return std::move(prompt).error();
  }
  const PromptView& p = **prompt;
  const VersionView* v = sel.number ? p.ByNumber(*sel.number) : p.ByLabel(*sel.label);
  if (!v) return PromptNotFound(name, sel);
  return JsonResponse(200, LangfusePromptJson(p, *v));
}

struct ListQuery {
  std::optional<std::string> name, label, tag;
  std::optional<std::int64_t> version;
  std::optional<std::int64_t> from_ms, to_ms;  // [from, to) on a version's updatedAt
  std::int64_t page = 1;
  std::int64_t limit = kDefaultListLimit;
};

Result<std::optional<std::int64_t>> QueryTime(const http::Request& req, std::string_view key) {
  auto q = req.Query(key);
  if (!q) return std::optional<std::int64_t>();
  auto t = ParseRfc3339(*q);
  if (!t) {
    return Error::InvalidArgument("query parameter '" + std::string(key) +
                                  "' must be an ISO 8601 datetime, e.g. 2026-01-31T12:00:00Z");
  }
  return std::optional<std::int64_t>(ToUnixMillis(*t));
}

Result<ListQuery> ParseListQuery(const http::Request& req) {
  ListQuery q;
  q.name = req.Query("name");
  q.label = req.Query("label");
  q.tag = req.Query("tag");
  PO_ASSIGN_OR_RETURN(q.version, QueryInt(req, "version"));
  PO_ASSIGN_OR_RETURN(auto page, QueryInt(req, "page"));
  PO_ASSIGN_OR_RETURN(auto limit, QueryInt(req, "limit", 1, kMaxListLimit));
  q.page = page.value_or(1);
  q.limit = limit.value_or(kDefaultListLimit);
  PO_ASSIGN_OR_RETURN(q.from_ms, QueryTime(req, "fromUpdatedAt"));
  PO_ASSIGN_OR_RETURN(q.to_ms, QueryTime(req, "toUpdatedAt"));
  return q;
}

// Langfuse filters prompt *versions* and then groups them by name: a prompt is listed when at
// least one version matches, and its versions/labels/lastUpdatedAt/lastConfig describe only the
// matching versions.
std::optional<bj::object> PromptMeta(const PromptView& p, const ListQuery& q) {
  if (q.name && p.name != *q.name) return std::nullopt;
  if (q.tag && std::find(p.tags.begin(), p.tags.end(), *q.tag) == p.tags.end()) return std::nullopt;
  bj::array versions;
  std::set<std::string> labels;
  std::int64_t last_updated = -1;
  const VersionView* newest = nullptr;
  for (const auto& vp : p.versions) {
    const VersionView& v = *vp;
    if (q.version && v.number != *q.version) continue;
    std::vector<std::string> vlabels = p.LabelsOf(v.number);
    if (q.label && std::find(vlabels.begin(), vlabels.end(), *q.label) == vlabels.end()) continue;
    const std::int64_t updated = VersionUpdatedAt(p, v);
    if (q.from_ms && updated < *q.from_ms) continue;
    if (q.to_ms && updated >= *q.to_ms) continue;
    versions.emplace_back(v.number);
    labels.insert(vlabels.begin(), vlabels.end());
    last_updated = std::max(last_updated, updated);
    if (!newest || v.number > newest->number) newest = &v;
  }
  if (!newest) return std::nullopt;
  bj::object o;
  o["name"] = p.name;
  o["type"] = registry::PromptTypeName(p.type);
  o["versions"] = std::move(versions);
  o["labels"] = StringArray({labels.begin(), labels.end()});
  o["tags"] = StringArray(p.tags);
  o["lastUpdatedAt"] = Iso(last_updated);
  o["lastConfig"] = newest->config;
  return o;
}

Result<http::Response> ListPrompts(ApiContext& ctx, http::Request& req) {
  PO_ASSIGN_OR_RETURN(Actor actor, Authenticate(req, ctx.keys));
  PO_ASSIGN_OR_RETURN(ListQuery q, ParseListQuery(req));
  auto snap = ctx.registry.snapshot();
  bj::array data;
  std::int64_t total = 0;
  const std::int64_t offset = (q.page - 1) * q.limit;
  if (auto it = snap->projects.find(actor.project_id); it != snap->projects.end()) {
    for (const auto& [name, p] : it->second) {  // ordered by name, like Langfuse
      auto meta = PromptMeta(*p, q);
      if (!meta) continue;
      if (total >= offset && static_cast<std::int64_t>(data.size()) < q.limit) {
        data.push_back(std::move(*meta));
      }
      ++total;
    }
  }
  bj::object out;
  out["data"] = std::move(data);
  out["meta"] = bj::object{{"page", q.page},
                           {"limit", q.limit},
                           {"totalItems", total},
                           {"totalPages", (total + q.limit - 1) / q.limit}};
  return JsonResponse(200, out);
}

Result<http::Response> CreatePrompt(ApiContext& ctx, http::Request& req) {
  PO_ASSIGN_OR_RETURN(Actor actor, Authenticate(req, ctx.keys));
  PO_ASSIGN_OR_RETURN(bj::object body, JsonBody(req));

  registry::PushRequest push;
  PO_ASSIGN_OR_RETURN(push.name, json::RequireString(body, "name"));
  PO_ASSIGN_OR_RETURN(auto type, json::OptString(body, "type"));
  const std::string t = type.value_or("text");
  auto prompt_it = body.find("prompt");
  if (prompt_it == body.end() || prompt_it->value().is_null()) {
    return Error::InvalidArgument("field 'prompt' is required");
  }
  if (t == "text") {
    if (!prompt_it->value().is_string()) {
      return Error::InvalidArgument("field 'prompt' must be a string for type 'text'");
    }
    push.content = prompt_it->value();
  } else if (t == "chat") {
    PO_ASSIGN_OR_RETURN(push.content, ChatContentFromLangfuse(prompt_it->value()));
  } else {
    return Error::InvalidArgument("field 'type' must be 'text' or 'chat', not '" + t + "'");
  }
  push.type = t;
  PO_ASSIGN_OR_RETURN(const bj::object* config, json::OptObject(body, "config"));
  if (config) push.config = *config;
  PO_ASSIGN_OR_RETURN(auto labels, OptStringList(body, "labels"));
  if (labels) {
    // Langfuse treats "latest" as automatic; sending it is harmless there, so drop it here too.
    std::erase(*labels, std::string("latest"));
    std::sort(labels->begin(), labels->end());
    labels->erase(std::unique(labels->begin(), labels->end()), labels->end());
    push.labels = std::move(*labels);
  }
  PO_ASSIGN_OR_RETURN(push.tags, OptStringList(body, "tags"));
  PO_ASSIGN_OR_RETURN(auto message, json::OptString(body, "commitMessage"));
  push.message = message.value_or("");

  PO_ASSIGN_OR_RETURN(registry::PushResult r, ctx.registry.Push(actor, std::move(push)));
  http::Response res = JsonResponse(201, LangfusePromptJson(*r.prompt, *r.version));
  // Identical content is not stored twice (see docs/langfuse.md); tell callers who care.
  res.headers.emplace_back("x-promptops-version-created", r.created ? "true" : "false");
  return res;
}

Result<http::Response> UpdateLabels(ApiContext& ctx, http::Request& req) {
  PO_ASSIGN_OR_RETURN(Actor actor, Authenticate(req, ctx.keys));
  const std::string name(req.Param("name"));
  PO_ASSIGN_OR_RETURN(std::int64_t number, ParseVersionNumber(req.Param("version")));
  PO_ASSIGN_OR_RETURN(bj::object body, JsonBody(req));
  auto it = body.find("newLabels");
  if (it == body.end()) return Error::InvalidArgument("field 'newLabels' is required");
  PO_ASSIGN_OR_RETURN(std::vector<std::string> labels, StringList(it->value(), "newLabels"));
  // Validate everything before the first write, so a bad label changes nothing.
  for (const auto& l : labels) {
    PO_RETURN_IF_ERROR(registry::ValidateLabel(l));
    if (l == "latest") {
      return Error::InvalidArgument("label 'latest' is reserved and managed automatically");
    }
  }
  {
    auto p = ctx.registry.Get(actor, name);
    if (!p.ok() && p.error().code != ErrorCode::kNotFound) return std::move(p).error();
    if (!p.ok() || !(*p)->ByNumber(number)) {
      return Error::NotFound("Prompt not found: '" + name + "' with version " +
                             std::to_string(number));
    }
  }
  for (const auto& l : labels) {
    PO_ASSIGN_OR_RETURN(auto change, ctx.registry.SetLabel(actor, name, l, number, "langfuse api"));
    (void)change;
  }
  PO_ASSIGN_OR_RETURN(auto p, ctx.registry.Get(actor, name));
  const VersionView* v = p->ByNumber(number);
  if (!v)
    return Error::NotFound("Prompt not found: '" + name + "' with version " +
                           std::to_string(number));
  return JsonResponse(200, LangfusePromptJson(*p, *v));
}

Result<http::Response> DeletePrompt(ApiContext& ctx, http::Request& req) {
  PO_ASSIGN_OR_RETURN(Actor actor, Authenticate(req, ctx.keys));
  const std::string name(req.Param("name"));
  std::optional<std::int64_t> version;
  if (auto v = req.Query("version")) {
    PO_ASSIGN_OR_RETURN(version, ParseVersionNumber(*v));
  }
  auto label = req.Query("label");
  auto p = ctx.registry.Get(actor, name);
  if (!p.ok()) {
    if (p.error().code == ErrorCode::kNotFound)
      return Error::NotFound("Prompt not found: '" + name + "'");
    return std::move(p).error();
  }
  if (version || label) {
    // Langfuse deletes the matching versions. promptops versions are immutable history: only a
    // selection that covers every version (so: deleting the whole prompt) can be honoured.
    const VersionView* v = version ? (*p)->ByNumber(*version) : (*p)->ByLabel(*label);
    if (!v || (version && label && (*p)->ByLabel(*label) != v)) {
      return Error::NotFound("Prompt not found: '" + name + "'" +
                             (version ? " with version " + std::to_string(*version) : "") +
                             (label ? " with label '" + *label + "'" : ""));
    }
    if ((*p)->versions.size() != 1) {
      return ErrorResponse(501, "NotImplementedError",
                           "promptops does not delete single versions of a prompt (versions are "
                           "immutable history); move or remove labels instead, or delete the "
                           "whole prompt");
    }
  }
  PO_RETURN_IF_ERROR(ctx.registry.Delete(actor, name));
  return http::Response::NoContent();
}

}  // namespace

http::Response LangfuseErrorResponse(const Error& e) {
  LangfuseErrorKind k = KindOf(e.code);
  return ErrorResponse(k.status, k.name, e.message);
}

bj::object LangfusePromptJson(const PromptView& p, const VersionView& v) {
  bj::object o;
  o["id"] = "po-" + std::to_string(p.id) + "-v" + std::to_string(v.number);
  o["createdAt"] = Iso(v.created_at);
  o["updatedAt"] = Iso(VersionUpdatedAt(p, v));
  o["projectId"] = std::to_string(p.project_id);
  o["createdBy"] = v.author;
  o["name"] = p.name;
  o["version"] = v.number;
  o["type"] = registry::PromptTypeName(v.content.type);
  o["prompt"] = v.content.canonical;
  o["config"] = v.config;
  o["labels"] = StringArray(p.LabelsOf(v.number));
  o["tags"] = StringArray(p.tags);
  o["commitMessage"] = v.message.empty() ? bj::value(nullptr) : bj::value(v.message);
  return o;
}

void AddLangfuseRoutes(http::Router& router, ApiContext& ctx) {
  ApiContext* c = &ctx;
  router.Add("GET", "/api/public/v2/prompts/{name}", [c](http::Request& req) {
    return HandleLangfuse([&] { return GetPrompt(*c, req); });
  });
  router.Add("GET", "/api/public/v2/prompts", [c](http::Request& req) {
    return HandleLangfuse([&] { return ListPrompts(*c, req); });
  });
  router.Add(
      "POST", "/api/public/v2/prompts",
      [c](http::Request& req) { return HandleLangfuse([&] { return CreatePrompt(*c, req); }); },
      {.blocking = true});
  router.Add(
      "PATCH", "/api/public/v2/prompts/{name}/versions/{version}",
      [c](http::Request& req) { return HandleLangfuse([&] { return UpdateLabels(*c, req); }); },
      {.blocking = true});
  router.Add(
      "DELETE", "/api/public/v2/prompts/{name}",
      [c](http::Request& req) { return HandleLangfuse([&] { return DeletePrompt(*c, req); }); },
      {.blocking = true});
}

}  // namespace promptops::api
