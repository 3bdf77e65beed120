// Test-only helpers (header-only; included by the *_test.cc files of this folder): feeding a
// byte stream to a StreamDecoder cut at given points and summarizing what came out.
#pragma once

#include <gtest/gtest.h>

#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "providers/adapter.h"

namespace promptops::providers::testutil {

struct Decoded {
  std::vector<StreamEvent> events;
  std::optional<UpstreamFailure> failure;  // from Feed or Finish
  bool failed_in_finish = false;
  // "D:text" per delta (then "T:" its tool calls, "R(field):" its reasoning, "B:" its thinking
  // blocks, when it has them), "F:reason", "U:prompt/completion", joined with '|'.
  std::string Summary() const {
    std::string s;
    for (const auto& e : events) {
      if (!s.empty()) s += '|';
      switch (e.kind) {
        case StreamEvent::Kind::kDelta:
          s += "D:" + e.text;
          if (!e.tool_calls.is_null()) s += "T:" + boost::json::serialize(e.tool_calls);
          if (!e.reasoning.empty()) s += "R(" + std::string(e.reasoning_field) + "):" + e.reasoning;
          if (!e.thinking_blocks.is_null()) s += "B:" + boost::json::serialize(e.thinking_blocks);
          break;
        case StreamEvent::Kind::kFinish:
          s += "F:" + e.finish_reason.value_or("?");
          break;
        case StreamEvent::Kind::kUsage:
          s += "U:" + std::to_string(e.usage->prompt_tokens) + "/" +
               std::to_string(e.usage->completion_tokens);
          break;
      }
    }
    return s;
  }
  std::string Text() const {
    std::string t;
    for (const auto& e : events) {
      if (e.kind == StreamEvent::Kind::kDelta) t += e.text;
    }
    return t;
  }
};

// Feeds `bytes` cut at the (sorted) offsets in `cuts`, then Finish (unless a Feed failed).
inline Decoded DecodeCut(const Adapter& adapter, std::string_view bytes,
                         const std::vector<std::size_t>& cuts) {
  Decoded d;
  auto decoder = adapter.NewStreamDecoder();
  std::size_t pos = 0;
  auto feed = [&](std::string_view piece) {
    auto r = decoder->Feed(piece, d.events);
    if (auto* f = std::get_if<UpstreamFailure>(&r)) d.failure = *f;
  };
  for (std::size_t c : cuts) {
    if (d.failure) return d;
    feed(bytes.substr(pos, c - pos));
    pos = c;
  }
  if (d.failure) return d;
  feed(bytes.substr(pos));
  if (d.failure) return d;
  auto r = decoder->Finish(d.events);
  if (auto* f = std::get_if<UpstreamFailure>(&r)) {
    d.failure = *f;
    d.failed_in_finish = true;
  }
  return d;
}

inline Decoded DecodeWhole(const Adapter& adapter, std::string_view bytes) {
  return DecodeCut(adapter, bytes, {});
}

// Asserts that every way of cutting `bytes` (each single cut point, one byte at a time, and
// 200 random multi-cut splits) decodes to the same result as feeding it whole; returns that.
inline Decoded ExpectSplitInvariant(const Adapter& adapter, std::string_view bytes) {
  Decoded whole = DecodeWhole(adapter, bytes);
  auto same = [&](const Decoded& d, const std::string& how) {
    EXPECT_EQ(d.Summary(), whole.Summary()) << how;
    EXPECT_EQ(d.failure.has_value(), whole.failure.has_value()) << how;
    if (d.failure && whole.failure) {
      EXPECT_EQ(d.failure->cls, whole.failure->cls) << how;
      EXPECT_EQ(d.failure->message, whole.failure->message) << how;
    }
  };
  for (std::size_t i = 0; i <= bytes.size(); ++i) {
    same(DecodeCut(adapter, bytes, {i}), "single cut at " + std::to_string(i));
  }
  std::vector<std::size_t> every;
  for (std::size_t i = 1; i < bytes.size(); ++i) every.push_back(i);
  same(DecodeCut(adapter, bytes, every), "one byte at a time");
  std::mt19937 rng(12345);
  for (int round = 0; round < 200; ++round) {
    std::vector<std::size_t> cuts;
    std::size_t pos = 0;
    while (true) {
      pos += 1 + rng() % 17;
      if (pos >= bytes.size()) break;
      cuts.push_back(pos);
    }
    same(DecodeCut(adapter, bytes, cuts), "random split round " + std::to_string(round));
  }
  return whole;
}

}  // namespace promptops::providers::testutil
