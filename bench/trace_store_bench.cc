// Trace storage benchmark: what the trace writer's transactions cost per row. Inserts batches of
// 512 realistic traces (one Store::Write + TraceRepository::InsertBatch per batch, as the
// writer does) into a store that already holds --prefill traces, for each variant below,
// measured in the same run, interleaved round by round:
//
//   order "start":   traces stored in the order their requests started
//   order "arrival": in the order they finish, as the gateway enqueues them: requests last 20 ms
//                    to 2 s, so a trace arrives after many that started later
//
// and, in arrival order, the TraceWriter end to end (queue, TraceRecord -> TraceRow, batches of
// up to 512). Traces are stored in compressed blocks (store/trace_blocks.h, migration 5); the
// rows-and-indexes layout before it is measured in docs/performance.md with this file's earlier
// version (git history).
//
//   build/trace_store_bench [--prefill N] [--batches B] [--rounds R] [--body BYTES]
//
// Figures: rows/s of wall time (includes fsync: synchronous=FULL, one commit per batch), CPU per
// row (process CPU time, user+system; SQLite runs on the calling thread, so this is what the
// writer thread would spend), instructions per row in user and kernel space (perf events; far
// less noisy than time on a shared machine; -1 if unavailable), and the bytes the database and
// its WAL grew by per row. Medians over rounds.
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
#include "store/sqlite.h"
#include "store/store.h"
#include "telemetry/trace.h"
#include "telemetry/trace_writer.h"

using namespace promptops;

namespace {

constexpr std::size_t kBatch = 512;

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

// Realistic traffic: a few projects, 20 prompts, 6 models, 2000 users, 3% errors, masked bodies,
// time-ordered ids (telemetry::NewTraceId at the request's start), requests of 20 ms to 2 s.
class Traffic {
 public:
  Traffic(bool arrival_order, std::size_t body, std::int64_t start_ms)
      : arrival_(arrival_order), body_(body), next_start_us_(start_ms * 1000) {}

  // The next n traces in storage order, requests starting `step_us` apart.
  std::vector<telemetry::TraceRecord> Records(std::size_t n, std::int64_t step_us) {
    std::vector<telemetry::TraceRecord> out;
    out.reserve(n);
    while (out.size() < n) {
      if (!arrival_) {
        out.push_back(Record(next_start_us_ / 1000));
        next_start_us_ += step_us;
        continue;
      }
      // Start requests until none that is still running can finish before the oldest running
      // one does; that one arrives next.
      while (running_.empty() || Finish(running_.front()) > next_start_us_) {
        running_.push_back(Record(next_start_us_ / 1000));
        std::push_heap(running_.begin(), running_.end(), Later);
        next_start_us_ += step_us;
      }
      std::pop_heap(running_.begin(), running_.end(), Later);
      out.push_back(std::move(running_.back()));
      running_.pop_back();
    }
    return out;
  }

  std::vector<store::TraceRow> Rows(std::size_t n, std::int64_t step_us) {
    auto records = Records(n, step_us);
    std::vector<store::TraceRow> out;
    out.reserve(n);
    for (auto& r : records) out.push_back(telemetry::ToRow(std::move(r)));
    return out;
  }

  std::int64_t next_start_ms() const { return next_start_us_ / 1000; }

 private:
  static std::int64_t Finish(const telemetry::TraceRecord& r) {
    return r.time_ms * 1000 + r.latency_us;
  }
  // Heap order: the request finishing first on top.
  static bool Later(const telemetry::TraceRecord& a, const telemetry::TraceRecord& b) {
    return Finish(a) > Finish(b);
  }

  telemetry::TraceRecord Record(std::int64_t time_ms) {
    static const char* kModels[] = {"gpt-4o-mini",  "gpt-4o",
                                    "chat-default", "claude-3-5-sonnet",
                                    "demo-chat",    "prompt:support/bot@production"};
    static const char* kErrors[] = {"rate_limited", "timeout", "upstream_5xx", "client_cancelled"};
    telemetry::TraceRecord r;
    r.id = telemetry::NewTraceId(time_ms);
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

  bool arrival_;
  std::size_t body_;
  std::int64_t next_start_us_;
  std::vector<telemetry::TraceRecord> running_;  // heap by finish time (arrival order only)
  std::mt19937_64 rng_{42};
};

struct Figures {
  std::vector<double> rows_per_s, cpu_us_per_row, user_instr_per_row, kernel_instr_per_row,
      bytes_per_row;
};

// The size of the database file and its WAL.
double DiskBytes(const std::string& dir) {
  std::error_code ec;
  double total = 0;
  for (const char* f : {"/bench.db", "/bench.db-wal"}) {
    auto n = std::filesystem::file_size(dir + f, ec);
    if (!ec) total += static_cast<double>(n);
  }
  return total;
}

struct Variant {
  const char* name = "";
  bool arrival = false;
  bool through_writer = false;
  Variant* store_of = nullptr;  // TraceWriter variants write into a direct variant's database
  std::string dir;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<Traffic> traffic;
  Figures figures;
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
  // Prefilled rows cover the past 2 days, evenly; measured rows continue from now, requests
  // starting 40 us apart (25k traces/s).
  const std::int64_t prefill_from = now - 2LL * 24 * 3600 * 1000;
  const std::int64_t prefill_step_us =
      prefill ? std::max<std::int64_t>(
                    1, 2LL * 24 * 3600 * 1000 * 1000 / static_cast<std::int64_t>(prefill))
              : 1;
  constexpr std::int64_t kStepUs = 40;

  std::vector<Variant> variants(3);
  auto set = [](Variant& v, const char* name, bool arrival, Variant* writer_into = nullptr) {
    v.name = name;
    v.arrival = arrival;
    v.through_writer = writer_into != nullptr;
    v.store_of = writer_into;
  };
  set(variants[0], "blocks, start order", false);
  set(variants[1], "blocks, arrival order", true);
  set(variants[2], "TraceWriter, blocks, arrival order", true, &variants[1]);
  for (auto& v : variants) {
    if (v.through_writer) continue;
    v.dir = root + "/" + std::to_string(&v - variants.data());
    auto s = store::OpenSqliteStore(v.dir + "/bench.db");
    if (!s.ok()) {
      std::fprintf(stderr, "open: %s\n", s.error().ToString().c_str());
      return 1;
    }
    v.store = std::move(*s);
    v.traffic = std::make_unique<Traffic>(v.arrival, body, prefill_from);
    // Prefill in pieces so that memory stays bounded.
    for (std::size_t done = 0; done < prefill;) {
      std::size_t n = std::min<std::size_t>(100 * kBatch, prefill - done);
      if (Fail("prefill", InsertBatches(*v.store, v.traffic->Rows(n, prefill_step_us)))) return 1;
      done += n;
    }
  }

  const std::size_t n = batches * kBatch;
  Instructions user_instr(false), kernel_instr(true);
  for (std::size_t round = 0; round < rounds; ++round) {
    for (auto& v : variants) {
      Variant& db = v.store_of ? *v.store_of : v;
      std::vector<store::TraceRow> rows;
      std::vector<telemetry::TraceRecord> records;
      if (v.through_writer) {
        records = db.traffic->Records(n, kStepUs);
      } else {
        rows = db.traffic->Rows(n, kStepUs);
      }
      double disk0 = DiskBytes(db.dir);
      double cpu0 = CpuSeconds(), iu0 = user_instr.Read(), ik0 = kernel_instr.Read();
      auto t0 = std::chrono::steady_clock::now();
      if (v.through_writer) {
        telemetry::TraceWriterOptions o;
        o.capacity = n + 1;
        telemetry::TraceWriter w(*db.store, o);
        for (auto& r : records) w.Enqueue(std::move(r));
        w.Flush();
      } else if (Fail("insert", InsertBatches(*db.store, rows))) {
        return 1;
      }
      double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      double cpu = CpuSeconds() - cpu0;
      auto& f = v.figures;
      f.rows_per_s.push_back(static_cast<double>(n) / wall);
      f.cpu_us_per_row.push_back(cpu * 1e6 / static_cast<double>(n));
      f.user_instr_per_row.push_back(iu0 < 0 ? -1 : (user_instr.Read() - iu0) / n);
      f.kernel_instr_per_row.push_back(ik0 < 0 ? -1 : (kernel_instr.Read() - ik0) / n);
      f.bytes_per_row.push_back((DiskBytes(db.dir) - disk0) / static_cast<double>(n));
    }
  }

  std::printf(
      "Trace store: %zu rows per round in batches of %zu onto %zu prefilled rows, "
      "median of %zu rounds (bodies ~%zu+%zu bytes)\n\n",
      n, kBatch, prefill, rounds, body + 60, body / 2 + 60);
  std::printf("| %-40s | %8s | %10s | %14s | %16s | %13s |\n", "variant", "rows/s", "CPU us/row",
              "user instr/row", "kernel instr/row", "disk B/row");
  std::printf("|%s|%s|%s|%s|%s|%s|\n", std::string(42, '-').c_str(), std::string(10, '-').c_str(),
              std::string(12, '-').c_str(), std::string(16, '-').c_str(),
              std::string(18, '-').c_str(), std::string(15, '-').c_str());
  for (const auto& v : variants) {
    const auto& f = v.figures;
    std::printf("| %-40s | %8.0f | %10.2f | %14.0f | %16.0f | %13.0f |\n", v.name,
                Median(f.rows_per_s), Median(f.cpu_us_per_row), Median(f.user_instr_per_row),
                Median(f.kernel_instr_per_row), Median(f.bytes_per_row));
  }
  std::printf(
      "\n(disk B/row: growth of the database file and its WAL during the round; a checkpoint "
      "that resets the WAL can make it small or negative for that round)\n");
  variants.clear();
  std::error_code ec;
  std::filesystem::remove_all(root, ec);
  return 0;
}
