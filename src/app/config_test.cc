#include "app/config.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "support/temp_dir.h"

namespace promptops::app {
namespace {

TEST(Config, ParsesByteSizes) {
  struct Case {
    const char* in;
    std::size_t out;
  } ok[] = {{"2048", 2048},
            {"10MiB", 10u << 20},
            {"512KiB", 512u << 10},
            {"1MB", 1000000},
            {"1G", 1u << 30}};
  for (const auto& c : ok) EXPECT_EQ(*ParseByteSize(c.in), c.out) << c.in;
  for (const char* bad : {"", "ten", "10XB", "-1", "99999999999GiB"})
    EXPECT_FALSE(ParseByteSize(bad).ok()) << bad;
}

TEST(Config, ParsesListenAddresses) {
  EXPECT_EQ(ParseListen("127.0.0.1:8080")->second, 8080);
  EXPECT_EQ(ParseListen("[::1]:0")->first, "::1");
  EXPECT_EQ(ParseListen(":9000")->first, "0.0.0.0");
  for (const char* bad : {"localhost", "host:99999", "host:", "host:12ab"})
    EXPECT_FALSE(ParseListen(bad).ok()) << bad;
}

TEST(Config, FileThenEnvironmentOverrideDefaults) {
  testing::TempDir dir;
  testing::WriteFile(dir.path() / "c.yaml",
                     "listen: 0.0.0.0:9000\nthreads: 3\nmax_body: 1MiB\naccess_log: true\n");
  ServeConfig c;
  ASSERT_TRUE(ApplyConfigFile(dir.File("c.yaml"), c).ok());
  EXPECT_EQ(c.listen, "0.0.0.0:9000");
  EXPECT_EQ(c.threads, 3);
  EXPECT_EQ(c.max_body_bytes, 1u << 20);
  EXPECT_TRUE(c.access_log);
  setenv("PROMPTOPS_THREADS", "5", 1);
  setenv("PROMPTOPS_LOG_FORMAT", "json", 1);
  ASSERT_TRUE(ApplyEnvironment(c).ok());
  unsetenv("PROMPTOPS_THREADS");
  unsetenv("PROMPTOPS_LOG_FORMAT");
  EXPECT_EQ(c.threads, 5);
  EXPECT_EQ(c.log_format, "json");
  EXPECT_TRUE(Validate(c).ok());
}

// The example file the docs point to is a valid configuration, with what it shows.
TEST(Config, TheShippedExampleConfigLoads) {
  ServeConfig c;
  Status s = ApplyConfigFile((testing::SourceDir() / "promptops.example.yaml").string(), c);
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  ASSERT_TRUE(Validate(c).ok());
  ASSERT_TRUE(gateway::ValidateGatewayConfig(c.gateway).ok());
  const gateway::ModelConfig* haiku = c.gateway.Find("claude-haiku");
  ASSERT_NE(haiku, nullptr);
  EXPECT_EQ(haiku->pricing.cached_input_per_1m, 0.08);
  EXPECT_EQ(haiku->pricing.cache_write_per_1m, 1.00);
}

TEST(Config, BusyPollIsOffByDefaultAndSetByFileOrEnvironment) {
  ServeConfig c;
  EXPECT_EQ(c.busy_poll_us, 0);
  testing::TempDir dir;
  testing::WriteFile(dir.path() / "c.yaml", "busy_poll_us: 150\n");
  ASSERT_TRUE(ApplyConfigFile(dir.File("c.yaml"), c).ok());
  EXPECT_EQ(c.busy_poll_us, 150);
  setenv("PROMPTOPS_BUSY_POLL_US", "1000", 1);
  ASSERT_TRUE(ApplyEnvironment(c).ok());
  unsetenv("PROMPTOPS_BUSY_POLL_US");
  EXPECT_EQ(c.busy_poll_us, 1000);
  EXPECT_TRUE(Validate(c).ok());
}

TEST(Config, TraceDurabilityIsRelaxedByDefaultAndCanBeFull) {
  ServeConfig c;
  EXPECT_EQ(c.trace_durability, "relaxed");
  testing::TempDir dir;
  testing::WriteFile(dir.path() / "c.yaml", "trace_durability: full\n");
  ASSERT_TRUE(ApplyConfigFile(dir.File("c.yaml"), c).ok());
  EXPECT_EQ(c.trace_durability, "full");
  setenv("PROMPTOPS_TRACE_DURABILITY", "relaxed", 1);
  ASSERT_TRUE(ApplyEnvironment(c).ok());
  unsetenv("PROMPTOPS_TRACE_DURABILITY");
  EXPECT_EQ(c.trace_durability, "relaxed");
}

TEST(Config, UnknownKeysAndBadValuesAreErrorsNamingTheKey) {
  testing::TempDir dir;
  struct Case {
    const char* yaml;
    const char* mentions;
  } cases[] = {
      {"lisen: 1.2.3.4:5\n", "lisen"},
      {"threads: many\n", "threads"},
      {"access_log: maybe\n", "access_log"},
      {"listen: [1, 2]\n", "listen"},
      {"- a\n- b\n", "mapping"},
      {"listen: [unclosed\n", "c.yaml"},
      {"listen: nohost\n", "listen"},
      {"max_body: 10XB\n", "max_body"},
      {"trace_durability: sometimes\n", "trace_durability"},
      {"busy_poll_us: 1.5\n", "busy_poll_us"},
  };
  for (const auto& c : cases) {
    testing::WriteFile(dir.path() / "c.yaml", c.yaml);
    ServeConfig cfg;
    auto s = ApplyConfigFile(dir.File("c.yaml"), cfg);
    ASSERT_FALSE(s.ok()) << c.yaml;
    EXPECT_NE(s.error().message.find(c.mentions), std::string::npos) << s.error().message;
  }
  ServeConfig cfg;
  EXPECT_FALSE(ApplyConfigFile(dir.File("missing.yaml"), cfg).ok());
  for (std::int64_t bad : {std::int64_t{-1}, kMaxBusyPollUs + 1}) {
    ServeConfig polling;
    polling.busy_poll_us = bad;
    auto s = Validate(polling);
    ASSERT_FALSE(s.ok()) << bad;
    EXPECT_NE(s.error().message.find("busy_poll_us must be in 0..1000"), std::string::npos)
        << s.error().message;
  }
  cfg.log_level = "loud";
  EXPECT_FALSE(Validate(cfg).ok());
}

}  // namespace
}  // namespace promptops::app
