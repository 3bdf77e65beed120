// In-process registry benchmarks: the fetch-by-label handler (router + auth + snapshot lookup +
// JSON), template rendering, and pushes (durable SQLite commits). Prints one markdown table.
//
//   build/registry_bench [--seconds S]
//
// Latency percentiles come from timing every call (steady_clock); throughput is calls / wall time
// on one thread. Figures are machine-dependent: compare them with a baseline measured in the same
// run (bench/run.sh does this for the HTTP path).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "api/admin_api.h"
#include "app/demo.h"
#include "governance/api_keys.h"
#include "http/router.h"
#include "registry/registry.h"
#include "store/store.h"

using namespace promptops;
using Clock_ = std::chrono::steady_clock;

namespace {

struct Stats {
  double ops_per_s;
  double p50_us, p99_us;
};

template <typename Fn>
Stats Measure(double seconds, Fn&& fn) {
  std::vector<double> samples;
  samples.reserve(1 << 20);
  auto begin = Clock_::now();
  auto deadline = begin + std::chrono::duration<double>(seconds);
  while (Clock_::now() < deadline) {
    auto t0 = Clock_::now();
    fn();
    samples.push_back(std::chrono::duration<double, std::micro>(Clock_::now() - t0).count());
  }
  double wall = std::chrono::duration<double>(Clock_::now() - begin).count();
  std::sort(samples.begin(), samples.end());
  auto pct = [&](double p) { return samples[static_cast<std::size_t>(p * (samples.size() - 1))]; };
  return {samples.size() / wall, pct(0.50), pct(0.99)};
}

void Row(const char* name, const Stats& s) {
  std::printf("| %-44s | %12.0f | %9.1f | %9.1f |\n", name, s.ops_per_s, s.p50_us, s.p99_us);
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 2.0;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--seconds") == 0) seconds = std::atof(argv[i + 1]);
  }
  char tmpl[] = "/tmp/promptops-bench-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  auto store = std::move(store::OpenSqliteStore(dir + "/bench.db")).value();
  registry::Registry reg(*store, Clock::Real());
  (void)reg.Load();
  governance::ApiKeys keys(*store, Clock::Real());
  const std::string secret = "po-bench-secret-0123456789abcdefghij";
  (void)keys.Bootstrap("default", secret, std::nullopt);
  auto project = *keys.ProjectId("default");
  Actor admin = Actor::System(project);
  if (auto s = app::LoadDemoData(reg, admin); !s.ok()) {
    std::fprintf(stderr, "demo data: %s\n", s.error().ToString().c_str());
    return 1;
  }

  api::ApiContext ctx{reg, keys};
  http::Router router;
  api::AddAdminRoutes(router, ctx);

  std::printf("| %-44s | %12s | %9s | %9s |\n", "operation (one thread)", "ops/s", "p50 us",
              "p99 us");
  std::printf("|%s|%s|%s|%s|\n", std::string(46, '-').c_str(), std::string(14, '-').c_str(),
              std::string(11, '-').c_str(), std::string(11, '-').c_str());

  // 1. The fetch-by-label request as the server runs it, minus the socket.
  std::size_t bytes = 0;
  Row("fetch by label: route+auth+snapshot+JSON", Measure(seconds, [&] {
        http::Request req;
        req.method = "GET";
        req.target = "/api/v1/prompts/support%2Frefund-bot?label=production";
        req.path = "/api/v1/prompts/support%2Frefund-bot";
        req.query = "label=production";
        req.headers.emplace_back("Authorization", "Bearer " + secret);
        auto m = router.Find(req);
        auto res = (*m->handler)(req);
        bytes += res.body.size();
      }));

  // 2. Rendering a chat prompt with a partial, strict mode.
  boost::json::object vars{{"company", "Acme"},
                           {"order_id", "A-1"},
                           {"question", "환불 가능한가요?"},
                           {"refund_days", 30},
                           {"language", "Korean"}};
  Row("render chat prompt (2 messages, 1 partial)", Measure(seconds, [&] {
        auto r = reg.Render(admin, "support/refund-bot", {}, vars, true);
        bytes += r.ok();
      }));

  // 3. Pushes: each a new version, committed durably (synchronous=FULL).
  int n = 0;
  Row("push new version (durable commit)", Measure(seconds, [&] {
        registry::PushRequest req;
        req.name = "bench/push";
        req.content = "Version " + std::to_string(++n) + " for {{name}}";
        auto r = reg.Push(admin, std::move(req));
        bytes += r.ok();
      }));
  Row("push identical content (no-op)", Measure(seconds, [&] {
        registry::PushRequest req;
        req.name = "bench/push";
        req.content = "Version " + std::to_string(n) + " for {{name}}";
        auto r = reg.Push(admin, std::move(req));
        bytes += r.ok();
      }));
  std::printf("\n(%zu bytes produced; data in %s)\n", bytes, dir.c_str());
  std::string cleanup = "rm -rf '" + dir + "'";
  return std::system(cleanup.c_str()) == 0 ? 0 : 1;
}
