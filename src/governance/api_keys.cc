#include "governance/api_keys.h"

#include <array>

#include "core/hash.h"

namespace promptops::governance {

Status ValidatePublicId(std::string_view id) {
  bool ok = id.size() >= 3 && id.size() <= 64;
  for (char c : id) {
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-');
  }
  if (!ok) {
    return Error::InvalidArgument("public id must be 3..64 characters of [A-Za-z0-9_.-]");
  }
  return OkStatus();
}

namespace {
std::atomic<std::uint64_t> g_next_index_version{1};
}  // namespace

ApiKeys::ApiKeys(store::Store& store, Clock& clock) : store_(store), clock_(clock) {
  Publish(std::make_shared<const Index>());
}

void ApiKeys::Publish(std::shared_ptr<const Index> index) {
  // The index first, then its version (release): a thread that sees the version sees the
  // index (or a newer one).
  index_.store(std::move(index));
  version_.store(g_next_index_version.fetch_add(1), std::memory_order_release);
}

const ApiKeys::Index& ApiKeys::CurrentIndex() const {
  struct Cached {
    std::uint64_t version = 0;
    std::shared_ptr<const Index> index;
  };
  thread_local Cached cached;
  std::uint64_t v = version_.load(std::memory_order_acquire);
  if (cached.version != v || !cached.index) {
    cached.index = index_.load();
    cached.version = v;
  }
  return *cached.index;
}

Status ApiKeys::Load() { return Reload(); }

Status ApiKeys::Reload() {
  std::lock_guard lock(reload_mu_);
  auto index = std::make_shared<Index>();
  PO_RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> Status {
    PO_ASSIGN_OR_RETURN(auto keys, tx.keys().List());
    for (const auto& k : keys) {
      if (k.revoked_at) continue;
      auto role = ParseRole(k.role);
      if (!role) continue;
      (*index)[k.secret_hash] = Entry{k.public_id, k.secret_hash, k.project_id, *role};
    }
    return OkStatus();
  }));
  Publish(std::move(index));
  return OkStatus();
}

Result<Actor> ApiKeys::Authenticate(std::string_view secret) const {
  if (secret.empty()) return Error::Unauthenticated("missing API key");
  // The secrets this thread authenticated last, valid while the index version they were found
  // in is current: a gateway sees the same few keys on every request, and hashing one
  // (SHA-256) was ~3% of a request's instructions. Any publish (a key created, revoked or
  // rotated) changes the version, so a revoked key is refused on its next request; versions
  // are unique per process, so one ApiKeys object never answers from another's entries.
  // Compared in constant time apart from the length: the time taken says nothing about how
  // much of a remembered secret a guess matched.
  struct Recent {
    std::uint64_t version = 0;
    std::string secret;
    Actor actor;
  };
  constexpr std::size_t kRecent = 4;
  thread_local std::array<Recent, kRecent> recent;
  thread_local std::size_t next = 0;
  // Read before the index: an entry is stored under the version current before its lookup, so
  // a publish in between leaves it stale (it misses), never the other way round.
  const std::uint64_t version = version_.load(std::memory_order_acquire);
  for (const auto& r : recent) {
    if (r.version == version && r.secret.size() == secret.size() &&
        ConstantTimeEquals(r.secret, secret)) {
      return r.actor;
    }
  }
  const Index& index = CurrentIndex();
  char hash[64];
  Sha256HexTo(secret, hash);
  auto it = index.find(std::string_view(hash, sizeof hash));
  if (it == index.end()) return Error::Unauthenticated("invalid or revoked API key");
  Actor actor{it->second.project_id, it->second.public_id, it->second.role};
  Recent& slot = recent[next++ % kRecent];
  slot.version = version;
  slot.secret.assign(secret);
  slot.actor = actor;
  return actor;
}

Result<Actor> ApiKeys::AuthenticateHeader(std::optional<std::string_view> authorization) const {
  if (!authorization) {
    return Error::Unauthenticated(
        "missing credentials: send 'Authorization: Bearer <api key>' (or Basic public:secret)");
  }
  std::string_view v = *authorization;
  auto starts = [&](std::string_view scheme) {
    if (v.size() < scheme.size()) return false;
    for (std::size_t i = 0; i < scheme.size(); ++i) {
      if (std::tolower(static_cast<unsigned char>(v[i])) != scheme[i]) return false;
    }
    return true;
  };
  if (starts("bearer ")) {
    std::string_view secret = v.substr(7);
    while (!secret.empty() && secret.front() == ' ') secret.remove_prefix(1);
    return Authenticate(secret);
  }
  if (starts("basic ")) {
    auto decoded = Base64Decode(v.substr(6));
    if (!decoded) return Error::Unauthenticated("malformed Basic credentials");
    auto colon = decoded->find(':');
    if (colon == std::string::npos) return Error::Unauthenticated("malformed Basic credentials");
    return AuthenticatePair(std::string_view(*decoded).substr(0, colon),
                            std::string_view(*decoded).substr(colon + 1));
  }
  return Error::Unauthenticated("unsupported Authorization scheme (use Bearer or Basic)");
}

Result<Actor> ApiKeys::AuthenticatePair(std::string_view public_id, std::string_view secret) const {
  auto actor = Authenticate(secret);
  if (!actor.ok()) return actor;
  if (!ConstantTimeEquals(actor->id, public_id)) {
    return Error::Unauthenticated("invalid or revoked API key");
  }
  return actor;
}

Result<CreatedKey> ApiKeys::Create(const Actor& actor, const KeyRequest& req) {
  PO_RETURN_IF_ERROR(actor.Require(Role::kAdmin, "create API keys"));
  CreatedKey out;
  out.secret = req.secret.value_or("po-" + RandomToken(40));
  if (out.secret.size() < 20)
    return Error::InvalidArgument("a key secret needs at least 20 characters");
  out.key.public_id = req.public_id.value_or("pk-" + RandomToken(16));
  PO_RETURN_IF_ERROR(ValidatePublicId(out.key.public_id));
  if (req.name.size() > 200) return Error::InvalidArgument("key name is longer than 200 bytes");
  out.key.project_id = actor.project_id;
  out.key.secret_hash = Sha256Hex(out.secret);
  out.key.role = std::string(RoleName(req.role));
  out.key.name = req.name;
  out.key.created_by = actor.id;
  out.key.created_at = ToUnixMillis(clock_.Now());
  PO_RETURN_IF_ERROR(store_.Write([&](store::Tx& tx) -> Status {
    auto inserted = tx.keys().Insert(out.key);
    if (!inserted.ok()) {
      // The secret hash is unique too; do not reveal which constraint failed beyond the id.
      if (inserted.error().code == ErrorCode::kAlreadyExists) return std::move(inserted).error();
      if (inserted.error().code == ErrorCode::kConflict) {
        return Error::AlreadyExists("a key with this public id or secret exists");
      }
      return std::move(inserted).error();
    }
    out.key = std::move(inserted).value();
    return OkStatus();
  }));
  PO_RETURN_IF_ERROR(Reload());
  return out;
}

Result<std::vector<store::ApiKeyRow>> ApiKeys::List(const Actor& actor) {
  PO_RETURN_IF_ERROR(actor.Require(Role::kAdmin, "list API keys"));
  std::vector<store::ApiKeyRow> out;
  PO_RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> Status {
    PO_ASSIGN_OR_RETURN(auto keys, tx.keys().List());
    for (auto& k : keys) {
      if (k.project_id == actor.project_id) out.push_back(std::move(k));
    }
    return OkStatus();
  }));
  return out;
}

Status ApiKeys::Revoke(const Actor& actor, std::string_view public_id) {
  PO_RETURN_IF_ERROR(actor.Require(Role::kAdmin, "revoke API keys"));
  PO_RETURN_IF_ERROR(store_.Write([&](store::Tx& tx) -> Status {
    PO_ASSIGN_OR_RETURN(auto key, tx.keys().FindByPublicId(public_id));
    if (!key || key->project_id != actor.project_id) {
      return Error::NotFound("API key '" + std::string(public_id) + "' not found");
    }
    if (key->revoked_at)
      return Error::FailedPrecondition("API key '" + std::string(public_id) +
                                       "' is already revoked");
    if (key->role == "admin") {
      PO_ASSIGN_OR_RETURN(auto all, tx.keys().List());
      int active_admins = 0;
      for (const auto& k : all) {
        active_admins += k.project_id == actor.project_id && k.role == "admin" && !k.revoked_at;
      }
      if (active_admins <= 1) {
        return Error::FailedPrecondition("cannot revoke the project's last active admin key");
      }
    }
    PO_ASSIGN_OR_RETURN(bool revoked, tx.keys().Revoke(public_id, ToUnixMillis(clock_.Now())));
    (void)revoked;
    return OkStatus();
  }));
  return Reload();
}

Result<std::optional<CreatedKey>> ApiKeys::Bootstrap(std::string_view project,
                                                     std::optional<std::string> secret,
                                                     std::optional<std::string> public_id) {
  std::optional<CreatedKey> created;
  PO_RETURN_IF_ERROR(store_.Write([&](store::Tx& tx) -> Status {
    PO_ASSIGN_OR_RETURN(auto p, tx.projects().FindByName(project));
    std::int64_t now = ToUnixMillis(clock_.Now());
    if (!p) {
      PO_ASSIGN_OR_RETURN(auto made, tx.projects().Create(project, now));
      p = made;
    }
    PO_ASSIGN_OR_RETURN(auto count, tx.keys().Count());
    if (count > 0) return OkStatus();
    CreatedKey k;
    k.secret = secret.value_or("po-" + RandomToken(40));
    if (k.secret.size() < 20) {
      return Error::InvalidArgument("PROMPTOPS_ADMIN_KEY needs at least 20 characters");
    }
    k.key.public_id = public_id.value_or("pk-admin");
    PO_RETURN_IF_ERROR(ValidatePublicId(k.key.public_id));
    k.key.project_id = p->id;
    k.key.secret_hash = Sha256Hex(k.secret);
    k.key.role = "admin";
    k.key.name = "bootstrap admin";
    k.key.created_by = "system";
    k.key.created_at = now;
    PO_ASSIGN_OR_RETURN(k.key, tx.keys().Insert(k.key));
    created = std::move(k);
    return OkStatus();
  }));
  PO_RETURN_IF_ERROR(Reload());
  return created;
}

Result<std::int64_t> ApiKeys::ProjectId(std::string_view project) {
  std::int64_t id = 0;
  PO_RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> Status {
    PO_ASSIGN_OR_RETURN(auto p, tx.projects().FindByName(project));
    if (!p) return Error::NotFound("project '" + std::string(project) + "' not found");
    id = p->id;
    return OkStatus();
  }));
  return id;
}

}  // namespace promptops::governance
