#include <CLI/CLI.hpp>

#include "cli/cli.h"

namespace promptops::cli {
namespace {
class Commands : public ClientCommands {
 public:
  std::optional<int> RunSelected() override { return std::nullopt; }
};
}  // namespace

std::unique_ptr<ClientCommands> ClientCommands::Register(CLI::App& app) {
  return std::make_unique<Commands>();
}
}  // namespace promptops::cli
