// The `prompt ...` client commands: each maps to one or a few calls of the REST API
// (src/api/admin_api.cc) and prints a table/text for people or the API's JSON with -o json.
#include <CLI/CLI.hpp>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <memory>

#include "cli/api_client.h"
#include "cli/command_table.h"
#include "cli/output.h"
#include "cli/prompt_sync.h"
#include "core/json.h"
#include "http/message.h"
#include "registry/prompt_file.h"

namespace promptops::cli {

namespace bj = boost::json;
using registry::PromptFile;

namespace {

// --label / --version / --branch: which version of a prompt a command works on.
struct VersionSelector {
  std::string label;
  std::int64_t version = 0;
  std::string branch;

  void AddTo(CLI::App* cmd, std::string_view label_default_doc) {
    auto* l = cmd->add_option("--label", label,
                              "Version the label points at" + std::string(label_default_doc));
    auto* v = cmd->add_option("--version", version, "Version number")->check(CLI::PositiveNumber);
    auto* b = cmd->add_option("--branch", branch, "Head of this branch");
    l->excludes(v)->excludes(b);
    v->excludes(b);
  }
  // Appends the selector as query parameters.
  void AddQueryTo(std::string& path) const {
    if (!label.empty()) AddQuery(path, "label", label);
    if (version > 0) AddQuery(path, "version", std::to_string(version));
    if (!branch.empty()) AddQuery(path, "branch", branch);
  }
  void AddBodyTo(bj::object& body) const {
    if (!label.empty()) body["label"] = label;
    if (version > 0) body["version"] = version;
    if (!branch.empty()) body["branch"] = branch;
  }
};

std::string Field(const bj::object& o, std::string_view key) {
  return ScalarText(o.if_contains(key));
}

std::string VersionText(const bj::object& v) {
  return "v" + Field(v, "version") + " (" + Field(v, "semver") + ")";
}

std::string WithNewline(std::string s) {
  if (!s.empty() && s.back() != '\n') s += '\n';
  return s;
}

std::string OrDash(std::string s) { return s.empty() ? "-" : s; }

// The display of one version (GET /prompts/{name} "version", or GET .../versions/{n}).
std::string ShowVersion(const bj::object& prompt, const bj::object& v) {
  std::vector<std::pair<std::string, std::string>> kv;
  kv.emplace_back("name", Field(v, "name"));
  kv.emplace_back("version",
                  Field(v, "version") + " (" + Field(v, "semver") + ") on " + Field(v, "branch"));
  kv.emplace_back("type", Field(v, "type"));
  if (!Field(prompt, "description").empty())
    kv.emplace_back("description", Field(prompt, "description"));
  if (auto tags = StringList(prompt.if_contains("tags")); !tags.empty())
    kv.emplace_back("tags", Join(tags, ", "));
  kv.emplace_back("labels", Join(StringList(v.if_contains("labels")), ", "));
  kv.emplace_back("variables", Join(StringList(v.if_contains("variables")), ", "));
  if (auto ph = StringList(v.if_contains("placeholders")); !ph.empty())
    kv.emplace_back("placeholders", Join(ph, ", "));
  const auto* config = v.if_contains("config");
  if (config && config->is_object() && !config->as_object().empty())
    kv.emplace_back("config", json::Serialize(*config));
  const auto* metadata = v.if_contains("metadata");
  if (metadata && metadata->is_object() && !metadata->as_object().empty())
    kv.emplace_back("metadata", json::Serialize(*metadata));
  kv.emplace_back("author", Field(v, "author") + ", " + Field(v, "created_at"));
  if (!Field(v, "message").empty()) kv.emplace_back("message", Field(v, "message"));
  std::string out = KeyValues(kv);
  PromptFile f;
  if (const auto* content = v.if_contains("prompt");
      content && SetContent(f, Field(v, "type"), *content).ok()) {
    out += "\n" + WithNewline(BodyText(f));
  }
  return out;
}

// Reads the prompt file or text given to `prompt create --file`: a file starting with "---"
// is a prompt file; anything else is the body alone (template text, or chat sections).
Result<PromptFile> ReadCreateFile(const std::string& path, const std::string& type) {
  PO_ASSIGN_OR_RETURN(std::string content, ReadWholeFile(path));
  if (content.rfind("---\n", 0) == 0) {
    auto f = registry::ParsePromptFile(content);
    if (!f.ok()) return Error::InvalidArgument(path + ": " + f.error().message);
    return std::move(f).value();
  }
  if (type == "chat") {
    auto f = registry::ParsePromptFile("---\ntype: chat\n---\n" + content);
    if (!f.ok()) return Error::InvalidArgument(path + ": " + f.error().message);
    return std::move(f).value();
  }
  PromptFile f;
  f.text = std::move(content);
  return f;
}

void AddCreate(CLI::App& prompt, CommandTable& table) {
  struct Opts {
    std::string name, type, file, text, config, metadata, message, description;
    std::vector<std::string> labels, tags;
    std::size_t text_given = 0;  // --text "" is a valid (empty) template
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = table.Add(
      prompt, "create", "Create a prompt with its first version.", [o](Session& s) -> Result<int> {
        PromptFile f;
        if (o->file.empty() && o->text_given == 0) {
          return Error::InvalidArgument("give the template with --file FILE or --text TEXT");
        }
        if (!o->file.empty()) {
          PO_ASSIGN_OR_RETURN(f, ReadCreateFile(o->file, o->type));
          if (!f.name.empty() && f.name != o->name) {
            return Error::InvalidArgument("file '" + o->file + "' names prompt '" + f.name +
                                          "', not '" + o->name + "'");
          }
          if (!o->type.empty() && o->type != f.type) {
            return Error::InvalidArgument("--type " + o->type + " does not match the type of '" +
                                          o->file + "' (" + f.type + ")");
          }
        } else {
          f.type = o->type.empty() ? "text" : o->type;
          if (f.type == "chat") {
            auto parsed = registry::ParsePromptFile("---\ntype: chat\n---\n" + o->text);
            if (!parsed.ok()) return Error::InvalidArgument("--text: " + parsed.error().message);
            f.messages = parsed->messages;
          } else {
            f.text = o->text;
          }
        }
        f.name = o->name;
        if (!o->config.empty()) {
          PO_ASSIGN_OR_RETURN(f.config, ParseObjectArg(o->config, "--config"));
        }
        if (!o->metadata.empty()) {
          PO_ASSIGN_OR_RETURN(f.metadata, ParseObjectArg(o->metadata, "--metadata"));
        }
        if (!o->labels.empty()) f.labels = o->labels;
        if (!o->tags.empty()) f.tags = o->tags;
        if (!o->description.empty()) f.description = o->description;
        if (!o->message.empty()) f.message = o->message;
        bj::object body = PushBody(f, "");
        body["name"] = f.name;
        PO_ASSIGN_OR_RETURN(bj::value r, s.api().Call("POST", "/api/v1/prompts", body));
        if (s.json()) {
          s.Out(PrettyJson(r));
        } else {
          s.Out("created " + f.name + " " + VersionText(r.as_object().at("version").as_object()) +
                "\n");
        }
        return 0;
      });
  cmd->add_option("NAME", o->name, "Prompt name, e.g. support/refund-bot")->required();
  cmd->add_option("--type", o->type, "text or chat (default: the file's type, else text)")
      ->check(CLI::IsMember({"text", "chat"}));
  auto* file = cmd->add_option(
      "--file", o->file,
      "Prompt file (front matter + body) or a body alone; see docs/prompt-files.md");
  auto* text = cmd->add_option("--text", o->text, "Template text (chat: '@role' sections)");
  file->excludes(text);
  cmd->final_callback([o, text] { o->text_given = text->count(); });
  cmd->add_option("--config", o->config, "Model config as a JSON object");
  cmd->add_option("--metadata", o->metadata, "Metadata as a JSON object");
  cmd->add_option("-m,--message", o->message, "Commit message");
  cmd->add_option("--label", o->labels, "Label to point at the version (repeatable)")
      ->allow_extra_args(false);
  cmd->add_option("--description", o->description, "Prompt description");
  cmd->add_option("--tag", o->tags, "Tag (repeatable)")->allow_extra_args(false);
  cmd->footer(
      "Examples:\n"
      "  promptops prompt create greeting --type text --text 'Hello {{name}}!' --label staging\n"
      "  promptops prompt create support/refund-bot --type chat --file refund-bot.prompt \\\n"
      "      --config '{\"model\":\"gpt-4o-mini\"}' -m 'first version'");
}

bool StopsPush(ErrorCode code) {
  return code == ErrorCode::kUnavailable || code == ErrorCode::kUnauthenticated ||
         code == ErrorCode::kTimeout;
}

void AddPush(CLI::App& prompt, CommandTable& table) {
  struct Opts {
    std::string dir, message, branch;
    bool dry_run = false;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = table.Add(
      prompt, "push",
      "Push every *.prompt file of a directory as new versions (unchanged files create none).",
      [o](Session& s) -> Result<int> {
        PO_ASSIGN_OR_RETURN(auto files, registry::ReadPromptDir(o->dir));
        std::string fallback = o->message.empty() ? "push from " + o->dir : o->message;
        int created = 0, unchanged = 0, failed = 0;
        std::optional<Error> first_error;
        bj::array results;
        Table t({"STATUS", "PROMPT", "VERSION", "DETAIL"});
        for (const auto& f : files) {
          bj::object body = PushBody(f, fallback);
          if (!o->branch.empty()) body["branch"] = o->branch;
          bj::object res{{"name", f.name}};
          if (o->dry_run) {
            // Compare with the branch head: same content, config and metadata => unchanged.
            std::string path = PromptPath(f.name);
            AddQuery(path, "branch", o->branch.empty() ? "main" : o->branch);
            auto cur = s.api().Call("GET", path);
            std::string status = "create";
            if (cur.ok()) {
              const auto& v = cur->as_object().at("version").as_object();
              bool same = json::CanonicalSerialize(v.at("prompt")) ==
                              json::CanonicalSerialize(body["prompt"]) &&
                          json::CanonicalSerialize(v.at("config")) ==
                              json::CanonicalSerialize(body["config"]) &&
                          json::CanonicalSerialize(v.at("metadata")) ==
                              json::CanonicalSerialize(body["metadata"]);
              status = same ? "unchanged" : "new version";
              res["version"] = v.at("version");
              t.AddRow({"would " + std::string(same ? "keep" : "push"), f.name,
                        "v" + Field(v, "version"), status});
            } else if (cur.error().code == ErrorCode::kNotFound) {
              t.AddRow({"would create", f.name, "-", "new prompt"});
            } else {
              return cur.error();
            }
            res["status"] = status;
            results.push_back(std::move(res));
            continue;
          }
          auto r = s.api().Call("POST", PromptPath(f.name, "/versions"), body);
          if (!r.ok()) {
            ++failed;
            if (!first_error) first_error = r.error();
            res["status"] = "failed";
            res["error"] =
                bj::object{{"code", ErrorCodeName(r.error().code)}, {"message", r.error().message}};
            t.AddRow({"failed", f.name, "-", r.error().message});
            results.push_back(std::move(res));
            if (StopsPush(r.error().code)) break;
            continue;
          }
          const auto& ro = r->as_object();
          const auto& v = ro.at("version").as_object();
          bool was_created = ro.at("created").as_bool();
          (was_created ? created : unchanged)++;
          res["status"] = was_created ? "created" : "unchanged";
          res["version"] = v.at("version");
          res["semver"] = v.at("semver");
          t.AddRow({was_created ? "created" : "unchanged", f.name, VersionText(v),
                    ro.at("prompt_created").as_bool() ? "new prompt" : ""});
          results.push_back(std::move(res));
        }
        if (s.json()) {
          s.Out(PrettyJson(bj::object{{"dry_run", o->dry_run},
                                      {"results", std::move(results)},
                                      {"created", created},
                                      {"unchanged", unchanged},
                                      {"failed", failed}}));
        } else {
          s.Out(t.Render());
          if (o->dry_run) {
            s.Out("dry run: " + std::to_string(files.size()) + " prompt files, nothing pushed\n");
          } else {
            s.Out(std::to_string(files.size()) + " prompt files: " + std::to_string(created) +
                  " created, " + std::to_string(unchanged) + " unchanged, " +
                  std::to_string(failed) + " failed\n");
          }
        }
        if (first_error) {
          return Error{first_error->code,
                       std::to_string(failed) + " of " + std::to_string(files.size()) +
                           " prompt files failed; first: " + first_error->message};
        }
        return 0;
      });
  cmd->add_option("DIR", o->dir, "Directory of *.prompt files (names from their paths)")
      ->required();
  cmd->add_option("-m,--message", o->message,
                  "Commit message for files without 'message:' (default 'push from DIR')");
  cmd->add_option("--branch", o->branch,
                  "Push to this branch (created with 'prompt branch') instead of main");
  cmd->add_flag("--dry-run", o->dry_run, "Only show what would be pushed");
  cmd->footer(
      "Each file becomes a version on main (or --branch) unless its content, config and metadata "
      "equal the\n"
      "current head (then nothing is created). Failures are reported per file; the exit code is\n"
      "that of the first failure.\n"
      "Example:\n  promptops prompt push prompts/ -m 'sync from git'");
}

void AddExport(CLI::App& prompt, CommandTable& table) {
  struct Opts {
    std::string dir, label;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = table.Add(
      prompt, "export", "Write every prompt as a *.prompt file into a directory.",
      [o](Session& s) -> Result<int> {
        std::vector<std::string> names;
        for (std::size_t offset = 0;;) {
          std::string path = "/api/v1/prompts";
          AddQuery(path, "limit", "500");
          AddQuery(path, "offset", std::to_string(offset));
          if (!o->label.empty()) AddQuery(path, "label", o->label);
          PO_ASSIGN_OR_RETURN(bj::value page, s.api().Call("GET", path));
          const auto& data = page.as_object().at("data").as_array();
          for (const auto& p : data) names.push_back(Field(p.as_object(), "name"));
          offset += data.size();
          if (data.empty() || offset >= static_cast<std::size_t>(
                                            page.as_object().at("total").to_number<std::int64_t>()))
            break;
        }
        std::vector<PromptFile> files;
        bj::array written;
        Table t({"PROMPT", "VERSION", "FILE"});
        for (const auto& name : names) {
          std::string path = PromptPath(name);
          AddQuery(path, "label", o->label.empty() ? "latest" : o->label);
          PO_ASSIGN_OR_RETURN(bj::value r, s.api().Call("GET", path));
          PO_ASSIGN_OR_RETURN(PromptFile f, ExportedFile(r.as_object()));
          const auto& v = r.as_object().at("version").as_object();
          std::string file = name + std::string(registry::kPromptFileExtension);
          t.AddRow({name, VersionText(v), file});
          written.push_back(bj::object{{"name", name},
                                       {"version", v.at("version")},
                                       {"semver", v.at("semver")},
                                       {"file", file}});
          files.push_back(std::move(f));
        }
        PO_RETURN_IF_ERROR(registry::WritePromptDir(o->dir, files));
        if (s.json()) {
          s.Out(PrettyJson(bj::object{{"dir", o->dir}, {"files", std::move(written)}}));
        } else {
          s.Out(t.Render());
          s.Out("exported " + std::to_string(files.size()) + " prompts to " + o->dir + "\n");
        }
        return 0;
      });
  cmd->add_option("DIR", o->dir, "Directory to write (created if missing)")->required();
  cmd->add_option("--label", o->label,
                  "Export the version this label points at, for prompts that have it (default: "
                  "latest on main)");
  cmd->footer(
      "Files hold name, type, description, tags, the labels pointing at the exported version\n"
      "(not 'latest'), config, metadata and the body; never a commit message. Pushing an export\n"
      "back creates no new versions.\n"
      "Example:\n  promptops prompt export prompts/ --label production");
}

void AddGet(CLI::App& prompt, CommandTable& table) {
  struct Opts {
    std::string name;
    VersionSelector sel;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd =
      table.Add(prompt, "get", "Show one version of a prompt: its details and template.",
                [o](Session& s) -> Result<int> {
                  std::string path = PromptPath(o->name);
                  o->sel.AddQueryTo(path);
                  PO_ASSIGN_OR_RETURN(bj::value r, s.api().Call("GET", path));
                  if (s.json()) {
                    s.Out(PrettyJson(r));
                  } else {
                    s.Out(ShowVersion(r.as_object(), r.as_object().at("version").as_object()));
                  }
                  return 0;
                });
  cmd->add_option("NAME", o->name, "Prompt name")->required();
  o->sel.AddTo(cmd, " (default: 'production' if set, else latest)");
  cmd->footer(
      "Examples:\n  promptops prompt get support/refund-bot --label production\n"
      "  promptops prompt get support/refund-bot --version 3 -o json");
}

void AddList(CLI::App& prompt, CommandTable& table) {
  struct Opts {
    std::string tag, label, folder, search;
    int limit = 50, offset = 0;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = table.Add(prompt, "list", "List prompts.", [o](Session& s) -> Result<int> {
    std::string path = "/api/v1/prompts";
    if (!o->tag.empty()) AddQuery(path, "tag", o->tag);
    if (!o->label.empty()) AddQuery(path, "label", o->label);
    if (!o->folder.empty()) AddQuery(path, "folder", o->folder);
    if (!o->search.empty()) AddQuery(path, "q", o->search);
    AddQuery(path, "limit", std::to_string(o->limit));
    AddQuery(path, "offset", std::to_string(o->offset));
    PO_ASSIGN_OR_RETURN(bj::value r, s.api().Call("GET", path));
    if (s.json()) {
      s.Out(PrettyJson(r));
      return 0;
    }
    Table t({"NAME", "TYPE", "LATEST", "VERSIONS", "LABELS", "TAGS", "UPDATED"});
    const auto& data = r.as_object().at("data").as_array();
    for (const auto& item : data) {
      const auto& p = item.as_object();
      std::vector<std::string> labels;
      if (const auto* l = p.if_contains("labels"); l && l->is_object()) {
        for (const auto& kv : l->as_object()) {
          if (kv.key() != "latest")
            labels.push_back(std::string(kv.key()) + "=v" + ScalarText(&kv.value()));
        }
      }
      std::string latest = p.contains("labels") && p.at("labels").as_object().contains("latest")
                               ? "v" + ScalarText(&p.at("labels").as_object().at("latest")) + " (" +
                                     Field(p, "latest_semver") + ")"
                               : "-";
      t.AddRow({Field(p, "name"), Field(p, "type"), latest, Field(p, "versions"),
                OrDash(Join(labels, ",")), OrDash(Join(StringList(p.if_contains("tags")), ",")),
                Field(p, "updated_at")});
    }
    s.Out(t.Render());
    auto total = r.as_object().at("total").to_number<std::int64_t>();
    if (static_cast<std::int64_t>(o->offset) + static_cast<std::int64_t>(data.size()) < total ||
        o->offset > 0) {
      s.Out("(" + std::to_string(data.size()) + " of " + std::to_string(total) +
            " prompts from offset " + std::to_string(o->offset) +
            "; use --offset/--limit for more)\n");
    }
    return 0;
  });
  cmd->add_option("--tag", o->tag, "Only prompts with this tag");
  cmd->add_option("--label", o->label, "Only prompts that have this label");
  cmd->add_option("--folder", o->folder, "Only prompts in this folder (and below)");
  cmd->add_option("--search", o->search, "Only names containing this text");
  cmd->add_option("--limit", o->limit, "Page size (1..500)")
      ->check(CLI::Range(1, 500))
      ->capture_default_str();
  cmd->add_option("--offset", o->offset, "Skip this many prompts")->check(CLI::NonNegativeNumber);
  cmd->footer(
      "Examples:\n  promptops prompt list --folder support --label production\n  promptops prompt "
      "list -o json");
}

void AddLog(CLI::App& prompt, CommandTable& table) {
  auto name = std::make_shared<std::string>();
  CLI::App* cmd =
      table.Add(prompt, "log", "Show the version history, newest first, with branches and merges.",
                [name](Session& s) -> Result<int> {
                  PO_ASSIGN_OR_RETURN(bj::value r, s.api().Call("GET", PromptPath(*name, "/log")));
                  if (s.json()) {
                    s.Out(PrettyJson(r));
                    return 0;
                  }
                  std::string out;
                  for (const auto& item : r.as_object().at("data").as_array()) {
                    const auto& v = item.as_object();
                    bool on_main = Field(v, "branch") == "main";
                    std::string line = on_main ? "* " : "| * ";
                    line += "v" + Field(v, "version") + " " + Field(v, "semver") + " (" +
                            Field(v, "branch") + ")";
                    if (auto labels = StringList(v.if_contains("labels")); !labels.empty())
                      line += " [" + Join(labels, ", ") + "]";
                    if (!Field(v, "merged_from").empty())
                      line += " merge of v" + Field(v, "merged_from");
                    else if (!on_main && !Field(v, "parent").empty())
                      line += " parent v" + Field(v, "parent");
                    if (!Field(v, "message").empty()) line += " " + Field(v, "message");
                    line += " — " + Field(v, "author") + " " + Field(v, "created_at");
                    out += line + "\n";
                  }
                  s.Out(out);
                  return 0;
                });
  cmd->add_option("NAME", *name, "Prompt name")->required();
  cmd->footer(
      "Lines: '* vN SEMVER (branch) [labels] message — author date'; branch versions are\n"
      "indented with '| ', merges say which branch version they merged.\n"
      "Example:\n  promptops prompt log support/refund-bot");
}

// FROM/TO arguments of diff and compat, as query parameters.
struct Pair {
  std::string name, from, to;
  void AddTo(CLI::App* cmd) {
    cmd->add_option("NAME", name, "Prompt name")->required();
    cmd->add_option("FROM", from,
                    "Old version: number, label or branch:NAME (default: TO's parent)");
    cmd->add_option("TO", to, "New version: number, label or branch:NAME (default: latest)");
  }
  std::string Path(std::string_view endpoint) const {
    std::string p = PromptPath(name, endpoint);
    if (!from.empty()) AddQuery(p, "from", from);
    if (!to.empty()) AddQuery(p, "to", to);
    return p;
  }
};

void AddDiff(CLI::App& prompt, CommandTable& table) {
  struct Opts {
    Pair pair;
    std::string format = "text";
    int context = 3;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd =
      table.Add(prompt, "diff", "Show a unified diff of two versions (template and config).",
                [o](Session& s) -> Result<int> {
                  std::string path = o->pair.Path("/diff");
                  AddQuery(path, "context", std::to_string(o->context));
                  if (s.json() || o->format == "json") {
                    PO_ASSIGN_OR_RETURN(bj::value r, s.api().Call("GET", path));
                    s.Out(PrettyJson(r));
                    return 0;
                  }
                  AddQuery(path, "format", "text");
                  PO_ASSIGN_OR_RETURN(std::string diff, s.api().CallText("GET", path));
                  s.Out(UseColor() ? ColorizeDiff(diff) : diff);
                  return 0;
                });
  o->pair.AddTo(cmd);
  cmd->add_option("--format", o->format, "text (unified diff) or json (hunks)")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  cmd->add_option("--context", o->context, "Lines of context")
      ->check(CLI::Range(0, 1000))
      ->capture_default_str();
  cmd->footer(
      "Colourized when stdout is a terminal (unless NO_COLOR is set). Prints nothing when\n"
      "the versions are identical.\n"
      "Examples:\n  promptops prompt diff support/refund-bot 2 3\n"
      "  promptops prompt diff support/refund-bot production branch:shorter");
}

void AddCompat(CLI::App& prompt, CommandTable& table) {
  struct Opts {
    Pair pair;
    bool require_drop_in = false;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd =
      table.Add(prompt, "compat", "Check whether TO can replace FROM for existing callers.",
                [o](Session& s) -> Result<int> {
                  PO_ASSIGN_OR_RETURN(bj::value r, s.api().Call("GET", o->pair.Path("/compat")));
                  const auto& c = r.as_object();
                  bool drop_in = c.if_contains("drop_in") && c.at("drop_in").is_bool() &&
                                 c.at("drop_in").as_bool();
                  if (s.json()) {
                    s.Out(PrettyJson(r));
                  } else {
                    std::string out = o->pair.name + ": v" + Field(c, "from") + " (" +
                                      Field(c, "from_semver") + ") -> v" + Field(c, "to") + " (" +
                                      Field(c, "to_semver") + ")\n";
                    Table t({"CHANGE", "DETAIL"});
                    auto list_row = [&](std::string_view key, std::string label) {
                      auto items = StringList(c.if_contains(key));
                      if (!items.empty()) t.AddRow({std::move(label), Join(items, ", ")});
                    };
                    list_row("variables_added", "variables added");
                    list_row("variables_removed", "variables removed");
                    if (Field(c, "type_changed") == "true") t.AddRow({"type changed", "yes"});
                    list_row("config_keys_added", "config keys added");
                    list_row("config_keys_removed", "config keys removed");
                    list_row("config_keys_changed", "config keys changed");
                    if (Field(c, "model_changed") == "true") t.AddRow({"model changed", "yes"});
                    if (t.rows() > 0)
                      out += t.Render();
                    else
                      out += "no variable, type or config changes\n";
                    out += "bump: " + Field(c, "bump") + "\n";
                    out += std::string("drop-in: ") + (drop_in ? "yes" : "no") + "\n";
                    s.Out(out);
                  }
                  return o->require_drop_in && !drop_in ? 1 : 0;
                });
  o->pair.AddTo(cmd);
  cmd->add_flag("--require-drop-in", o->require_drop_in,
                "Exit 1 when TO is not a drop-in replacement (for CI)");
  cmd->footer(
      "Drop-in: no variable added or removed and the type unchanged. Exit 0 whatever the\n"
      "verdict, unless --require-drop-in.\n"
      "Example:\n  promptops prompt compat support/refund-bot production latest --require-drop-in");
}

void AddLabel(CLI::App& prompt, CommandTable& table) {
  struct Opts {
    std::string name, label, reason;
    std::int64_t version = 0;
    bool remove = false, protect = false, unprotect = false;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = table.Add(
      prompt, "label", "Point a label at a version, delete it, or list labels.",
      [o](Session& s) -> Result<int> {
        if (o->label.empty()) {  // list
          PO_ASSIGN_OR_RETURN(bj::value r, s.api().Call("GET", PromptPath(o->name, "/labels")));
          if (s.json()) {
            s.Out(PrettyJson(r));
            return 0;
          }
          Table t({"LABEL", "VERSION", "PROTECTED", "UPDATED BY", "UPDATED"});
          for (const auto& item : r.as_object().at("data").as_array()) {
            const auto& l = item.as_object();
            bool automatic = l.contains("automatic");
            t.AddRow({Field(l, "label"),
                      "v" + Field(l, "version") + " (" + Field(l, "semver") + ")",
                      Field(l, "protected") == "true" ? "yes" : "no",
                      automatic ? "(automatic)" : Field(l, "updated_by"),
                      OrDash(Field(l, "updated_at"))});
          }
          s.Out(t.Render());
          return 0;
        }
        std::string label_path = PromptPath(o->name, "/labels/" + http::UrlEncode(o->label));
        if (o->remove) {
          std::string path = label_path;
          if (!o->reason.empty()) AddQuery(path, "reason", o->reason);
          PO_RETURN_IF_ERROR(s.api().Call("DELETE", path));
          if (s.json())
            s.Out(PrettyJson(bj::object{{"label", o->label}, {"deleted", true}}));
          else
            s.Out("deleted label " + o->label + " of " + o->name + "\n");
          return 0;
        }
        std::int64_t version = o->version;
        if (version == 0) {
          if (!o->protect && !o->unprotect) {
            return Error::InvalidArgument(
                "give VERSION, --delete, --protect or --unprotect (or no LABEL to list labels)");
          }
          PO_ASSIGN_OR_RETURN(bj::value cur, s.api().Call("GET", label_path));
          version = cur.as_object().at("version").to_number<std::int64_t>();
        }
        bj::object body{{"version", version}};
        if (!o->reason.empty()) body["reason"] = o->reason;
        if (o->protect) body["protected"] = true;
        if (o->unprotect) body["protected"] = false;
        PO_ASSIGN_OR_RETURN(bj::value r, s.api().Call("PUT", label_path, body));
        if (s.json()) {
          s.Out(PrettyJson(r));
        } else {
          const auto& c = r.as_object();
          std::string from = Field(c, "from");
          std::string line =
              o->label + ": " + (from.empty() ? "set to v" : "v" + from + " -> v") + Field(c, "to");
          if (o->protect) line += " (protected)";
          if (o->unprotect) line += " (unprotected)";
          s.Out(line + "\n");
        }
        return 0;
      });
  cmd->add_option("NAME", o->name, "Prompt name")->required();
  cmd->add_option("LABEL", o->label, "Label, e.g. production (omit to list the labels)");
  cmd->add_option("VERSION", o->version, "Version number to point the label at")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--reason", o->reason, "Why (recorded in the label history)");
  auto* del = cmd->add_flag("--delete", o->remove, "Delete the label");
  auto* p = cmd->add_flag("--protect", o->protect, "Protect the label: only admins can move it");
  auto* u = cmd->add_flag("--unprotect", o->unprotect, "Remove the protection");
  p->excludes(u);
  del->excludes(p)->excludes(u);
  cmd->footer(
      "Examples:\n  promptops prompt label support/refund-bot production 3 --reason 'eval passed'\n"
      "  promptops prompt label support/refund-bot production --protect\n"
      "  promptops prompt label support/refund-bot staging --delete\n"
      "  promptops prompt label support/refund-bot");
}

void AddRollback(CLI::App& prompt, CommandTable& table) {
  struct Opts {
    std::string name, label, reason;
    std::int64_t to = 0;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = table.Add(
      prompt, "rollback", "Move a label back to its previous version (or --to N).",
      [o](Session& s) -> Result<int> {
        bj::object body;
        if (o->to > 0) body["to"] = o->to;
        if (!o->reason.empty()) body["reason"] = o->reason;
        PO_ASSIGN_OR_RETURN(
            bj::value r,
            s.api().Call("POST",
                         PromptPath(o->name, "/labels/" + http::UrlEncode(o->label) + "/rollback"),
                         body));
        if (s.json()) {
          s.Out(PrettyJson(r));
        } else {
          const auto& c = r.as_object();
          s.Out("rolled back " + o->label + ": v" + OrDash(Field(c, "from")) + " -> v" +
                Field(c, "to") + "\n");
        }
        return 0;
      });
  cmd->add_option("NAME", o->name, "Prompt name")->required();
  cmd->add_option("LABEL", o->label, "Label to move back")->required();
  cmd->add_option("--to", o->to, "Version to move it to (default: where it pointed before)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--reason", o->reason, "Why (recorded in the label history)");
  cmd->footer(
      "Example:\n  promptops prompt rollback support/refund-bot production --reason 'complaints'");
}

void AddRender(CLI::App& prompt, CommandTable& table) {
  struct Opts {
    std::string name, vars_file;
    VersionSelector sel;
    std::vector<std::string> vars;
    bool lenient = false;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = table.Add(
      prompt, "render", "Render a version with variables.", [o](Session& s) -> Result<int> {
        bj::object variables;
        if (!o->vars_file.empty()) {
          PO_ASSIGN_OR_RETURN(std::string text, ReadWholeFile(o->vars_file));
          PO_ASSIGN_OR_RETURN(variables, ParseObjectArg(text, "--vars-file " + o->vars_file));
        }
        for (const auto& kv : o->vars) {
          auto eq = kv.find('=');
          if (eq == std::string::npos || eq == 0) {
            return Error::InvalidArgument("--var '" + kv + "' is not of the form name=value");
          }
          variables[kv.substr(0, eq)] = kv.substr(eq + 1);
        }
        bj::object body{{"variables", std::move(variables)}, {"strict", !o->lenient}};
        o->sel.AddBodyTo(body);
        PO_ASSIGN_OR_RETURN(bj::value r,
                            s.api().Call("POST", PromptPath(o->name, "/render"), body));
        if (s.json()) {
          s.Out(PrettyJson(r));
          return 0;
        }
        const auto& ro = r.as_object();
        std::string out;
        if (const auto* text = ro.if_contains("text"); text && text->is_string()) {
          out = std::string(text->as_string());
        } else {
          PromptFile f;
          PO_RETURN_IF_ERROR(SetContent(f, "chat", ro.at("messages")));
          out = BodyText(f);
        }
        if (StdoutIsTerminal()) out = WithNewline(std::move(out));
        s.Out(out);
        return 0;
      });
  cmd->add_option("NAME", o->name, "Prompt name")->required();
  o->sel.AddTo(cmd, " (default: 'production' if set, else latest)");
  cmd->add_option("--var", o->vars, "Variable as name=value (repeatable; overrides --vars-file)")
      ->allow_extra_args(false);
  cmd->add_option("--vars-file", o->vars_file,
                  "JSON object of variables (placeholders: arrays of {role, content})");
  cmd->add_flag("--lenient", o->lenient, "Render missing variables as empty instead of failing");
  cmd->footer(
      "Prints the text as is (chat: '@role' sections, as in prompt files).\n"
      "Example:\n  promptops prompt render greeting --label production --var name=Ada --var "
      "company=Acme");
}

void AddBranch(CLI::App& prompt, CommandTable& table) {
  struct Opts {
    std::string name, branch;
    std::int64_t from = 0;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = table.Add(
      prompt, "branch", "Create a branch (NAME BRANCH) or list branches (NAME).",
      [o](Session& s) -> Result<int> {
        if (o->branch.empty()) {
          PO_ASSIGN_OR_RETURN(bj::value r, s.api().Call("GET", PromptPath(o->name, "/branches")));
          if (s.json()) {
            s.Out(PrettyJson(r));
            return 0;
          }
          Table t({"BRANCH", "HEAD", "BASE", "CREATED BY", "CREATED"});
          for (const auto& item : r.as_object().at("data").as_array()) {
            const auto& b = item.as_object();
            std::string head = Field(b, "head").empty()
                                   ? "-"
                                   : "v" + Field(b, "head") + " (" + Field(b, "head_semver") + ")";
            t.AddRow({Field(b, "name"), head,
                      Field(b, "base_version").empty() ? "-" : "v" + Field(b, "base_version"),
                      OrDash(Field(b, "created_by")), OrDash(Field(b, "created_at"))});
          }
          s.Out(t.Render());
          return 0;
        }
        bj::object body{{"name", o->branch}};
        if (o->from > 0) body["from"] = o->from;
        PO_ASSIGN_OR_RETURN(bj::value r,
                            s.api().Call("POST", PromptPath(o->name, "/branches"), body));
        if (s.json())
          s.Out(PrettyJson(r));
        else
          s.Out("created branch " + o->branch + " of " + o->name + " from v" +
                Field(r.as_object(), "base_version") + "\n");
        return 0;
      });
  cmd->add_option("NAME", o->name, "Prompt name")->required();
  cmd->add_option("BRANCH", o->branch, "New branch name (omit to list branches)");
  cmd->add_option("--from", o->from, "Version to branch from (default: head of main)")
      ->check(CLI::PositiveNumber);
  cmd->footer(
      "Push to a branch with 'prompt push DIR --branch BRANCH'; merge it with 'prompt merge'.\n"
      "Examples:\n  promptops prompt branch support/refund-bot shorter --from 3\n"
      "  promptops prompt branch support/refund-bot");
}

void AddMerge(CLI::App& prompt, CommandTable& table) {
  struct Opts {
    std::string name, branch, message;
    bool force = false;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = table.Add(
      prompt, "merge", "Merge a branch's head into main as a new version.",
      [o](Session& s) -> Result<int> {
        bj::object body{{"force", o->force}};
        if (!o->message.empty()) body["message"] = o->message;
        PO_ASSIGN_OR_RETURN(
            bj::value r,
            s.api().Call("POST",
                         PromptPath(o->name, "/branches/" + http::UrlEncode(o->branch) + "/merge"),
                         body));
        if (s.json()) {
          s.Out(PrettyJson(r));
          return 0;
        }
        const auto& ro = r.as_object();
        const auto& v = ro.at("version").as_object();
        if (ro.at("created").as_bool())
          s.Out("merged " + o->branch + " into main: " + VersionText(v) + "\n");
        else
          s.Out("nothing to merge: main is already " + VersionText(v) + "\n");
        return 0;
      });
  cmd->add_option("NAME", o->name, "Prompt name")->required();
  cmd->add_option("BRANCH", o->branch, "Branch to merge")->required();
  cmd->add_flag("--force", o->force, "Merge even if main moved since the branch point");
  cmd->add_option("-m,--message", o->message, "Commit message of the merge version");
  cmd->footer(
      "Example:\n  promptops prompt merge support/refund-bot shorter -m 'ship shorter prompt'");
}

void AddChangelog(CLI::App& prompt, CommandTable& table) {
  struct Opts {
    std::string name, format = "markdown";
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = table.Add(prompt, "changelog", "Show the changelog: versions and label moves.",
                            [o](Session& s) -> Result<int> {
                              std::string path = PromptPath(o->name, "/changelog");
                              if (s.json() || o->format == "json") {
                                PO_ASSIGN_OR_RETURN(bj::value r, s.api().Call("GET", path));
                                s.Out(PrettyJson(r));
                                return 0;
                              }
                              AddQuery(path, "format", "markdown");
                              PO_ASSIGN_OR_RETURN(std::string md, s.api().CallText("GET", path));
                              s.Out(md);
                              return 0;
                            });
  cmd->add_option("NAME", o->name, "Prompt name")->required();
  cmd->add_option("--format", o->format, "markdown or json")
      ->check(CLI::IsMember({"markdown", "json"}))
      ->capture_default_str();
  cmd->footer("Example:\n  promptops prompt changelog support/refund-bot > CHANGELOG.md");
}

void AddDelete(CLI::App& prompt, CommandTable& table) {
  struct Opts {
    std::string name;
    bool yes = false;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = table.Add(prompt, "delete", "Delete a prompt with all its versions and labels.",
                            [o](Session& s) -> Result<int> {
                              if (!o->yes)
                                return Error::InvalidArgument("refusing to delete prompt '" +
                                                              o->name + "' without --yes");
                              PO_RETURN_IF_ERROR(s.api().Call("DELETE", PromptPath(o->name)));
                              if (s.json())
                                s.Out(PrettyJson(bj::object{{"deleted", o->name}}));
                              else
                                s.Out("deleted prompt " + o->name + "\n");
                              return 0;
                            });
  cmd->add_option("NAME", o->name, "Prompt name")->required();
  cmd->add_flag("--yes", o->yes, "Confirm the deletion");
  cmd->footer("Example:\n  promptops prompt delete scratch/test --yes");
}

void AddHistory(CLI::App& prompt, CommandTable& table) {
  struct Opts {
    std::string name, label;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = table.Add(prompt, "history", "Show label moves, newest first.",
                            [o](Session& s) -> Result<int> {
                              std::string path = PromptPath(o->name, "/label-history");
                              if (!o->label.empty()) AddQuery(path, "label", o->label);
                              PO_ASSIGN_OR_RETURN(bj::value r, s.api().Call("GET", path));
                              if (s.json()) {
                                s.Out(PrettyJson(r));
                                return 0;
                              }
                              Table t({"AT", "LABEL", "FROM", "TO", "ACTOR", "REASON"});
                              for (const auto& item : r.as_object().at("data").as_array()) {
                                const auto& e = item.as_object();
                                auto v = [&](std::string_view k) {
                                  return Field(e, k).empty() ? std::string("-") : "v" + Field(e, k);
                                };
                                t.AddRow({Field(e, "at"), Field(e, "label"), v("from"), v("to"),
                                          Field(e, "actor"), OrDash(Field(e, "reason"))});
                              }
                              s.Out(t.Render());
                              return 0;
                            });
  cmd->add_option("NAME", o->name, "Prompt name")->required();
  cmd->add_option("--label", o->label, "Only this label");
  cmd->footer("Example:\n  promptops prompt history support/refund-bot --label production");
}

}  // namespace

void AddPromptCommands(CLI::App& app, CommandTable& table) {
  CLI::App* prompt =
      app.add_subcommand("prompt", "Manage prompts: versions, labels, branches, files.");
  prompt->require_subcommand(1);
  prompt->footer(
      "Versions are referred to by number (3), label (production, latest) or branch:NAME.\n"
      "Every command takes --server, --key and -o table|json; see 'promptops prompt CMD --help'.\n"
      "Examples:\n"
      "  promptops prompt push prompts/ && promptops prompt label support/refund-bot production 4\n"
      "  promptops prompt render support/refund-bot --var company=Acme --var question='Refund?'");
  AddCreate(*prompt, table);
  AddPush(*prompt, table);
  AddExport(*prompt, table);
  AddGet(*prompt, table);
  AddList(*prompt, table);
  AddLog(*prompt, table);
  AddDiff(*prompt, table);
  AddCompat(*prompt, table);
  AddLabel(*prompt, table);
  AddRollback(*prompt, table);
  AddRender(*prompt, table);
  AddBranch(*prompt, table);
  AddMerge(*prompt, table);
  AddChangelog(*prompt, table);
  AddDelete(*prompt, table);
  AddHistory(*prompt, table);
}

}  // namespace promptops::cli
