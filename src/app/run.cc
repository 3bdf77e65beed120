#include "app/run.h"

#include <CLI/CLI.hpp>

#include <cstdio>

#include "app/config.h"
#include "app/serve.h"
#include "cli/cli.h"
#include "core/error.h"

namespace promptops::app {

int Run(int argc, char** argv) {
  CLI::App app{
      "promptops: prompt registry, LLM gateway and release manager in one binary.\n"
      "Run 'promptops serve' to start the server; the other commands are its clients."};
  app.name("promptops");
  app.set_version_flag("--version", PROMPTOPS_VERSION);
  app.require_subcommand(1);

  // serve: flags override the environment, which overrides the config file.
  std::string config_file, listen, data_dir, max_body, log_level, log_format;
  int threads = -1;
  std::int64_t busy_poll_us = -1;
  bool demo = false, access_log = false;
  auto* serve = app.add_subcommand(
      "serve",
      "Run the promptops server: admin REST API, Langfuse-compatible API, OpenAI-compatible "
      "gateway (/v1), traces, /metrics, health checks.");
  serve->add_option(
      "--config", config_file,
      "YAML config file (env PROMPTOPS_CONFIG). Keys as the long flags, with "
      "underscores: listen, data, threads, max_body, request_timeout_ms, "
      "busy_poll_us, access_log, log_level, log_format, demo, project, trace_retention_days, "
      "trace_durability; "
      "and the gateway sections providers, models, aliases, gateway "
      "(docs/gateway.md, promptops.example.yaml)");
  serve->add_option("--listen", listen,
                    "HOST:PORT to listen on; port 0 picks a free one (env PROMPTOPS_LISTEN; "
                    "default 127.0.0.1:8080)");
  serve->add_option("--data", data_dir,
                    "Data directory holding promptops.db (env PROMPTOPS_DATA; default "
                    "./promptops-data)");
  serve->add_option("--threads", threads,
                    "Network threads, 0 = one per core (env PROMPTOPS_THREADS; default 0)");
  serve
      ->add_option("--busy-poll-us", busy_poll_us,
                   "Microseconds a network thread keeps polling after its last event before it "
                   "sleeps, 0..1000: lower latency for more CPU (env PROMPTOPS_BUSY_POLL_US; "
                   "default 0 = off; docs/configuration.md)")
      ->check(CLI::Range(std::int64_t{0}, kMaxBusyPollUs));
  serve->add_option("--max-body", max_body,
                    "Largest request body, e.g. 10MiB (env PROMPTOPS_MAX_BODY; default 10MiB)");
  serve->add_option("--log-level", log_level,
                    "debug|info|warn|error (env PROMPTOPS_LOG_LEVEL; default info)");
  serve->add_option("--log-format", log_format,
                    "text|json (env PROMPTOPS_LOG_FORMAT; default text)");
  serve->add_flag("--access-log", access_log,
                  "Log one line per request (env PROMPTOPS_ACCESS_LOG; default off)");
  serve->add_flag(
      "--demo", demo,
      "Load demo prompts into an empty project and add the SIMULATED provider with the model "
      "demo-chat (env PROMPTOPS_DEMO)");
  serve->footer(
      "Environment: PROMPTOPS_ADMIN_KEY (secret) and PROMPTOPS_ADMIN_PUBLIC_KEY (default "
      "pk-admin) set the bootstrap admin key of a fresh data directory; otherwise one is "
      "generated and printed once.\nSignals: SIGINT/SIGTERM finish in-flight requests, then exit "
      "0.");

  auto client = cli::ClientCommands::Register(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return ExitCodeFor(ErrorCode::kInvalidArgument);
  }

  if (serve->parsed()) {
    ServeConfig cfg;
    if (config_file.empty()) {
      if (const char* env = std::getenv("PROMPTOPS_CONFIG")) config_file = env;
    }
    Status s;
    if (!config_file.empty()) s = ApplyConfigFile(config_file, cfg);
    if (s.ok()) s = ApplyEnvironment(cfg);
    if (s.ok()) {
      if (!listen.empty()) cfg.listen = listen;
      if (!data_dir.empty()) cfg.data_dir = data_dir;
      if (threads >= 0) cfg.threads = threads;
      if (busy_poll_us >= 0) cfg.busy_poll_us = busy_poll_us;
      if (!log_level.empty()) cfg.log_level = log_level;
      if (!log_format.empty()) cfg.log_format = log_format;
      if (access_log) cfg.access_log = true;
      if (demo) cfg.demo = true;
      if (!max_body.empty()) {
        auto b = ParseByteSize(max_body);
        if (b.ok())
          cfg.max_body_bytes = *b;
        else
          s = b.error();
      }
    }
    if (s.ok()) s = Validate(cfg);
    if (!s.ok()) {
      std::fprintf(stderr, "promptops serve: %s\n", s.error().message.c_str());
      return ExitCodeFor(s.error().code);
    }
    return Serve(cfg);
  }
  if (auto code = client->RunSelected()) return *code;
  std::fprintf(stderr, "%s", app.help().c_str());
  return 1;
}

}  // namespace promptops::app
