// What the API handlers need from the rest of the program: the domain services. Owned by the
// app (composition root); handlers hold a reference for the server's lifetime.
#pragma once

#include <atomic>
#include <string>

#include "governance/api_keys.h"
#include "registry/registry.h"

namespace promptops::api {

struct ApiContext {
  registry::Registry& registry;
  governance::ApiKeys& keys;
  std::string version = "0.1.0";       // promptops version, reported by /healthz
  std::atomic<bool>* ready = nullptr;  // /readyz answers 200 only when set and true
};

}  // namespace promptops::api
