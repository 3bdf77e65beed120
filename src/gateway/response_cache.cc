#include "gateway/response_cache.h"

#include "core/hash.h"
#include "core/json.h"

namespace promptops::gateway {

namespace bj = boost::json;

ResponseCache::ResponseCache(std::size_t max_bytes, std::chrono::seconds ttl, const Clock& clock)
    : max_bytes_(max_bytes), ttl_(ttl), clock_(clock) {}

std::string ResponseCache::Key(std::string_view provider, const providers::ChatRequest& req) {
  bj::object o{{"provider", provider}, {"model", req.model}, {"messages", req.Messages()}};
  if (req.temperature) o["temperature"] = *req.temperature;
  if (req.top_p) o["top_p"] = *req.top_p;
  if (req.max_tokens) o["max_tokens"] = *req.max_tokens;
  if (req.seed) o["seed"] = *req.seed;
  bj::array stop;
  for (const auto& s : req.stop) stop.emplace_back(s);
  o["stop"] = std::move(stop);
  o["extra"] = req.extra;
  return Sha256Hex(json::CanonicalSerialize(o));
}

std::shared_ptr<const CachedAnswer> ResponseCache::Get(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = index_.find(key);
  if (it == index_.end()) {
    ++stats_.misses;
    return nullptr;
  }
  if (clock_.Now() >= it->second->expires) {
    stats_.bytes -= it->second->bytes;
    lru_.erase(it->second);
    index_.erase(it);
    ++stats_.misses;
    return nullptr;
  }
  lru_.splice(lru_.begin(), lru_, it->second);
  ++stats_.hits;
  return it->second->answer;
}

void ResponseCache::Put(const std::string& key, CachedAnswer answer) {
  std::size_t bytes = key.size() * 2 + answer.response.content.size() + answer.response.id.size() +
                      answer.response.model.size() + 256;
  // Tool calls, logprobs and the like count with their JSON size (logprobs can be far larger
  // than the text).
  const auto& r = answer.response;
  if (!r.tool_calls.is_null()) bytes += json::Serialize(r.tool_calls).size() * 2;
  if (r.logprobs) bytes += json::Serialize(*r.logprobs).size() * 2;
  if (r.message_extra) bytes += json::Serialize(*r.message_extra).size() * 2;
  if (bytes > max_bytes_ / 4) return;
  auto shared = std::make_shared<const CachedAnswer>(std::move(answer));
  std::lock_guard lock(mu_);
  if (auto it = index_.find(key); it != index_.end()) {
    stats_.bytes -= it->second->bytes;
    lru_.erase(it->second);
    index_.erase(it);
  }
  lru_.push_front(Entry{key, std::move(shared), bytes, clock_.Now() + ttl_});
  index_[key] = lru_.begin();
  stats_.bytes += bytes;
  EvictLocked();
}

void ResponseCache::EvictLocked() {
  while (stats_.bytes > max_bytes_ && !lru_.empty()) {
    auto& last = lru_.back();
    stats_.bytes -= last.bytes;
    index_.erase(last.key);
    lru_.pop_back();
    ++stats_.evictions;
  }
}

ResponseCache::Stats ResponseCache::stats() const {
  std::lock_guard lock(mu_);
  Stats s = stats_;
  s.entries = lru_.size();
  return s;
}

}  // namespace promptops::gateway
