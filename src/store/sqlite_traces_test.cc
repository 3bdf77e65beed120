// The SQLite TraceRepository: batch insert, filters, pagination, retention, feedback aggregates,
// and the query plans of its statements (every trace query uses an index).
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include "core/hash.h"
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

// Ids are not checked for duplicates (trace_repository.h): every row is stored, and Get returns
// the first stored.
TEST_F(SqliteTracesTest, EveryRowIsStoredAndGetReturnsTheFirstStored) {
  TraceRow first = Row("tr-0VbnWWuDKqtCQBez9OMRWok9", 1);
  first.user = "first";
  Insert({first});
  TraceRow again = first;
  again.user = "again";
  ASSERT_TRUE(store_
                  ->Write([&](Tx& tx) -> Status {
                    std::vector<TraceRow> rows = {again, Row("tr-2", 2)};
                    auto n = tx.traces().InsertBatch(rows);
                    EXPECT_TRUE(n.ok());
                    EXPECT_EQ(*n, 2u);
                    return OkStatus();
                  })
                  .ok());
  EXPECT_EQ(List({}).total, 3u);
  ASSERT_TRUE(store_
                  ->Read([&](Tx& tx) -> Status {
                    auto got = tx.traces().Get(1, first.id);
                    EXPECT_TRUE(got.ok() && got->has_value());
                    if (got.ok() && got->has_value()) {
                      EXPECT_EQ((*got)->user, "first");
                    }
                    return OkStatus();
                  })
                  .ok());
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
  for (std::size_t size : {1u, 15u, 16u, 17u, 33u, 100u, 2100u}) {  // 2100: two blocks
    std::vector<TraceRow> rows;
    for (std::size_t i = 0; i < size; ++i) {
      // Times out of order, several rows per millisecond.
      rows.push_back(
          Row("tr-" + std::to_string(next++), 1000 + static_cast<std::int64_t>((i * 7) % 5)));
    }
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

// Traces with ids from NewTraceId, in two projects, sent in batches whose times interleave
// (requests that started earlier finish later: the blocks' time and id ranges overlap): Get finds
// every one, List merges the blocks in time order (newest stored first within a millisecond), Count
// and the summary-pruned filters agree with a plain scan, and a bounded delete that ends inside a
// block rewrites it without losing or reordering what stays.
TEST_F(SqliteTracesTest, BlocksAcrossBatchesWindowsAndProjectsAnswerLikeOneTable) {
  static constexpr std::int64_t kBase = 1795436011000;
  std::vector<TraceRow> all;  // in storage order
  int n = 0;
  for (int batch = 0; batch < 6; ++batch) {
    std::vector<TraceRow> rows;
    for (int i = 0; i < 300; ++i, ++n) {
      // Start times run back up to 450 ms: every batch overlaps earlier ones.
      std::int64_t t = kBase + batch * 150 + (i * 53) % 450 - 300;
      // Every 25th id does not carry its start time (as ids from before time-ordered ids): it
      // goes into a block of its own kind.
      std::string id = i % 25 == 7 ? "tr-x" + std::to_string(n) : TimeOrderedId("tr-", 24, t);
      TraceRow r = Row(id, t, i % 4 == 3 ? 2 : 1);
      r.prompt_name = i % 5 == 0 ? "" : "p" + std::to_string(i % 3);
      r.prompt_version = i % 2 + 1;
      r.model = i % 7 == 0 ? "rare-model" : "gpt-4o-mini";
      r.status = i % 11 == 0 ? 502 : 200;
      r.user = "u" + std::to_string(i % 9);
      r.request_body = "body " + std::to_string(n);
      rows.push_back(r);
    }
    Insert(rows);
    // Within a block rows are in time order (stable), a batch's block of regular ids before its
    // block of the others, blocks in batch order: the storage order List's ties follow.
    for (bool regular : {true, false}) {
      for (const auto& r : rows) {
        if ((r.id.find("tr-x") != 0) == regular) all.push_back(r);
      }
    }
  }
  // The reference: project 1's traces sorted by time, ties by storage position, newest first.
  auto reference = [&](const TraceFilter& f, std::int64_t project) {
    std::vector<std::pair<std::size_t, const TraceRow*>> v;
    for (std::size_t i = 0; i < all.size(); ++i) {
      const TraceRow& r = all[i];
      if (r.project_id != project) continue;
      if (f.from_ms && r.time_ms < *f.from_ms) continue;
      if (f.to_ms && r.time_ms >= *f.to_ms) continue;
      if (f.prompt && r.prompt_name != *f.prompt) continue;
      if (f.version && r.prompt_version != *f.version) continue;
      if (f.model && r.model != *f.model) continue;
      if (f.errors_only && r.status < 400) continue;
      if (f.user && r.user != *f.user) continue;
      v.emplace_back(i, &r);
    }
    std::stable_sort(v.begin(), v.end(), [](const auto& a, const auto& b) {
      return a.second->time_ms > b.second->time_ms;
    });
    std::vector<std::string> ids;
    for (const auto& [i, r] : v) ids.push_back(r->id);
    return ids;
  };
  // Ties within a millisecond: newest stored first. The reference's stable sort keeps storage
  // order for ties; reverse each run of equal times.
  auto newest_stored_first = [&](std::vector<std::string> ids, const TraceFilter& f,
                                 std::int64_t project) {
    std::map<std::string, std::int64_t> time;
    for (const auto& r : all) time[r.id] = r.time_ms;
    for (std::size_t i = 0; i < ids.size();) {
      std::size_t j = i;
      while (j < ids.size() && time[ids[j]] == time[ids[i]]) ++j;
      // Within a batch's block, rows of one millisecond keep the batch's order; across batches
      // the later batch is newer: storage order is the `all` order in both cases.
      std::reverse(ids.begin() + static_cast<std::ptrdiff_t>(i),
                   ids.begin() + static_cast<std::ptrdiff_t>(j));
      i = j;
    }
    (void)f;
    (void)project;
    return ids;
  };
  const TraceFilter filters[] = {
      {},
      F([](TraceFilter& f) { f.from_ms = kBase, f.to_ms = kBase + 300; }),
      F([](TraceFilter& f) { f.prompt = "p1"; }),
      F([](TraceFilter& f) { f.prompt = "", f.from_ms = kBase + 100; }),
      F([](TraceFilter& f) { f.prompt = "p2", f.version = 2; }),
      F([](TraceFilter& f) { f.model = "rare-model"; }),
      F([](TraceFilter& f) { f.model = "absent"; }),
      F([](TraceFilter& f) { f.errors_only = true; }),
      F([](TraceFilter& f) { f.user = "u4", f.to_ms = kBase + 500; }),
  };
  for (std::int64_t project : {1, 2}) {
    for (std::size_t k = 0; k < std::size(filters); ++k) {
      SCOPED_TRACE("project " + std::to_string(project) + " filter " + std::to_string(k));
      auto want = newest_stored_first(reference(filters[k], project), filters[k], project);
      auto page = List(filters[k], 0, 5000, project);
      EXPECT_EQ(page.total, want.size());
      EXPECT_EQ(Ids(page), want);
      // A page in the middle.
      if (want.size() > 20) {
        auto mid = List(filters[k], 10, 7, project);
        EXPECT_EQ(Ids(mid), std::vector<std::string>(want.begin() + 10, want.begin() + 17));
      }
    }
  }
  ASSERT_TRUE(store_
                  ->Read([&](Tx& tx) -> Status {
                    for (std::size_t i = 0; i < all.size(); i += 37) {
                      auto t = tx.traces().Get(all[i].project_id, all[i].id);
                      EXPECT_TRUE(t.ok() && t->has_value()) << all[i].id;
                      if (t.ok() && t->has_value()) {
                        EXPECT_EQ((*t)->request_body, all[i].request_body);
                      }
                      // Not in the other project.
                      EXPECT_FALSE(tx.traces().Get(3 - all[i].project_id, all[i].id)->has_value());
                    }
                    EXPECT_FALSE(tx.traces().Get(1, TimeOrderedId("tr-", 24, kBase))->has_value());
                    return OkStatus();
                  })
                  .ok());
  // Delete project 1's traces before kBase + 200 in chunks of 100 (blocks hold more, so most
  // chunks end inside a block): what stays lists exactly as before, minus the deleted.
  TraceFilter newer;
  newer.from_ms = kBase + 200;
  auto before_delete = Ids(List(newer, 0, 5000));
  TraceFilter older;
  older.to_ms = kBase + 200;
  std::size_t old_count = List(older, 0, 1).total;
  ASSERT_GT(old_count, 300u);
  std::int64_t deleted = 0;
  for (int round = 0; round < 100; ++round) {
    std::int64_t got = -1;
    ASSERT_TRUE(store_
                    ->Write([&](Tx& tx) -> Status {
                      PO_ASSIGN_OR_RETURN(got, tx.traces().DeleteTracesBefore(1, kBase + 200, 100));
                      return OkStatus();
                    })
                    .ok());
    EXPECT_LE(got, 100);
    deleted += got;
    if (got < 100) break;
  }
  EXPECT_EQ(static_cast<std::size_t>(deleted), old_count);
  EXPECT_EQ(List(older, 0, 1).total, 0u);
  EXPECT_EQ(Ids(List({}, 0, 5000)), before_delete);
  EXPECT_EQ(List({}, 0, 1, 2).total, reference({}, 2).size());  // project 2 untouched
}

// Get looks for an id only in the blocks whose id range holds its time, bounded by the widest
// range any block has: a request that ran for 40 minutes widens it, and ids stored before and
// after it are still found; an id that was never stored is not.
TEST_F(SqliteTracesTest, GetFindsIdsAcrossBlocksOfAnyIdRange) {
  static constexpr std::int64_t kBase = 1795436011000;
  auto traced = [](std::int64_t t) { return Row(TimeOrderedId("tr-", 24, t), t); };
  std::vector<TraceRow> first = {traced(kBase), traced(kBase + 5), traced(kBase + 9)};
  Insert(first);
  std::vector<TraceRow> later;
  for (int b = 0; b < 40; ++b) {
    std::vector<TraceRow> batch;
    for (int i = 0; i < 20; ++i) batch.push_back(traced(kBase + 1000 + b * 100 + i));
    Insert(batch);
    later.push_back(batch[b % 20]);
  }
  // A 40-minute request that finished with the last batch.
  TraceRow slow = traced(kBase + 6000 - 40 * 60 * 1000);
  Insert({slow, traced(kBase + 6000)});
  ASSERT_TRUE(store_
                  ->Read([&](Tx& tx) -> Status {
                    for (const auto* group : {&first, &later}) {
                      for (const auto& r : *group) {
                        auto got = tx.traces().Get(1, r.id);
                        EXPECT_TRUE(got.ok() && got->has_value()) << r.id;
                      }
                    }
                    auto got = tx.traces().Get(1, slow.id);
                    EXPECT_TRUE(got.ok() && got->has_value());
                    if (got.ok() && got->has_value()) {
                      EXPECT_EQ((*got)->time_ms, slow.time_ms);
                    }
                    for (std::int64_t t : {kBase - 1, kBase + 5, kBase + 2000, kBase + 99999}) {
                      auto none = tx.traces().Get(1, TimeOrderedId("tr-", 24, t));
                      EXPECT_TRUE(none.ok());
                      EXPECT_FALSE(none->has_value()) << t;
                    }
                    return OkStatus();
                  })
                  .ok());
}

// Under light traffic the writer stores small batches; each joins the project's newest block
// while that stays small and its ids span under a minute, so blocks do not shrink to a few
// traces each. Listing order, Get and counts are the same as with one block per batch.
TEST_F(SqliteTracesTest, SmallBatchesJoinTheNewestBlock) {
  static constexpr std::int64_t kBase = 1795436011000;
  auto blocks = [&] {
    auto c = sqlite::Connection::Open((dir_.path() / "db.sqlite").string());
    auto st = (*c)->Prepare("SELECT COUNT(*) FROM trace_blocks");
    EXPECT_TRUE(*st->Step());
    return st->Int(0);
  };
  std::vector<TraceRow> all;
  for (int b = 0; b < 20; ++b) {
    std::vector<TraceRow> batch;
    for (int i = 0; i < 5; ++i) {
      std::int64_t t = kBase + b * 100 + (i == 4 ? -150 : i);  // one request ran longer
      batch.push_back(Row(TimeOrderedId("tr-", 24, t), t));
    }
    Insert(batch);
    all.insert(all.end(), batch.begin(), batch.end());
  }
  EXPECT_EQ(blocks(), 1);
  // Ties of a millisecond across batches: the later batch is newer.
  all.push_back(Row(TimeOrderedId("tr-", 24, kBase + 1), kBase + 1));
  Insert({all.back()});
  EXPECT_EQ(List({}).total, 101u);
  auto page = List(F([](TraceFilter& f) { f.from_ms = kBase + 1, f.to_ms = kBase + 2; }));
  ASSERT_EQ(page.rows.size(), 2u);
  EXPECT_EQ(page.rows[0].id, all.back().id);  // stored last, listed first
  EXPECT_EQ(page.rows[1].id, all[1].id);
  ASSERT_TRUE(store_
                  ->Read([&](Tx& tx) -> Status {
                    for (const auto& r : all) {
                      auto got = tx.traces().Get(1, r.id);
                      EXPECT_TRUE(got.ok() && got->has_value()) << r.id;
                    }
                    return OkStatus();
                  })
                  .ok());
  EXPECT_EQ(blocks(), 1);
  // No joining: ids a minute apart, another project, a block of irregular ids, a full block.
  Insert({Row(TimeOrderedId("tr-", 24, kBase + 61000), kBase + 61000)});
  EXPECT_EQ(blocks(), 2);
  Insert({Row(TimeOrderedId("tr-", 24, kBase + 61001), kBase + 61001, 2)});
  EXPECT_EQ(blocks(), 3);
  Insert({Row("tr-irregular", kBase + 61002)});
  EXPECT_EQ(blocks(), 4);
  Insert({Row(TimeOrderedId("tr-", 24, kBase + 61003), kBase + 61003)});
  EXPECT_EQ(blocks(), 5);  // the newest block of project 1 holds irregular ids
  std::vector<TraceRow> big;
  for (int i = 0; i < 300; ++i) {
    big.push_back(Row(TimeOrderedId("tr-", 24, kBase + 62000 + i), kBase + 62000 + i));
  }
  Insert(big);
  EXPECT_EQ(blocks(), 6);  // 300 rows: a block of its own
  Insert({Row(TimeOrderedId("tr-", 24, kBase + 63000), kBase + 63000)});
  EXPECT_EQ(blocks(), 7);                            // the newest block is past kMergeRows
  EXPECT_EQ(List({}).total, 101u + 3u + 300u + 1u);  // project 2's is not listed
  // A batch of 64 or more traces (busy traffic) makes a block of its own, even beside a small one.
  auto batch_of = [&](int n, std::int64_t from) {
    std::vector<TraceRow> rows;
    for (int i = 0; i < n; ++i) {
      rows.push_back(Row(TimeOrderedId("tr-", 24, from + i), from + i, 3));
    }
    Insert(rows);
  };
  batch_of(10, kBase + 64000);
  EXPECT_EQ(blocks(), 8);
  batch_of(63, kBase + 64100);
  EXPECT_EQ(blocks(), 8);  // joined: 73 traces
  batch_of(64, kBase + 64200);
  EXPECT_EQ(blocks(), 9);
  EXPECT_EQ(List({}, 0, 1, 3).total, 137u);
}

// Full bodies can be megabytes each: a batch of them is split into blocks of at most ~8 MB
// (kMaxRawBytes), and every body comes back whole.
TEST_F(SqliteTracesTest, LargeBodiesSplitABatchIntoSeveralBlocks) {
  static constexpr std::int64_t kBase = 1795436011000;
  std::vector<TraceRow> rows;
  for (int i = 0; i < 10; ++i) {
    TraceRow r = Row(TimeOrderedId("tr-", 24, kBase + i), kBase + i);
    r.request_body = std::string(3 << 20, static_cast<char>('a' + i));
    r.response_body = "응답 " + std::to_string(i);
    rows.push_back(std::move(r));
  }
  Insert(rows);
  auto c = sqlite::Connection::Open((dir_.path() / "db.sqlite").string());
  auto st = (*c)->Prepare("SELECT COUNT(*), MAX(row_count) FROM trace_blocks");
  ASSERT_TRUE(*st->Step());
  EXPECT_EQ(st->Int(0), 5);  // two 3 MB rows per block
  EXPECT_EQ(st->Int(1), 2);
  st->Reset();  // ends its read, which would pin the snapshot
  ASSERT_TRUE(store_
                  ->Read([&](Tx& tx) -> Status {
                    for (const auto& r : rows) {
                      auto got = tx.traces().Get(1, r.id);
                      EXPECT_TRUE(got.ok() && got->has_value()) << r.id;
                      if (!got.ok() || !got->has_value()) continue;
                      EXPECT_EQ((*got)->request_body, r.request_body);
                      EXPECT_EQ((*got)->response_body, r.response_body);
                    }
                    auto page = tx.traces().List(1, {}, 0, 3, true);
                    EXPECT_EQ(page->total, 10u);
                    EXPECT_EQ(page->rows.size(), 3u);
                    EXPECT_EQ(page->rows[0].request_body, rows[9].request_body);
                    return OkStatus();
                  })
                  .ok());
  // A small batch does not join a block that large.
  Insert({Row(TimeOrderedId("tr-", 24, kBase + 20), kBase + 20)});
  auto count = (*c)->Prepare("SELECT COUNT(*) FROM trace_blocks");
  ASSERT_TRUE(*count->Step());
  EXPECT_EQ(count->Int(0), 6);
}

// The summary columns spare listings the blocks that cannot match: a user, model, prompt or error
// filter decodes only the blocks whose user filter, model and prompt lists or failure count allow
// it (counted as executions of the statement that reads a block's data).
TEST_F(SqliteTracesTest, FiltersDecodeOnlyTheBlocksThatMayMatch) {
  static constexpr std::int64_t kBase = 1795436011000;
  for (int b = 0; b < 20; ++b) {
    std::vector<TraceRow> batch;
    for (int i = 0; i < 100; ++i) {
      std::int64_t t = kBase + b * 1000 + i;
      TraceRow r = Row(TimeOrderedId("tr-", 24, t), t);
      r.user = "사용자-" + std::to_string(b);
      r.model = b == 7 ? "rare" : (b == 13 && i % 2 == 1 ? "other" : "common");
      r.prompt_name = b == 9 ? "only-here" : "";
      r.status = b == 11 && i == 50 ? 500 : 200;
      batch.push_back(r);
    }
    Insert(batch);
  }
  auto conn = sqlite::Connection::Open((dir_.path() / "db.sqlite").string());
  ASSERT_TRUE(conn.ok());
  int decodes = 0;
  auto record = [](unsigned, void* ctx, void*, void* x) -> int {
    if (std::string_view(static_cast<const char*>(x)).starts_with("SELECT data FROM")) {
      ++*static_cast<int*>(ctx);
    }
    return 0;
  };
  sqlite3_trace_v2((*conn)->raw(), SQLITE_TRACE_STMT, record, &decodes);
  auto repo = NewSqliteTraceRepository(**conn);
  auto check = [&](const char* name, TraceFilter f, std::size_t total) {
    decodes = 0;
    auto page = repo->List(1, f, 0, 10);
    ASSERT_TRUE(page.ok()) << name;
    EXPECT_EQ(page->total, total) << name;
    EXPECT_LE(decodes, 3) << name;  // one block to count, one to list (+ a false positive)
    EXPECT_GE(decodes, total ? 1 : 0) << name;
  };
  check("user", F([](TraceFilter& f) { f.user = "사용자-3"; }), 100);
  check("absent user", F([](TraceFilter& f) { f.user = "nobody"; }), 0);
  check("model", F([](TraceFilter& f) { f.model = "rare"; }), 100);
  check("prompt", F([](TraceFilter& f) { f.prompt = "only-here"; }), 100);
  check("errors", F([](TraceFilter& f) { f.errors_only = true; }), 1);
  // Counting needs no block whose only model (or prompt) is the filter's: here only the block
  // with two models is decoded to count "common"; listing 10 traces decodes the newest block.
  auto counted = [&](TraceFilter f, std::size_t total) {
    decodes = 0;
    auto n = repo->Count(1, f);
    EXPECT_TRUE(n.ok());
    if (n.ok()) {
      EXPECT_EQ(*n, total);
    }
    return decodes;
  };
  EXPECT_EQ(counted(F([](TraceFilter& f) { f.model = "common"; }), 1850), 1);
  EXPECT_EQ(counted(F([](TraceFilter& f) { f.model = "other"; }), 50), 1);
  EXPECT_EQ(counted(F([](TraceFilter& f) { f.model = "rare"; }), 100), 0);
  EXPECT_EQ(counted(F([](TraceFilter& f) { f.prompt = "only-here"; }), 100), 0);
  EXPECT_EQ(counted(F([](TraceFilter& f) {
                      f.model = "common";
                      f.from_ms = kBase + 2050;  // inside block 2: that block is decoded
                      f.to_ms = kBase + 4000;    // after block 3: not decoded
                    }),
                    150),
            1);
  EXPECT_EQ(counted(F([](TraceFilter& f) {
                      f.model = "common";
                      f.user = "사용자-3";  // not summarized exactly: decoded
                    }),
                    100),
            1);
  // A value with a line break could equal two listed values joined: never taken as the only one.
  EXPECT_EQ(counted(F([](TraceFilter& f) { f.model = "common\nother"; }), 0), 1);
  check("common model", F([](TraceFilter& f) { f.model = "common"; }), 1850);
  // Without such a filter every block in the range is read (here: to list 2000 traces).
  decodes = 0;
  ASSERT_TRUE(repo->List(1, {}, 0, 2000).ok());
  EXPECT_EQ(decodes, 20);
  sqlite3_trace_v2((*conn)->raw(), 0, nullptr, nullptr);
}

// Runs every TraceRepository query on a connection that records the SQL of each statement
// stepped, then checks EXPLAIN QUERY PLAN of each: trace_blocks is only ever searched through
// an index or its primary key (no "SCAN trace_blocks", which is a full table or index scan), and
// the block lists never sort their whole result.
TEST_F(SqliteTracesTest, EveryTraceQueryUsesAnIndex) {
  Insert({Row("tr-0VbnWWuDKqtCQBez9OMRWok9", 100), Row("tr-2", 200, 2)});
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

  // What each call must show: the index its block selection must use, and whether a sort of
  // the selected blocks is allowed.
  struct Case {
    const char* name;
    std::function<bool()> run;
    const char* index;
    bool sort_ok = false;
  };
  auto list = [&](auto set) {
    return [&repo, set] {
      TraceFilter f;
      set(f);
      return repo->List(1, f, 0, 50).ok();
    };
  };
  const Case cases[] = {
      {"list all", list([](TraceFilter&) {}), "trace_blocks_time"},
      {"list time range", list([](TraceFilter& f) { f.from_ms = 1, f.to_ms = 300; }),
       "trace_blocks_time"},
      {"list model", list([](TraceFilter& f) { f.model = "gpt-4o-mini"; }), "trace_blocks_time"},
      {"list user", list([](TraceFilter& f) { f.user = "u"; }), "trace_blocks_time"},
      {"list errors", list([](TraceFilter& f) { f.errors_only = true; }), "trace_blocks_time"},
      {"list prompt version", list([](TraceFilter& f) { f.prompt = "p", f.version = 2; }),
       "trace_blocks_time"},
      {"get", [&] { return repo->Get(1, "tr-0VbnWWuDKqtCQBez9OMRWok9").ok(); }, "trace_blocks_ids",
       true},
      {"get (other id)", [&] { return repo->Get(1, "x").ok(); }, "trace_blocks_ids", true},
      {"project ids", [&] { return repo->TraceProjectIds().ok(); }, "trace_blocks_project"},
      {"small batch (joins the newest block)",
       [&] {
         std::vector<TraceRow> rows = {Row(TimeOrderedId("tr-", 24, 1795436011000), 1795436011000)};
         return repo->InsertBatch(rows).ok();
       },
       "trace_blocks_project"},
      {"bounded delete", [&] { return repo->DeleteTracesBefore(1, 150, 10).ok(); },
       "trace_blocks_time", true},
      {"delete one project", [&] { return repo->DeleteOlderThan(150, std::int64_t{1}).ok(); },
       "trace_blocks_time", true},
      {"delete all projects", [&] { return repo->DeleteOlderThan(150, std::nullopt).ok(); }, "",
       true},
  };
  for (const auto& k : cases) {
    sqls.clear();
    ASSERT_TRUE(c.Exec("BEGIN").ok());
    EXPECT_TRUE(k.run()) << k.name;
    ASSERT_TRUE(c.Exec("ROLLBACK").ok());
    std::set<std::string> unique(sqls.begin(), sqls.end());
    bool selection_seen = false;
    for (const auto& sql : unique) {
      if (sql.find("trace_blocks") == std::string::npos || sql.starts_with("INSERT")) continue;
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
      EXPECT_EQ(plan.find("SCAN trace_blocks"), std::string::npos);
      EXPECT_NE(plan.find("SEARCH trace_blocks"), std::string::npos);
      if (sql.find("WHERE id = ?") != std::string::npos) {
        EXPECT_NE(plan.find("INTEGER PRIMARY KEY"), std::string::npos);  // one block by id
        continue;
      }
      selection_seen = true;
      if (sql.find("MIN(project_id)") != std::string::npos) {
        EXPECT_NE(plan.find("INDEX trace_blocks_project "), std::string::npos);
      } else if (*k.index) {
        EXPECT_NE(plan.find(std::string("INDEX ") + k.index + " "), std::string::npos);
      }
      if (!k.sort_ok && sql.find("ORDER BY") != std::string::npos) {
        EXPECT_EQ(plan.find("TEMP B-TREE"), std::string::npos);
      }
    }
    EXPECT_TRUE(selection_seen) << k.name;
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
