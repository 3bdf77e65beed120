// Trace storage benchmark: what the trace writer's transactions cost per row. Inserts batches of
// 512 realistic traces (one Store::Write + TraceRepository::InsertBatch per batch, as the
// writer does) into a table that already holds --prefill rows, for four variants measured in
// the same run, interleaved round by round:
//
//   indexes "m2": the index set of migration 2 (6 indexes + primary key; traces_model and
//                 traces_time re-created on top of the current schema)
//   indexes "m3": the index set of migration 3 (4 indexes + primary key)
//   ids "random":  "tr-" + FastId(24), as the gateway made them before
//   ids "ordered": time-ordered, as telemetry::NewTraceId makes them
//
// and one end-to-end row: TraceWriter (queue, TraceRecord -> TraceRow, batches of 512) with the
// current schema and ordered ids.
//
//   build/trace_store_bench [--prefill N] [--batches B] [--rounds R] [--body BYTES]
//
// Figures: rows/s of wall time (includes fsync: synchronous=FULL, one commit per batch), CPU per
// row (process CPU time, user+system; SQLite runs on the calling thread, so this is what the
// writer thread would spend) and instructions per row in user and kernel space (perf events;
// far less noisy than time on a shared machine; -1 if unavailable). Medians over rounds.
// Compile with -DPO_BENCH_BASELINE to run it on a tree without TimeOrderedId (ids fall back to a
// copy), e.g. the commit before it, for a before/after comparison of the code.
#include <linux/perf_event.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/hash.h"
#include "store/sqlite.h"
#include "store/store.h"
#include "telemetry/trace.h"
#include "telemetry/trace_writer.h"

using namespace promptops;

namespace {

constexpr std::size_t kBatch = 512;

std::string OrderedId(std::int64_t ms) {
#ifndef PO_BENCH_BASELINE
  return telemetry::NewTraceId(ms);
#else
  static constexpr char kDigits[] =
      "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  std::string t(8, '0');
  auto v = static_cast<std::uint64_t>(ms);
  for (int i = 7; i >= 0; --i) {
    t[i] = kDigits[v % 62];
    v /= 62;
  }
  return "tr-" + t + FastId(16);
#endif
}

// Instructions retired by this process (threads started later included), user or kernel
// space: much less noisy than time on a shared machine. -1 when perf events are unavailable.
class Instructions {
 public:
  explicit Instructions(bool kernel) {
    perf_event_attr a{};
    a.type = PERF_TYPE_HARDWARE;
    a.size = sizeof a;
    a.config = PERF_COUNT_HW_INSTRUCTIONS;
    a.inherit = 1;
    a.exclude_kernel = kernel ? 0 : 1;
    a.exclude_user = kernel ? 1 : 0;
    a.exclude_hv = 1;
    fd_ = static_cast<int>(syscall(SYS_perf_event_open, &a, 0, -1, -1, 0));
  }
  ~Instructions() {
    if (fd_ >= 0) close(fd_);
  }
  double Read() const {
    std::uint64_t v = 0;
    if (fd_ < 0 || read(fd_, &v, sizeof v) != sizeof v) return -1;
    return static_cast<double>(v);
  }

 private:
  int fd_ = -1;
};

double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return s(u.ru_utime) + s(u.ru_stime);
}

// Realistic traffic: a few projects, 20 prompts, 6 models, 2000 users, 3% errors, masked bodies.
class Traffic {
 public:
  Traffic(bool ordered_ids, std::size_t body) : ordered_(ordered_ids), body_(body) {}

  telemetry::TraceRecord Record(std::int64_t time_ms) {
    static const char* kModels[] = {"gpt-4o-mini",  "gpt-4o",
                                    "chat-default", "claude-3-5-sonnet",
                                    "demo-chat",    "prompt:support/bot@production"};
    static const char* kErrors[] = {"rate_limited", "timeout", "upstream_5xx", "client_cancelled"};
    telemetry::TraceRecord r;
    r.id = ordered_ ? OrderedId(time_ms) : "tr-" + FastId(24);
    r.time_ms = time_ms;
    r.project_id = rng_() % 10 < 8 ? 1 : 2 + static_cast<std::int64_t>(rng_() % 3);
    r.key_id = "pk-" + std::to_string(1000 + rng_() % 20);
    r.user = "user-" + std::to_string(rng_() % 2000);
    r.session = "sess-" + std::to_string(rng_() % 50000);
    r.metadata["team"] = "search";
    r.metadata["env"] = "production";
    if (rng_() % 4 != 0) {
      r.prompt_name = "support/prompt-" + std::to_string(rng_() % 20);
      r.prompt_version = 1 + static_cast<std::int64_t>(rng_() % 5);
      r.prompt_label = "production";
    }
    r.model = kModels[rng_() % 6];
    r.provider = "openai";
    r.upstream_model = "gpt-4o-mini-2024-07-18";
    r.input_tokens = 100 + static_cast<std::int64_t>(rng_() % 900);
    r.output_tokens = 20 + static_cast<std::int64_t>(rng_() % 400);
    r.cost_usd = 0.00001 * static_cast<double>(r.input_tokens + r.output_tokens);
    r.latency_us = 20000 + static_cast<std::int64_t>(rng_() % 2000000);
    r.stream = rng_() % 3 == 0;
    r.ttft_us = r.stream ? r.latency_us / 4 : -1;
    if (rng_() % 100 < 3) {
      r.error_class = kErrors[rng_() % 4];
      r.status = r.error_class == "rate_limited" ? 429 : 502;
    }
    r.retries = rng_() % 20 == 0 ? 1 : 0;
    r.request_body = R"({"model":")" + r.model + R"(","messages":[{"role":"user","content":")" +
                     std::string(body_, 'x') + R"("}]})";
    r.response_body = R"({"choices":[{"message":{"role":"assistant","content":")" +
                      std::string(body_ / 2, 'y') + R"("}}]})";
    return r;
  }

  // n rows from from_ms on: `step_ms` apart, or (step_ms 0) 25 per ms, i.e. 25k traces/s.
  std::vector<store::TraceRow> Rows(std::size_t n, std::int64_t from_ms, std::int64_t step_ms) {
    std::vector<store::TraceRow> out;
    out.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      auto k = static_cast<std::int64_t>(i);
      out.push_back(telemetry::ToRow(Record(from_ms + (step_ms ? k * step_ms : k / 25))));
    }
    return out;
  }

 private:
  bool ordered_;
  std::size_t body_;
  std::mt19937_64 rng_{42};
};

struct Variant {
  const char* name = "";
  bool old_indexes = false;
  bool ordered_ids = false;
  std::string dir;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<Traffic> traffic;
  std::int64_t next_ms = 0;
  std::vector<double> rows_per_s, cpu_us_per_row, user_instr_per_row, kernel_instr_per_row;
};

bool Fail(const char* what, const Status& s) {
  if (s.ok()) return false;
  std::fprintf(stderr, "%s: %s\n", what, s.error().ToString().c_str());
  return true;
}

Status InsertBatches(store::Store& store, const std::vector<store::TraceRow>& rows) {
  for (std::size_t i = 0; i < rows.size(); i += kBatch) {
    std::span<const store::TraceRow> batch(rows.data() + i, std::min(kBatch, rows.size() - i));
    PO_RETURN_IF_ERROR(store.Write([&](store::Tx& tx) -> Status {
      PO_ASSIGN_OR_RETURN(auto n, tx.traces().InsertBatch(batch));
      if (n != batch.size()) return Error::Internal("duplicate ids");
      return OkStatus();
    }));
  }
  return OkStatus();
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t prefill = 200000, batches = 100, rounds = 3, body = 400;
  for (int i = 1; i + 1 < argc; i += 2) {
    auto v = static_cast<std::size_t>(std::atoll(argv[i + 1]));
    if (std::strcmp(argv[i], "--prefill") == 0) prefill = v;
    if (std::strcmp(argv[i], "--batches") == 0) batches = v;
    if (std::strcmp(argv[i], "--rounds") == 0) rounds = v;
    if (std::strcmp(argv[i], "--body") == 0) body = v;
  }
  char tmpl[] = "/tmp/promptops-trace-bench-XXXXXX";
  std::string root = mkdtemp(tmpl);
  const std::int64_t now = ToUnixMillis(Clock::Real().Now());
  // Prefilled rows cover the past 2 days, evenly; measured rows continue from now, 0.04 ms apart
  // (25k traces/s).
  const std::int64_t prefill_from = now - 2LL * 24 * 3600 * 1000;
  const std::int64_t prefill_step =
      prefill
          ? std::max<std::int64_t>(1, 2LL * 24 * 3600 * 1000 / static_cast<std::int64_t>(prefill))
          : 1;

  std::vector<Variant> variants(4);
  const char* names[] = {"m2 indexes, random ids (before)", "m2 indexes, ordered ids",
                         "m3 indexes, random ids", "m3 indexes, ordered ids (after)"};
  for (auto& v : variants) {
    auto i = &v - variants.data();
    v.name = names[i];
    v.old_indexes = i < 2;
    v.ordered_ids = i % 2 == 1;
    v.dir = root + "/" + std::to_string(&v - variants.data());
    auto s = store::OpenSqliteStore(v.dir + "/bench.db");
    if (!s.ok()) {
      std::fprintf(stderr, "open: %s\n", s.error().ToString().c_str());
      return 1;
    }
    v.store = std::move(*s);
    {
      auto c = store::sqlite::Connection::Open(v.dir + "/bench.db");
      if (!c.ok()) return 1;
      const char* sql =
          v.old_indexes ? "CREATE INDEX IF NOT EXISTS traces_model ON traces (project_id, model, "
                          "time_ms); CREATE INDEX IF NOT EXISTS traces_time ON traces (time_ms);"
                        : "DROP INDEX IF EXISTS traces_model; DROP INDEX IF EXISTS traces_time;";
      if (Fail("schema", (*c)->Exec(sql))) return 1;
    }
    v.traffic = std::make_unique<Traffic>(v.ordered_ids, body);
    // Prefill in pieces so that memory stays bounded.
    for (std::size_t done = 0; done < prefill;) {
      std::size_t n = std::min<std::size_t>(100 * kBatch, prefill - done);
      auto rows = v.traffic->Rows(n, prefill_from + static_cast<std::int64_t>(done) * prefill_step,
                                  prefill_step);
      if (Fail("prefill", InsertBatches(*v.store, rows))) return 1;
      done += n;
    }
    v.next_ms = now;
  }

  const std::size_t n = batches * kBatch;
  Instructions user_instr(false), kernel_instr(true);
  for (std::size_t round = 0; round < rounds; ++round) {
    for (auto& v : variants) {
      auto rows = v.traffic->Rows(n, v.next_ms, 0);
      v.next_ms += static_cast<std::int64_t>(n / 25) + 1;
      double cpu0 = CpuSeconds(), iu0 = user_instr.Read(), ik0 = kernel_instr.Read();
      auto t0 = std::chrono::steady_clock::now();
      if (Fail("insert", InsertBatches(*v.store, rows))) return 1;
      double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      double cpu = CpuSeconds() - cpu0;
      v.rows_per_s.push_back(static_cast<double>(n) / wall);
      v.cpu_us_per_row.push_back(cpu * 1e6 / static_cast<double>(n));
      v.user_instr_per_row.push_back(iu0 < 0 ? -1 : (user_instr.Read() - iu0) / n);
      v.kernel_instr_per_row.push_back(ik0 < 0 ? -1 : (kernel_instr.Read() - ik0) / n);
    }
  }

  // End to end through the TraceWriter (current schema = the last variant's store).
  std::vector<double> e2e_rows_per_s, e2e_cpu, e2e_user_instr, e2e_kernel_instr;
  {
    auto& v = variants.back();
    for (std::size_t round = 0; round < rounds; ++round) {
      std::vector<telemetry::TraceRecord> records;
      records.reserve(n);
      for (std::size_t i = 0; i < n; ++i) {
        records.push_back(v.traffic->Record(v.next_ms + static_cast<std::int64_t>(i / 25)));
      }
      v.next_ms += static_cast<std::int64_t>(n / 25) + 1;
      telemetry::TraceWriterOptions o;
      o.capacity = n + 1;
      double cpu0 = CpuSeconds(), iu0 = user_instr.Read(), ik0 = kernel_instr.Read();
      auto t0 = std::chrono::steady_clock::now();
      {
        telemetry::TraceWriter w(*v.store, o);
        for (auto& r : records) w.Enqueue(std::move(r));
        w.Flush();
      }
      double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      double cpu = CpuSeconds() - cpu0;
      e2e_rows_per_s.push_back(static_cast<double>(n) / wall);
      e2e_cpu.push_back(cpu * 1e6 / static_cast<double>(n));
      e2e_user_instr.push_back(iu0 < 0 ? -1 : (user_instr.Read() - iu0) / n);
      e2e_kernel_instr.push_back(ik0 < 0 ? -1 : (kernel_instr.Read() - ik0) / n);
    }
  }

  std::printf(
      "Trace store: %zu rows per round in batches of %zu onto %zu prefilled rows, "
      "median of %zu rounds (bodies ~%zu+%zu bytes)\n\n",
      n, kBatch, prefill, rounds, body + 60, body / 2 + 60);
  std::printf("| %-40s | %8s | %10s | %13s | %13s |\n", "variant", "rows/s", "CPU us/row",
              "user instr/row", "kernel instr/row");
  std::printf("|%s|%s|%s|%s|%s|\n", std::string(42, '-').c_str(), std::string(10, '-').c_str(),
              std::string(12, '-').c_str(), std::string(16, '-').c_str(),
              std::string(18, '-').c_str());
  auto row = [](const char* name, const std::vector<double>& rps, const std::vector<double>& cpu,
                const std::vector<double>& iu, const std::vector<double>& ik) {
    std::printf("| %-40s | %8.0f | %10.2f | %14.0f | %16.0f |\n", name, Median(rps), Median(cpu),
                Median(iu), Median(ik));
  };
  for (const auto& v : variants) {
    row(v.name, v.rows_per_s, v.cpu_us_per_row, v.user_instr_per_row, v.kernel_instr_per_row);
  }
  row("TraceWriter end to end, m3, ordered ids", e2e_rows_per_s, e2e_cpu, e2e_user_instr,
      e2e_kernel_instr);
  const auto& b = variants.front();
  const auto& a = variants.back();
  std::printf(
      "\nafter vs before (same run, same code): CPU per row %.2fx less, instructions per "
      "row %.2fx less, rows/s %.2fx\n",
      Median(b.cpu_us_per_row) / Median(a.cpu_us_per_row),
      (Median(b.user_instr_per_row) + Median(b.kernel_instr_per_row)) /
          (Median(a.user_instr_per_row) + Median(a.kernel_instr_per_row)),
      Median(a.rows_per_s) / Median(b.rows_per_s));
  variants.clear();
  std::error_code ec;
  std::filesystem::remove_all(root, ec);
  return 0;
}
