// Test helper: a fresh temporary directory, removed with everything in it on destruction.
#pragma once

#include <filesystem>
#include <string>

namespace promptops::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string File(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// Reads a whole file; empty string if missing.
std::string ReadFile(const std::filesystem::path& p);
void WriteFile(const std::filesystem::path& p, const std::string& content);
// The repository root: PROMPTOPS_SOURCE_DIR when set (for running a test binary from elsewhere),
// else the working directory, which ctest sets to the repository root for every test.
// (gtest_discover_tests passes one ENVIRONMENT entry only: a second one in CMakeLists.txt was
// split off and never reached the tests.)
std::filesystem::path SourceDir();

}  // namespace promptops::testing
