// Metrics: values per label set, the series cap, and an exposition that `promtool check metrics`
// accepts.
#include "telemetry/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <atomic>
#include <map>

#include <filesystem>
#include <memory>
#include <thread>
#include <vector>

#include "support/server_process.h"
#include "support/temp_dir.h"
#include "telemetry/telemetry.h"

namespace promptops::telemetry {
namespace {

using ::testing::HasSubstr;

RequestObservation Request(std::string model, int status) {
  RequestObservation o;
  o.prompt = "support/bot";
  o.version = 3;
  o.model = std::move(model);
  o.status = status;
  o.duration_seconds = 0.25;
  o.ttft_seconds = 0.05;
  o.input_tokens = 100;
  o.output_tokens = 20;
  o.cost_usd = 0.001;
  o.cache_consulted = true;
  return o;
}

// A Metrics object with some of every metric.
void Fill(Metrics& m) {
  m.ObserveRequest(Request("gpt-4o-mini", 200));
  m.ObserveRequest(Request("gpt-4o-mini", 200));
  auto hit = Request("gpt-4o-mini", 200);
  hit.cache_hit = true;
  hit.ttft_seconds = -1;
  m.ObserveRequest(hit);
  m.ObserveRequest(Request("claude \"quoted\"\\model", 502));
  m.Retry("openai");
  m.Fallback("gpt-4o", "claude-3-5-sonnet");
  m.UpstreamError("openai", "upstream_5xx");
  m.SetTraceQueueDepth(7);
  m.TracesDropped("queue_full", 2);
  m.TracesWritten(42);
  m.Feedback("support/bot", 3, "gpt-4o-mini", "up");
  m.Feedback("", 0, "gpt-4o-mini", "score");
}

TEST(Metrics, CountsRequestsPerLabelSet) {
  Metrics m;
  Fill(m);
  EXPECT_EQ(m.Value("promptops_gateway_requests_total", {{"prompt", "support/bot"},
                                                         {"version", "3"},
                                                         {"model", "gpt-4o-mini"},
                                                         {"status", "200"}}),
            3);
  EXPECT_EQ(m.Value("promptops_gateway_request_duration_seconds", {{"model", "gpt-4o-mini"}}), 3);
  EXPECT_EQ(m.Value("promptops_gateway_ttft_seconds", {{"model", "gpt-4o-mini"}}), 2);
  EXPECT_EQ(
      m.Value("promptops_gateway_tokens_total", {{"model", "gpt-4o-mini"}, {"direction", "input"}}),
      300);
  EXPECT_EQ(m.Value("promptops_gateway_tokens_total",
                    {{"model", "gpt-4o-mini"}, {"direction", "output"}}),
            60);
  EXPECT_DOUBLE_EQ(m.Value("promptops_gateway_cost_usd_total", {{"model", "gpt-4o-mini"}}), 0.003);
  EXPECT_EQ(m.Value("promptops_gateway_cache_total", {{"result", "hit"}}), 1);
  EXPECT_EQ(m.Value("promptops_gateway_cache_total", {{"result", "miss"}}), 3);
  EXPECT_EQ(m.Value("promptops_gateway_retries_total", {{"provider", "openai"}}), 1);
  EXPECT_EQ(m.Value("promptops_gateway_fallbacks_total",
                    {{"from_model", "gpt-4o"}, {"to_model", "claude-3-5-sonnet"}}),
            1);
  EXPECT_EQ(m.Value("promptops_gateway_upstream_errors_total",
                    {{"provider", "openai"}, {"error_class", "upstream_5xx"}}),
            1);
  EXPECT_EQ(m.Value("promptops_trace_queue_depth"), 7);
  EXPECT_EQ(m.Value("promptops_trace_queue_dropped_total", {{"reason", "queue_full"}}), 2);
  EXPECT_EQ(m.Value("promptops_traces_written_total"), 42);
  EXPECT_EQ(
      m.Value("promptops_feedback_total",
              {{"prompt", ""}, {"version", ""}, {"model", "gpt-4o-mini"}, {"value", "score"}}),
      1);
}

TEST(Metrics, RequestsWithoutCacheLookupCountNoCacheResult) {
  Metrics m;
  auto o = Request("m", 200);
  o.cache_consulted = false;
  m.ObserveRequest(o);
  EXPECT_EQ(m.Value("promptops_gateway_cache_total", {{"result", "miss"}}), 0);
}

TEST(Metrics, LabelSetsBeyondTheCapAreCountedAsOther) {
  Metrics m({.max_series = 3});
  for (int i = 0; i < 10; ++i) m.Retry("provider-" + std::to_string(i));
  EXPECT_EQ(m.Value("promptops_gateway_retries_total", {{"provider", "provider-2"}}), 1);
  EXPECT_EQ(m.Value("promptops_gateway_retries_total", {{"provider", "provider-3"}}), 0);
  EXPECT_EQ(m.Value("promptops_gateway_retries_total", {{"provider", "_other"}}), 7);
}

TEST(Metrics, ThreadsShareSeriesAndANewMetricsObjectStartsAtZero) {
  // Series are cached per thread: counts from several threads still land in one series, and a
  // Metrics object made after another was destroyed (same thread, maybe the same address)
  // never reaches the old one's series (ASan would flag it).
  for (int round = 0; round < 3; ++round) {
    auto m = std::make_unique<Metrics>();
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&m] {
        for (int i = 0; i < 250; ++i) m->Retry("openai");
      });
    }
    for (int i = 0; i < 250; ++i) m->Retry("openai");
    for (auto& t : threads) t.join();
    EXPECT_EQ(m->Value("promptops_gateway_retries_total", {{"provider", "openai"}}), 1250);
    m.reset();
  }
}

// Request metrics are added up per thread and folded into the series when read: counts and
// histograms from threads that ended, from a thread still running and from the reader's own
// thread are all there, exactly once, and what comes after a read counts at the next one.
TEST(Metrics, RequestMetricsFromManyThreadsAreExactWhenRead) {
  for (int round = 0; round < 2; ++round) {  // a second Metrics object starts from zero
    auto m = std::make_unique<Metrics>();
    auto observe = [&m](double seconds, double ttft) {
      RequestObservation o;
      o.model = "m";
      o.status = 200;
      o.duration_seconds = seconds;
      o.ttft_seconds = ttft;
      o.input_tokens = 3;
      o.output_tokens = 4;
      o.cost_usd = 0.5;
      o.cache_consulted = true;
      m->ObserveRequest(o);
    };
    std::vector<std::thread> threads;
    for (int t = 0; t < 3; ++t) {
      threads.emplace_back([&] {
        for (int i = 0; i < 100; ++i) observe(0.005, -1);  // on a bucket's bound: le="0.005"
      });
    }
    for (auto& t : threads) t.join();
    std::atomic<int> phase{0};
    std::thread alive([&] {
      for (int i = 0; i < 10; ++i) observe(2.0, 0.3);
      phase = 1;
      while (phase != 2) std::this_thread::yield();
      observe(100.0, -1);  // after the first read, beyond the last bound: +Inf only
      phase = 3;
    });
    while (phase != 1) std::this_thread::yield();
    observe(0.0001, -1);  // the reader's own thread
    std::map<std::string, std::string> model{{"model", "m"}};
    std::map<std::string, std::string> ok{
        {"prompt", ""}, {"version", ""}, {"model", "m"}, {"status", "200"}};
    EXPECT_EQ(m->Value("promptops_gateway_requests_total", ok), 311);
    EXPECT_EQ(m->Value("promptops_gateway_request_duration_seconds", model), 311);
    EXPECT_EQ(m->Value("promptops_gateway_ttft_seconds", model), 10);
    EXPECT_EQ(m->Value("promptops_gateway_tokens_total", {{"model", "m"}, {"direction", "input"}}),
              933);
    EXPECT_DOUBLE_EQ(m->Value("promptops_gateway_cost_usd_total", model), 155.5);
    EXPECT_EQ(m->Value("promptops_gateway_cache_total", {{"result", "miss"}}), 311);
    std::string text = m->Expose();  // read twice: nothing counted again
    EXPECT_THAT(text, HasSubstr("promptops_gateway_request_duration_seconds_bucket{model=\"m\","
                                "le=\"0.001\"} 1\n"));
    EXPECT_THAT(text, HasSubstr("promptops_gateway_request_duration_seconds_bucket{model=\"m\","
                                "le=\"0.005\"} 301\n"));
    EXPECT_THAT(text, HasSubstr("promptops_gateway_request_duration_seconds_bucket{model=\"m\","
                                "le=\"2.5\"} 311\n"));
    EXPECT_THAT(text, HasSubstr("promptops_gateway_ttft_seconds_bucket{model=\"m\",le=\"0.25\"} "
                                "0\n"));
    EXPECT_THAT(text, HasSubstr("promptops_gateway_ttft_seconds_bucket{model=\"m\",le=\"0.5\"} "
                                "10\n"));
    EXPECT_THAT(text, HasSubstr("promptops_gateway_ttft_seconds_sum{model=\"m\"} 3\n"));
    phase = 2;
    while (phase != 3) std::this_thread::yield();
    EXPECT_EQ(m->Value("promptops_gateway_requests_total", ok), 312);
    text = m->Expose();
    EXPECT_THAT(text, HasSubstr("promptops_gateway_request_duration_seconds_bucket{model=\"m\","
                                "le=\"60\"} 311\n"));
    EXPECT_THAT(text, HasSubstr("promptops_gateway_request_duration_seconds_bucket{model=\"m\","
                                "le=\"+Inf\"} 312\n"));
    alive.join();
    m.reset();
  }
}

// More label sets than a thread caches (4096): the rest are still counted, beyond the series
// cap under "_other".
TEST(Metrics, ManyLabelSetsOnOneThreadAreAllCounted) {
  Metrics m({.max_series = 10});
  for (int i = 0; i < 5000; ++i) {
    RequestObservation o;
    o.model = "model-" + std::to_string(i);
    m.ObserveRequest(o);
    m.ObserveRequest(o);
  }
  EXPECT_EQ(m.Value("promptops_gateway_requests_total",
                    {{"prompt", ""}, {"version", ""}, {"model", "model-3"}, {"status", "200"}}),
            2);
  EXPECT_EQ(
      m.Value(
          "promptops_gateway_requests_total",
          {{"prompt", "_other"}, {"version", "_other"}, {"model", "_other"}, {"status", "_other"}}),
      2 * (5000 - 10));
  EXPECT_EQ(m.Value("promptops_gateway_request_duration_seconds", {{"model", "_other"}}),
            2 * (5000 - 10));
}

// Two Metrics objects counting on one thread in turn (the thread's cache of cells belongs to
// one object at a time): each keeps its own counts, none lost when the cache changes hands.
TEST(Metrics, ObjectsTakingTurnsOnOneThreadKeepTheirOwnCounts) {
  Metrics a, b;
  for (int i = 0; i < 50; ++i) {
    a.ObserveRequest(Request("m", 200));
    b.ObserveRequest(Request("m", 200));
    b.ObserveRequest(Request("m", 500));
  }
  std::map<std::string, std::string> ok{
      {"prompt", "support/bot"}, {"version", "3"}, {"model", "m"}, {"status", "200"}};
  EXPECT_EQ(a.Value("promptops_gateway_requests_total", ok), 50);
  EXPECT_EQ(b.Value("promptops_gateway_requests_total", ok), 50);
  EXPECT_EQ(a.Value("promptops_gateway_request_duration_seconds", {{"model", "m"}}), 50);
  EXPECT_EQ(b.Value("promptops_gateway_request_duration_seconds", {{"model", "m"}}), 100);
  std::string text = b.Expose();
  EXPECT_THAT(text, HasSubstr("promptops_gateway_tokens_total{direction=\"input\",model=\"m\"} "
                              "10000\n"));
}

TEST(Metrics, ObservationFromATraceRecord) {
  TraceRecord r;
  r.prompt_name = "p";
  r.prompt_version = 2;
  r.model = "m";
  r.status = 429;
  r.latency_us = 1'500'000;
  r.ttft_us = -1;
  r.cache_hit = true;
  auto o = ObservationFrom(r, false);
  EXPECT_DOUBLE_EQ(o.duration_seconds, 1.5);
  EXPECT_LT(o.ttft_seconds, 0);
  EXPECT_LT(o.overhead_seconds, 0);  // no upstream was called
  EXPECT_TRUE(o.cache_consulted);    // a hit implies a lookup
  EXPECT_EQ(o.status, 429);
  // The overhead is what the upstream exchanges leave of the duration.
  r.upstream_us = 1'499'960;
  EXPECT_DOUBLE_EQ(ObservationFrom(r, false).overhead_seconds, 40e-6);
  r.upstream_us = 1'600'000;  // clocks read apart: never negative
  EXPECT_DOUBLE_EQ(ObservationFrom(r, false).overhead_seconds, 0);
}

TEST(Metrics, OverheadIsAHistogramOfMicroseconds) {
  Metrics m;
  RequestObservation o = Request("m", 200);
  m.ObserveRequest(o);  // no upstream: not observed
  EXPECT_EQ(m.Value("promptops_gateway_overhead_seconds", {{"model", "m"}}), 0);
  EXPECT_EQ(m.Expose().find("promptops_gateway_overhead_seconds_count"), std::string::npos);
  o.overhead_seconds = 30e-6;
  m.ObserveRequest(o);
  o.overhead_seconds = 70e-6;
  m.ObserveRequest(o);
  EXPECT_EQ(m.Value("promptops_gateway_overhead_seconds", {{"model", "m"}}), 2);
  std::string text = m.Expose();
  EXPECT_THAT(
      text, HasSubstr("promptops_gateway_overhead_seconds_bucket{model=\"m\",le=\"2.5e-05\"} 0\n"))
      << text;
  EXPECT_THAT(text,
              HasSubstr("promptops_gateway_overhead_seconds_bucket{model=\"m\",le=\"5e-05\"} 1\n"));
  EXPECT_THAT(
      text, HasSubstr("promptops_gateway_overhead_seconds_bucket{model=\"m\",le=\"0.0001\"} 2\n"));
}

TEST(Metrics, TraceBatchSizesAreAHistogram) {
  Metrics m;
  m.TracesWritten(42);
  m.TracesWritten(3);
  std::string text = m.Expose();
  EXPECT_NE(text.find("promptops_trace_batch_rows_bucket{le=\"4\"} 1"), std::string::npos) << text;
  EXPECT_NE(text.find("promptops_trace_batch_rows_bucket{le=\"64\"} 2"), std::string::npos);
  EXPECT_NE(text.find("promptops_trace_batch_rows_sum 45"), std::string::npos);
  EXPECT_EQ(m.Value("promptops_traces_written_total"), 45);
}

TEST(Metrics, ExpositionHasTheTextFormat) {
  Metrics m;
  Fill(m);
  std::string text = m.Expose();
  EXPECT_THAT(text, HasSubstr("# TYPE promptops_gateway_requests_total counter"));
  EXPECT_THAT(text, HasSubstr("# TYPE promptops_gateway_request_duration_seconds histogram"));
  EXPECT_THAT(text, HasSubstr("promptops_gateway_request_duration_seconds_bucket{model=\"gpt-4o-"
                              "mini\",le=\"0.001\"} 0"));
  EXPECT_THAT(text, HasSubstr("le=\"60\"} 3"));
  EXPECT_THAT(text, HasSubstr("# TYPE promptops_trace_queue_depth gauge"));
  EXPECT_THAT(text, HasSubstr("model=\"claude \\\"quoted\\\"\\\\model\""));
}

TEST(Metrics, PromtoolAcceptsTheExposition) {
  const std::filesystem::path promtool = "/usr/bin/promtool";
  if (!std::filesystem::exists(promtool)) {
    GTEST_SKIP() << "promtool not installed (Debian package 'prometheus'; scripts/setup installs "
                    "it)";
  }
  Metrics m;
  Fill(m);
  promptops::testing::ProcessOptions o;
  o.stdin_data = m.Expose();
  auto r = promptops::testing::RunProcess({promtool.string(), "check", "metrics"}, o);
  EXPECT_EQ(r.exit_code, 0) << "stdout:\n"
                            << r.out << "\nstderr:\n"
                            << r.err << "\n"
                            << o.stdin_data;
  // promtool also lints (e.g. counters must end in _total); any finding fails the test.
  EXPECT_EQ(r.out + r.err, "") << o.stdin_data;
}

}  // namespace
}  // namespace promptops::telemetry
