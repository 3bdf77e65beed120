// Runs the official Mustache spec (testdata/mustache-spec/*.json) against Template: one
// GoogleTest case per spec case, named <file>_<case name>, with HTML escaping on (the spec
// expects {{x}} to be escaped) and the case's "partials" object as the partial resolver.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/json.h"
#include "registry/template.h"
#include "support/temp_dir.h"

namespace promptops::registry {
namespace {

namespace bj = boost::json;

struct SpecCase {
  std::string file;  // e.g. "sections"
  std::string name;  // the case's "name"
  std::string desc;
  std::string template_source;
  bj::value data;
  bj::object partials;
  std::string expected;
};

std::filesystem::path SpecDir() {
  return promptops::testing::SourceDir() / "testdata" / "mustache-spec";
}

std::vector<SpecCase> LoadSpecCases() {
  std::vector<SpecCase> cases;
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(SpecDir(), ec)) {
    if (entry.path().extension() == ".json") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& path : files) {
    auto doc = json::ParseObject(promptops::testing::ReadFile(path));
    if (!doc.ok()) {
      ADD_FAILURE() << path << ": " << doc.error().ToString();
      continue;
    }
    for (const bj::value& t : doc->at("tests").as_array()) {
      const bj::object& o = t.as_object();
      SpecCase c;
      c.file = path.stem().string();
      c.name = std::string(o.at("name").as_string());
      c.desc = std::string(o.at("desc").as_string());
      c.template_source = std::string(o.at("template").as_string());
      c.data = o.at("data");
      if (const bj::value* p = o.if_contains("partials")) c.partials = p->as_object();
      c.expected = std::string(o.at("expected").as_string());
      cases.push_back(std::move(c));
    }
  }
  return cases;
}

std::string TestName(const ::testing::TestParamInfo<SpecCase>& info) {
  std::string name = info.param.file + "_" + info.param.name;
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

class MustacheSpec : public ::testing::TestWithParam<SpecCase> {};

TEST_P(MustacheSpec, RendersExpectedOutput) {
  const SpecCase& c = GetParam();
  SCOPED_TRACE(c.desc);
  auto tmpl = Template::Parse(c.template_source);
  ASSERT_TRUE(tmpl.ok()) << tmpl.error().ToString();

  RenderOptions opts;
  opts.html_escape = true;
  // The spec renders a missing partial as empty, so the resolver answers with an empty template.
  const bj::object partials = c.partials;
  opts.partials = [partials](std::string_view name) -> Result<std::shared_ptr<const Template>> {
    const bj::value* src = partials.if_contains(name);
    if (src == nullptr) return std::make_shared<const Template>();
    PO_ASSIGN_OR_RETURN(Template t, Template::Parse(src->as_string()));
    return std::make_shared<const Template>(std::move(t));
  };
  auto out = tmpl->Render(c.data, opts);
  ASSERT_TRUE(out.ok()) << out.error().ToString();
  EXPECT_EQ(*out, c.expected) << "template: " << c.template_source;
}

INSTANTIATE_TEST_SUITE_P(Spec, MustacheSpec, ::testing::ValuesIn(LoadSpecCases()), TestName);

TEST(MustacheSpecFiles, AreFound) {
  EXPECT_GE(LoadSpecCases().size(), 100u) << "spec files missing under " << SpecDir();
}

}  // namespace
}  // namespace promptops::registry
