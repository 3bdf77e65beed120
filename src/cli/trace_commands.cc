// The `trace ...` client commands: list, show, export and feedback, over the traces API
// (src/api/traces_api.cc).
#include "cli/trace_commands.h"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>

#include "cli/api_client.h"
#include "cli/command_table.h"
#include "cli/output.h"
#include "core/json.h"
#include "http/message.h"

namespace promptops::cli {

namespace bj = boost::json;

namespace {

std::string Field(const bj::object& o, std::string_view key) {
  return ScalarText(o.if_contains(key));
}

std::int64_t IntField(const bj::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_int64() ? v->as_int64() : 0;
}

std::string PromptText(const bj::object& t) {
  const auto* p = t.if_contains("prompt");
  if (!p || !p->is_object()) return "-";
  const auto& o = p->as_object();
  std::string s = Field(o, "name") + "@v" + Field(o, "version");
  return s;
}

std::string CostText(const bj::object& t) {
  const auto* v = t.if_contains("cost_usd");
  double c = v && v->is_number() ? v->to_number<double>() : 0;
  char buf[32];
  std::snprintf(buf, sizeof buf, "$%.6f", c);
  return buf;
}

std::string StatusText(const bj::object& t) {
  std::string s = Field(t, "status");
  const auto* e = t.if_contains("error_class");
  if (e && e->is_string()) s += " " + std::string(e->as_string());
  return s;
}

std::string TokensText(const bj::object& t) {
  const auto* u = t.if_contains("usage");
  if (!u || !u->is_object()) return "-";
  const auto& o = u->as_object();
  std::string s = Field(o, "input_tokens") + "/" + Field(o, "output_tokens");
  const auto* est = o.if_contains("estimated");
  if (est && est->is_bool() && est->as_bool()) s += "~";
  return s;
}

// Filters shared by list and export, as query parameters.
struct Filters {
  std::string from, to, prompt, model, status, user, error_class;
  std::int64_t version = 0;

  void AddTo(CLI::App* cmd) {
    cmd->add_option("--from", from, "Only traces at or after this RFC 3339 time");
    cmd->add_option("--to", to, "Only traces before this RFC 3339 time");
    cmd->add_option("--prompt", prompt, "Prompt name");
    cmd->add_option("--version", version, "Prompt version")->check(CLI::PositiveNumber);
    cmd->add_option("--model", model, "Model as requested");
    cmd->add_option("--status", status, "HTTP status, or 'error' for every failure");
    cmd->add_option("--error-class", error_class, "e.g. rate_limited, timeout");
    cmd->add_option("--user", user, "End user id");
  }
  void AddQueryTo(std::string& path) const {
    if (!from.empty()) AddQuery(path, "from", from);
    if (!to.empty()) AddQuery(path, "to", to);
    if (!prompt.empty()) AddQuery(path, "prompt", prompt);
    if (version > 0) AddQuery(path, "version", std::to_string(version));
    if (!model.empty()) AddQuery(path, "model", model);
    if (!status.empty()) AddQuery(path, "status", status);
    if (!error_class.empty()) AddQuery(path, "error_class", error_class);
    if (!user.empty()) AddQuery(path, "user", user);
  }
};

}  // namespace

std::string DurationText(std::int64_t us) {
  char buf[32];
  if (us >= 1'000'000) {
    std::snprintf(buf, sizeof buf, "%.1fs", static_cast<double>(us) / 1e6);
  } else if (us >= 1000) {
    std::snprintf(buf, sizeof buf, "%lldms", static_cast<long long>(us / 1000));
  } else {
    std::snprintf(buf, sizeof buf, "%lldus", static_cast<long long>(us));
  }
  return buf;
}

std::string TraceListText(const bj::object& page) {
  Table t({"ID", "TIME", "PROMPT", "MODEL", "STATUS", "LATENCY", "TOKENS", "COST", "USER"});
  const auto* data = page.if_contains("data");
  std::size_t n = 0;
  if (data && data->is_array()) {
    for (const auto& v : data->as_array()) {
      if (!v.is_object()) continue;
      const auto& o = v.as_object();
      t.AddRow({Field(o, "id"), Field(o, "time"), PromptText(o), Field(o, "model"), StatusText(o),
                DurationText(IntField(o, "latency_us")), TokensText(o), CostText(o),
                Field(o, "user").empty() ? "-" : Field(o, "user")});
      ++n;
    }
  }
  std::string out = t.Render();
  std::int64_t total = IntField(page, "total");
  if (static_cast<std::int64_t>(n) < total) {
    out += std::to_string(n) + " of " + std::to_string(total) + " traces (offset " +
           Field(page, "offset") + "; use --offset/--limit for more)\n";
  }
  return out;
}

std::string TraceShowText(const bj::object& t) {
  std::vector<std::pair<std::string, std::string>> kv;
  kv.emplace_back("id", Field(t, "id"));
  kv.emplace_back("time", Field(t, "time"));
  kv.emplace_back("status", StatusText(t));
  kv.emplace_back("prompt", PromptText(t));
  if (const auto* p = t.if_contains("prompt"); p && p->is_object()) {
    if (!Field(p->as_object(), "label").empty())
      kv.emplace_back("label", Field(p->as_object(), "label"));
  }
  kv.emplace_back("model", Field(t, "model"));
  if (!Field(t, "provider").empty() || !Field(t, "upstream_model").empty()) {
    kv.emplace_back("upstream", Field(t, "provider") + " " + Field(t, "upstream_model"));
  }
  kv.emplace_back("latency", DurationText(IntField(t, "latency_us")));
  if (const auto* ttft = t.if_contains("ttft_us"); ttft && ttft->is_int64()) {
    kv.emplace_back("ttft", DurationText(ttft->as_int64()));
  }
  kv.emplace_back("tokens", TokensText(t) + " (input/output)");
  kv.emplace_back("cost", CostText(t));
  std::vector<std::string> flags;
  for (const char* f : {"stream", "cache_hit", "fallback_used"}) {
    const auto* v = t.if_contains(f);
    if (v && v->is_bool() && v->as_bool()) flags.emplace_back(f);
  }
  if (IntField(t, "retries") > 0) flags.push_back("retries=" + Field(t, "retries"));
  if (!flags.empty()) kv.emplace_back("flags", Join(flags, ", "));
  if (!Field(t, "user").empty()) kv.emplace_back("user", Field(t, "user"));
  if (!Field(t, "session").empty()) kv.emplace_back("session", Field(t, "session"));
  if (!Field(t, "key_id").empty()) kv.emplace_back("key", Field(t, "key_id"));
  if (const auto* m = t.if_contains("metadata"); m && m->is_object() && !m->as_object().empty()) {
    kv.emplace_back("metadata", json::Serialize(*m));
  }
  std::string out = KeyValues(kv);
  if (const auto* fb = t.if_contains("feedback"); fb && fb->is_array() && !fb->as_array().empty()) {
    out += "\nfeedback:\n";
    for (const auto& v : fb->as_array()) {
      if (!v.is_object()) continue;
      const auto& f = v.as_object();
      std::string line = "  " + Field(f, "created_at") + "  ";
      line += Field(f, "value") == "score" ? "score " + Field(f, "score") : Field(f, "value");
      if (!Field(f, "user").empty()) line += "  by " + Field(f, "user");
      if (!Field(f, "comment").empty()) line += "  \"" + Field(f, "comment") + "\"";
      out += line + "\n";
    }
  }
  for (const char* body : {"request_body", "response_body"}) {
    std::string text = Field(t, body);
    if (text.empty()) continue;
    out += "\n" + std::string(body) + ":\n" + text;
    if (text.back() != '\n') out += "\n";
  }
  return out;
}

void AddTraceCommands(CLI::App& app, CommandTable& table) {
  CLI::App* trace = app.add_subcommand("trace", "Inspect gateway traces and send feedback.");
  trace->require_subcommand(1);

  struct ListOpts {
    Filters filters;
    std::int64_t limit = 50, offset = 0;
  };
  auto list = std::make_shared<ListOpts>();
  CLI::App* l =
      table.Add(*trace, "list", "List traces, newest first.", [list](Session& s) -> Result<int> {
        std::string path = "/api/v1/traces";
        list->filters.AddQueryTo(path);
        AddQuery(path, "limit", std::to_string(list->limit));
        AddQuery(path, "offset", std::to_string(list->offset));
        PO_ASSIGN_OR_RETURN(bj::value r, s.api().Call("GET", path));
        if (s.json()) {
          s.Out(PrettyJson(r));
        } else if (r.is_object()) {
          s.Out(TraceListText(r.as_object()));
        }
        return 0;
      });
  list->filters.AddTo(l);
  l->add_option("--limit", list->limit, "Traces per page (1-500)")
      ->check(CLI::Range(1, 500))
      ->capture_default_str();
  l->add_option("--offset", list->offset, "Traces to skip")->check(CLI::NonNegativeNumber);
  l->footer("Example:\n  promptops trace list --prompt support/bot --status error --limit 20");

  auto show_id = std::make_shared<std::string>();
  CLI::App* sh = table.Add(
      *trace, "show", "Show one trace with its bodies and feedback.",
      [show_id](Session& s) -> Result<int> {
        PO_ASSIGN_OR_RETURN(bj::value r,
                            s.api().Call("GET", "/api/v1/traces/" + http::UrlEncode(*show_id)));
        if (s.json()) {
          s.Out(PrettyJson(r));
        } else if (r.is_object()) {
          s.Out(TraceShowText(r.as_object()));
        }
        return 0;
      });
  sh->add_option("ID", *show_id, "Trace id (tr-...)")->required();
  sh->footer("Example:\n  promptops trace show tr-8f2a... -o json");

  struct ExportOpts {
    Filters filters;
    std::int64_t limit = 0;
  };
  auto exp = std::make_shared<ExportOpts>();
  CLI::App* ex = table.Add(*trace, "export",
                           "Write matching traces as JSON lines (one trace per line) to stdout.",
                           [exp](Session& s) -> Result<int> {
                             std::string path = "/api/v1/traces/export";
                             exp->filters.AddQueryTo(path);
                             if (exp->limit > 0)
                               AddQuery(path, "limit", std::to_string(exp->limit));
                             PO_ASSIGN_OR_RETURN(std::string body, s.api().CallText("GET", path));
                             s.Out(body);
                             return 0;
                           });
  exp->filters.AddTo(ex);
  ex->add_option("--limit", exp->limit,
                 "At most this many traces (server default 10000, max "
                 "100000)")
      ->check(CLI::Range(1, 100000));
  ex->footer("Example:\n  promptops trace export --from 2026-01-01T00:00:00Z > traces.jsonl");

  struct FeedbackOpts {
    std::string id, value, comment, user;
    std::int64_t score = 0;
  };
  auto fb = std::make_shared<FeedbackOpts>();
  CLI::App* f = table.Add(
      *trace, "feedback", "Record feedback on a trace: up, down or --score 1..5.",
      [fb](Session& s) -> Result<int> {
        bj::object body;
        if (!fb->value.empty() && fb->score > 0) {
          return Error::InvalidArgument("give either up/down or --score, not both");
        }
        if (!fb->value.empty()) {
          body["value"] = fb->value;
        } else if (fb->score > 0) {
          body["score"] = fb->score;
        } else {
          return Error::InvalidArgument("give up, down or --score N");
        }
        if (!fb->comment.empty()) body["comment"] = fb->comment;
        if (!fb->user.empty()) body["user"] = fb->user;
        PO_ASSIGN_OR_RETURN(
            bj::value r,
            s.api().Call("POST", "/api/v1/traces/" + http::UrlEncode(fb->id) + "/feedback", body));
        if (s.json()) {
          s.Out(PrettyJson(r));
        } else {
          s.Out("feedback recorded on " + fb->id + "\n");
        }
        return 0;
      });
  f->add_option("ID", fb->id, "Trace id (tr-...)")->required();
  f->add_option("VALUE", fb->value, "up or down")->check(CLI::IsMember({"up", "down"}));
  f->add_option("--score", fb->score, "A score from 1 to 5 instead of up/down")
      ->check(CLI::Range(1, 5));
  f->add_option("--comment", fb->comment, "Free text");
  f->add_option("--user", fb->user, "Who gives the feedback (default: the trace's user)");
  f->footer(
      "Examples:\n  promptops trace feedback tr-8f2a... up\n"
      "  promptops trace feedback tr-8f2a... --score 2 --comment \"too long\"");
}

}  // namespace promptops::cli
