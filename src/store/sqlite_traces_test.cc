// The SQLite TraceRepository: batch insert, filters, pagination, retention, feedback aggregates,
// and the query plans of its statements (every trace query uses an index).
#include <gtest/gtest.h>

#include <functional>
#include <set>

#include "store/sqlite.h"
#include "store/sqlite_traces.h"
#include "store/store.h"
#include "support/temp_dir.h"

namespace promptops::store {
namespace {

TraceRow Row(std::string id, std::int64_t time_ms, std::int64_t project = 1) {
  TraceRow r;
  r.id = std::move(id);
  r.project_id = project;
  r.time_ms = time_ms;
  r.model = "gpt-4o-mini";
  return r;
}

// Builds a filter by setting fields on a default one (designated initializers would warn about
// the fields left out).
template <class Set>
TraceFilter F(Set set) {
  TraceFilter f;
  set(f);
  return f;
}

// A listing case: the filter and the ids it must return, newest first.
struct FilterCase {
  const char* name;
  TraceFilter filter;
  std::vector<std::string> ids;
};

class SqliteTracesTest : public ::testing::Test {
 protected:
  void SetUp() override { store_ = std::move(OpenSqliteStore(dir_.path() / "db.sqlite")).value(); }
  void Insert(std::vector<TraceRow> rows) {
    ASSERT_TRUE(store_
                    ->Write([&](Tx& tx) -> Status {
                      PO_ASSIGN_OR_RETURN(auto n, tx.traces().InsertBatch(rows));
                      EXPECT_EQ(n, rows.size());
                      return OkStatus();
                    })
                    .ok());
  }
  TracePage List(const TraceFilter& f, std::size_t offset = 0, std::size_t limit = 100,
                 std::int64_t project = 1) {
    TracePage page;
    EXPECT_TRUE(store_
                    ->Read([&](Tx& tx) -> Status {
                      PO_ASSIGN_OR_RETURN(page, tx.traces().List(project, f, offset, limit));
                      return OkStatus();
                    })
                    .ok());
    return page;
  }
  static std::vector<std::string> Ids(const TracePage& p) {
    std::vector<std::string> out;
    for (const auto& r : p.rows) out.push_back(r.id);
    return out;
  }

  testing::TempDir dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(SqliteTracesTest, StoresEveryFieldAndReadsItBack) {
  TraceRow r = Row("tr-1", 1000);
  r.key_id = "pk-a";
  r.user = "u1";
  r.session = "s1";
  r.metadata_json = R"({"team":"x"})";
  r.prompt_name = "support/bot";
  r.prompt_version = 3;
  r.prompt_label = "production";
  r.provider = "openai";
  r.upstream_model = "gpt-4o-mini-2024";
  r.input_tokens = 12;
  r.output_tokens = 34;
  r.usage_estimated = true;
  r.cost_usd = 0.000123456789;
  r.latency_us = 1500;
  r.ttft_us = 300;
  r.status = 502;
  r.error_class = "upstream_5xx";
  r.retries = 2;
  r.fallback_used = true;
  r.cache_hit = true;
  r.stream = true;
  r.request_body = "{\"messages\":[]}";
  r.response_body = "{}";
  Insert({r});
  ASSERT_TRUE(store_
                  ->Read([&](Tx& tx) -> Status {
                    auto got = tx.traces().Get(1, "tr-1");
                    EXPECT_TRUE(got.ok() && got->has_value());
                    const TraceRow& g = **got;
                    EXPECT_EQ(g.metadata_json, r.metadata_json);
                    EXPECT_EQ(g.prompt_name, "support/bot");
                    EXPECT_EQ(g.prompt_version, 3);
                    EXPECT_EQ(g.upstream_model, r.upstream_model);
                    EXPECT_EQ(g.output_tokens, 34);
                    EXPECT_TRUE(g.usage_estimated);
                    EXPECT_DOUBLE_EQ(g.cost_usd, 0.000123456789);
                    EXPECT_EQ(g.ttft_us, 300);
                    EXPECT_EQ(g.status, 502);
                    EXPECT_EQ(g.error_class, "upstream_5xx");
                    EXPECT_EQ(g.retries, 2);
                    EXPECT_TRUE(g.fallback_used && g.cache_hit && g.stream);
                    EXPECT_EQ(g.request_body, r.request_body);
                    EXPECT_EQ(g.response_body, "{}");
                    // Another project does not see it.
                    EXPECT_FALSE(tx.traces().Get(2, "tr-1")->has_value());
                    return OkStatus();
                  })
                  .ok());
}

TEST_F(SqliteTracesTest, DuplicateIdsAreSkippedNotFailed) {
  Insert({Row("tr-1", 1)});
  ASSERT_TRUE(store_
                  ->Write([&](Tx& tx) -> Status {
                    std::vector<TraceRow> rows = {Row("tr-1", 1), Row("tr-2", 2)};
                    auto n = tx.traces().InsertBatch(rows);
                    EXPECT_TRUE(n.ok());
                    EXPECT_EQ(*n, 1u);
                    return OkStatus();
                  })
                  .ok());
  EXPECT_EQ(List({}).total, 2u);
}

TEST_F(SqliteTracesTest, ListsNewestFirstWithFiltersAndPagination) {
  std::vector<TraceRow> rows;
  for (int i = 0; i < 10; ++i) {
    TraceRow r = Row("tr-" + std::to_string(i), 1000 + i * 10);
    r.prompt_name = i % 2 ? "a" : "b";
    r.prompt_version = i % 3 + 1;
    r.model = i < 5 ? "m1" : "m2";
    r.status = i == 7 ? 429 : 200;
    r.error_class = i == 7 ? "rate_limited" : (i == 8 ? "client_cancelled" : "");
    r.user = i == 4 ? "alice" : "bob";
    rows.push_back(r);
  }
  rows.push_back(Row("tr-other-project", 5000, 2));
  Insert(rows);

  const FilterCase cases[] = {
      {"all", {}, {"tr-9", "tr-8", "tr-7", "tr-6", "tr-5", "tr-4", "tr-3", "tr-2", "tr-1", "tr-0"}},
      {"time range",
       F([](TraceFilter& f) { f.from_ms = 1020, f.to_ms = 1050; }),
       {"tr-4", "tr-3", "tr-2"}},
      {"prompt",
       F([](TraceFilter& f) { f.prompt = "a"; }),
       {"tr-9", "tr-7", "tr-5", "tr-3", "tr-1"}},
      {"prompt version",
       F([](TraceFilter& f) { f.prompt = "a", f.version = 2; }),
       {"tr-7", "tr-1"}},
      {"model",
       F([](TraceFilter& f) { f.model = "m1"; }),
       {"tr-4", "tr-3", "tr-2", "tr-1", "tr-0"}},
      {"status", F([](TraceFilter& f) { f.status = 429; }), {"tr-7"}},
      {"errors", F([](TraceFilter& f) { f.errors_only = true; }), {"tr-8", "tr-7"}},
      {"error class", F([](TraceFilter& f) { f.error_class = "client_cancelled"; }), {"tr-8"}},
      {"user", F([](TraceFilter& f) { f.user = "alice"; }), {"tr-4"}},
      {"nothing", F([](TraceFilter& f) { f.model = "none"; }), {}},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(Ids(List(c.filter)), c.ids) << c.name;
  }
  auto page = List({}, 3, 4);
  EXPECT_EQ(page.total, 10u);
  EXPECT_EQ(Ids(page), (std::vector<std::string>{"tr-6", "tr-5", "tr-4", "tr-3"}));
  EXPECT_TRUE(page.rows[0].request_body.empty());
}

// The filters served by the partial indexes (traces_errors, traces_prompt) and by the entries of
// traces_project_time return exactly the matching traces, including those outside the partial
// indexes (no prompt, no error) and failures of each kind.
TEST_F(SqliteTracesTest, FiltersOnPartialAndCoveringIndexesMissNoTrace) {
  struct Spec {
    const char* id;
    std::int64_t status;
    const char* error_class;
    const char* prompt;
    const char* user;
  };
  const Spec specs[] = {
      {"ok", 200, "", "", ""},
      {"ok-prompt", 200, "", "a", "alice"},
      {"limited", 429, "rate_limited", "a", "bob"},
      {"broke-mid-stream", 200, "upstream_5xx", "b", "alice"},  // 200 sent, then the stream failed
      {"bad-gateway", 502, "", "", "bob"},                      // an error status without class
      {"not-found", 404, "", "a", ""},
      {"cached", 304, "", "", "alice"},
  };
  std::vector<TraceRow> rows;
  std::int64_t t = 1000;
  for (const auto& sp : specs) {
    TraceRow r = Row(sp.id, t++);
    r.status = sp.status;
    r.error_class = sp.error_class;
    r.prompt_name = sp.prompt;
    r.prompt_version = *sp.prompt ? 1 : 0;
    r.user = sp.user;
    rows.push_back(r);
  }
  Insert(rows);
  const FilterCase cases[] = {
      {"errors",
       F([](TraceFilter& f) { f.errors_only = true; }),
       {"not-found", "bad-gateway", "broke-mid-stream", "limited"}},
      {"status 200",
       F([](TraceFilter& f) { f.status = 200; }),
       {"broke-mid-stream", "ok-prompt", "ok"}},
      {"status 304", F([](TraceFilter& f) { f.status = 304; }), {"cached"}},
      {"status 502", F([](TraceFilter& f) { f.status = 502; }), {"bad-gateway"}},
      {"status 503", F([](TraceFilter& f) { f.status = 503; }), {}},
      {"error class",
       F([](TraceFilter& f) { f.error_class = "upstream_5xx"; }),
       {"broke-mid-stream"}},
      {"no error class",
       F([](TraceFilter& f) { f.error_class = ""; }),
       {"cached", "not-found", "bad-gateway", "ok-prompt", "ok"}},
      {"error status and class",
       F([](TraceFilter& f) { f.status = 429, f.error_class = "rate_limited"; }),
       {"limited"}},
      {"errors with status 200",
       F([](TraceFilter& f) { f.errors_only = true, f.status = 200; }),
       {"broke-mid-stream"}},
      {"prompt", F([](TraceFilter& f) { f.prompt = "a"; }), {"not-found", "limited", "ok-prompt"}},
      {"prompt version",
       F([](TraceFilter& f) { f.prompt = "a", f.version = 1; }),
       {"not-found", "limited", "ok-prompt"}},
      {"no prompt", F([](TraceFilter& f) { f.prompt = ""; }), {"cached", "bad-gateway", "ok"}},
      {"user",
       F([](TraceFilter& f) { f.user = "alice"; }),
       {"cached", "broke-mid-stream", "ok-prompt"}},
      {"no user", F([](TraceFilter& f) { f.user = ""; }), {"not-found", "ok"}},
      {"user and errors",
       F([](TraceFilter& f) { f.user = "bob", f.errors_only = true; }),
       {"bad-gateway", "limited"}},
      {"model, user and status",
       F([](TraceFilter& f) { f.model = "gpt-4o-mini", f.user = "alice", f.status = 200; }),
       {"broke-mid-stream", "ok-prompt"}},
      {"other model", F([](TraceFilter& f) { f.model = "other"; }), {}},
  };
  for (const auto& c : cases) {
    auto page = List(c.filter);
    EXPECT_EQ(Ids(page), c.ids) << c.name;
    EXPECT_EQ(page.total, c.ids.size()) << c.name;
  }
}

// Traces of the same millisecond are listed newest stored first, also across pages (the list
// orders them by rowid within the millisecond, see List).
TEST_F(SqliteTracesTest, TracesOfOneMillisecondListNewestStoredFirst) {
  std::vector<TraceRow> rows;
  const char* users[] = {"zed", "amy", "max", "bea", "amy"};
  for (int i = 0; i < 5; ++i) {
    TraceRow r = Row("tr-" + std::to_string(i), 7000);
    r.user = users[i];
    r.status = i % 2 ? 429 : 200;  // entries of one millisecond differ in their index columns
    r.model = i < 3 ? "z" : "a";
    rows.push_back(r);
  }
  rows.push_back(Row("tr-later", 7001));
  Insert(rows);
  EXPECT_EQ(Ids(List({})),
            (std::vector<std::string>{"tr-later", "tr-4", "tr-3", "tr-2", "tr-1", "tr-0"}));
  EXPECT_EQ(Ids(List({}, 1, 2)), (std::vector<std::string>{"tr-4", "tr-3"}));
  EXPECT_EQ(Ids(List({}, 3, 2)), (std::vector<std::string>{"tr-2", "tr-1"}));
  TraceFilter amy;
  amy.user = "amy";
  EXPECT_EQ(Ids(List(amy)), (std::vector<std::string>{"tr-4", "tr-1"}));
}

// A batch goes in as multi-row statements of 16 rows, reordered by project and time: batches
// of every size around that are stored whole, duplicates (in the table or in the batch) are
// skipped and counted out, and rows of one millisecond keep their arrival order.
TEST_F(SqliteTracesTest, BatchesOfAnySizeAreStoredWholeInTheirOrder) {
  Insert({Row("tr-old", 10)});
  std::size_t expected = 1;
  int next = 0;
  for (std::size_t size : {1u, 15u, 16u, 17u, 33u, 100u}) {
    std::vector<TraceRow> rows;
    for (std::size_t i = 0; i < size; ++i) {
      // Times out of order, several rows per millisecond.
      rows.push_back(
          Row("tr-" + std::to_string(next++), 1000 + static_cast<std::int64_t>((i * 7) % 5)));
    }
    rows.push_back(Row("tr-old", 10));                               // already stored
    if (size > 1) rows.push_back(Row(rows[0].id, rows[0].time_ms));  // twice in this batch
    ASSERT_TRUE(store_
                    ->Write([&](Tx& tx) -> Status {
                      auto n = tx.traces().InsertBatch(rows);
                      EXPECT_TRUE(n.ok());
                      EXPECT_EQ(*n, size) << size;
                      return OkStatus();
                    })
                    .ok());
    expected += size;
    EXPECT_EQ(List({}, 0, 1000).total, expected);
  }
  // Ids that sort against their arrival order: within the millisecond, newest stored first.
  Insert({Row("tr-z", 5000), Row("tr-a", 5000), Row("tr-m", 4999)});
  auto page = List({}, 0, 3);
  EXPECT_EQ(Ids(page), (std::vector<std::string>{"tr-a", "tr-z", "tr-m"}));
}

TEST_F(SqliteTracesTest, DeleteOlderThanRemovesOldTracesAndFeedbackOnly) {
  Insert({Row("old", 100), Row("new", 200), Row("old-2", 50, 2)});
  ASSERT_TRUE(store_
                  ->Write([&](Tx& tx) -> Status {
                    FeedbackRow f;
                    f.project_id = 1;
                    f.trace_id = "old";
                    f.value = "up";
                    f.created_at = 100;
                    PO_RETURN_IF_ERROR(tx.traces().InsertFeedback(f).ok() ? OkStatus()
                                                                          : Error::Internal("f"));
                    f.trace_id = "new";
                    f.created_at = 200;
                    PO_RETURN_IF_ERROR(tx.traces().InsertFeedback(f).ok() ? OkStatus()
                                                                          : Error::Internal("f"));
                    auto one = tx.traces().DeleteOlderThan(150, std::int64_t{1});
                    EXPECT_EQ(*one, 1);
                    EXPECT_TRUE(tx.traces().ListFeedback(1, "old")->empty());
                    EXPECT_EQ(tx.traces().ListFeedback(1, "new")->size(), 1u);
                    auto all = tx.traces().DeleteOlderThan(150, std::nullopt);
                    EXPECT_EQ(*all, 1);  // old-2 of project 2
                    return OkStatus();
                  })
                  .ok());
  EXPECT_EQ(Ids(List({})), std::vector<std::string>{"new"});
  EXPECT_EQ(List({}, 0, 100, 2).total, 0u);
}

TEST_F(SqliteTracesTest, BoundedDeletesGoProjectByProjectOldestFirst) {
  std::vector<TraceRow> rows;
  for (int i = 0; i < 7; ++i) rows.push_back(Row("p1-" + std::to_string(i), 100 + i, 1));
  rows.push_back(Row("p1-new", 500, 1));
  rows.push_back(Row("p7-old", 10, 7));
  rows.push_back(Row("p3-new", 900, 3));
  Insert(rows);
  ASSERT_TRUE(store_
                  ->Write([&](Tx& tx) -> Status {
                    EXPECT_EQ(*tx.traces().TraceProjectIds(), (std::vector<std::int64_t>{1, 3, 7}));
                    EXPECT_EQ(*tx.traces().DeleteTracesBefore(1, 200, 3), 3);
                    EXPECT_EQ(*tx.traces().DeleteTracesBefore(1, 200, 3), 3);
                    EXPECT_EQ(*tx.traces().DeleteTracesBefore(1, 200, 3), 1);
                    EXPECT_EQ(*tx.traces().DeleteTracesBefore(1, 200, 3), 0);
                    EXPECT_EQ(*tx.traces().DeleteTracesBefore(7, 200, -1), 1);  // -1: no limit
                    EXPECT_EQ(*tx.traces().TraceProjectIds(), (std::vector<std::int64_t>{1, 3}));
                    return OkStatus();
                  })
                  .ok());
  EXPECT_EQ(Ids(List({})), std::vector<std::string>{"p1-new"});
  EXPECT_EQ(List({}, 0, 100, 3).total, 1u);
}

TEST_F(SqliteTracesTest, BoundedFeedbackDeletesHonourTheProjectAndTheLimit) {
  ASSERT_TRUE(store_
                  ->Write([&](Tx& tx) -> Status {
                    FeedbackRow f;
                    f.trace_id = "t";
                    f.value = "up";
                    for (int i = 0; i < 5; ++i) {
                      f.project_id = i < 3 ? 1 : 2;
                      f.created_at = 100 + i;
                      EXPECT_TRUE(tx.traces().InsertFeedback(f).ok());
                    }
                    f.project_id = 1;
                    f.created_at = 1000;
                    EXPECT_TRUE(tx.traces().InsertFeedback(f).ok());
                    EXPECT_EQ(*tx.traces().DeleteFeedbackBefore(500, std::int64_t{1}, 2), 2);
                    EXPECT_EQ(*tx.traces().DeleteFeedbackBefore(500, std::int64_t{1}, 2), 1);
                    EXPECT_EQ(*tx.traces().DeleteFeedbackBefore(500, std::nullopt, -1), 2);
                    EXPECT_EQ(tx.traces().ListFeedback(1, "t")->size(), 1u);  // the new one
                    EXPECT_TRUE(tx.traces().ListFeedback(2, "t")->empty());
                    return OkStatus();
                  })
                  .ok());
}

// Runs every TraceRepository query on a connection that records the SQL of each statement
// stepped, then checks EXPLAIN QUERY PLAN of each: the traces table is only ever searched
// through an index (no "SCAN traces", which is a full table or full index scan), the lists never
// sort their whole result (at most the traces of one millisecond, "RIGHT PART OF ORDER BY"), and
// the counts of the filters checked on traces_project_time read only that index.
TEST_F(SqliteTracesTest, EveryTraceQueryUsesAnIndex) {
  Insert({Row("tr-1", 100), Row("tr-2", 200, 2)});
  auto conn = sqlite::Connection::Open((dir_.path() / "db.sqlite").string());
  ASSERT_TRUE(conn.ok()) << conn.error().ToString();
  sqlite::Connection& c = **conn;
  std::vector<std::string> sqls;
  auto record = [](unsigned, void* ctx, void*, void* x) -> int {
    static_cast<std::vector<std::string>*>(ctx)->push_back(static_cast<const char*>(x));
    return 0;
  };
  sqlite3_trace_v2(c.raw(), SQLITE_TRACE_STMT, record, &sqls);
  auto repo = NewSqliteTraceRepository(c);

  // What each call must show: an index its page or delete statement must use (empty: any),
  // whether a sort is allowed, and whether its count must read only traces_project_time.
  struct Case {
    const char* name;
    std::function<bool()> run;
    const char* index;
    bool sort_ok = false;
    bool count_covered = false;
  };
  auto list = [&](auto set) {
    return [&repo, set] {
      TraceFilter f;
      set(f);
      return repo->List(1, f, 0, 50).ok();
    };
  };
  const Case cases[] = {
      {"list all", list([](TraceFilter&) {}), "traces_project_time", false, true},
      {"list time range", list([](TraceFilter& f) { f.from_ms = 1, f.to_ms = 300; }),
       "traces_project_time", false, true},
      {"list model", list([](TraceFilter& f) { f.model = "gpt-4o-mini"; }), "traces_project_time",
       false, true},
      {"list model in a time range", list([](TraceFilter& f) { f.model = "m", f.from_ms = 1; }),
       "traces_project_time", false, true},
      {"list user (no user index since migration 4)", list([](TraceFilter& f) { f.user = "u"; }),
       "traces_project_time", false, true},
      {"list user and model", list([](TraceFilter& f) { f.user = "u", f.model = "m"; }),
       "traces_project_time", false, true},
      {"list status 200", list([](TraceFilter& f) { f.status = 200; }), "traces_project_time",
       false, true},
      {"list status 429", list([](TraceFilter& f) { f.status = 429; }), "traces_errors"},
      {"list errors", list([](TraceFilter& f) { f.errors_only = true; }), "traces_errors"},
      {"list error class", list([](TraceFilter& f) { f.error_class = "timeout"; }),
       "traces_errors"},
      {"list errors of a model", list([](TraceFilter& f) { f.errors_only = true, f.model = "m"; }),
       "traces_errors"},
      // Without statistics SQLite walks the project's time index here (no sort for the page).
      {"list prompt", list([](TraceFilter& f) { f.prompt = "p"; }), "", true},
      {"list prompt version", list([](TraceFilter& f) { f.prompt = "p", f.version = 2; }),
       "traces_prompt"},
      {"get", [&] { return repo->Get(1, "tr-1").ok(); }, "", true},
      {"project ids", [&] { return repo->TraceProjectIds().ok(); }, "traces_project_time"},
      {"bounded delete", [&] { return repo->DeleteTracesBefore(1, 150, 10).ok(); },
       "traces_project_time", true},
      {"delete one project", [&] { return repo->DeleteOlderThan(150, std::int64_t{1}).ok(); },
       "traces_project_time", true},
      {"delete all projects", [&] { return repo->DeleteOlderThan(150, std::nullopt).ok(); },
       "traces_project_time", true},
  };
  for (const auto& k : cases) {
    sqls.clear();
    ASSERT_TRUE(c.Exec("BEGIN").ok());
    EXPECT_TRUE(k.run()) << k.name;
    ASSERT_TRUE(c.Exec("ROLLBACK").ok());
    std::set<std::string> unique(sqls.begin(), sqls.end());
    bool traces_seen = false;
    for (const auto& sql : unique) {
      if (sql.find("FROM traces") == std::string::npos) continue;  // BEGIN, feedback, ...
      traces_seen = true;
      auto st = c.Prepare("EXPLAIN QUERY PLAN " + sql);
      ASSERT_TRUE(st.ok()) << sql;
      std::string plan;
      for (;;) {
        auto row = st->Step();
        ASSERT_TRUE(row.ok()) << sql;
        if (!*row) break;
        plan += st->Text(3) + "\n";
      }
      SCOPED_TRACE(std::string(k.name) + ":\n" + sql + "\n" + plan);
      EXPECT_EQ(plan.find("SCAN traces"), std::string::npos);
      EXPECT_NE(plan.find("SEARCH traces"), std::string::npos);
      // The counts may use any index on (project_id, ...): without statistics SQLite picks one.
      bool count = sql.starts_with("SELECT COUNT(*)");
      if (count && k.count_covered) {
        EXPECT_NE(plan.find("USING COVERING INDEX traces_project_time "), std::string::npos);
      }
      if (*k.index && !count) {
        EXPECT_NE(plan.find(std::string("INDEX ") + k.index + " "), std::string::npos);
      }
      if (!k.sort_ok && sql.find("ORDER BY") != std::string::npos) {
        EXPECT_EQ(plan.find("TEMP B-TREE FOR ORDER BY"), std::string::npos);
      }
    }
    EXPECT_TRUE(traces_seen) << k.name;
  }
  sqlite3_trace_v2(c.raw(), 0, nullptr, nullptr);
}

TEST_F(SqliteTracesTest, FeedbackIsAggregatedPerPromptVersionAndModel) {
  ASSERT_TRUE(store_
                  ->Write([&](Tx& tx) -> Status {
                    auto add = [&](std::string prompt, std::int64_t v, std::string model,
                                   std::string value, std::optional<std::int64_t> score) {
                      FeedbackRow f;
                      f.project_id = 1;
                      f.trace_id = "t";
                      f.prompt_name = std::move(prompt);
                      f.prompt_version = v;
                      f.model = std::move(model);
                      f.value = std::move(value);
                      f.score = score;
                      EXPECT_TRUE(tx.traces().InsertFeedback(f).ok());
                    };
                    add("p", 1, "m", "up", std::nullopt);
                    add("p", 1, "m", "up", std::nullopt);
                    add("p", 1, "m", "down", std::nullopt);
                    add("p", 1, "m", "score", 4);
                    add("p", 1, "m", "score", 5);
                    add("p", 2, "m", "down", std::nullopt);
                    add("q", 1, "m2", "score", 1);
                    return OkStatus();
                  })
                  .ok());
  ASSERT_TRUE(store_
                  ->Read([&](Tx& tx) -> Status {
                    auto all = tx.traces().SummarizeFeedback(1, {});
                    EXPECT_EQ(all->size(), 3u);
                    const auto& p1 = (*all)[0];
                    EXPECT_EQ(p1.prompt_name, "p");
                    EXPECT_EQ(p1.prompt_version, 1);
                    EXPECT_EQ(p1.up, 2);
                    EXPECT_EQ(p1.down, 1);
                    EXPECT_EQ(p1.scored, 2);
                    EXPECT_EQ(p1.score_sum, 9);
                    EXPECT_EQ(p1.total, 5);
                    auto v2 = tx.traces().SummarizeFeedback(1, {"p", 2, std::nullopt});
                    EXPECT_EQ(v2->size(), 1u);
                    EXPECT_EQ((*v2)[0].down, 1);
                    auto m2 = tx.traces().SummarizeFeedback(1, {std::nullopt, std::nullopt, "m2"});
                    EXPECT_EQ(m2->size(), 1u);
                    EXPECT_EQ((*m2)[0].prompt_name, "q");
                    EXPECT_TRUE(tx.traces().SummarizeFeedback(2, {})->empty());
                    return OkStatus();
                  })
                  .ok());
}

}  // namespace
}  // namespace promptops::store
