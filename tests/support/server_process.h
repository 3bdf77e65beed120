// Test helpers for integration tests that run the real promptops binary: RunProcess runs a
// command and captures its output and exit code; ServerProcess runs `promptops serve` on port 0
// against a data directory and stops it with SIGTERM.
//
// The binary is $PROMPTOPS_BINARY (ctest sets it). Not thread-safe per object; separate objects
// may be used from separate threads.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <signal.h>
#include <sys/types.h>

#include "core/error.h"

namespace promptops::testing {

// $PROMPTOPS_BINARY, or "" when unset (tests should GTEST_SKIP then).
std::string PromptopsBinary();

struct ProcessOptions {
  // Variables to set (replacing inherited ones) and to remove from the inherited environment.
  std::vector<std::pair<std::string, std::string>> set_env;
  std::vector<std::string> unset_env;
  std::string stdin_data;  // written to the child's stdin, which is then closed
  // The child is killed (SIGKILL) when it runs longer; exit_code is then 128 + 9.
  std::chrono::milliseconds timeout{60000};
};

struct ProcessResult {
  int exit_code = -1;  // exit status, or 128 + signal number if killed by a signal
  std::string out;     // everything written to stdout
  std::string err;     // everything written to stderr
};

// Runs argv (argv[0] is a path, not searched in PATH) to completion.
ProcessResult RunProcess(const std::vector<std::string>& argv, const ProcessOptions& options = {});

// A `promptops serve` child process. Stdout is read until the line "promptops listening on
// URL" and drained afterwards; stderr (the server log) goes to data_dir/server.log.
class ServerProcess {
 public:
  struct Options {
    std::filesystem::path data_dir;  // required; created if missing
    std::string admin_key;           // PROMPTOPS_ADMIN_KEY of a fresh data dir (if non-empty)
    std::vector<std::string> extra_args;
    std::vector<std::pair<std::string, std::string>> set_env;
    std::chrono::milliseconds start_timeout{30000};
  };

  // Starts the server and waits until it is listening. Errors: Unavailable (with the tail of
  // the server log) if it exits or does not get ready within start_timeout; Internal if the
  // process cannot be started.
  static Result<std::unique_ptr<ServerProcess>> Start(Options options);

  // Stops the server if it still runs.
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // "http://127.0.0.1:PORT".
  const std::string& url() const { return url_; }
  // Sends SIGTERM and waits; returns the exit code (128 + signal if killed). Idempotent.
  int Stop() { return Kill(SIGTERM); }
  // Sends `signal` (e.g. SIGKILL to simulate a crash) and waits for the process to end; returns
  // its exit code (128 + signal if the signal killed it). Once it has ended, returns the same
  // code again without sending anything.
  int Kill(int signal);
  // The server log so far.
  std::string Log() const;

 private:
  struct Impl;
  explicit ServerProcess(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  std::string url_;
};

}  // namespace promptops::testing
