// Telemetry as the app wires it: RecordRequest -> metrics + stored trace, the trace service's
// role checks and feedback, feedback validation, and retention driven by a fake clock.
#include "telemetry/telemetry.h"

#include <gtest/gtest.h>

#include <cctype>
#include <thread>

#include "core/json.h"
#include "support/temp_dir.h"

namespace promptops::telemetry {
namespace {

using namespace std::chrono_literals;
constexpr std::int64_t kDayMs = 24LL * 3600 * 1000;

class TelemetryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::move(store::OpenSqliteStore(dir_.path() / "db.sqlite")).value();
  }
  TraceRecord Record(std::string id, std::int64_t time_ms, std::int64_t project = 1) {
    TraceRecord r;
    r.id = std::move(id);
    r.project_id = project;
    r.time_ms = time_ms;
    r.prompt_name = "bot";
    r.prompt_version = 2;
    r.model = "m";
    r.user = "end-user-7";
    r.latency_us = 2000;
    return r;
  }
  std::int64_t Now() const { return ToUnixMillis(clock_.Now()); }

  testing::TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<store::Store> store_;
  Actor viewer_{1, "pk-viewer", Role::kViewer};
  Actor admin_{1, "pk-admin", Role::kAdmin};
};

TEST_F(TelemetryTest, RecordRequestCountsMetricsAndStoresTheTrace) {
  Telemetry t(*store_, clock_);
  ASSERT_TRUE(t.RecordRequest(Record("tr-1", Now())));
  EXPECT_EQ(
      t.metrics().Value("promptops_gateway_requests_total",
                        {{"prompt", "bot"}, {"version", "2"}, {"model", "m"}, {"status", "200"}}),
      1);
  // Not flushed: Get finds it anyway (a miss flushes the writer once).
  auto got = t.service().Get(viewer_, "tr-1");
  ASSERT_TRUE(got.ok()) << got.error().ToString();
  EXPECT_EQ(got->trace.user, "end-user-7");
  EXPECT_EQ(t.service().Get({2, "pk-x", Role::kAdmin}, "tr-1").error().code, ErrorCode::kNotFound);
}

TEST_F(TelemetryTest, FeedbackIsStoredWithTheTracesPromptAndCounted) {
  Telemetry t(*store_, clock_);
  ASSERT_TRUE(t.RecordRequest(Record("tr-1", Now())));
  auto up = t.service().AddFeedback(viewer_, "tr-1", {"up", std::nullopt, "great", ""});
  ASSERT_TRUE(up.ok()) << up.error().ToString();
  EXPECT_EQ(up->prompt_name, "bot");
  EXPECT_EQ(up->user, "end-user-7");  // defaults to the trace's user
  ASSERT_TRUE(t.service().AddFeedback(viewer_, "tr-1", {"score", 4, "", "reviewer"}).ok());
  EXPECT_EQ(
      t.service().AddFeedback(viewer_, "tr-missing", {"up", std::nullopt, "", ""}).error().code,
      ErrorCode::kNotFound);
  auto d = t.service().Get(viewer_, "tr-1");
  ASSERT_EQ(d->feedback.size(), 2u);
  EXPECT_EQ(d->feedback[1].score, 4);
  auto sum = t.service().SummarizeFeedback(viewer_, {});
  ASSERT_EQ(sum->size(), 1u);
  EXPECT_EQ((*sum)[0].up, 1);
  EXPECT_EQ((*sum)[0].scored, 1);
  EXPECT_EQ(
      t.metrics().Value("promptops_feedback_total",
                        {{"prompt", "bot"}, {"version", "2"}, {"model", "m"}, {"value", "up"}}),
      1);
}

TEST_F(TelemetryTest, DeletingTracesNeedsAdminAndKeepsRecentOnes) {
  Telemetry t(*store_, clock_);
  ASSERT_TRUE(t.RecordRequest(Record("old", Now() - 10 * kDayMs)));
  ASSERT_TRUE(t.RecordRequest(Record("new", Now() - 1 * kDayMs)));
  ASSERT_TRUE(t.RecordRequest(Record("other-project", Now() - 10 * kDayMs, 2)));
  t.writer().Flush();
  EXPECT_EQ(t.service().DeleteOlderThan(viewer_, 7).error().code, ErrorCode::kPermissionDenied);
  auto n = t.service().DeleteOlderThan(admin_, 7);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 1);
  EXPECT_EQ(t.service().List(admin_, {}, 0, 10)->total, 1u);
  EXPECT_EQ(t.service().List({2, "pk", Role::kAdmin}, {}, 0, 10)->total, 1u);
}

TEST_F(TelemetryTest, RetentionDeletesWhatIsOlderThanTheConfiguredDaysAsTheClockMoves) {
  Retention r(*store_, clock_, 30);
  {
    TraceWriter w(*store_);
    ASSERT_TRUE(w.Enqueue(Record("a", Now() - 31 * kDayMs)));
    ASSERT_TRUE(w.Enqueue(Record("b", Now() - 29 * kDayMs)));
    ASSERT_TRUE(w.Enqueue(Record("c", Now())));
  }
  EXPECT_EQ(*r.RunOnce(), 1);
  EXPECT_EQ(*r.RunOnce(), 0);
  clock_.Advance(std::chrono::hours(24 * 2));
  EXPECT_EQ(*r.RunOnce(), 1);  // b is now 31 days old
  clock_.Advance(std::chrono::hours(24 * 31));
  EXPECT_EQ(*r.RunOnce(), 1);
}

// A Store that forwards to a real one and counts write transactions.
class CountingStore : public store::Store {
 public:
  explicit CountingStore(store::Store& inner) : inner_(inner) {}
  Status Write(const std::function<Status(store::Tx&)>& fn) override {
    ++writes;
    return inner_.Write(fn);
  }
  Status Read(const std::function<Status(store::Tx&)>& fn) override { return inner_.Read(fn); }
  std::string Describe() const override { return "counting"; }
  int writes = 0;

 private:
  store::Store& inner_;
};

TEST_F(TelemetryTest, RetentionDeletesProjectByProjectInBoundedTransactions) {
  {
    TraceWriter w(*store_);
    for (int i = 0; i < 10; ++i) {
      ASSERT_TRUE(w.Enqueue(Record("p1-old-" + std::to_string(i), Now() - 40 * kDayMs + i)));
    }
    ASSERT_TRUE(w.Enqueue(Record("p1-new", Now())));
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(w.Enqueue(Record("p9-old-" + std::to_string(i), Now() - 31 * kDayMs, 9)));
    }
  }
  ASSERT_TRUE(store_
                  ->Write([&](store::Tx& tx) -> Status {
                    store::FeedbackRow f;
                    f.project_id = 1;
                    f.trace_id = "p1-old-0";
                    f.value = "up";
                    for (int i = 0; i < 5; ++i) {
                      f.created_at = Now() - 35 * kDayMs;
                      if (!tx.traces().InsertFeedback(f).ok()) return Error::Internal("f");
                    }
                    f.trace_id = "p1-new";
                    f.created_at = Now();
                    return tx.traces().InsertFeedback(f).ok() ? OkStatus() : Error::Internal("f");
                  })
                  .ok());
  CountingStore counting(*store_);
  Retention r(counting, clock_, 30, std::chrono::hours(1), /*chunk=*/4);
  auto n = r.RunOnce();
  ASSERT_TRUE(n.ok()) << n.error().ToString();
  EXPECT_EQ(*n, 13);
  // Feedback 4 + 1, project 1: 4 + 4 + 2, project 9: 3 (a short chunk ends each).
  EXPECT_EQ(counting.writes, 2 + 3 + 1);
  auto left = TraceService(*store_, clock_).List(admin_, {}, 0, 100);
  ASSERT_EQ(left->rows.size(), 1u);
  EXPECT_EQ(left->rows[0].id, "p1-new");
  EXPECT_EQ(TraceService(*store_, clock_).List({9, "pk", Role::kAdmin}, {}, 0, 10)->total, 0u);
  ASSERT_TRUE(store_
                  ->Read([&](store::Tx& tx) -> Status {
                    EXPECT_TRUE(tx.traces().ListFeedback(1, "p1-old-0")->empty());
                    EXPECT_EQ(tx.traces().ListFeedback(1, "p1-new")->size(), 1u);
                    return OkStatus();
                  })
                  .ok());
  EXPECT_EQ(*r.RunOnce(), 0);
}

TEST(TraceId, IsTrDashAnd24AlphanumericsSortedByTime) {
  auto a = NewTraceId(1'764'000'000'000);
  auto b = NewTraceId(1'764'000'000'001);
  ASSERT_EQ(a.size(), 27u);
  EXPECT_EQ(a.substr(0, 3), "tr-");
  for (char c : a.substr(3)) EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c))) << a;
  EXPECT_LT(a, b);
  EXPECT_NE(NewTraceId(5), NewTraceId(5));
  // The wall-clock overload: later calls never sort before earlier ones across milliseconds.
  auto first = NewTraceId();
  std::this_thread::sleep_for(2ms);
  auto second = NewTraceId();
  EXPECT_EQ(second.size(), 27u);
  EXPECT_LT(first.substr(0, 11), second.substr(0, 11));
}

TEST(TraceRecordToRow, MovingGivesTheSameRowAsCopying) {
  TraceRecord r;
  r.id = "tr-x";
  r.project_id = 3;
  r.time_ms = 77;
  r.key_id = "pk-k";
  r.user = "u";
  r.session = "s";
  r.metadata["team"] = "a";
  r.prompt_name = "p";
  r.prompt_version = 4;
  r.prompt_label = "production";
  r.model = "m";
  r.provider = "openai";
  r.upstream_model = "um";
  r.input_tokens = 5;
  r.output_tokens = 6;
  r.cost_usd = 0.5;
  r.status = 502;
  r.error_class = "upstream_5xx";
  r.request_body = std::string(100, 'q');
  r.response_body = std::string(100, 'a');
  store::TraceRow copied = ToRow(r);
  store::TraceRow moved = ToRow(std::move(r));
  EXPECT_EQ(moved.id, copied.id);
  EXPECT_EQ(moved.metadata_json, copied.metadata_json);
  EXPECT_EQ(moved.key_id, copied.key_id);
  EXPECT_EQ(moved.user, copied.user);
  EXPECT_EQ(moved.session, copied.session);
  EXPECT_EQ(moved.prompt_name, copied.prompt_name);
  EXPECT_EQ(moved.prompt_label, copied.prompt_label);
  EXPECT_EQ(moved.model, copied.model);
  EXPECT_EQ(moved.provider, copied.provider);
  EXPECT_EQ(moved.upstream_model, copied.upstream_model);
  EXPECT_EQ(moved.error_class, copied.error_class);
  EXPECT_EQ(moved.request_body, copied.request_body);
  EXPECT_EQ(moved.response_body, copied.response_body);
  EXPECT_EQ(moved.prompt_version, 4);
  EXPECT_EQ(moved.status, 502);
  EXPECT_EQ(copied.metadata_json, R"({"team":"a"})");
}

// The row's metadata_json is what json::Serialize makes of the metadata, byte for byte, for
// every kind of value a request may carry (ToRow writes flat objects of strings itself).
TEST(TraceRecordToRow, MetadataIsSerializedExactlyAsJsonSerialize) {
  const char* cases[] = {
      R"({})",
      R"({"team":"search"})",
      R"({"team":"search","env":"production","tier":"gold"})",
      R"({"quote":"say \"hi\"","slash":"a\\b/c","ctl":"\n\t\r\b\f\u0001\u001f"})",
      R"({"unicode":"caf\u00e9 \u2603 \ud83d\ude00","":"empty key"})",
      R"({"n":1,"neg":-7,"f":0.25,"big":1e300,"t":true,"f2":false,"z":null})",
      R"({"nested":{"a":[1,"two",{"three":3}],"b":{}},"arr":[]})",
  };
  for (const char* text : cases) {
    auto metadata = json::ParseObject(text);
    ASSERT_TRUE(metadata.ok()) << text;
    TraceRecord r;
    r.metadata = *metadata;
    std::string expected = json::Serialize(*metadata);
    EXPECT_EQ(ToRow(r).metadata_json, expected) << text;
    store::TraceRow reused;
    reused.metadata_json = "stale text that must go";
    MoveToRow(std::move(r), reused);
    EXPECT_EQ(reused.metadata_json, expected) << text;
  }
}

// MoveToRow overwrites every field of a row that held another trace (the writer reuses rows).
TEST(TraceRecordToRow, MoveToRowOverwritesAReusedRow) {
  TraceRecord first;
  first.id = "tr-first";
  first.user = "u1";
  first.error_class = "timeout";
  first.ttft_us = 5;
  first.stream = true;
  first.metadata["a"] = "b";
  first.request_body = std::string(300, 'r');
  TraceRecord second;
  second.id = "tr-second";
  second.time_ms = 9;
  store::TraceRow row;
  MoveToRow(std::move(first), row);
  EXPECT_EQ(row.request_body.size(), 300u);
  MoveToRow(std::move(second), row);
  EXPECT_EQ(row.id, "tr-second");
  EXPECT_EQ(row.time_ms, 9);
  EXPECT_EQ(row.user, "");
  EXPECT_EQ(row.error_class, "");
  EXPECT_EQ(row.ttft_us, -1);
  EXPECT_FALSE(row.stream);
  EXPECT_EQ(row.metadata_json, "{}");
  EXPECT_EQ(row.request_body, "");
}

TEST_F(TelemetryTest, RetentionThreadRunsAPassAtStartAndStopsPromptly) {
  {
    TraceWriter w(*store_);
    ASSERT_TRUE(w.Enqueue(Record("a", Now() - 31 * kDayMs)));
  }
  TelemetryOptions o;
  o.retention_days = 30;
  o.retention_interval = std::chrono::hours(1);
  Telemetry t(*store_, clock_, o);
  ASSERT_NE(t.retention(), nullptr);
  t.Start();
  while (t.retention()->passes() < 1) std::this_thread::yield();
  t.Stop();  // does not wait for the hour
  EXPECT_EQ(t.service().List(admin_, {}, 0, 10)->total, 0u);
}

TEST_F(TelemetryTest, NoRetentionWhenDaysIsZero) {
  Telemetry t(*store_, clock_);
  EXPECT_EQ(t.retention(), nullptr);
}

TEST(ParseFeedback, AcceptsValueOrScoreAndRejectsTheRest) {
  struct Case {
    const char* body;
    bool ok;
    const char* value;
  };
  const Case cases[] = {
      {R"({"value":"up"})", true, "up"},
      {R"({"value":"down","comment":"wrong answer","user":"u"})", true, "down"},
      {R"({"score":5})", true, "score"},
      {R"({"score":1.0})", true, "score"},
      {R"({"score":0})", false, ""},
      {R"({"score":6})", false, ""},
      {R"({"score":2.5})", false, ""},
      {R"({"score":"3"})", false, ""},
      {R"({"value":"meh"})", false, ""},
      {R"({"value":"up","score":3})", false, ""},
      {R"({})", false, ""},
      {R"({"value":"up","comment":7})", false, ""},
  };
  for (const auto& c : cases) {
    auto body = boost::json::parse(c.body).as_object();
    auto r = ParseFeedback(body);
    EXPECT_EQ(r.ok(), c.ok) << c.body;
    if (r.ok()) {
      EXPECT_EQ(r->value, c.value) << c.body;
    } else {
      EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << c.body;
    }
  }
}

}  // namespace
}  // namespace promptops::telemetry
