#pragma once

namespace promptops::app {
// Parses the command line and runs the command ("serve" or a CLI command). Returns the exit code.
int Run(int argc, char** argv);
}  // namespace promptops::app
