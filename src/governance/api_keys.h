// API keys: creation (the secret is returned once and stored only as a SHA-256 hash), listing,
// revocation, and authentication of a presented secret against an in-memory index (no database
// access per request).
//
// Key format: public id "pk-<16 alnum>" (safe to log and show), secret "po-<40 alnum>".
// Threads: all methods are thread-safe; Authenticate* read an immutable index swapped atomically.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/actor.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/hash.h"
#include "store/store.h"

namespace promptops::governance {

struct CreatedKey {
  store::ApiKeyRow key;
  std::string secret;  // shown once
};

struct KeyRequest {
  Role role = Role::kViewer;
  std::string name;
  std::optional<std::string> public_id;  // default: generated
  std::optional<std::string> secret;     // default: generated (automation may set its own)
};

class ApiKeys {
 public:
  ApiKeys(store::Store& store, Clock& clock);

  // Loads active keys into the index. Call once before serving.
  Status Load();

  // Authenticates a bearer secret. Unauthenticated (without echoing the secret) if unknown or
  // revoked.
  Result<Actor> Authenticate(std::string_view secret) const;
  // Authenticates an Authorization header value: "Bearer <secret>" or "Basic base64(public
  // id:secret)". Unauthenticated when missing, malformed or unknown; never echoes credentials.
  Result<Actor> AuthenticateHeader(std::optional<std::string_view> authorization) const;
  // Authenticates "public id : secret" (HTTP Basic, as Langfuse clients send).
  Result<Actor> AuthenticatePair(std::string_view public_id, std::string_view secret) const;

  // Creates a key in the actor's project. Needs admin. Secrets must be >= 20 characters.
  Result<CreatedKey> Create(const Actor& actor, const KeyRequest& req);
  // Keys of the actor's project, revoked ones included. Needs admin.
  Result<std::vector<store::ApiKeyRow>> List(const Actor& actor);
  // Revokes a key of the actor's project. Needs admin. Refuses to revoke the project's last
  // active admin key (FailedPrecondition), so a project cannot lock itself out.
  Status Revoke(const Actor& actor, std::string_view public_id);

  // On a database without keys: creates project `project` and an admin key for it. The secret
  // and public id come from the arguments when given (PROMPTOPS_ADMIN_KEY / _PUBLIC_KEY), else
  // are generated. Returns the key created, or nullopt if keys already existed.
  Result<std::optional<CreatedKey>> Bootstrap(std::string_view project,
                                              std::optional<std::string> secret,
                                              std::optional<std::string> public_id);

  // The project id of the named project (for tools and tests).
  Result<std::int64_t> ProjectId(std::string_view project);

 private:
  struct Entry {
    std::string public_id;
    std::string secret_hash;
    std::int64_t project_id;
    Role role;
  };
  using Index = std::unordered_map<std::string, Entry, StringHash, std::equal_to<>>;  // by hash
  Status Reload();
  void Publish(std::shared_ptr<const Index> index);
  // The current index. Each thread keeps the last one it loaded while the version is unchanged,
  // so authenticating a request touches no shared reference count (an atomic shared_ptr load
  // and release per request bounced their cache lines between the network threads).
  const Index& CurrentIndex() const;

  store::Store& store_;
  Clock& clock_;
  std::mutex reload_mu_;
  std::atomic<std::shared_ptr<const Index>> index_;
  // Of the index in index_: unique across all ApiKeys objects (a process-wide counter), so a
  // thread's cached index can only match the object that published it.
  std::atomic<std::uint64_t> version_{0};
};

// Validates a public id: "^[A-Za-z0-9_.-]{3,64}$".
Status ValidatePublicId(std::string_view id);

}  // namespace promptops::governance
