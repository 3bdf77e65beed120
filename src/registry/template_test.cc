#include "registry/template.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/json.h"

namespace promptops::registry {
namespace {

namespace bj = boost::json;

bj::value Json(std::string_view text) {
  auto v = json::Parse(text);
  EXPECT_TRUE(v.ok()) << text;
  return v.ok() ? *v : bj::value();
}

// Renders `source` with `context` (JSON text); returns the output or "ERROR: <message>".
std::string RenderText(std::string_view source, std::string_view context,
                       const RenderOptions& opts = {}) {
  auto t = Template::Parse(source);
  if (!t.ok()) return "PARSE ERROR: " + t.error().message;
  auto out = t->Render(Json(context), opts);
  if (!out.ok()) return "ERROR: " + out.error().message;
  return *out;
}

// A partial resolver over an in-memory map that records every name it is asked for.
struct MapPartials {
  std::map<std::string, std::string, std::less<>> sources;
  std::vector<std::string> requested;

  RenderOptions Options(bool strict = false) {
    RenderOptions opts;
    opts.strict = strict;
    opts.partials = [this](std::string_view name) -> Result<std::shared_ptr<const Template>> {
      requested.emplace_back(name);
      auto it = sources.find(name);
      if (it == sources.end()) return Error::NotFound("no prompt named " + std::string(name));
      PO_ASSIGN_OR_RETURN(Template t, Template::Parse(it->second));
      return std::make_shared<const Template>(std::move(t));
    };
    return opts;
  }
};

TEST(Template, RendersLenientByDefault) {
  struct Case {
    const char* what;
    const char* source;
    const char* context;
    const char* expected;
  } cases[] = {
      {"no HTML escaping by default", "{{x}}|{{{x}}}|{{&x}}", R"({"x":"<b>&\"'"})",
       "<b>&\"'|<b>&\"'|<b>&\"'"},
      {"Korean text and values", "안녕하세요, {{이름}}님! {{인사}}",
       R"({"이름":"김철수","인사":"반갑습니다 😀"})", "안녕하세요, 김철수님! 반갑습니다 😀"},
      {"Korean in sections", "{{#항목}}- {{이름}}\n{{/항목}}",
       R"({"항목":[{"이름":"하나"},{"이름":"둘"}]})", "- 하나\n- 둘\n"},
      {"expressions are never evaluated", "a{{7*7}}b", R"({"7":7})", "ab"},
      {"attribute access is just a missing name", "a{{''.__class__}}b", "{}", "ab"},
      {"template syntax in values is not re-rendered", "{{x}}", R"({"x":"{{y}}","y":"no"})",
       "{{y}}"},
      {"missing names render empty", "[{{a}}][{{b.c}}][{{#d}}x{{/d}}]", R"({"b":{}})", "[][][]"},
      {"decimals in shortest form", "{{x}} {{y}} {{z}}", R"({"x":1.210,"y":2.0,"z":-0.5})",
       "1.21 2 -0.5"},
      {"integers plain", "{{a}} {{b}}", R"({"a":-42,"b":18446744073709551615})",
       "-42 18446744073709551615"},
      {"booleans and null", "{{t}} {{f}} [{{n}}]", R"({"t":true,"f":false,"n":null})",
       "true false []"},
      {"arrays and objects as compact JSON", "{{a}} {{{o}}}", R"({"a":[1,"x"],"o":{"k":null}})",
       R"([1,"x"] {"k":null})"},
      {"empty string is falsy", "{{#s}}yes{{/s}}{{^s}}no{{/s}}", R"({"s":""})", "no"},
      {"zero is falsy", "{{#n}}yes{{/n}}{{^n}}no{{/n}}", R"({"n":0})", "no"},
      {"\"0\" is a truthy string", "{{#s}}yes:{{.}}{{/s}}", R"({"s":"0"})", "yes:0"},
      {"empty object is truthy", "{{#o}}yes{{/o}}", R"({"o":{}})", "yes"},
      {"lists iterate", "{{#xs}}<{{.}}>{{/xs}}", R"({"xs":[1,"b",true]})", "<1><b><true>"},
      {"dotted names", "{{user.name.first}}", R"({"user":{"name":{"first":"Ada"}}})", "Ada"},
      {"parent context lookup", "{{#u}}{{name}}@{{org}}{{/u}}",
       R"({"org":"acme","u":{"name":"a"}})", "a@acme"},
      {"custom delimiters", "{{=<% %>=}}<% x %> {{x}}", R"({"x":"v"})", "v {{x}}"},
      {"standalone section lines vanish", "a\n  {{#on}}\nb\n  {{/on}}\nc\n", R"({"on":true})",
       "a\nb\nc\n"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(RenderText(c.source, c.context), c.expected) << c.what;
  }
}

TEST(Template, EscapesHtmlOnlyWhenAsked) {
  RenderOptions opts;
  opts.html_escape = true;
  EXPECT_EQ(RenderText("{{x}}|{{{x}}}", R"({"x":"<b>&\"'"})", opts),
            "&lt;b&gt;&amp;&quot;&#39;|<b>&\"'");
}

TEST(Template, StrictModeListsAllMissingNames) {
  struct Case {
    const char* what;
    const char* source;
    const char* context;
    const char* expected;  // output, or "ERROR: message"
  } cases[] = {
      {"code-like names are reported, not evaluated", "{{7*7}} {{''.__class__}}", "{}",
       "ERROR: missing variables: ''.__class__, 7*7"},
      {"every kind of tag, sorted and unique", "{{z}}{{a}}{{b.c}}{{#d}}{{/d}}{{^e}}{{/e}}{{a}}",
       R"({"b":{}})", "ERROR: missing variables: a, b.c, d, e, z"},
      {"missing inside list items", "{{#items}}{{name}};{{/items}}",
       R"({"items":[{"name":"a"},{}]})", "ERROR: missing variables: name"},
      {"null counts as present", "[{{n}}]", R"({"n":null})", "[]"},
      {"names in sections that do not render are not evaluated", "{{#off}}{{nope}}{{/off}}ok",
       R"({"off":false})", "ok"},
      {"names inside an inverted section over a missing name are reported",
       "{{^gone}}{{also}}{{/gone}}", "{}", "ERROR: missing variables: also, gone"},
      {"all present renders", "{{a}}-{{b.c}}", R"({"a":1,"b":{"c":"x"}})", "1-x"},
      {"Korean names", "{{이름}} {{나이}}", R"({"이름":"민수"})", "ERROR: missing variables: 나이"},
  };
  RenderOptions strict;
  strict.strict = true;
  for (const Case& c : cases) {
    EXPECT_EQ(RenderText(c.source, c.context, strict), c.expected) << c.what;
  }
  auto t = Template::Parse("{{x}}");
  ASSERT_TRUE(t.ok());
  auto out = t->Render(bj::object{}, strict);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error().code, ErrorCode::kInvalidArgument);
}

TEST(Template, VariablesAreTopLevelNames) {
  struct Case {
    const char* source;
    std::vector<std::string> expected;
  } cases[] = {
      {"plain text", {}},
      {"Hello {{name}}, {{user.email}} {{.}} {{name}}", {"name", "user"}},
      {"{{#items}}{{title}} {{user.id}}{{/items}}", {"items"}},
      {"{{#a}}{{#b}}{{c}}{{/b}}{{/a}}", {"a"}},
      {"{{^empty}}{{fallback}}{{#s}}{{inner}}{{/s}}{{/empty}}", {"empty", "fallback", "s"}},
      {"{{> header}}{{x}}{{{y}}}{{&z}}{{! not a name }}", {"x", "y", "z"}},
      {"{{=<% %>=}}<% w %>{{ignored}}", {"w"}},
      {"{{7*7}}{{''.__class__}}", {"''", "7*7"}},
      {"{{#.}}{{x}}{{/.}}", {}},
      {"{{질문}} {{#문서}}{{제목}}{{/문서}}", {"문서", "질문"}},
  };
  for (const Case& c : cases) {
    auto t = Template::Parse(c.source);
    ASSERT_TRUE(t.ok()) << c.source << ": " << t.error().message;
    EXPECT_EQ(t->Variables(), c.expected) << c.source;
  }
}

TEST(Template, PartialsListsNamesAsWrittenAnywhere) {
  auto t = Template::Parse(
      "{{>b}}{{#s}}{{> a }}{{/s}}{{^n}}{{>support/intro@production}}{{/n}}{{>x#3}}{{>b}}");
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(t->Partials(), (std::vector<std::string>{"a", "b", "support/intro@production", "x#3"}));
}

TEST(Template, SyntaxErrorsReportLineAndColumn) {
  struct Case {
    const char* source;
    const char* message;
  } cases[] = {
      {"line one\nline two\n{{#items}}\nbody\n", "line 3, column 1: unclosed section 'items'"},
      {"abc {{name", "line 1, column 5: unclosed tag (expected '}}')"},
      {"한국어 {{이름", "line 1, column 5: unclosed tag (expected '}}')"},
      {"ok\n  {{{raw}}", "line 2, column 3: unclosed tag (expected '}}}')"},
      {"{{#a}}\n  {{/b}}",
       "line 2, column 3: closing tag 'b' does not match open section 'a' "
       "(opened at line 1, column 1)"},
      {"x{{/a}}", "line 1, column 2: closing tag 'a' without an open section"},
      {"a\n{{}}", "line 2, column 1: empty tag name"},
      {"{{#  }}{{/}}", "line 1, column 1: empty tag name"},
      {"{{> }}", "line 1, column 1: empty tag name"},
      {"{{a b}}", "line 1, column 1: invalid tag name 'a b': contains whitespace"},
      {"{{=<%>=}}",
       "line 1, column 1: invalid delimiter tag: expected two delimiters separated by whitespace"},
      {"{{= a b c =}}", "line 1, column 1: invalid delimiter tag: expected exactly two delimiters"},
      {"{{=<% %>}}", "line 1, column 1: unclosed tag (expected '=}}')"},
      {"{{=<% %>=}}\n<%#s%>", "line 2, column 1: unclosed section 's'"},
  };
  for (const Case& c : cases) {
    auto t = Template::Parse(c.source);
    ASSERT_FALSE(t.ok()) << c.source;
    EXPECT_EQ(t.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(t.error().message, c.message) << c.source;
  }
}

TEST(Template, RejectsDeepSectionNesting) {
  std::string source;
  for (int i = 0; i < 101; ++i) source += "{{#a}}";
  auto t = Template::Parse(source);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().message, "line 1, column 601: sections nested deeper than 100");
}

TEST(Template, PartialNamesPassToTheResolverUnchanged) {
  MapPartials p;
  p.sources = {{"support/intro@production", "intro {{who}}"}, {"x#3", "v3"}};
  EXPECT_EQ(RenderText("{{> support/intro@production }}|{{>x#3}}", R"({"who":"me"})", p.Options()),
            "intro me|v3");
  EXPECT_EQ(p.requested, (std::vector<std::string>{"support/intro@production", "x#3"}));
}

TEST(Template, PartialErrors) {
  struct Case {
    const char* what;
    std::map<std::string, std::string, std::less<>> partials;
    const char* source;
    int max_depth;
    const char* expected;  // output, or "ERROR: message"
  } cases[] = {
      {"two-partial cycle",
       {{"a", "A{{>b}}"}, {"b", "B{{>a}}"}},
       "{{>a}}",
       5,
       "ERROR: partial cycle: a -> b -> a"},
      {"self inclusion", {{"a", "x{{>a}}"}}, "{{>a}}", 5, "ERROR: partial cycle: a -> a"},
      {"cycle through a section over the same item",
       {{"a", "{{#cfg}}{{>a}}{{/cfg}}"}},
       "{{>a}}",
       5,
       "ERROR: partial cycle: a -> a"},
      {"depth 6 > 5",
       {{"p1", "{{>p2}}"},
        {"p2", "{{>p3}}"},
        {"p3", "{{>p4}}"},
        {"p4", "{{>p5}}"},
        {"p5", "{{>p6}}"},
        {"p6", "end"}},
       "{{>p1}}",
       5,
       "ERROR: partials nested deeper than 5: p1 -> p2 -> p3 -> p4 -> p5 -> p6"},
      {"depth 5 is fine",
       {{"p1", "{{>p2}}"}, {"p2", "{{>p3}}"}, {"p3", "{{>p4}}"}, {"p4", "{{>p5}}"}, {"p5", "end"}},
       "{{>p1}}",
       5,
       "end"},
      {"max depth is configurable",
       {{"p1", "{{>p2}}"}, {"p2", "end"}},
       "{{>p1}}",
       1,
       "ERROR: partials nested deeper than 1: p1 -> p2"},
      {"recursion over data is not a cycle",
       {{"node", "{{name}}({{#kids}}{{>node}}{{/kids}})"}},
       "{{>node}}",
       5,
       "root(a()b(c()))"},
      {"resolver error propagates",
       {},
       "x{{>missing}}",
       5,
       "ERROR: partial 'missing': no prompt named missing"},
  };
  for (const Case& c : cases) {
    MapPartials p;
    p.sources = c.partials;
    RenderOptions opts = p.Options();
    opts.max_partial_depth = c.max_depth;
    EXPECT_EQ(RenderText(c.source,
                         R"({"cfg":{"on":true},"name":"root","kids":[
                              {"name":"a","kids":[]},
                              {"name":"b","kids":[{"name":"c","kids":[]}]}]})",
                         opts),
              c.expected)
        << c.what;
  }
}

TEST(Template, ResolverErrorKeepsItsCode) {
  MapPartials p;
  auto t = Template::Parse("{{>nope}}");
  ASSERT_TRUE(t.ok());
  auto out = t->Render(bj::object{}, p.Options());
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error().code, ErrorCode::kNotFound);
}

TEST(Template, PartialWithoutResolverIsEmptyOrStrictError) {
  EXPECT_EQ(RenderText("a{{>p}}b", "{}"), "ab");
  RenderOptions strict;
  strict.strict = true;
  EXPECT_EQ(RenderText("a{{>p}}b", "{}", strict),
            "ERROR: partial 'p': no partial resolver configured");
}

TEST(Template, StrictModeReportsMissingNamesInsidePartials) {
  MapPartials p;
  p.sources = {{"footer", "{{signature}} {{date}}"}};
  EXPECT_EQ(RenderText("{{greeting}} {{>footer}}", R"({"date":"today"})", p.Options(true)),
            "ERROR: missing variables: greeting, signature");
}

TEST(Template, StandalonePartialIndentsEveryLine) {
  MapPartials p;
  p.sources = {{"rules", "- be brief\n- cite {{source}}\n{{#extra}}- {{.}}\n{{/extra}}"},
               {"outer", "Rules:\n  {{>rules}}\n"}};
  EXPECT_EQ(RenderText("System:\n  {{>outer}}\nEnd\n",
                       R"({"source":"docs\nand notes","extra":["x","y"]})", p.Options()),
            "System:\n  Rules:\n    - be brief\n    - cite docs\nand notes\n    - x\n    - y\n"
            "End\n");
}

TEST(Template, ParseOnceRenderManyConcurrently) {
  auto t = Template::Parse("{{#users}}{{name}}:{{score}};{{/users}}");
  ASSERT_TRUE(t.ok());
  const Template& tmpl = *t;
  std::vector<std::thread> threads;
  std::mutex mu;
  std::vector<std::string> failures;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&tmpl, &mu, &failures, i] {
      bj::value ctx = {
          {"users", bj::array{bj::object{{"name", "u" + std::to_string(i)}, {"score", i}}}}};
      const std::string expected = "u" + std::to_string(i) + ":" + std::to_string(i) + ";";
      for (int n = 0; n < 2000; ++n) {
        auto out = tmpl.Render(ctx);
        if (!out.ok() || *out != expected) {
          std::lock_guard<std::mutex> lock(mu);
          failures.push_back(out.ok() ? *out : out.error().message);
          return;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_TRUE(failures.empty()) << failures.front();
}

TEST(Template, DefaultTemplateRendersEmpty) {
  Template t;
  auto out = t.Render(bj::object{});
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out, "");
  EXPECT_TRUE(t.Variables().empty());
  EXPECT_TRUE(t.Partials().empty());
}

}  // namespace
}  // namespace promptops::registry
