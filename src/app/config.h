// Server configuration: defaults, then a YAML file, then PROMPTOPS_* environment variables, then
// command-line flags (each later source overrides the earlier). docs/configuration.md and
// `promptops serve --help` document every option; promptops.example.yaml shows the file.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "core/error.h"
#include "gateway/config.h"

namespace promptops::app {

// The largest busy_poll_us: 1 ms. The waits that polling saves are tens of microseconds; a longer
// window only burns CPU.
inline constexpr std::int64_t kMaxBusyPollUs = 1000;

struct ServeConfig {
  std::string listen = "127.0.0.1:8080";  // HOST:PORT; port 0 picks a free port
  std::string data_dir = "./promptops-data";
  int threads = 0;  // network threads; 0 = one per core
  std::size_t max_body_bytes = 10 * 1024 * 1024;
  std::int64_t request_timeout_ms = 30000;
  // Network threads poll for this long after their last event before they sleep (0 = off;
  // http::ServerOptions::busy_poll).
  std::int64_t busy_poll_us = 0;
  bool access_log = false;
  std::string log_level = "info";          // debug | info | warn | error
  std::string log_format = "text";         // text | json
  bool demo = false;                       // load demo prompts on start
  std::string project = "default";         // the bootstrap project's name
  std::int64_t trace_retention_days = 30;  // traces older than this are deleted; 0 = keep all
  // relaxed: a stored trace survives a crash of promptops, an OS crash may lose the last few
  // seconds of them (no fsync per batch); full: every trace batch is synced like registry writes.
  std::string trace_durability = "relaxed";
  // The gateway's providers, models, aliases and policies (file sections of the same names).
  gateway::GatewayConfig gateway;
};

// Applies a YAML config file: scalar options at the top level, plus the sections `providers`,
// `models`, `aliases` and `gateway` (see gateway/config.h). Unknown keys and wrong types are
// errors (naming the key), so a typo never silently falls back to a default.
Status ApplyConfigFile(const std::string& path, ServeConfig& c);
// Applies PROMPTOPS_LISTEN, PROMPTOPS_DATA, PROMPTOPS_THREADS, PROMPTOPS_MAX_BODY,
// PROMPTOPS_REQUEST_TIMEOUT_MS, PROMPTOPS_BUSY_POLL_US, PROMPTOPS_ACCESS_LOG, PROMPTOPS_LOG_LEVEL,
// PROMPTOPS_LOG_FORMAT, PROMPTOPS_DEMO, PROMPTOPS_PROJECT, PROMPTOPS_TRACE_RETENTION_DAYS,
// PROMPTOPS_TRACE_DURABILITY.
Status ApplyEnvironment(ServeConfig& c);
// Checks values and cross-field rules.
Status Validate(const ServeConfig& c);

// "10MiB", "512KiB", "1MB", "2048" -> bytes.
Result<std::size_t> ParseByteSize(std::string_view s);
// "127.0.0.1:8080", "[::1]:0", ":8080" -> host and port.
Result<std::pair<std::string, std::uint16_t>> ParseListen(std::string_view s);

}  // namespace promptops::app
