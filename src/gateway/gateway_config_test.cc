#include <gtest/gtest.h>

#include "gateway/config.h"

namespace promptops::gateway {
namespace {

Result<GatewayConfig> Parse(const std::string& yaml) {
  GatewayConfig c;
  YAML::Node root = YAML::Load(yaml);
  for (const auto& kv : root) {
    PO_RETURN_IF_ERROR(ParseGatewaySection(kv.first.as<std::string>(), kv.second, c));
  }
  PO_RETURN_IF_ERROR(ValidateGatewayConfig(c));
  return c;
}

TEST(GatewayConfig, ParsesProvidersModelsAliasesAndPolicy) {
  auto c = Parse(R"(
providers:
  oa: {type: openai, base_url: "https://api.openai.com/v1", api_key_env: OPENAI_API_KEY, first_byte_timeout_ms: 1500}
  sim: {type: simulated, simulated: {seed: 7, latency_median_ms: 2.5, latency_p99_ms: 10, error_kinds: ["503"]}}
models:
  gpt: {provider: oa, model: gpt-4o-mini, fallbacks: [demo], pricing: {input_per_1m: 0.15, output_per_1m: 0.6, cached_input_per_1m: 0.075}}
  demo: {provider: sim}
aliases:
  chat-default: gpt
gateway:
  trace_bodies: full
  cache: {enabled: false, ttl_seconds: 60, max_bytes: 4096, only_temperature_zero: false}
  retries: {max: 3, backoff_ms: 50, max_backoff_ms: 500}
  circuit_breaker: {failures: 2, cooldown_ms: 1000}
  limits: {per_key: {requests_per_minute: 10}, per_project: {cost_per_day_usd: 2.5}}
)");
  ASSERT_TRUE(c.ok()) << c.error().ToString();
  EXPECT_EQ(c->providers.at("oa").first_byte_timeout.count(), 1500);
  EXPECT_EQ(c->providers.at("sim").simulated.seed, 7u);
  EXPECT_EQ(c->providers.at("sim").simulated.latency_median.count(), 2500);
  EXPECT_EQ(c->Find("chat-default")->upstream_model, "gpt-4o-mini");
  EXPECT_EQ(c->Find("demo")->upstream_model, "demo");  // defaults to the name
  EXPECT_EQ(c->Find("nope"), nullptr);
  EXPECT_DOUBLE_EQ(c->models.at("gpt").pricing.output_per_1m, 0.6);
  EXPECT_EQ(c->models.at("gpt").pricing.cached_input_per_1m, 0.075);
  EXPECT_EQ(c->models.at("gpt").pricing.cache_write_per_1m, std::nullopt);  // the input price
  EXPECT_EQ(c->policy.trace_bodies, "full");
  EXPECT_FALSE(c->policy.cache_enabled);
  EXPECT_EQ(c->policy.max_retries, 3);
  EXPECT_EQ(c->policy.breaker_failures, 2);
  EXPECT_EQ(c->policy.per_key.requests_per_minute, 10);
  EXPECT_DOUBLE_EQ(c->policy.per_project.cost_per_day_usd, 2.5);
}

TEST(GatewayConfig, ErrorsNameThePathOfTheBadSetting) {
  struct Case {
    const char* yaml;
    const char* mentions;
  } cases[] = {
      {"providers: {p: {type: grpc}}", "providers.p.type"},
      {"providers: {p: {type: openai, base_url: ftp://x}}", "providers.p.base_url"},
      {"providers: {p: {type: openai, base_url: http://x, colour: red}}", "providers.p.colour"},
      {"providers: {p: {type: openai, base_url: http://x, connect_timeout_ms: soon}}",
       "connect_timeout_ms"},
      {"providers: {p: {type: simulated, simulated: {error_rate: 2}}}", "error_rate"},
      {"providers: {p: {type: simulated, simulated: {error_kinds: [boom]}}}", "boom"},
      {"providers: {p: {type: openai, base_url: http://x, simulated: {seed: 1}}}",
       "only for type simulated"},
      {"models: {m: {provider: missing}}", "models.m.provider"},
      {"providers: {s: {type: simulated}}\nmodels: {m: {provider: s, fallbacks: [nope]}}",
       "fallbacks"},
      {"providers: {s: {type: simulated}}\nmodels: {m: {provider: s, fallbacks: [m]}}", "itself"},
      {"providers: {s: {type: simulated}}\nmodels: {m: {provider: s}}\naliases: {m: m}", "shadows"},
      {"providers: {s: {type: simulated}}\nmodels: {m: {provider: s}}\naliases: {a: x}",
       "aliases.a"},
      {"models: {\"prompt:x\": {provider: s}}", "prompt:"},
      {"providers: {s: {type: simulated}}\nmodels: {m: {provider: s, pricing: {input_per_1m: -1}}}",
       "pricing"},
      {"providers: {s: {type: simulated}}\nmodels: {m: {provider: s, pricing: {cache_write_per_1m: "
       "-1}}}",
       "pricing"},
      {"providers: {s: {type: simulated}}\nmodels: {m: {provider: s, pricing: "
       "{cached_input_per_1m: x}}}",
       "models.m.pricing.cached_input_per_1m"},
      {"providers: {s: {type: simulated}}\nmodels: {m: {provider: s, pricing: {cached_per_1m: 1}}}",
       "models.m.pricing.cached_per_1m"},
      {"gateway: {trace_bodies: some}", "gateway.trace_bodies"},
      {"gateway: {retries: {max: 50}}", "gateway.retries.max"},
      {"gateway: {limits: {per_key: {requests_per_minute: -1}}}", "per_key"},
      {"gateway: {cache: {ttl_seconds: 0}}", "gateway.cache"},
      {"gateway: {unknown: 1}", "gateway.unknown"},
      {"providers: [1, 2]", "providers"},
  };
  for (const auto& c : cases) {
    auto r = Parse(c.yaml);
    ASSERT_FALSE(r.ok()) << c.yaml;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(r.error().message.find(c.mentions), std::string::npos)
        << c.yaml << " -> " << r.error().message;
  }
}

TEST(GatewayConfig, DemoModelsAreAddedOnlyWhenMissing) {
  GatewayConfig c;
  AddDemoModels(c);
  ASSERT_NE(c.Find("demo-chat"), nullptr);
  EXPECT_EQ(c.providers.at("simulated").type, "simulated");
  EXPECT_TRUE(ValidateGatewayConfig(c).ok());
  c.models["demo-chat"].upstream_model = "mine";
  AddDemoModels(c);
  EXPECT_EQ(c.Find("demo-chat")->upstream_model, "mine");
}

}  // namespace
}  // namespace promptops::gateway
