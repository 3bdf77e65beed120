// ClientCommands: registers `prompt ...`, `key ...` and `whoami` on the top-level app, with
// the global options on each leaf command, and runs the selected one.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "cli/cli.h"
#include "cli/command_table.h"
#include "cli/output.h"
#include "core/json.h"
#include "http/message.h"

namespace promptops::cli {

namespace bj = boost::json;

void Session::Out(std::string_view text) const { std::fwrite(text.data(), 1, text.size(), stdout); }

void Session::Err(std::string_view text) const { std::fwrite(text.data(), 1, text.size(), stderr); }

CLI::App* CommandTable::Add(CLI::App& parent, std::string name, std::string description,
                            Action action) {
  CLI::App* sub = parent.add_subcommand(std::move(name), std::move(description));
  sub->add_option("--server", globals_.server, "Server URL")
      ->envname("PROMPTOPS_URL")
      ->capture_default_str();
  sub->add_option("--key", globals_.key,
                  "API key secret, sent as 'Authorization: Bearer'; never printed")
      ->envname("PROMPTOPS_KEY");
  sub->add_option("-o,--output", globals_.output,
                  "Output format: table (for people) or json (the API's JSON)")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  commands_.emplace_back(sub, std::move(action));
  return sub;
}

std::optional<int> CommandTable::RunSelected() {
  for (auto& [app, action] : commands_) {
    if (!app->parsed()) continue;
    Session session(ApiClient(globals_.server, globals_.key), globals_.output == "json");
    Result<int> r = action(session);
    std::fflush(stdout);
    if (r.ok()) return *r;
    std::fprintf(stderr, "promptops: %s\n", r.error().message.c_str());
    return ExitCodeFor(r.error().code);
  }
  return std::nullopt;
}

Result<bj::object> ParseObjectArg(std::string_view text, std::string_view what) {
  auto parsed = json::ParseObject(text);
  if (!parsed.ok()) {
    return Error::InvalidArgument(std::string(what) +
                                  " must be a JSON object: " + parsed.error().message);
  }
  return std::move(parsed).value();
}

Result<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error::NotFound("cannot read file '" + path + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Error::Internal("error reading file '" + path + "'");
  return ss.str();
}

namespace {

void AddKeyCommands(CLI::App& app, CommandTable& table) {
  CLI::App* key = app.add_subcommand("key", "Manage API keys (admin only).");
  key->require_subcommand(1);
  key->footer(
      "Example:\n  promptops key create --role viewer --name dashboards && promptops key list");

  struct CreateOpts {
    std::string role, name;
  };
  auto create = std::make_shared<CreateOpts>();
  CLI::App* c =
      table.Add(*key, "create", "Create an API key; prints its secret once.",
                [create](Session& s) -> Result<int> {
                  bj::object body{{"role", create->role}};
                  if (!create->name.empty()) body["name"] = create->name;
                  PO_ASSIGN_OR_RETURN(bj::value r, s.api().Call("POST", "/api/v1/keys", body));
                  if (s.json()) {
                    s.Out(PrettyJson(r));
                    return 0;
                  }
                  const auto& o = r.as_object();
                  s.Out(KeyValues({{"id", ScalarText(o.if_contains("id"))},
                                   {"role", ScalarText(o.if_contains("role"))},
                                   {"name", ScalarText(o.if_contains("name"))},
                                   {"secret", ScalarText(o.if_contains("secret"))}}));
                  s.Err("Store the secret now: it is shown only once.\n");
                  return 0;
                });
  c->add_option("--role", create->role, "admin, editor or viewer")
      ->required()
      ->check(CLI::IsMember({"admin", "editor", "viewer"}));
  c->add_option("--name", create->name, "A name to recognise the key by");
  c->footer("Example:\n  promptops key create --role editor --name ci");

  table
      .Add(
          *key, "list", "List API keys of the project.",
          [](Session& s) -> Result<int> {
            PO_ASSIGN_OR_RETURN(bj::value r, s.api().Call("GET", "/api/v1/keys"));
            if (s.json()) {
              s.Out(PrettyJson(r));
              return 0;
            }
            Table t({"ID", "ROLE", "NAME", "CREATED BY", "CREATED", "STATUS"});
            for (const auto& k : r.as_object().at("data").as_array()) {
              const auto& o = k.as_object();
              bool revoked = o.if_contains("revoked") && o.at("revoked").is_bool() &&
                             o.at("revoked").as_bool();
              t.AddRow({ScalarText(o.if_contains("id")), ScalarText(o.if_contains("role")),
                        ScalarText(o.if_contains("name")), ScalarText(o.if_contains("created_by")),
                        ScalarText(o.if_contains("created_at")),
                        revoked ? "revoked " + ScalarText(o.if_contains("revoked_at")) : "active"});
            }
            s.Out(t.Render());
            return 0;
          })
      ->footer("Example:\n  promptops key list -o json");

  auto revoke_id = std::make_shared<std::string>();
  CLI::App* rv = table.Add(
      *key, "revoke", "Revoke an API key by its public id.",
      [revoke_id](Session& s) -> Result<int> {
        PO_ASSIGN_OR_RETURN(bj::value r,
                            s.api().Call("DELETE", "/api/v1/keys/" + http::UrlEncode(*revoke_id)));
        if (s.json()) {
          s.Out(PrettyJson(bj::object{{"revoked", *revoke_id}}));
        } else {
          s.Out("revoked key " + *revoke_id + "\n");
        }
        return 0;
      });
  rv->add_option("ID", *revoke_id, "Public key id (pk-...)")->required();
  rv->footer("Example:\n  promptops key revoke pk-3f9a0c2e5b7d1a4c");
}

void AddWhoAmI(CLI::App& app, CommandTable& table) {
  table
      .Add(app, "whoami", "Show the key, role and project the server sees for your key.",
           [](Session& s) -> Result<int> {
             PO_ASSIGN_OR_RETURN(bj::value r, s.api().Call("GET", "/api/v1/whoami"));
             if (s.json()) {
               s.Out(PrettyJson(r));
               return 0;
             }
             const auto& o = r.as_object();
             s.Out(KeyValues({{"server", s.api().base_url()},
                              {"key", ScalarText(o.if_contains("key"))},
                              {"role", ScalarText(o.if_contains("role"))},
                              {"project", ScalarText(o.if_contains("project_id"))}}));
             return 0;
           })
      ->footer("Example:\n  PROMPTOPS_KEY=po-... promptops whoami --server http://localhost:8080");
}

class Commands : public ClientCommands {
 public:
  std::optional<int> RunSelected() override { return table_.RunSelected(); }
  CommandTable& table() { return table_; }

 private:
  CommandTable table_;
};

}  // namespace

std::unique_ptr<ClientCommands> ClientCommands::Register(CLI::App& app) {
  auto commands = std::make_unique<Commands>();
  AddPromptCommands(app, commands->table());
  AddTraceCommands(app, commands->table());
  AddKeyCommands(app, commands->table());
  AddWhoAmI(app, commands->table());
  return commands;
}

}  // namespace promptops::cli
