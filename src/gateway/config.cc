#include "gateway/config.h"

#include <functional>
#include <set>

namespace promptops::gateway {

namespace {

Error Bad(const std::string& path, const std::string& what) {
  return Error::InvalidArgument("config " + path + ": " + what);
}

// Reads typed scalars from a mapping, refusing unknown keys.
class MapReader {
 public:
  MapReader(const YAML::Node& node, std::string path) : node_(node), path_(std::move(path)) {}

  Status Check(std::initializer_list<const char*> known) const {
    if (!node_.IsMap()) return Bad(path_, "must be a mapping");
    for (const auto& kv : node_) {
      std::string key = kv.first.as<std::string>();
      bool ok = false;
      for (const char* k : known) ok = ok || key == k;
      if (!ok) return Bad(path_ + "." + key, "unknown key");
    }
    return OkStatus();
  }
  Status Str(const char* key, std::string& out) const {
    auto n = node_[key];
    if (!n) return OkStatus();
    if (!n.IsScalar()) return Bad(Path(key), "must be a string");
    out = n.as<std::string>();
    return OkStatus();
  }
  Status Int(const char* key, std::int64_t& out) const {
    return Scalar(key, out, "must be an integer");
  }
  Status Double(const char* key, double& out) const { return Scalar(key, out, "must be a number"); }
  Status Bool(const char* key, bool& out) const {
    return Scalar(key, out, "must be true or false");
  }
  Status Millis(const char* key, std::chrono::milliseconds& out) const {
    std::int64_t v = out.count();
    PO_RETURN_IF_ERROR(Int(key, v));
    if (v < 0) return Bad(Path(key), "must not be negative");
    out = std::chrono::milliseconds(v);
    return OkStatus();
  }
  Status Micros(const char* key, std::chrono::microseconds& out) const {  // given in ms
    double v = static_cast<double>(out.count()) / 1000.0;
    PO_RETURN_IF_ERROR(Double(key, v));
    if (v < 0) return Bad(Path(key), "must not be negative");
    out = std::chrono::microseconds(static_cast<std::int64_t>(v * 1000));
    return OkStatus();
  }
  Status StrList(const char* key, std::vector<std::string>& out) const {
    auto n = node_[key];
    if (!n) return OkStatus();
    if (!n.IsSequence()) return Bad(Path(key), "must be a list");
    out.clear();
    for (const auto& e : n) {
      if (!e.IsScalar()) return Bad(Path(key), "must be a list of strings");
      out.push_back(e.as<std::string>());
    }
    return OkStatus();
  }
  YAML::Node Child(const char* key) const { return node_[key]; }

  // Reads an optional scalar of type T; a value that does not convert is an error naming the path.
  template <typename T>
  Status Scalar(const char* key, T& out, const char* what) const {
    auto n = node_[key];
    if (!n) return OkStatus();
    try {
      out = n.as<T>();
    } catch (const YAML::Exception&) {
      return Bad(Path(key), what);
    }
    return OkStatus();
  }
  std::string Path(const char* key) const { return path_ + "." + key; }

 private:
  const YAML::Node& node_;
  std::string path_;
};

Status ParseSimulated(const YAML::Node& node, const std::string& path,
                      providers::SimulatedConfig& s) {
  MapReader r(node, path);
  PO_RETURN_IF_ERROR(
      r.Check({"seed", "latency_median_ms", "latency_p99_ms", "ttft_median_ms", "ttft_p99_ms",
               "tokens_per_second", "error_rate", "error_kinds", "max_tokens_default"}));
  std::int64_t seed = static_cast<std::int64_t>(s.seed);
  PO_RETURN_IF_ERROR(r.Int("seed", seed));
  s.seed = static_cast<std::uint64_t>(seed);
  PO_RETURN_IF_ERROR(r.Micros("latency_median_ms", s.latency_median));
  PO_RETURN_IF_ERROR(r.Micros("latency_p99_ms", s.latency_p99));
  PO_RETURN_IF_ERROR(r.Micros("ttft_median_ms", s.ttft_median));
  PO_RETURN_IF_ERROR(r.Micros("ttft_p99_ms", s.ttft_p99));
  PO_RETURN_IF_ERROR(r.Double("tokens_per_second", s.tokens_per_second));
  PO_RETURN_IF_ERROR(r.Double("error_rate", s.error_rate));
  PO_RETURN_IF_ERROR(r.StrList("error_kinds", s.error_kinds));
  PO_RETURN_IF_ERROR(r.Int("max_tokens_default", s.max_tokens_default));
  // One set of rules for the simulated provider's settings: the provider's own.
  if (auto v = providers::ValidateSimulatedConfig(s); !v.ok()) return Bad(path, v.error().message);
  return OkStatus();
}

Status ParseProviders(const YAML::Node& node, GatewayConfig& c) {
  if (!node.IsMap()) return Bad("providers", "must be a mapping of name -> provider");
  for (const auto& kv : node) {
    ProviderConfig p;
    p.name = kv.first.as<std::string>();
    std::string path = "providers." + p.name;
    MapReader r(kv.second, path);
    PO_RETURN_IF_ERROR(
        r.Check({"type", "base_url", "api_key_env", "ca_file", "connect_timeout_ms",
                 "first_byte_timeout_ms", "total_timeout_ms", "default_max_tokens", "simulated"}));
    PO_RETURN_IF_ERROR(r.Str("type", p.type));
    PO_RETURN_IF_ERROR(r.Str("base_url", p.base_url));
    PO_RETURN_IF_ERROR(r.Str("api_key_env", p.api_key_env));
    PO_RETURN_IF_ERROR(r.Str("ca_file", p.ca_file));
    PO_RETURN_IF_ERROR(r.Millis("connect_timeout_ms", p.connect_timeout));
    PO_RETURN_IF_ERROR(r.Millis("first_byte_timeout_ms", p.first_byte_timeout));
    PO_RETURN_IF_ERROR(r.Millis("total_timeout_ms", p.total_timeout));
    PO_RETURN_IF_ERROR(r.Int("default_max_tokens", p.default_max_tokens));
    if (p.type != "openai" && p.type != "anthropic" && p.type != "simulated") {
      return Bad(path + ".type", "must be openai, anthropic or simulated");
    }
    if (p.type != "simulated") {
      if (p.base_url.rfind("http://", 0) != 0 && p.base_url.rfind("https://", 0) != 0) {
        return Bad(path + ".base_url", "must be an http:// or https:// URL");
      }
    }
    if (auto sim = r.Child("simulated")) {
      if (p.type != "simulated") return Bad(path + ".simulated", "only for type simulated");
      PO_RETURN_IF_ERROR(ParseSimulated(sim, path + ".simulated", p.simulated));
    }
    c.providers[p.name] = std::move(p);
  }
  return OkStatus();
}

Status ParseModels(const YAML::Node& node, GatewayConfig& c) {
  if (!node.IsMap()) return Bad("models", "must be a mapping of name -> model");
  for (const auto& kv : node) {
    ModelConfig m;
    m.name = kv.first.as<std::string>();
    std::string path = "models." + m.name;
    if (m.name.empty() || m.name.rfind("prompt:", 0) == 0) {
      return Bad(path, "model names must be non-empty and not start with 'prompt:'");
    }
    MapReader r(kv.second, path);
    PO_RETURN_IF_ERROR(r.Check({"provider", "model", "fallbacks", "pricing"}));
    PO_RETURN_IF_ERROR(r.Str("provider", m.provider));
    PO_RETURN_IF_ERROR(r.Str("model", m.upstream_model));
    if (m.upstream_model.empty()) m.upstream_model = m.name;
    PO_RETURN_IF_ERROR(r.StrList("fallbacks", m.fallbacks));
    if (auto pricing = r.Child("pricing")) {
      MapReader pr(pricing, path + ".pricing");
      PO_RETURN_IF_ERROR(
          pr.Check({"input_per_1m", "output_per_1m", "cached_input_per_1m", "cache_write_per_1m"}));
      PO_RETURN_IF_ERROR(pr.Double("input_per_1m", m.pricing.input_per_1m));
      PO_RETURN_IF_ERROR(pr.Double("output_per_1m", m.pricing.output_per_1m));
      for (auto [key, price] : {std::pair{"cached_input_per_1m", &m.pricing.cached_input_per_1m},
                                std::pair{"cache_write_per_1m", &m.pricing.cache_write_per_1m}}) {
        if (!pr.Child(key)) continue;
        double v = 0;
        PO_RETURN_IF_ERROR(pr.Double(key, v));
        *price = v;
      }
      if (m.pricing.input_per_1m < 0 || m.pricing.output_per_1m < 0 ||
          m.pricing.cached_input_per_1m.value_or(0) < 0 ||
          m.pricing.cache_write_per_1m.value_or(0) < 0) {
        return Bad(path + ".pricing", "prices must not be negative");
      }
    }
    c.models[m.name] = std::move(m);
  }
  return OkStatus();
}

Status ParseLimits(const YAML::Node& node, const std::string& path, LimitConfig& l) {
  MapReader r(node, path);
  PO_RETURN_IF_ERROR(r.Check({"requests_per_minute", "tokens_per_day", "cost_per_day_usd"}));
  PO_RETURN_IF_ERROR(r.Int("requests_per_minute", l.requests_per_minute));
  PO_RETURN_IF_ERROR(r.Int("tokens_per_day", l.tokens_per_day));
  PO_RETURN_IF_ERROR(r.Double("cost_per_day_usd", l.cost_per_day_usd));
  if (l.requests_per_minute < 0 || l.tokens_per_day < 0 || l.cost_per_day_usd < 0) {
    return Bad(path, "limits must not be negative (0 = unlimited)");
  }
  return OkStatus();
}

Status ParsePolicy(const YAML::Node& node, GatewayPolicy& p) {
  MapReader r(node, "gateway");
  PO_RETURN_IF_ERROR(r.Check(
      {"trace_bodies", "cache", "retries", "circuit_breaker", "limits", "max_request_bytes"}));
  PO_RETURN_IF_ERROR(r.Str("trace_bodies", p.trace_bodies));
  if (p.trace_bodies != "none" && p.trace_bodies != "masked" && p.trace_bodies != "full") {
    return Bad("gateway.trace_bodies", "must be none, masked or full");
  }
  std::int64_t max_req = static_cast<std::int64_t>(p.max_request_bytes);
  PO_RETURN_IF_ERROR(r.Int("max_request_bytes", max_req));
  p.max_request_bytes = static_cast<std::size_t>(std::max<std::int64_t>(max_req, 1024));
  if (auto cache = r.Child("cache")) {
    MapReader cr(cache, "gateway.cache");
    PO_RETURN_IF_ERROR(cr.Check({"enabled", "ttl_seconds", "max_bytes", "only_temperature_zero"}));
    PO_RETURN_IF_ERROR(cr.Bool("enabled", p.cache_enabled));
    std::int64_t ttl = p.cache_ttl.count(),
                 max_bytes = static_cast<std::int64_t>(p.cache_max_bytes);
    PO_RETURN_IF_ERROR(cr.Int("ttl_seconds", ttl));
    PO_RETURN_IF_ERROR(cr.Int("max_bytes", max_bytes));
    if (ttl < 1 || max_bytes < 1024)
      return Bad("gateway.cache", "ttl_seconds >= 1 and max_bytes >= 1024");
    p.cache_ttl = std::chrono::seconds(ttl);
    p.cache_max_bytes = static_cast<std::size_t>(max_bytes);
    PO_RETURN_IF_ERROR(cr.Bool("only_temperature_zero", p.cache_only_temperature_zero));
  }
  if (auto retries = r.Child("retries")) {
    MapReader rr(retries, "gateway.retries");
    PO_RETURN_IF_ERROR(rr.Check({"max", "backoff_ms", "max_backoff_ms"}));
    std::int64_t max = p.max_retries;
    PO_RETURN_IF_ERROR(rr.Int("max", max));
    if (max < 0 || max > 10) return Bad("gateway.retries.max", "must be in 0..10");
    p.max_retries = static_cast<int>(max);
    PO_RETURN_IF_ERROR(rr.Millis("backoff_ms", p.backoff_base));
    PO_RETURN_IF_ERROR(rr.Millis("max_backoff_ms", p.backoff_max));
  }
  if (auto cb = r.Child("circuit_breaker")) {
    MapReader br(cb, "gateway.circuit_breaker");
    PO_RETURN_IF_ERROR(br.Check({"failures", "cooldown_ms"}));
    std::int64_t failures = p.breaker_failures;
    PO_RETURN_IF_ERROR(br.Int("failures", failures));
    if (failures < 1) return Bad("gateway.circuit_breaker.failures", "must be >= 1");
    p.breaker_failures = static_cast<int>(failures);
    PO_RETURN_IF_ERROR(br.Millis("cooldown_ms", p.breaker_cooldown));
  }
  if (auto limits = r.Child("limits")) {
    MapReader lr(limits, "gateway.limits");
    PO_RETURN_IF_ERROR(lr.Check({"per_key", "per_project"}));
    if (auto k = lr.Child("per_key"))
      PO_RETURN_IF_ERROR(ParseLimits(k, "gateway.limits.per_key", p.per_key));
    if (auto pj = lr.Child("per_project")) {
      PO_RETURN_IF_ERROR(ParseLimits(pj, "gateway.limits.per_project", p.per_project));
    }
  }
  return OkStatus();
}

}  // namespace

const ModelConfig* GatewayConfig::Find(std::string_view name) const {
  auto a = aliases.find(name);
  auto m = models.find(a != aliases.end() ? std::string_view(a->second) : name);
  return m == models.end() ? nullptr : &m->second;
}

Status ParseGatewaySection(const std::string& section, const YAML::Node& node, GatewayConfig& c) {
  try {
    if (section == "providers") return ParseProviders(node, c);
    if (section == "models") return ParseModels(node, c);
    if (section == "gateway") return ParsePolicy(node, c.policy);
    if (section == "aliases") {
      if (!node.IsMap()) return Bad("aliases", "must be a mapping of alias -> model");
      for (const auto& kv : node) {
        if (!kv.second.IsScalar())
          return Bad("aliases." + kv.first.as<std::string>(), "must name a model");
        c.aliases[kv.first.as<std::string>()] = kv.second.as<std::string>();
      }
      return OkStatus();
    }
  } catch (const YAML::Exception& e) {
    return Bad(section, e.what());
  }
  return Bad(section, "unknown section");
}

Status ValidateGatewayConfig(const GatewayConfig& c) {
  for (const auto& [name, m] : c.models) {
    if (!c.providers.count(m.provider)) {
      return Bad("models." + name + ".provider",
                 "names no configured provider '" + m.provider + "'");
    }
    for (const auto& f : m.fallbacks) {
      if (!c.models.count(f))
        return Bad("models." + name + ".fallbacks", "names no configured model '" + f + "'");
      if (f == name)
        return Bad("models." + name + ".fallbacks", "a model cannot fall back to itself");
    }
  }
  for (const auto& [alias, target] : c.aliases) {
    if (c.models.count(alias)) return Bad("aliases." + alias, "shadows a model of the same name");
    if (!c.models.count(target))
      return Bad("aliases." + alias, "names no configured model '" + target + "'");
  }
  return OkStatus();
}

void AddDemoModels(GatewayConfig& c) {
  if (!c.providers.count("simulated")) {
    ProviderConfig p;
    p.name = "simulated";
    p.type = "simulated";
    c.providers["simulated"] = p;
  }
  if (!c.models.count("demo-chat") && !c.aliases.count("demo-chat")) {
    ModelConfig m;
    m.name = "demo-chat";
    m.provider = "simulated";
    m.upstream_model = "demo-chat";
    m.pricing.input_per_1m = 0.5;
    m.pricing.output_per_1m = 1.5;
    c.models["demo-chat"] = m;
  }
}

}  // namespace promptops::gateway
