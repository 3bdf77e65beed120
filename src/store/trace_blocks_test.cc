// Trace blocks (trace_blocks.h): the encoding round-trips every field, the id time is read as
// telemetry::NewTraceId writes it, and damaged blocks are errors, never crashes.
#include "store/trace_blocks.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "core/hash.h"

namespace promptops::store::trace_blocks {
namespace {

TraceRow Full(int i) {
  TraceRow r;
  r.id = "tr-" + std::to_string(i);
  r.project_id = 7;
  r.time_ms = 1795436011341 + i;
  r.key_id = "pk-admin";
  r.user = "김민수";
  r.session = "s-" + std::to_string(i % 3);
  r.metadata_json = R"({"team":"검색","n":1})";
  r.prompt_name = "support/bot";
  r.prompt_version = 12;
  r.prompt_label = "production";
  r.model = "gpt-4o-mini";
  r.provider = "openai";
  r.upstream_model = "gpt-4o-mini-2024-07-18";
  r.input_tokens = 1234567;
  r.output_tokens = 0;
  r.usage_estimated = i % 2 == 0;
  r.cost_usd = 0.000123456789;
  r.latency_us = 98765;
  r.ttft_us = -1;
  r.status = 429;
  r.error_class = "rate_limited";
  r.retries = 2;
  r.fallback_used = i % 3 == 0;
  r.cache_hit = i % 5 == 0;
  r.stream = true;
  r.request_body = std::string("{\"messages\":[\"안녕\"]}\0tail", 27);
  r.response_body = std::string(5000, 'x');
  return r;
}

void ExpectSame(const TraceRow& a, const TraceRow& b, bool bodies) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.project_id, b.project_id);
  EXPECT_EQ(a.time_ms, b.time_ms);
  EXPECT_EQ(a.key_id, b.key_id);
  EXPECT_EQ(a.user, b.user);
  EXPECT_EQ(a.session, b.session);
  EXPECT_EQ(a.metadata_json, b.metadata_json);
  EXPECT_EQ(a.prompt_name, b.prompt_name);
  EXPECT_EQ(a.prompt_version, b.prompt_version);
  EXPECT_EQ(a.prompt_label, b.prompt_label);
  EXPECT_EQ(a.model, b.model);
  EXPECT_EQ(a.provider, b.provider);
  EXPECT_EQ(a.upstream_model, b.upstream_model);
  EXPECT_EQ(a.input_tokens, b.input_tokens);
  EXPECT_EQ(a.output_tokens, b.output_tokens);
  EXPECT_EQ(a.usage_estimated, b.usage_estimated);
  EXPECT_EQ(a.cost_usd, b.cost_usd);  // bit-exact
  EXPECT_EQ(a.latency_us, b.latency_us);
  EXPECT_EQ(a.ttft_us, b.ttft_us);
  EXPECT_EQ(a.status, b.status);
  EXPECT_EQ(a.error_class, b.error_class);
  EXPECT_EQ(a.retries, b.retries);
  EXPECT_EQ(a.fallback_used, b.fallback_used);
  EXPECT_EQ(a.cache_hit, b.cache_hit);
  EXPECT_EQ(a.stream, b.stream);
  if (bodies) {
    EXPECT_EQ(a.request_body, b.request_body);
    EXPECT_EQ(a.response_body, b.response_body);
  } else {
    EXPECT_EQ(b.request_body, "");
    EXPECT_EQ(b.response_body, "");
  }
}

std::string EncodeRows(const std::vector<TraceRow>& rows) {
  std::vector<const TraceRow*> ptrs;
  for (const auto& r : rows) ptrs.push_back(&r);
  return Encode(ptrs);
}

TEST(TraceBlocks, EveryFieldRoundTripsInOrder) {
  std::vector<TraceRow> rows;
  for (int i = 0; i < 300; ++i) rows.push_back(Full(i));
  rows.emplace_back();  // all defaults
  // Extremes of every integer field.
  TraceRow extreme = Full(1);
  extreme.project_id = std::numeric_limits<std::int64_t>::max();
  extreme.time_ms = std::numeric_limits<std::int64_t>::min();
  extreme.input_tokens = -1;
  extreme.cost_usd = -0.0;
  rows.push_back(extreme);
  std::string block = EncodeRows(rows);
  for (bool bodies : {true, false}) {
    auto back = Decode(block, bodies);
    ASSERT_TRUE(back.ok()) << back.error().ToString();
    ASSERT_EQ(back->size(), rows.size());
    for (std::size_t i = 0; i < rows.size(); ++i) {
      SCOPED_TRACE(i);
      ExpectSame(rows[i], (*back)[i], bodies);
    }
  }
  EXPECT_TRUE(std::signbit((*Decode(block))[rows.size() - 1].cost_usd));
}

TEST(TraceBlocks, EmptyBlockRoundTrips) {
  auto back = Decode(EncodeRows({}));
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(back->empty());
}

// Gateway traces are alike: a block of them is far smaller than the rows were (the reason for
// blocks). 512 traces like the gateway bench's, ids from NewTraceId.
TEST(TraceBlocks, AlikeTracesCompressWell) {
  std::vector<TraceRow> rows;
  for (int i = 0; i < 512; ++i) {
    TraceRow r;
    r.id = TimeOrderedId("tr-", 24, 1795436011341 + i / 40);
    r.project_id = 1;
    r.time_ms = 1795436011341 + i / 40;
    r.key_id = "pk-admin";
    r.model = r.upstream_model = "mock-model";
    r.provider = "mock";
    r.input_tokens = 12;
    r.output_tokens = 7;
    r.cost_usd = 2.6e-05;
    r.latency_us = 1500 + (i * 37) % 400;
    rows.push_back(r);
  }
  std::string block = EncodeRows(rows);
  EXPECT_LT(block.size(), 512u * 40) << block.size();  // the table took ~194 bytes per trace
  auto back = Decode(block);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ((*back)[511].id, rows[511].id);
}

// One DecodedBlock reused for blocks of different sizes (as listings do): each decode gives that
// block's rows, and a failed one leaves no rows behind.
TEST(TraceBlocks, DecodeIntoReusesItsBuffers) {
  std::vector<TraceRow> big, small;
  for (int i = 0; i < 200; ++i) big.push_back(Full(i));
  small.push_back(Full(1000));
  DecodedBlock decoded;
  for (const auto* rows : {&big, &small, &big}) {
    ASSERT_TRUE(DecodeInto(EncodeRows(*rows), decoded).ok());
    ASSERT_EQ(decoded.rows.size(), rows->size());
    for (std::size_t i = 0; i < rows->size(); ++i) {
      ExpectSame((*rows)[i], decoded.rows[i].ToRow(true), true);
      EXPECT_EQ(decoded.rows[i].user, "김민수");
    }
  }
  std::string bad = EncodeRows(big);
  bad.resize(bad.size() - 3);
  EXPECT_FALSE(DecodeInto(bad, decoded).ok());
  EXPECT_TRUE(decoded.rows.empty());
}

TEST(TraceBlocks, DamagedBlocksAreErrors) {
  std::vector<TraceRow> rows;
  for (int i = 0; i < 20; ++i) rows.push_back(Full(i));
  const std::string block = EncodeRows(rows);
  EXPECT_FALSE(Decode("").ok());
  EXPECT_FALSE(Decode(std::string("\x02") + block.substr(1)).ok());  // unknown format
  // Every truncation.
  for (std::size_t n = 0; n < block.size(); n += 7) {
    EXPECT_FALSE(Decode(block.substr(0, n)).ok()) << n;
  }
  // Flipped bytes: an error or (if zstd's frame still decodes) rows, never a crash.
  for (std::size_t i = 0; i < block.size(); i += 3) {
    std::string bad = block;
    bad[i] = static_cast<char>(bad[i] ^ 0x5a);
    (void)Decode(bad);
  }
  // A size that does not match the frame.
  std::string wrong = block;
  wrong[1] = static_cast<char>(wrong[1] ^ 0x01);
  EXPECT_FALSE(Decode(wrong).ok());
  auto e = Decode("\x01\xff");
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message.find("corrupt trace block"), std::string::npos);
}

TEST(TraceBlocks, BloomFilterHoldsEveryValueAndFewOthers) {
  for (std::size_t n :
       {std::size_t{0}, std::size_t{1}, std::size_t{3}, std::size_t{512}, std::size_t{2048}}) {
    std::vector<std::string> ids;
    for (std::size_t i = 0; i < n; ++i) {
      ids.push_back(TimeOrderedId("tr-", 24, 1795436011341 + static_cast<std::int64_t>(i)));
    }
    std::vector<std::string_view> views(ids.begin(), ids.end());
    std::string filter = BloomFilter(views);
    EXPECT_GE(filter.size(), 8u);
    for (const auto& id : ids) EXPECT_TRUE(BloomMayHold(filter, id)) << id;
    int false_positives = 0;
    constexpr int kOthers = 20000;
    for (int i = 0; i < kOthers; ++i) {
      false_positives += BloomMayHold(filter, TimeOrderedId("tr-", 24, 1795436011341)) ? 1 : 0;
    }
    // ~0.25% expected at 16 bits per value; tiny filters (n <= 3) hold 64 bits.
    EXPECT_LT(false_positives, kOthers / 100) << n;
  }
  // Korean user names hash as bytes.
  std::vector<std::string_view> users = {"김민수", "이영희", ""};
  std::string filter = BloomFilter(users);
  for (auto u : users) EXPECT_TRUE(BloomMayHold(filter, u));
  EXPECT_TRUE(BloomMayHold("", "anything"));  // no filter: may hold anything
}

TEST(TraceBlocks, IdTimeIsTheTimeNewTraceIdsStartWith) {
  for (std::int64_t t : {std::int64_t{0}, std::int64_t{1}, std::int64_t{1795436011341},
                         std::int64_t{218340105584895}}) {
    EXPECT_EQ(IdTimeMs(TimeOrderedId("tr-", 24, t)), t);
  }
  EXPECT_EQ(IdTimeMs("tr-0VbnWWuD"), IdTimeMs("tr-0VbnWWuDKqtCQBez9OMRWok9"));
  EXPECT_EQ(IdTimeMs("tr-00000001"), 1);
  EXPECT_EQ(IdTimeMs("tr-0000000z"), 61);
  EXPECT_EQ(IdTimeMs("tr-0000000"), -1);   // too short
  EXPECT_EQ(IdTimeMs("xx-00000001"), -1);  // other prefix
  EXPECT_EQ(IdTimeMs("tr-0000-001"), -1);  // not a base-62 digit
  EXPECT_EQ(IdTimeMs("tr-legacy"), -1);
  // A byte that is no digit at any of the eight places, non-ASCII ones too.
  for (std::size_t i = 0; i < 8; ++i) {
    for (char bad : {'-', '/', ':', '@', '[', '`', '{', '\xff', '\x80', '\0'}) {
      std::string id = "tr-0VbnWWuDKqtC";
      id[3 + i] = bad;
      EXPECT_EQ(IdTimeMs(id), -1) << i << " " << int(bad);
    }
  }
  EXPECT_EQ(IdTimeMs(""), -1);
}

}  // namespace
}  // namespace promptops::store::trace_blocks
