// `promptops serve`: opens the store, loads the registry snapshot and the key index, bootstraps
// the first admin key, optionally loads demo data, and serves HTTP until SIGINT/SIGTERM.
#pragma once

#include "app/config.h"

namespace promptops::app {

// Runs the server with a resolved configuration. Returns the process exit code (0 after a
// graceful shutdown). Prints "promptops listening on http://HOST:PORT" on stdout when ready.
int Serve(const ServeConfig& config);

}  // namespace promptops::app
