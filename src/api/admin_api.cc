#include "api/admin_api.h"

#include "api/request_util.h"
#include "core/json.h"
#include "registry/diff.h"
#include "registry/names.h"

namespace promptops::api {

namespace bj = boost::json;
using http::Request;
using http::Response;
using registry::PromptView;
using registry::VersionView;

namespace {

constexpr std::int64_t kMaxPageSize = 500;

Result<std::optional<std::vector<std::string>>> OptStringList(const bj::object& o,
                                                              std::string_view key) {
  PO_ASSIGN_OR_RETURN(const bj::array* a, json::OptArray(o, key));
  if (!a) return std::optional<std::vector<std::string>>();
  std::vector<std::string> out;
  for (const auto& v : *a) {
    if (!v.is_string()) {
      return Error::InvalidArgument("field '" + std::string(key) + "' must be an array of strings");
    }
    out.emplace_back(v.as_string());
  }
  return std::optional<std::vector<std::string>>(std::move(out));
}

Result<bj::object> OptObjectCopy(const bj::object& o, std::string_view key) {
  PO_ASSIGN_OR_RETURN(const bj::object* p, json::OptObject(o, key));
  return p ? *p : bj::object();
}

// Selector from query parameters label / version / branch (at most one).
Result<registry::Selector> SelectorFromQuery(const Request& req) {
  registry::Selector s;
  s.label = req.Query("label");
  s.branch = req.Query("branch");
  PO_ASSIGN_OR_RETURN(s.number, QueryInt(req, "version"));
  int n = (s.label ? 1 : 0) + (s.branch ? 1 : 0) + (s.number ? 1 : 0);
  if (n > 1) return Error::InvalidArgument("give at most one of label, version, branch");
  if (s.label) PO_RETURN_IF_ERROR(registry::ValidateLabel(*s.label));
  return s;
}

// A version reference in a body or query: a number, or a label name, or "branch:NAME".
Result<const VersionView*> VersionRef(const registry::Registry& reg, const PromptView& p,
                                      std::string_view ref) {
  registry::Selector s;
  if (!ref.empty() &&
      std::all_of(ref.begin(), ref.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    PO_ASSIGN_OR_RETURN(s.number, ParseVersionNumber(ref));
  } else if (ref.rfind("branch:", 0) == 0) {
    s.branch = std::string(ref.substr(7));
  } else {
    s.label = std::string(ref);
  }
  return reg.Resolve(p, s);
}

bj::object PageJson(bj::array data, std::size_t total, std::size_t offset, std::size_t limit) {
  bj::object o;
  o["data"] = std::move(data);
  o["total"] = total;
  o["offset"] = offset;
  o["limit"] = limit;
  return o;
}

struct Page {
  std::size_t offset = 0;
  std::size_t limit = 50;
};

Result<Page> PageFromQuery(const Request& req) {
  Page p;
  PO_ASSIGN_OR_RETURN(auto limit, QueryInt(req, "limit", 1, kMaxPageSize));
  PO_ASSIGN_OR_RETURN(auto offset, QueryInt(req, "offset", 0));
  if (limit) p.limit = static_cast<std::size_t>(*limit);
  if (offset) p.offset = static_cast<std::size_t>(*offset);
  return p;
}

bj::object LabelEventJson(const store::LabelEventRow& e) {
  bj::object o;
  o["label"] = e.label;
  o["from"] = e.from_version ? bj::value(*e.from_version) : bj::value(nullptr);
  o["to"] = e.to_version ? bj::value(*e.to_version) : bj::value(nullptr);
  o["actor"] = e.actor;
  o["reason"] = e.reason;
  o["at"] = FormatRfc3339(FromUnixMillis(e.created_at));
  return o;
}

bj::object PushResultJson(const registry::PushResult& r) {
  bj::object o;
  o["created"] = r.created;
  o["prompt_created"] = r.prompt_created;
  o["prompt"] = registry::PromptToJson(*r.prompt);
  o["version"] = registry::VersionToJson(*r.prompt, *r.version);
  return o;
}

// Fills a PushRequest from a JSON body (shared by create and push).
Result<registry::PushRequest> PushFromBody(const bj::object& body, std::string name) {
  registry::PushRequest req;
  req.name = std::move(name);
  PO_ASSIGN_OR_RETURN(req.type, json::OptString(body, "type"));
  auto it = body.find("prompt");
  if (it == body.end() || it->value().is_null()) {
    return Error::InvalidArgument(
        "field 'prompt' (the template: a string, or an array of chat messages) is required");
  }
  req.content = it->value();
  PO_ASSIGN_OR_RETURN(req.config, OptObjectCopy(body, "config"));
  PO_ASSIGN_OR_RETURN(req.metadata, OptObjectCopy(body, "metadata"));
  PO_ASSIGN_OR_RETURN(auto message, json::OptString(body, "message"));
  req.message = message.value_or("");
  PO_ASSIGN_OR_RETURN(auto author, json::OptString(body, "author"));
  req.author = author.value_or("");
  PO_ASSIGN_OR_RETURN(auto branch, json::OptString(body, "branch"));
  if (branch) req.branch = *branch;
  PO_ASSIGN_OR_RETURN(req.semver, json::OptString(body, "semver"));
  PO_ASSIGN_OR_RETURN(auto labels, OptStringList(body, "labels"));
  if (labels) req.labels = *labels;
  PO_ASSIGN_OR_RETURN(req.description, json::OptString(body, "description"));
  PO_ASSIGN_OR_RETURN(req.tags, OptStringList(body, "tags"));
  return req;
}

class AdminApi : public std::enable_shared_from_this<AdminApi> {
 public:
  explicit AdminApi(ApiContext& ctx) : ctx_(ctx), reg_(ctx.registry) {}

  void Register(http::Router& r) {
    const http::RouteOptions blocking{.blocking = true};
    // Each handler shares ownership of this object, so it lives as long as the router.
    auto bind = [self = shared_from_this()](Response (AdminApi::*fn)(Request&, const Actor&)) {
      return [self, fn](Request& req) {
        auto actor = Authenticate(req, self->ctx_.keys);
        if (!actor.ok()) return Response::FromError(actor.error());
        return ((*self).*fn)(req, *actor);
      };
    };
    r.Add("GET", "/api/v1/whoami", bind(&AdminApi::WhoAmI));
    r.Add("GET", "/api/v1/prompts", bind(&AdminApi::ListPrompts));
    r.Add("POST", "/api/v1/prompts", bind(&AdminApi::CreatePrompt), blocking);
    r.Add("GET", "/api/v1/prompts/{name}", bind(&AdminApi::GetPrompt));
    r.Add("PATCH", "/api/v1/prompts/{name}", bind(&AdminApi::PatchPrompt), blocking);
    r.Add("DELETE", "/api/v1/prompts/{name}", bind(&AdminApi::DeletePrompt), blocking);
    r.Add("GET", "/api/v1/prompts/{name}/versions", bind(&AdminApi::ListVersions));
    r.Add("POST", "/api/v1/prompts/{name}/versions", bind(&AdminApi::PushVersion), blocking);
    r.Add("GET", "/api/v1/prompts/{name}/versions/{version}", bind(&AdminApi::GetVersion));
    r.Add("GET", "/api/v1/prompts/{name}/labels", bind(&AdminApi::ListLabels));
    r.Add("GET", "/api/v1/prompts/{name}/labels/{label}", bind(&AdminApi::GetLabel));
    r.Add("PUT", "/api/v1/prompts/{name}/labels/{label}", bind(&AdminApi::SetLabel), blocking);
    r.Add("DELETE", "/api/v1/prompts/{name}/labels/{label}", bind(&AdminApi::RemoveLabel),
          blocking);
    r.Add("GET", "/api/v1/prompts/{name}/labels/{label}/history", bind(&AdminApi::LabelHistory),
          blocking);
    r.Add("POST", "/api/v1/prompts/{name}/labels/{label}/rollback", bind(&AdminApi::Rollback),
          blocking);
    r.Add("GET", "/api/v1/prompts/{name}/label-history", bind(&AdminApi::LabelHistory), blocking);
    r.Add("GET", "/api/v1/prompts/{name}/branches", bind(&AdminApi::ListBranches));
    r.Add("POST", "/api/v1/prompts/{name}/branches", bind(&AdminApi::CreateBranch), blocking);
    r.Add("POST", "/api/v1/prompts/{name}/branches/{branch}/merge", bind(&AdminApi::Merge),
          blocking);
    r.Add("GET", "/api/v1/prompts/{name}/log", bind(&AdminApi::Log));
    r.Add("GET", "/api/v1/prompts/{name}/diff", bind(&AdminApi::Diff));
    r.Add("GET", "/api/v1/prompts/{name}/compat", bind(&AdminApi::Compat));
    r.Add("POST", "/api/v1/prompts/{name}/render", bind(&AdminApi::Render));
    r.Add("GET", "/api/v1/prompts/{name}/changelog", bind(&AdminApi::Changelog), blocking);
    r.Add("GET", "/api/v1/keys", bind(&AdminApi::ListKeys), blocking);
    r.Add("POST", "/api/v1/keys", bind(&AdminApi::CreateKey), blocking);
    r.Add("DELETE", "/api/v1/keys/{id}", bind(&AdminApi::RevokeKey), blocking);
  }

 private:
  Response WhoAmI(Request&, const Actor& a) {
    bj::object o;
    o["key"] = a.id;
    o["role"] = RoleName(a.role);
    o["project_id"] = a.project_id;
    return JsonResponse(200, o);
  }

  Response ListPrompts(Request& req, const Actor& a) {
    return Handle([&]() -> Result<Response> {
      PO_ASSIGN_OR_RETURN(Page page, PageFromQuery(req));
      registry::ListFilter f;
      f.tag = req.Query("tag");
      f.label = req.Query("label");
      f.folder = req.Query("folder");
      f.name_contains = req.Query("q");
      f.offset = page.offset;
      f.limit = page.limit;
      auto r = reg_.List(a, f);
      bj::array data;
      for (const auto& p : r.items) data.push_back(registry::PromptToJson(*p));
      return JsonResponse(200, PageJson(std::move(data), r.total, page.offset, page.limit));
    });
  }

  Response CreatePrompt(Request& req, const Actor& a) {
    return Handle([&]() -> Result<Response> {
      PO_ASSIGN_OR_RETURN(bj::object body, JsonBody(req));
      PO_ASSIGN_OR_RETURN(std::string name, json::RequireString(body, "name"));
      PO_ASSIGN_OR_RETURN(auto push, PushFromBody(body, name));
      if (reg_.Get(a, name).ok()) {
        return Error::AlreadyExists(
            "prompt '" + name +
            "' already exists; push a new version with POST /api/v1/prompts/{name}/versions");
      }
      PO_ASSIGN_OR_RETURN(auto result, reg_.Push(a, std::move(push)));
      return JsonResponse(201, PushResultJson(result));
    });
  }

  Response GetPrompt(Request& req, const Actor& a) {
    return Handle([&]() -> Result<Response> {
      PO_ASSIGN_OR_RETURN(auto p, reg_.Get(a, req.Param("name")));
      PO_ASSIGN_OR_RETURN(auto sel, SelectorFromQuery(req));
      PO_ASSIGN_OR_RETURN(const VersionView* v, reg_.Resolve(*p, sel));
      // The hot path (fetch by label): splice JSON serialized when the snapshot was built.
      auto cached = p->labelled_version_json.find(v->number);
      if (cached != p->labelled_version_json.end() && p->summary_json.size() > 2) {
        std::string body;
        body.reserve(p->summary_json.size() + cached->second.size() + 16);
        body.append(p->summary_json, 0, p->summary_json.size() - 1);
        body += ",\"version\":";
        body += cached->second;
        body += '}';
        return Response::Json(200, std::move(body));
      }
      bj::object o = registry::PromptToJson(*p);
      o["version"] = registry::VersionToJson(*p, *v);
      return JsonResponse(200, o);
    });
  }

  Response PatchPrompt(Request& req, const Actor& a) {
    return Handle([&]() -> Result<Response> {
      PO_ASSIGN_OR_RETURN(bj::object body, JsonBody(req));
      PO_ASSIGN_OR_RETURN(auto desc, json::OptString(body, "description"));
      PO_ASSIGN_OR_RETURN(auto tags, OptStringList(body, "tags"));
      PO_ASSIGN_OR_RETURN(auto p, reg_.UpdateInfo(a, req.Param("name"), desc, tags));
      return JsonResponse(200, registry::PromptToJson(*p));
    });
  }

  Response DeletePrompt(Request& req, const Actor& a) {
    auto s = reg_.Delete(a, req.Param("name"));
    if (!s.ok()) return Response::FromError(s.error());
    return Response::NoContent();
  }

  Response ListVersions(Request& req, const Actor& a) {
    return Handle([&]() -> Result<Response> {
      PO_ASSIGN_OR_RETURN(auto p, reg_.Get(a, req.Param("name")));
      PO_ASSIGN_OR_RETURN(Page page, PageFromQuery(req));
      auto branch = req.Query("branch");
      bool with_content = req.Query("content").value_or("true") != "false";
      bj::array data;
      std::size_t total = 0;
      // Newest first.
      for (auto it = p->versions.rbegin(); it != p->versions.rend(); ++it) {
        if (branch && (*it)->branch != *branch) continue;
        if (total >= page.offset && data.size() < page.limit) {
          data.push_back(registry::VersionToJson(*p, **it, with_content));
        }
        ++total;
      }
      return JsonResponse(200, PageJson(std::move(data), total, page.offset, page.limit));
    });
  }

  Response PushVersion(Request& req, const Actor& a) {
    return Handle([&]() -> Result<Response> {
      PO_ASSIGN_OR_RETURN(bj::object body, JsonBody(req));
      PO_ASSIGN_OR_RETURN(auto push, PushFromBody(body, std::string(req.Param("name"))));
      PO_ASSIGN_OR_RETURN(auto create, json::OptBool(body, "create"));
      push.create_if_missing = create.value_or(true);
      PO_ASSIGN_OR_RETURN(auto result, reg_.Push(a, std::move(push)));
      return JsonResponse(result.created ? 201 : 200, PushResultJson(result));
    });
  }

  Response GetVersion(Request& req, const Actor& a) {
    return Handle([&]() -> Result<Response> {
      PO_ASSIGN_OR_RETURN(auto p, reg_.Get(a, req.Param("name")));
      PO_ASSIGN_OR_RETURN(std::int64_t n, ParseVersionNumber(req.Param("version")));
      registry::Selector s;
      s.number = n;
      PO_ASSIGN_OR_RETURN(const VersionView* v, reg_.Resolve(*p, s));
      return JsonResponse(200, registry::VersionToJson(*p, *v));
    });
  }

  Response ListLabels(Request& req, const Actor& a) {
    return Handle([&]() -> Result<Response> {
      PO_ASSIGN_OR_RETURN(auto p, reg_.Get(a, req.Param("name")));
      bj::array data;
      for (const auto& [name, l] : p->labels) {
        const VersionView* v = p->ByNumber(l.version);
        data.push_back(bj::object{{"label", name},
                                  {"version", l.version},
                                  {"semver", v ? v->semver : ""},
                                  {"protected", l.is_protected},
                                  {"updated_by", l.updated_by},
                                  {"updated_at", FormatRfc3339(FromUnixMillis(l.updated_at))}});
      }
      if (const VersionView* latest = p->Latest()) {
        data.push_back(bj::object{{"label", "latest"},
                                  {"version", latest->number},
                                  {"semver", latest->semver},
                                  {"protected", false},
                                  {"automatic", true}});
      }
      return JsonResponse(200, bj::object{{"data", std::move(data)}});
    });
  }

  Response GetLabel(Request& req, const Actor& a) {
    return Handle([&]() -> Result<Response> {
      PO_ASSIGN_OR_RETURN(auto p, reg_.Get(a, req.Param("name")));
      registry::Selector s;
      s.label = std::string(req.Param("label"));
      PO_ASSIGN_OR_RETURN(const VersionView* v, reg_.Resolve(*p, s));
      return JsonResponse(200, registry::VersionToJson(*p, *v));
    });
  }

  static bj::object LabelChangeJson(const registry::LabelChange& c) {
    return bj::object{{"label", c.label},
                      {"from", c.from ? bj::value(*c.from) : bj::value(nullptr)},
                      {"to", c.to}};
  }

  Response SetLabel(Request& req, const Actor& a) {
    return Handle([&]() -> Result<Response> {
      PO_ASSIGN_OR_RETURN(bj::object body, JsonBody(req));
      PO_ASSIGN_OR_RETURN(auto version, json::OptInt(body, "version"));
      if (!version) return Error::InvalidArgument("field 'version' is required");
      PO_ASSIGN_OR_RETURN(auto reason, json::OptString(body, "reason"));
      PO_ASSIGN_OR_RETURN(auto prot, json::OptBool(body, "protected"));
      PO_ASSIGN_OR_RETURN(auto change, reg_.SetLabel(a, req.Param("name"), req.Param("label"),
                                                     *version, reason.value_or(""), prot));
      return JsonResponse(200, LabelChangeJson(change));
    });
  }

  Response RemoveLabel(Request& req, const Actor& a) {
    auto s = reg_.RemoveLabel(a, req.Param("name"), req.Param("label"),
                              req.Query("reason").value_or(""));
    if (!s.ok()) return Response::FromError(s.error());
    return Response::NoContent();
  }

  Response LabelHistory(Request& req, const Actor& a) {
    return Handle([&]() -> Result<Response> {
      std::optional<std::string> label;
      if (!req.Param("label").empty())
        label = std::string(req.Param("label"));
      else
        label = req.Query("label");
      PO_ASSIGN_OR_RETURN(auto events, reg_.LabelHistory(a, req.Param("name"), label));
      bj::array data;
      for (auto it = events.rbegin(); it != events.rend(); ++it)
        data.push_back(LabelEventJson(*it));
      return JsonResponse(200, bj::object{{"data", std::move(data)}});
    });
  }

  Response Rollback(Request& req, const Actor& a) {
    return Handle([&]() -> Result<Response> {
      PO_ASSIGN_OR_RETURN(bj::object body, JsonBody(req, /*allow_empty=*/true));
      PO_ASSIGN_OR_RETURN(auto to, json::OptInt(body, "to"));
      PO_ASSIGN_OR_RETURN(auto reason, json::OptString(body, "reason"));
      PO_ASSIGN_OR_RETURN(auto change, reg_.Rollback(a, req.Param("name"), req.Param("label"), to,
                                                     reason.value_or("")));
      return JsonResponse(200, LabelChangeJson(change));
    });
  }

  Response ListBranches(Request& req, const Actor& a) {
    return Handle([&]() -> Result<Response> {
      PO_ASSIGN_OR_RETURN(auto p, reg_.Get(a, req.Param("name")));
      bj::array data;
      for (const auto& [name, b] : p->branches) {
        const VersionView* head = p->Head(name);
        bj::object o{{"name", name},
                     {"head", head ? bj::value(head->number) : bj::value(nullptr)},
                     {"head_semver", head ? bj::value(head->semver) : bj::value(nullptr)}};
        if (name != "main") {
          o["base_version"] = b.base_version;
          o["created_by"] = b.created_by;
          o["created_at"] = FormatRfc3339(FromUnixMillis(b.created_at));
        }
        data.push_back(std::move(o));
      }
      return JsonResponse(200, bj::object{{"data", std::move(data)}});
    });
  }

  Response CreateBranch(Request& req, const Actor& a) {
    return Handle([&]() -> Result<Response> {
      PO_ASSIGN_OR_RETURN(bj::object body, JsonBody(req));
      PO_ASSIGN_OR_RETURN(std::string branch, json::RequireString(body, "name"));
      PO_ASSIGN_OR_RETURN(auto from, json::OptInt(body, "from"));
      PO_ASSIGN_OR_RETURN(auto b, reg_.CreateBranch(a, req.Param("name"), branch, from));
      return JsonResponse(201, bj::object{{"name", branch}, {"base_version", b.base_version}});
    });
  }

  Response Merge(Request& req, const Actor& a) {
    return Handle([&]() -> Result<Response> {
      PO_ASSIGN_OR_RETURN(bj::object body, JsonBody(req, /*allow_empty=*/true));
      PO_ASSIGN_OR_RETURN(auto force, json::OptBool(body, "force"));
      PO_ASSIGN_OR_RETURN(auto message, json::OptString(body, "message"));
      PO_ASSIGN_OR_RETURN(auto r, reg_.Merge(a, req.Param("name"), req.Param("branch"),
                                             force.value_or(false), message.value_or("")));
      return JsonResponse(r.created ? 201 : 200, PushResultJson(r));
    });
  }

  Response Log(Request& req, const Actor& a) {
    return Handle([&]() -> Result<Response> {
      PO_ASSIGN_OR_RETURN(auto p, reg_.Get(a, req.Param("name")));
      bj::array data;
      for (auto it = p->versions.rbegin(); it != p->versions.rend(); ++it) {
        const auto& v = **it;
        bj::object o{{"version", v.number},
                     {"semver", v.semver},
                     {"branch", v.branch},
                     {"parent", v.parent ? bj::value(*v.parent) : bj::value(nullptr)},
                     {"author", v.author},
                     {"message", v.message},
                     {"labels", bj::value_from(p->LabelsOf(v.number))},
                     {"created_at", FormatRfc3339(FromUnixMillis(v.created_at))}};
        if (v.merged_from) o["merged_from"] = *v.merged_from;
        data.push_back(std::move(o));
      }
      return JsonResponse(200, bj::object{{"data", std::move(data)}});
    });
  }

  // Resolves ?from= and ?to= (numbers, labels or branch:NAME); defaults: to = latest,
  // from = to's parent.
  Result<std::pair<const VersionView*, const VersionView*>> Pair(const Request& req,
                                                                 const PromptView& p) {
    const VersionView* to = nullptr;
    if (auto t = req.Query("to")) {
      PO_ASSIGN_OR_RETURN(to, VersionRef(reg_, p, *t));
    } else {
      to = p.Latest();
      if (!to) return Error::NotFound("prompt has no versions");
    }
    const VersionView* from = nullptr;
    if (auto f = req.Query("from")) {
      PO_ASSIGN_OR_RETURN(from, VersionRef(reg_, p, *f));
    } else {
      if (!to->parent)
        return Error::InvalidArgument("version " + std::to_string(to->number) +
                                      " has no parent; give ?from=");
      from = p.ByNumber(*to->parent);
    }
    return std::make_pair(from, to);
  }

  Response Diff(Request& req, const Actor& a) {
    return Handle([&]() -> Result<Response> {
      PO_ASSIGN_OR_RETURN(auto p, reg_.Get(a, req.Param("name")));
      PO_ASSIGN_OR_RETURN(auto pair, Pair(req, *p));
      auto [from, to] = pair;
      PO_ASSIGN_OR_RETURN(auto context, QueryInt(req, "context", 0, 1000));
      int ctx_lines = static_cast<int>(context.value_or(3));
      std::string a_text = registry::ContentAsText(from->content);
      std::string b_text = registry::ContentAsText(to->content);
      std::string a_cfg = bj::serialize(from->config), b_cfg = bj::serialize(to->config);
      // Config as one key per line, sorted, so that diffs are readable.
      auto config_lines = [](const bj::object& c) {
        std::vector<std::string> lines;
        for (const auto& kv : c)
          lines.push_back(std::string(kv.key()) + ": " + json::CanonicalSerialize(kv.value()));
        std::sort(lines.begin(), lines.end());
        std::string out;
        for (auto& l : lines) out += l + "\n";
        return out;
      };
      std::string a_c = config_lines(from->config), b_c = config_lines(to->config);
      std::string from_label = p->name + "#" + std::to_string(from->number);
      std::string to_label = p->name + "#" + std::to_string(to->number);
      std::string content_diff =
          registry::UnifiedDiff(a_text, b_text, from_label, to_label, ctx_lines);
      std::string config_diff =
          registry::UnifiedDiff(a_c, b_c, from_label + " config", to_label + " config", ctx_lines);
      if (req.Query("format").value_or("json") == "text") {
        return Response::Text(200, content_diff + config_diff, "text/x-diff; charset=utf-8");
      }
      bj::object o;
      o["from"] = from->number;
      o["to"] = to->number;
      o["from_semver"] = from->semver;
      o["to_semver"] = to->semver;
      o["identical"] = content_diff.empty() && config_diff.empty();
      o["content"] = bj::object{
          {"unified", content_diff},
          {"hunks", registry::HunksToJson(registry::LineDiff(a_text, b_text, ctx_lines))}};
      o["config"] =
          bj::object{{"unified", config_diff},
                     {"hunks", registry::HunksToJson(registry::LineDiff(a_c, b_c, ctx_lines))}};
      return JsonResponse(200, o);
    });
  }

  Response Compat(Request& req, const Actor& a) {
    return Handle([&]() -> Result<Response> {
      PO_ASSIGN_OR_RETURN(auto p, reg_.Get(a, req.Param("name")));
      PO_ASSIGN_OR_RETURN(auto pair, Pair(req, *p));
      auto [from, to] = pair;
      bj::object o = registry::ToJson(registry::Registry::Compat(*from, *to));
      o["from"] = from->number;
      o["to"] = to->number;
      o["from_semver"] = from->semver;
      o["to_semver"] = to->semver;
      return JsonResponse(200, o);
    });
  }

  Response Render(Request& req, const Actor& a) {
    return Handle([&]() -> Result<Response> {
      PO_ASSIGN_OR_RETURN(bj::object body, JsonBody(req, /*allow_empty=*/true));
      PO_ASSIGN_OR_RETURN(bj::object vars, OptObjectCopy(body, "variables"));
      registry::Selector s;
      PO_ASSIGN_OR_RETURN(s.label, json::OptString(body, "label"));
      PO_ASSIGN_OR_RETURN(s.number, json::OptInt(body, "version"));
      PO_ASSIGN_OR_RETURN(s.branch, json::OptString(body, "branch"));
      if ((s.label ? 1 : 0) + (s.number ? 1 : 0) + (s.branch ? 1 : 0) > 1) {
        return Error::InvalidArgument("give at most one of label, version, branch");
      }
      PO_ASSIGN_OR_RETURN(auto strict, json::OptBool(body, "strict"));
      PO_ASSIGN_OR_RETURN(auto r,
                          reg_.Render(a, req.Param("name"), s, vars, strict.value_or(true)));
      bj::object o;
      o["name"] = r.prompt->name;
      o["version"] = r.version->number;
      o["semver"] = r.version->semver;
      o["type"] = registry::PromptTypeName(r.version->content.type);
      o["config"] = r.version->config;
      if (r.rendered.is_string())
        o["text"] = r.rendered;
      else
        o["messages"] = r.rendered;
      return JsonResponse(200, o);
    });
  }

  Response Changelog(Request& req, const Actor& a) {
    return Handle([&]() -> Result<Response> {
      PO_ASSIGN_OR_RETURN(auto entries, reg_.Changelog(a, req.Param("name")));
      if (req.Query("format").value_or("json") == "markdown") {
        std::string md = "# Changelog: " + std::string(req.Param("name")) + "\n\n";
        for (const auto& e : entries) {
          md += "- " + FormatRfc3339(FromUnixMillis(e.at)) + " ";
          if (e.kind == "version") {
            md += "**v" + std::to_string(e.version) + " (" + e.semver + ")** " + e.text + " — " +
                  e.actor + "\n";
          } else {
            md += "label " + e.text + " — " + e.actor + "\n";
          }
        }
        return Response::Text(200, md, "text/markdown; charset=utf-8");
      }
      bj::array data;
      for (const auto& e : entries) {
        data.push_back(bj::object{{"at", FormatRfc3339(FromUnixMillis(e.at))},
                                  {"kind", e.kind},
                                  {"version", e.version},
                                  {"semver", e.semver},
                                  {"actor", e.actor},
                                  {"text", e.text}});
      }
      return JsonResponse(200, bj::object{{"data", std::move(data)}});
    });
  }

  static bj::object KeyJson(const store::ApiKeyRow& k) {
    bj::object o{{"id", k.public_id},
                 {"role", k.role},
                 {"name", k.name},
                 {"created_by", k.created_by},
                 {"created_at", FormatRfc3339(FromUnixMillis(k.created_at))},
                 {"revoked", k.revoked_at.has_value()}};
    if (k.revoked_at) o["revoked_at"] = FormatRfc3339(FromUnixMillis(*k.revoked_at));
    return o;
  }

  Response ListKeys(Request&, const Actor& a) {
    return Handle([&]() -> Result<Response> {
      PO_ASSIGN_OR_RETURN(auto keys, ctx_.keys.List(a));
      bj::array data;
      for (const auto& k : keys) data.push_back(KeyJson(k));
      return JsonResponse(200, bj::object{{"data", std::move(data)}});
    });
  }

  Response CreateKey(Request& req, const Actor& a) {
    return Handle([&]() -> Result<Response> {
      PO_ASSIGN_OR_RETURN(bj::object body, JsonBody(req, /*allow_empty=*/true));
      PO_ASSIGN_OR_RETURN(auto role_name, json::OptString(body, "role"));
      auto role = ParseRole(role_name.value_or("viewer"));
      if (!role) return Error::InvalidArgument("role must be admin, editor or viewer");
      governance::KeyRequest kr;
      kr.role = *role;
      PO_ASSIGN_OR_RETURN(auto name, json::OptString(body, "name"));
      kr.name = name.value_or("");
      PO_ASSIGN_OR_RETURN(kr.public_id, json::OptString(body, "id"));
      PO_ASSIGN_OR_RETURN(auto created, ctx_.keys.Create(a, kr));
      bj::object o = KeyJson(created.key);
      o["secret"] = created.secret;
      return JsonResponse(201, o);
    });
  }

  Response RevokeKey(Request& req, const Actor& a) {
    auto s = ctx_.keys.Revoke(a, req.Param("id"));
    if (!s.ok()) return Response::FromError(s.error());
    return Response::NoContent();
  }

  ApiContext& ctx_;
  registry::Registry& reg_;
};

}  // namespace

void AddAdminRoutes(http::Router& router, ApiContext& ctx) {
  std::make_shared<AdminApi>(ctx)->Register(router);
}

void AddHealthRoutes(http::Router& router, ApiContext& ctx) {
  router.Add("GET", "/healthz", [&ctx](Request&) {
    return JsonResponse(200, bj::object{{"status", "ok"}, {"version", ctx.version}});
  });
  router.Add("GET", "/readyz", [&ctx](Request&) {
    bool ready = ctx.ready && ctx.ready->load();
    return JsonResponse(ready ? 200 : 503, bj::object{{"status", ready ? "ready" : "not ready"}});
  });
}

}  // namespace promptops::api
