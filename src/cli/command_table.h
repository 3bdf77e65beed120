// Internal to the cli module: the table of client commands. Each leaf command (e.g. `prompt
// get`) is a CLI11 subcommand with the global options (--server, --key, --output) and an
// action run after a successful parse. The option variables of a command live in a struct
// owned (through shared_ptr) by its action, so they outlive parsing.
//
// Single-threaded: built once by ClientCommands::Register, run once by RunSelected.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cli/api_client.h"
#include "core/error.h"

namespace promptops::cli {

// What a running command gets: the API client and the output format, and where to write.
class Session {
 public:
  Session(ApiClient api, bool json) : api_(std::move(api)), json_(json) {}
  const ApiClient& api() const { return api_; }
  // True for `-o json`: print the API's JSON (PrettyJson) instead of tables.
  bool json() const { return json_; }
  // Writes to stdout / stderr as is.
  void Out(std::string_view text) const;
  void Err(std::string_view text) const;

 private:
  ApiClient api_;
  bool json_;
};

// A command's action: returns the exit code on success (0, or 1 for a reported non-error
// failure such as `compat --require-drop-in`), or an Error printed as "promptops: <message>"
// and mapped with ExitCodeFor.
using Action = std::function<Result<int>(Session&)>;

class CommandTable {
 public:
  // Adds leaf command `name` under `parent` with the global options; `action` runs when it
  // is the selected command. Returns the subcommand so the caller can add its own options.
  CLI::App* Add(CLI::App& parent, std::string name, std::string description, Action action);
  // Runs the action of the parsed leaf command, if any (see ClientCommands::RunSelected).
  std::optional<int> RunSelected();

 private:
  struct Globals {
    std::string server = "http://127.0.0.1:8080";
    std::string key;
    std::string output = "table";
  };
  Globals globals_;  // shared by every leaf: only one is parsed per run
  std::vector<std::pair<CLI::App*, Action>> commands_;
};

// The `prompt ...` commands (prompt_commands.cc).
void AddPromptCommands(CLI::App& app, CommandTable& table);
// The `trace ...` commands (trace_commands.cc).
void AddTraceCommands(CLI::App& app, CommandTable& table);

// Parses a JSON object given on the command line (--config, --metadata); `what` names the
// option in errors (InvalidArgument).
Result<boost::json::object> ParseObjectArg(std::string_view text, std::string_view what);

// Reads a whole file; NotFound / Internal errors name the path.
Result<std::string> ReadWholeFile(const std::string& path);

}  // namespace promptops::cli
