// Exact-match response cache: key = provider + upstream model + messages + parameters (after
// rendering), value = the complete answer (a streamed answer is cached when it completes and is
// replayed as a stream). Bounded by bytes with LRU eviction and by a TTL.
//
// Thread safety: all methods are thread-safe (one mutex; the critical sections are short).
#pragma once

#include <chrono>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "core/clock.h"
#include "providers/chat.h"

namespace promptops::gateway {

struct CachedAnswer {
  providers::ChatResponse response;
  providers::Usage usage;
};

class ResponseCache {
 public:
  ResponseCache(std::size_t max_bytes, std::chrono::seconds ttl, const Clock& clock);

  // The cache key of a request to `provider`: SHA-256 over a canonical serialization.
  static std::string Key(std::string_view provider, const providers::ChatRequest& req);

  // The live entry for `key`, or nullptr (expired entries are dropped).
  std::shared_ptr<const CachedAnswer> Get(const std::string& key);
  // Stores an answer; entries larger than a quarter of the capacity are not cached.
  void Put(const std::string& key, CachedAnswer answer);

  struct Stats {
    std::size_t entries = 0, bytes = 0;
    std::uint64_t hits = 0, misses = 0, evictions = 0;
  };
  Stats stats() const;

 private:
  struct Entry {
    std::string key;
    std::shared_ptr<const CachedAnswer> answer;
    std::size_t bytes;
    SystemTime expires;
  };
  void EvictLocked();

  const std::size_t max_bytes_;
  const std::chrono::seconds ttl_;
  const Clock& clock_;
  mutable std::mutex mu_;
  std::list<Entry> lru_;  // front = most recently used; guarded by mu_
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;  // guarded by mu_
  Stats stats_;                                                        // guarded by mu_
};

}  // namespace promptops::gateway
