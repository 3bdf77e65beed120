#include <gtest/gtest.h>

#include "store/migrations.h"
#include "store/sqlite.h"
#include "store/store.h"
#include "support/temp_dir.h"

namespace promptops::store {
namespace {

TEST(SqliteStore, MigratesOnOpenAndReopensIdempotently) {
  testing::TempDir dir;
  auto path = dir.path() / "nested" / "db.sqlite";
  {
    auto s = OpenSqliteStore(path);
    ASSERT_TRUE(s.ok()) << s.error().ToString();
    std::string latest = "schema " + std::to_string(SqliteMigrations().back().number);
    EXPECT_NE((*s)->Describe().find(latest), std::string::npos);
    ASSERT_TRUE((*s)->Write([](Tx& tx) -> Status {
                      auto p = tx.projects().Create("default", 1);
                      return p.ok() ? OkStatus() : p.error();
                    })
                    .ok());
  }
  auto again = OpenSqliteStore(path);
  ASSERT_TRUE(again.ok());
  Status s = (*again)->Read([](Tx& tx) -> Status {
    auto p = tx.projects().FindByName("default");
    EXPECT_TRUE(p.ok() && p->has_value());
    return OkStatus();
  });
  EXPECT_TRUE(s.ok());
}

TEST(SqliteStore, RefusesADatabaseFromANewerVersion) {
  testing::TempDir dir;
  auto path = dir.path() / "db.sqlite";
  ASSERT_TRUE(OpenSqliteStore(path).ok());
  {
    auto c = sqlite::Connection::Open(path.string());
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE((*c)->Exec("INSERT INTO schema_migrations VALUES (999, 'future', 0)").ok());
  }
  auto s = OpenSqliteStore(path);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(s.error().message.find("newer"), std::string::npos);
}

TEST(SqliteStore, FailedTransactionsRollBackEverything) {
  testing::TempDir dir;
  auto store = std::move(OpenSqliteStore(dir.path() / "db.sqlite")).value();
  Status s = store->Write([](Tx& tx) -> Status {
    auto p = tx.projects().Create("a", 1);
    if (!p.ok()) return p.error();
    return Error::InvalidArgument("abort");
  });
  EXPECT_FALSE(s.ok());
  ASSERT_TRUE(store
                  ->Read([](Tx& tx) -> Status {
                    EXPECT_FALSE(tx.projects().FindByName("a")->has_value());
                    return OkStatus();
                  })
                  .ok());
}

TEST(SqliteStore, DuplicateVersionNumbersAreAConflict) {
  testing::TempDir dir;
  auto store = std::move(OpenSqliteStore(dir.path() / "db.sqlite")).value();
  Status s = store->Write([](Tx& tx) -> Status {
    PO_ASSIGN_OR_RETURN(auto project, tx.projects().Create("p", 1));
    PromptRow row;
    row.project_id = project.id;
    row.name = "x";
    row.type = "text";
    PO_ASSIGN_OR_RETURN(auto prompt, tx.prompts().Insert(row));
    VersionRow v;
    v.prompt_id = prompt.id;
    v.number = 1;
    v.semver = "1.0.0";
    v.content_json = "\"a\"";
    PO_RETURN_IF_ERROR(tx.prompts().InsertVersion(v).ok() ? OkStatus() : Error::Internal("first"));
    auto dup = tx.prompts().InsertVersion(v);
    EXPECT_FALSE(dup.ok());
    EXPECT_EQ(dup.error().code, ErrorCode::kConflict);
    auto dup_prompt = tx.prompts().Insert(row);
    EXPECT_EQ(dup_prompt.error().code, ErrorCode::kAlreadyExists);
    return OkStatus();
  });
  EXPECT_TRUE(s.ok()) << s.error().ToString();
}

TEST(SqliteStore, UnwritableLocationIsUnavailable) {
  auto s = OpenSqliteStore("/proc/promptops-cannot-exist/db.sqlite");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kUnavailable);
}

// Connection::Open turns SQLite's global memory statistics off before SQLite initializes (each
// test runs in its own process under ctest, and nothing here touches SQLite before Open): with
// them off, SQLite stops counting, so sqlite3_memory_used() stays 0 however much it allocates.
TEST(SqliteStore, MemoryStatisticsAreOff) {
  testing::TempDir dir;
  auto store = OpenSqliteStore(dir.path() / "db.sqlite");
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)
                  ->Write([](Tx& tx) -> Status {
                    std::vector<TraceRow> rows(100);
                    for (std::size_t i = 0; i < rows.size(); ++i) {
                      rows[i].id = "tr-" + std::to_string(i);
                      rows[i].project_id = 1;
                      rows[i].request_body = std::string(1000, 'x');
                    }
                    return tx.traces().InsertBatch(rows).ok() ? OkStatus() : Error::Internal("x");
                  })
                  .ok());
  EXPECT_EQ(sqlite3_memory_used(), 0);
  // Opening again (SQLite initialized by now) is fine: the configuration is attempted once.
  EXPECT_TRUE(sqlite::Connection::Open((dir.path() / "db.sqlite").string()).ok());
}

}  // namespace
}  // namespace promptops::store
