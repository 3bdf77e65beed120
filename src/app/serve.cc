#include "app/serve.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "api/admin_api.h"
#include "api/langfuse_api.h"
#include "api/traces_api.h"
#include "app/demo.h"
#include "core/log.h"
#include "gateway/gateway.h"
#include "governance/api_keys.h"
#include "http/server.h"
#include "registry/registry.h"
#include "store/store.h"
#include "telemetry/telemetry.h"

namespace promptops::app {

namespace {

std::optional<std::string> Env(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) return std::nullopt;
  return std::string(v);
}

int Fail(const Error& e) {
  log::Error("startup failed", {{"error", e.ToString()}});
  std::fprintf(stderr, "promptops serve: %s\n", e.message.c_str());
  return ExitCodeFor(e.code);
}

}  // namespace

int Serve(const ServeConfig& cfg) {
  log::Level level;
  if (log::ParseLevel(cfg.log_level, &level)) log::SetLevel(level);
  log::SetJson(cfg.log_format == "json");

  auto listen = ParseListen(cfg.listen);
  if (!listen.ok()) return Fail(listen.error());

  auto db_path = std::filesystem::path(cfg.data_dir) / "promptops.db";
  auto store = store::OpenSqliteStore(db_path);
  if (!store.ok()) return Fail(store.error());
  log::Info("store opened", {{"store", (*store)->Describe()}});

  registry::Registry registry(**store, Clock::Real());
  if (auto s = registry.Load(); !s.ok()) return Fail(s.error());
  governance::ApiKeys keys(**store, Clock::Real());

  auto admin_secret = Env("PROMPTOPS_ADMIN_KEY");
  auto admin_public = Env("PROMPTOPS_ADMIN_PUBLIC_KEY");
  auto boot = keys.Bootstrap(cfg.project, admin_secret, admin_public);
  if (!boot.ok()) return Fail(boot.error());
  if (auto s = keys.Load(); !s.ok()) return Fail(s.error());
  if (boot->has_value()) {
    const auto& k = **boot;
    if (admin_secret) {
      std::printf("Bootstrap admin key created from PROMPTOPS_ADMIN_KEY (public id %s).\n",
                  k.key.public_id.c_str());
    } else {
      // Shown once, on the console (stdout), never in the log.
      std::printf(
          "Bootstrap admin key (shown once, store it now):\n"
          "  public id: %s\n  secret:    %s\n"
          "Use it as: export PROMPTOPS_KEY=%s\n",
          k.key.public_id.c_str(), k.secret.c_str(), k.secret.c_str());
    }
    std::fflush(stdout);
  }

  auto project_id = keys.ProjectId(cfg.project);
  if (!project_id.ok()) return Fail(project_id.error());
  if (cfg.demo) {
    if (auto s = LoadDemoData(registry, Actor::System(*project_id)); !s.ok())
      return Fail(s.error());
    log::Info("demo data loaded");
  }

  telemetry::TelemetryOptions topts;
  topts.retention_days = cfg.trace_retention_days;
  topts.writer.durable = cfg.trace_durability == "full";
  telemetry::Telemetry telemetry(**store, Clock::Real(), topts);
  telemetry.Start();

  gateway::GatewayConfig gateway_config = cfg.gateway;
  if (cfg.demo) gateway::AddDemoModels(gateway_config);
  auto gateway = gateway::Gateway::Create(std::move(gateway_config),
                                          gateway::GatewayDeps{registry, keys, &telemetry});
  if (!gateway.ok()) return Fail(gateway.error());
  for (const auto& [name, p] : (*gateway)->config().providers) {
    if (p.type == "simulated") {
      log::Info("provider is SIMULATED (built-in, no real model behind it)", {{"provider", name}});
    }
  }

  std::atomic<bool> ready{false};
  api::ApiContext ctx{registry, keys, PROMPTOPS_VERSION, &ready};
  auto router = std::make_shared<http::Router>();
  api::AddHealthRoutes(*router, ctx);
  api::AddAdminRoutes(*router, ctx);
  api::AddLangfuseRoutes(*router, ctx);
  api::AddTraceRoutes(*router, ctx, telemetry);
  (*gateway)->AddRoutes(*router);

  http::ServerOptions opts;
  opts.host = listen->first;
  opts.port = listen->second;
  opts.threads = cfg.threads;
  opts.max_body_bytes = cfg.max_body_bytes;
  opts.request_timeout = std::chrono::milliseconds(cfg.request_timeout_ms);
  opts.access_log = cfg.access_log;
  opts.busy_poll = std::chrono::microseconds(cfg.busy_poll_us);
  http::Server server(opts, router);
  server.OnShutdown([&ready] {
    ready = false;
    log::Info("shutting down: finishing in-flight requests");
  });
  if (auto s = server.Start(); !s.ok()) return Fail(s.error());
  ready = true;
  std::string host = opts.host.find(':') != std::string::npos ? "[" + opts.host + "]" : opts.host;
  std::printf("promptops listening on http://%s:%u\n", host.c_str(), server.port());
  std::fflush(stdout);
  log::Info("listening", {{"address", host + ":" + std::to_string(server.port())},
                          {"store", (*store)->Describe()}});
  server.WaitForSignal();
  telemetry.Stop();  // stores every queued trace
  log::Info("stopped");
  return 0;
}

}  // namespace promptops::app
