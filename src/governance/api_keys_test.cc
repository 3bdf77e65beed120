// ApiKeys on a real SQLite store: authentication by secret, and revocations seen at once by
// threads that keep the key index they loaded last.
#include "governance/api_keys.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "store/store.h"
#include "support/temp_dir.h"

namespace promptops::governance {
namespace {

constexpr std::string_view kAdminSecret = "po-admin-secret-0123456789";

class ApiKeysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::move(store::OpenSqliteStore(dir_.path() / "db.sqlite")).value();
    keys_ = std::make_unique<ApiKeys>(*store_, Clock::Real());
    ASSERT_TRUE(keys_->Bootstrap("default", std::string(kAdminSecret), "pk-admin").ok());
    admin_ = *keys_->Authenticate(kAdminSecret);
  }

  testing::TempDir dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<ApiKeys> keys_;
  Actor admin_;
};

TEST_F(ApiKeysTest, AuthenticatesBySecretAndHeader) {
  EXPECT_EQ(admin_.id, "pk-admin");
  EXPECT_EQ(admin_.role, Role::kAdmin);
  auto bearer = keys_->AuthenticateHeader("Bearer " + std::string(kAdminSecret));
  ASSERT_TRUE(bearer.ok());
  EXPECT_EQ(bearer->id, "pk-admin");
  for (std::string_view bad : {"", "po-admin-secret-012345678", "po-admin-secret-0123456789x"}) {
    auto r = keys_->Authenticate(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kUnauthenticated);
  }
}

// A network thread keeps the index it loaded last; a key created or revoked on another thread
// must count on its next request all the same.
TEST_F(ApiKeysTest, ThreadsSeeNewAndRevokedKeysAtOnce) {
  auto created = keys_->Create(admin_, {.role = Role::kViewer,
                                        .name = "",
                                        .public_id = std::nullopt,
                                        .secret = "po-viewer-secret-0123456"});
  ASSERT_TRUE(created.ok()) << created.error().ToString();
  std::string id = created->key.public_id;
  std::atomic<int> step{0};
  std::atomic<bool> ok_before{false}, ok_after{true}, new_ok{false};
  std::thread worker([&] {
    ok_before = keys_->Authenticate("po-viewer-secret-0123456").ok();  // loads the index
    step = 1;
    while (step != 2) std::this_thread::yield();
    ok_after = keys_->Authenticate("po-viewer-secret-0123456").ok();
    new_ok = keys_->Authenticate("po-second-secret-0123456").ok();
  });
  while (step != 1) std::this_thread::yield();
  ASSERT_TRUE(keys_->Revoke(admin_, id).ok());
  ASSERT_TRUE(keys_
                  ->Create(admin_, {.role = Role::kEditor,
                                    .name = "",
                                    .public_id = std::nullopt,
                                    .secret = "po-second-secret-0123456"})
                  .ok());
  step = 2;
  worker.join();
  EXPECT_TRUE(ok_before);
  EXPECT_FALSE(ok_after);  // revoked: refused at once
  EXPECT_TRUE(new_ok);     // created: accepted at once
}

// A thread remembers the last few secrets it authenticated: more keys than it remembers, used
// in turn, each still answers its own actor; a secret of the same length that differs in one
// byte is refused; revoking a remembered key refuses it on the next call on the same thread.
TEST_F(ApiKeysTest, RememberedSecretsAnswerTheirOwnKeyUntilRevoked) {
  std::vector<std::pair<std::string, std::string>> keys;  // secret, public id
  for (int i = 0; i < 6; ++i) {
    std::string secret = "po-many-secret-" + std::to_string(i) + "-0123456789";
    auto created = keys_->Create(
        admin_, {.role = Role::kViewer, .name = "", .public_id = std::nullopt, .secret = secret});
    ASSERT_TRUE(created.ok()) << created.error().ToString();
    keys.emplace_back(secret, created->key.public_id);
  }
  for (int round = 0; round < 3; ++round) {
    for (const auto& [secret, id] : keys) {
      auto a = keys_->Authenticate(secret);
      ASSERT_TRUE(a.ok()) << secret;
      EXPECT_EQ(a->id, id);
      EXPECT_EQ(a->role, Role::kViewer);
      std::string near = secret;
      near.back() = near.back() == '9' ? '8' : '9';
      EXPECT_FALSE(keys_->Authenticate(near).ok()) << near;
    }
  }
  ASSERT_TRUE(keys_->Authenticate(keys[5].first).ok());  // remembered now
  ASSERT_TRUE(keys_->Revoke(admin_, keys[5].second).ok());
  auto revoked = keys_->Authenticate(keys[5].first);
  ASSERT_FALSE(revoked.ok());
  EXPECT_EQ(revoked.error().code, ErrorCode::kUnauthenticated);
  EXPECT_TRUE(keys_->Authenticate(keys[4].first).ok());
}

// Two ApiKeys objects (two stores) on one thread never answer from each other's index.
TEST_F(ApiKeysTest, TwoInstancesOnOneThreadKeepTheirOwnKeys) {
  testing::TempDir other_dir;
  auto other_store = std::move(store::OpenSqliteStore(other_dir.path() / "db.sqlite")).value();
  ApiKeys other(*other_store, Clock::Real());
  ASSERT_TRUE(other.Bootstrap("default", std::string("po-other-secret-0123456789"), "pk-o").ok());
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(keys_->Authenticate(kAdminSecret).ok());
    EXPECT_FALSE(other.Authenticate(kAdminSecret).ok());
    EXPECT_TRUE(other.Authenticate("po-other-secret-0123456789").ok());
    EXPECT_FALSE(keys_->Authenticate("po-other-secret-0123456789").ok());
  }
}

}  // namespace
}  // namespace promptops::governance
