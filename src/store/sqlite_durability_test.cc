// Durability of the SQLite store's two kinds of write transaction, observed at the system-call
// level: this test program defines fsync and fdatasync itself, so that the calls SQLite makes
// (from libsqlite3) land here, are counted, and are then made for real.
#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>

#include "core/thread.h"
#include "store/sqlite.h"
#include "store/store.h"
#include "support/temp_dir.h"

namespace {
std::atomic<int> g_syncs{0};
}  // namespace

extern "C" int fsync(int fd) {
  g_syncs.fetch_add(1);
  return static_cast<int>(syscall(SYS_fsync, fd));
}
extern "C" int fdatasync(int fd) {
  g_syncs.fetch_add(1);
  return static_cast<int>(syscall(SYS_fdatasync, fd));
}

namespace promptops::store {
namespace {

Status CreateProject(Tx& tx, const std::string& name) {
  auto p = tx.projects().Create(name, 1);
  return p.ok() ? OkStatus() : Status(p.error());
}

TEST(SqliteDurability, WriteSyncsAtCommitAndWriteRelaxedDoesNot) {
  testing::TempDir dir;
  auto path = dir.path() / "db.sqlite";
  {
    auto s = OpenSqliteStore(path);
    ASSERT_TRUE(s.ok()) << s.error().ToString();
    Store& store = **s;

    int before = g_syncs.load();
    ASSERT_TRUE(store.Write([](Tx& tx) { return CreateProject(tx, "durable-1"); }).ok());
    EXPECT_GE(g_syncs.load() - before, 1) << "a durable commit syncs the WAL";

    before = g_syncs.load();
    for (int i = 0; i < 5; ++i) {
      ASSERT_TRUE(store
                      .WriteRelaxed(
                          [&](Tx& tx) { return CreateProject(tx, "relaxed-" + std::to_string(i)); })
                      .ok());
    }
    EXPECT_EQ(g_syncs.load() - before, 0) << "relaxed commits append to the WAL without a sync";

    // The connection is back to synchronous=FULL for the next durable write.
    before = g_syncs.load();
    ASSERT_TRUE(store.Write([](Tx& tx) { return CreateProject(tx, "durable-2"); }).ok());
    EXPECT_GE(g_syncs.load() - before, 1);

    // A failed relaxed transaction rolls back and leaves durable writes durable too.
    Status failed = store.WriteRelaxed([](Tx& tx) -> Status {
      PO_RETURN_IF_ERROR(CreateProject(tx, "rolled-back"));
      return Error::Internal("boom");
    });
    EXPECT_FALSE(failed.ok());
    before = g_syncs.load();
    ASSERT_TRUE(store.Write([](Tx& tx) { return CreateProject(tx, "durable-3"); }).ok());
    EXPECT_GE(g_syncs.load() - before, 1);
  }
  // Relaxed commits are committed: another process (here a reopened store) sees them.
  auto again = OpenSqliteStore(path);
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE((*again)
                  ->Read([](Tx& tx) -> Status {
                    for (const char* name :
                         {"durable-1", "relaxed-0", "relaxed-4", "durable-2", "durable-3"}) {
                      auto p = tx.projects().FindByName(name);
                      EXPECT_TRUE(p.ok() && p->has_value()) << name;
                    }
                    auto gone = tx.projects().FindByName("rolled-back");
                    EXPECT_TRUE(gone.ok() && !gone->has_value());
                    return OkStatus();
                  })
                  .ok());
}

// SQLite's page writes are cooperation points (core/thread.h): a thread that enabled cooperative
// yielding gives way while a commit writes its pages, not only between the rows it inserts.
TEST(SqliteDurability, PageWritesAreCooperationPoints) {
  testing::TempDir dir;
  auto s = OpenSqliteStore(dir.path() / "db.sqlite");
  ASSERT_TRUE(s.ok());
  Store& store = **s;
  std::thread([&] {
    ASSERT_TRUE(store.Write([](Tx& tx) { return CreateProject(tx, "plain"); }).ok());
    EXPECT_EQ(CooperativeYields(), 0u);  // not enabled on this thread: no yields
    EnableCooperativeYield(std::chrono::microseconds(0), std::chrono::microseconds(0));
    ASSERT_TRUE(store.WriteRelaxed([](Tx& tx) { return CreateProject(tx, "coop"); }).ok());
    // Its statements are too short for the progress handler (200 virtual-machine instructions):
    // every yield came from a page written at commit.
    EXPECT_GE(CooperativeYields(), 1u);
  }).join();
}

// Statements are cooperation points too (SQLite's progress handler, every 200 virtual-machine
// instructions): a long statement that writes no page gives way as well.
TEST(SqliteDurability, LongStatementsAreCooperationPoints) {
  testing::TempDir dir;
  auto c = sqlite::Connection::Open((dir.path() / "db.sqlite").string());
  ASSERT_TRUE(c.ok()) << c.error().ToString();
  constexpr std::string_view kCount =
      "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 20000) "
      "SELECT count(*) FROM n";
  std::thread([&] {
    ASSERT_TRUE((*c)->Exec(kCount).ok());
    EXPECT_EQ(CooperativeYields(), 0u);  // not enabled on this thread: no yields
    EnableCooperativeYield(std::chrono::microseconds(0), std::chrono::microseconds(0));
    ASSERT_TRUE((*c)->Exec(kCount).ok());
    // 20,000 rows of a few instructions each, no page written: the progress handler yielded.
    EXPECT_GE(CooperativeYields(), 100u);
  }).join();
}

}  // namespace
}  // namespace promptops::store
