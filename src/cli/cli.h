// The client commands of the promptops CLI (`promptops prompt ...`, `promptops key ...`): a client
// of the REST API. app/run.cc owns the top-level CLI11 App (and `serve`); this module adds its
// subcommands to it.
#pragma once

#include <memory>
#include <optional>

namespace CLI {
class App;
}

namespace promptops::cli {

class ClientCommands {
 public:
  // Registers the client subcommands and their options on `app`.
  static std::unique_ptr<ClientCommands> Register(CLI::App& app);
  virtual ~ClientCommands() = default;
  // After a successful parse: runs the selected client command and returns its exit code, or
  // nullopt if none of this module's commands was selected.
  virtual std::optional<int> RunSelected() = 0;
};

}  // namespace promptops::cli
