#include "app/config.h"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cstdlib>

namespace promptops::app {

Result<std::size_t> ParseByteSize(std::string_view s) {
  std::uint64_t n = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || ptr == s.data()) {
    return Error::InvalidArgument("invalid size '" + std::string(s) +
                                  "' (e.g. 10MiB, 512KiB, 1048576)");
  }
  std::string_view unit = s.substr(static_cast<std::size_t>(ptr - s.data()));
  std::uint64_t mult = 1;
  if (unit.empty() || unit == "B")
    mult = 1;
  else if (unit == "KiB" || unit == "K")
    mult = 1024;
  else if (unit == "MiB" || unit == "M")
    mult = 1024 * 1024;
  else if (unit == "GiB" || unit == "G")
    mult = 1024ull * 1024 * 1024;
  else if (unit == "KB")
    mult = 1000;
  else if (unit == "MB")
    mult = 1000 * 1000;
  else
    return Error::InvalidArgument("invalid size unit in '" + std::string(s) +
                                  "' (use B, KiB, MiB, GiB, KB, MB)");
  if (n > (1ull << 40) / mult)
    return Error::InvalidArgument("size '" + std::string(s) + "' is too large");
  return static_cast<std::size_t>(n * mult);
}

Result<std::pair<std::string, std::uint16_t>> ParseListen(std::string_view s) {
  auto colon = s.rfind(':');
  if (colon == std::string_view::npos) {
    return Error::InvalidArgument("listen address '" + std::string(s) + "' must be HOST:PORT");
  }
  std::string host(s.substr(0, colon));
  std::string_view port_s = s.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host.empty()) host = "0.0.0.0";
  unsigned int port = 0;
  auto [ptr, ec] = std::from_chars(port_s.data(), port_s.data() + port_s.size(), port);
  if (ec != std::errc() || ptr != port_s.data() + port_s.size() || port > 65535 || port_s.empty()) {
    return Error::InvalidArgument("invalid port in listen address '" + std::string(s) + "'");
  }
  return std::make_pair(host, static_cast<std::uint16_t>(port));
}

namespace {

Status ParseBool(std::string_view key, std::string_view v, bool& out) {
  if (v == "1" || v == "true" || v == "yes" || v == "on") {
    out = true;
  } else if (v == "0" || v == "false" || v == "no" || v == "off") {
    out = false;
  } else {
    return Error::InvalidArgument(std::string(key) + ": expected true/false, got '" +
                                  std::string(v) + "'");
  }
  return OkStatus();
}

Status ParseInt(std::string_view key, std::string_view v, std::int64_t& out) {
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || ptr != v.data() + v.size()) {
    return Error::InvalidArgument(std::string(key) + ": expected an integer, got '" +
                                  std::string(v) + "'");
  }
  return OkStatus();
}

// Sets one option from its textual value; shared by the file and the environment.
Status Set(ServeConfig& c, std::string_view key, const std::string& v, std::string_view source) {
  std::string where = std::string(source) + " " + std::string(key);
  std::int64_t n = 0;
  if (key == "listen") {
    if (auto l = ParseListen(v); !l.ok())
      return Error::InvalidArgument(where + ": " + l.error().message);
    c.listen = v;
  } else if (key == "data") {
    c.data_dir = v;
  } else if (key == "threads") {
    PO_RETURN_IF_ERROR(ParseInt(where, v, n));
    c.threads = static_cast<int>(n);
  } else if (key == "max_body") {
    auto size = ParseByteSize(v);
    if (!size.ok()) return Error::InvalidArgument(where + ": " + size.error().message);
    c.max_body_bytes = *size;
  } else if (key == "request_timeout_ms") {
    PO_RETURN_IF_ERROR(ParseInt(where, v, n));
    c.request_timeout_ms = n;
  } else if (key == "busy_poll_us") {
    PO_RETURN_IF_ERROR(ParseInt(where, v, n));
    c.busy_poll_us = n;
  } else if (key == "access_log") {
    PO_RETURN_IF_ERROR(ParseBool(where, v, c.access_log));
  } else if (key == "log_level") {
    c.log_level = v;
  } else if (key == "log_format") {
    c.log_format = v;
  } else if (key == "demo") {
    PO_RETURN_IF_ERROR(ParseBool(where, v, c.demo));
  } else if (key == "project") {
    c.project = v;
  } else if (key == "trace_retention_days") {
    PO_RETURN_IF_ERROR(ParseInt(where, v, n));
    if (n < 0) return Error::InvalidArgument(where + ": must not be negative");
    c.trace_retention_days = n;
  } else if (key == "trace_durability") {
    if (v != "relaxed" && v != "full") {
      return Error::InvalidArgument(where + ": must be relaxed or full, not '" + std::string(v) +
                                    "'");
    }
    c.trace_durability = v;
  } else {
    return Error::InvalidArgument(std::string(source) + ": unknown option '" + std::string(key) +
                                  "'");
  }
  return OkStatus();
}

}  // namespace

Status ApplyConfigFile(const std::string& path, ServeConfig& c) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    return Error::InvalidArgument("cannot read config file '" + path + "'");
  } catch (const YAML::Exception& e) {
    return Error::InvalidArgument("config file '" + path + "': " + e.what());
  }
  if (root.IsNull()) return OkStatus();
  if (!root.IsMap()) return Error::InvalidArgument("config file '" + path + "' must be a mapping");
  for (const auto& kv : root) {
    std::string key = kv.first.as<std::string>();
    if (key == "providers" || key == "models" || key == "aliases" || key == "gateway") {
      auto s = gateway::ParseGatewaySection(key, kv.second, c.gateway);
      if (!s.ok())
        return Error::InvalidArgument("config file '" + path + "': " + s.error().message);
      continue;
    }
    if (!kv.second.IsScalar()) {
      return Error::InvalidArgument("config file '" + path + "': option '" + key +
                                    "' must be a scalar");
    }
    PO_RETURN_IF_ERROR(Set(c, key, kv.second.as<std::string>(), "config file '" + path + "':"));
  }
  return OkStatus();
}

Status ApplyEnvironment(ServeConfig& c) {
  static constexpr std::pair<const char*, const char*> kVars[] = {
      {"PROMPTOPS_LISTEN", "listen"},
      {"PROMPTOPS_DATA", "data"},
      {"PROMPTOPS_THREADS", "threads"},
      {"PROMPTOPS_MAX_BODY", "max_body"},
      {"PROMPTOPS_REQUEST_TIMEOUT_MS", "request_timeout_ms"},
      {"PROMPTOPS_BUSY_POLL_US", "busy_poll_us"},
      {"PROMPTOPS_ACCESS_LOG", "access_log"},
      {"PROMPTOPS_LOG_LEVEL", "log_level"},
      {"PROMPTOPS_LOG_FORMAT", "log_format"},
      {"PROMPTOPS_DEMO", "demo"},
      {"PROMPTOPS_PROJECT", "project"},
      {"PROMPTOPS_TRACE_RETENTION_DAYS", "trace_retention_days"},
      {"PROMPTOPS_TRACE_DURABILITY", "trace_durability"},
  };
  for (const auto& [var, key] : kVars) {
    if (const char* v = std::getenv(var)) {
      PO_RETURN_IF_ERROR(Set(c, key, v, std::string("environment ") + var + ":"));
    }
  }
  return OkStatus();
}

Status Validate(const ServeConfig& c) {
  if (auto l = ParseListen(c.listen); !l.ok()) return l.error();
  if (c.threads < 0 || c.threads > 256) return Error::InvalidArgument("threads must be in 0..256");
  if (c.max_body_bytes < 1024) return Error::InvalidArgument("max_body must be at least 1KiB");
  if (c.request_timeout_ms < 100)
    return Error::InvalidArgument("request_timeout_ms must be at least 100");
  if (c.busy_poll_us < 0 || c.busy_poll_us > kMaxBusyPollUs) {
    return Error::InvalidArgument("busy_poll_us must be in 0.." + std::to_string(kMaxBusyPollUs) +
                                  " (microseconds)");
  }
  if (c.log_level != "debug" && c.log_level != "info" && c.log_level != "warn" &&
      c.log_level != "error") {
    return Error::InvalidArgument("log_level must be debug, info, warn or error");
  }
  if (c.log_format != "text" && c.log_format != "json") {
    return Error::InvalidArgument("log_format must be text or json");
  }
  if (c.data_dir.empty()) return Error::InvalidArgument("data directory must not be empty");
  PO_RETURN_IF_ERROR(gateway::ValidateGatewayConfig(c.gateway));
  return OkStatus();
}

}  // namespace promptops::app
