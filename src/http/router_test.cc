#include "http/router.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace promptops::http {
namespace {

// A handler that answers with its own name, so a test can tell which route matched.
Handler Named(std::string name) {
  return [name](Request&) { return Response::Text(200, name); };
}

Router MakeTable() {
  Router r;
  r.Add("GET", "/", Named("root"));
  r.Add("GET", "/api/v1/prompts", Named("list"));
  r.Add("POST", "/api/v1/prompts", Named("create"), {.blocking = true});
  r.Add("GET", "/api/v1/prompts/{name}", Named("get"));
  r.Add("DELETE", "/api/v1/prompts/{name}", Named("delete"));
  r.Add("GET", "/api/v1/prompts/_search", Named("search"));
  r.Add("GET", "/api/v1/prompts/{name}/versions/{version}", Named("version"));
  r.Add("GET", "/api/v1/prompts/{name}/versions/latest", Named("latest"));
  r.Add("GET", "/static/{path...}", Named("static"));
  r.Add("GET", "/a/{x}", Named("a-param"));
  r.Add("POST", "/a/b", Named("a-literal-post"));
  return r;
}

struct Case {
  std::string method;
  std::string path;
  std::string want_route;  // "" when an error is expected
  ErrorCode want_error = ErrorCode::kInternal;
  std::vector<std::pair<std::string, std::string>> want_params = {};
};

TEST(Router, RoutingTable) {
  Router router = MakeTable();
  const Case cases[] = {
      {"GET", "/", "root"},
      {"GET", "/api/v1/prompts", "list"},
      {"POST", "/api/v1/prompts", "create"},
      {"GET", "/api/v1/prompts/greeting", "get", {}, {{"name", "greeting"}}},
      {"DELETE", "/api/v1/prompts/greeting", "delete", {}, {{"name", "greeting"}}},
      // Literal beats parameter.
      {"GET", "/api/v1/prompts/_search", "search"},
      {"GET", "/api/v1/prompts/p/versions/latest", "latest", {}, {{"name", "p"}}},
      {"GET", "/api/v1/prompts/p/versions/3", "version", {}, {{"name", "p"}, {"version", "3"}}},
      // %2F stays inside its segment and is decoded in the parameter.
      {"GET", "/api/v1/prompts/a%2Fb", "get", {}, {{"name", "a/b"}}},
      {"GET",
       "/api/v1/prompts/a%2Fb/versions/2",
       "version",
       {},
       {{"name", "a/b"}, {"version", "2"}}},
      {"GET", "/api/v1/prompts/caf%C3%A9", "get", {}, {{"name", "caf\xC3\xA9"}}},
      // '+' is not a space in paths.
      {"GET", "/api/v1/prompts/a+b", "get", {}, {{"name", "a+b"}}},
      // Rest parameter captures the remainder, decoded.
      {"GET", "/static/css/site.css", "static", {}, {{"path", "css/site.css"}}},
      {"GET", "/static/a%20b/c", "static", {}, {{"path", "a b/c"}}},
      {"GET", "/static/", "static", {}, {{"path", ""}}},
      // GET routes answer HEAD.
      {"HEAD", "/api/v1/prompts", "list"},
      // A parameter route with the method wins over a literal route without it.
      {"GET", "/a/b", "a-param", {}, {{"x", "b"}}},
      {"POST", "/a/b", "a-literal-post"},
      // Errors.
      {"GET", "/nope", "", ErrorCode::kNotFound},
      {"GET", "/api/v1/prompts/", "", ErrorCode::kNotFound},  // empty segment is no parameter
      {"GET", "/api/v1/prompts/p/extra", "", ErrorCode::kNotFound},
      {"GET", "/static", "", ErrorCode::kNotFound},
      {"GET", "relative", "", ErrorCode::kNotFound},
      {"PUT", "/api/v1/prompts", "", ErrorCode::kMethodNotAllowed},
      {"get", "/api/v1/prompts", "", ErrorCode::kMethodNotAllowed},  // methods are case-sensitive
      {"GET", "/api/v1/prompts/bad%zz", "", ErrorCode::kInvalidArgument},
      {"GET", "/api/v1/prompts/bad%2", "", ErrorCode::kInvalidArgument},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.method + " " + c.path);
    Request req;
    req.method = c.method;
    req.path = c.path;
    auto m = router.Find(req);
    if (c.want_route.empty()) {
      ASSERT_FALSE(m.ok());
      EXPECT_EQ(m.error().code, c.want_error) << m.error().ToString();
      continue;
    }
    ASSERT_TRUE(m.ok()) << m.error().ToString();
    EXPECT_EQ((*m->handler)(req).body, c.want_route);
    EXPECT_EQ(req.path_params, c.want_params);
  }
}

TEST(Router, MethodNotAllowedListsAllowedMethods) {
  Router router = MakeTable();
  Request req;
  req.method = "PATCH";
  req.path = "/api/v1/prompts/x";
  std::string allow;
  auto m = router.Find(req, &allow);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().code, ErrorCode::kMethodNotAllowed);
  EXPECT_EQ(allow, "DELETE, GET, HEAD");
}

TEST(Router, ReportsBlockingOption) {
  Router router = MakeTable();
  Request req;
  req.method = "POST";
  req.path = "/api/v1/prompts";
  auto m = router.Find(req);
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(m->options.blocking);
  req.method = "GET";
  auto g = router.Find(req);
  ASSERT_TRUE(g.ok());
  EXPECT_FALSE(g->options.blocking);
}

TEST(Router, ParameterNamesArePerRoute) {
  Router router;
  router.Add("GET", "/p/{name}", Named("get"));
  router.Add("PUT", "/p/{id}", Named("put"));
  Request req;
  req.method = "PUT";
  req.path = "/p/7";
  ASSERT_TRUE(router.Find(req).ok());
  EXPECT_EQ(req.Param("id"), "7");
  EXPECT_EQ(req.Param("name"), "");
}

TEST(Router, RejectsBadPatternsAndDuplicates) {
  Router router;
  router.Add("GET", "/x/{a}", Named("x"));
  EXPECT_THROW(router.Add("GET", "/x/{b}", Named("dup")), std::invalid_argument);
  EXPECT_THROW(router.Add("GET", "no-slash", Named("bad")), std::invalid_argument);
  EXPECT_THROW(router.Add("GET", "/a/{rest...}/b", Named("bad")), std::invalid_argument);
  EXPECT_THROW(router.Add("GET", "/a/{}", Named("bad")), std::invalid_argument);
  EXPECT_THROW(router.Add("GET", "/a/{open", Named("bad")), std::invalid_argument);
  EXPECT_THROW(router.Add("GET", "/a/x{y}", Named("bad")), std::invalid_argument);
}

TEST(Message, HeaderLookupAndFramingHeaders) {
  Headers h{{"Content-Type", "a"}, {"x-one", "1"}, {"X-ONE", "2"}};
  EXPECT_EQ(FindHeader(h, "content-type"), "a");
  EXPECT_EQ(FindHeader(h, "x-One"), "1");  // the first one
  EXPECT_EQ(FindHeader(h, "missing"), std::nullopt);
  for (const char* n : {"Content-Length", "transfer-encoding", "CONNECTION"}) {
    EXPECT_TRUE(IsFramingHeader(n)) << n;
  }
  for (const char* n : {"content-type", "host", "connections", "keep-alive"}) {
    EXPECT_FALSE(IsFramingHeader(n)) << n;
  }
}

TEST(Message, HeaderNamesMustBeTokensAndValuesSingleLines) {
  for (const char* n :
       {"Content-Type", "x-promptops-trace-id", "X_1", "a!#$%&'*+-.^_`|~z", "POST"}) {
    EXPECT_TRUE(ValidHeaderName(n)) << n;
  }
  for (const char* n : {"", "Bad Name", "x:y", "x\r\ny", "tab\t", "quote\"", "(paren)", "é"}) {
    EXPECT_FALSE(ValidHeaderName(n)) << n;
  }
  EXPECT_TRUE(ValidHeaderValue(""));
  EXPECT_TRUE(ValidHeaderValue("Bearer sk-1; a=\"b\", 안녕\t"));
  EXPECT_FALSE(ValidHeaderValue("a\r\nInjected: 1"));
  EXPECT_FALSE(ValidHeaderValue("a\nb"));
  EXPECT_FALSE(ValidHeaderValue(std::string("a\0b", 3)));
  // Other controls and DEL are not field text either (our parser would refuse them); each
  // position, so the 16-byte scan and the byte loop after it are both checked.
  for (char bad : {'\x01', '\x1f', '\x7f', '\r'}) {
    for (std::size_t at = 0; at < 40; ++at) {
      std::string v(40, 'v');
      v[at] = bad;
      EXPECT_FALSE(ValidHeaderValue(v)) << int(bad) << " at " << at;
      v[at] = '\t';
      EXPECT_TRUE(ValidHeaderValue(v)) << "tab at " << at;
    }
  }
}

TEST(Message, UrlDecode) {
  struct {
    std::string in;
    bool plus;
    std::optional<std::string> want;
  } cases[] = {
      {"abc", false, "abc"},
      {"a%2Fb", false, "a/b"},
      {"a%2fb", false, "a/b"},
      {"a+b", false, "a+b"},
      {"a+b", true, "a b"},
      {"%41%42", false, "AB"},
      {"%", false, std::nullopt},
      {"%4", false, std::nullopt},
      {"%zz", false, std::nullopt},
      {"", false, ""},
      {"%00", false, std::string(1, '\0')},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(UrlDecode(c.in, c.plus), c.want) << c.in;
  }
}

TEST(Message, UrlEncodeKeepsOnlyUnreserved) {
  EXPECT_EQ(UrlEncode("AZaz09-._~"), "AZaz09-._~");
  EXPECT_EQ(UrlEncode("a/b c+d?&=%"), "a%2Fb%20c%2Bd%3F%26%3D%25");
  EXPECT_EQ(UrlEncode("caf\xC3\xA9"), "caf%C3%A9");
  EXPECT_EQ(UrlDecode(UrlEncode("any \x01 thing/%"), false), "any \x01 thing/%");
}

TEST(Message, QueryDecodesFirstAndAll) {
  Request req;
  req.query = "a=1&b=x+y&a=2&c&d=%E2%82%AC&bad=%zz&e=&k%20ey=v";
  EXPECT_EQ(req.Query("a"), "1");
  EXPECT_EQ(req.QueryAll("a"), (std::vector<std::string>{"1", "2"}));
  EXPECT_EQ(req.Query("b"), "x y");
  EXPECT_EQ(req.Query("c"), "");
  EXPECT_EQ(req.Query("d"), "\xE2\x82\xAC");
  EXPECT_EQ(req.Query("bad"), std::nullopt);
  EXPECT_EQ(req.Query("e"), "");
  EXPECT_EQ(req.Query("k ey"), "v");
  EXPECT_EQ(req.Query("missing"), std::nullopt);
  EXPECT_TRUE(req.QueryAll("missing").empty());
}

TEST(Message, HeaderLookupIsCaseInsensitive) {
  Request req;
  req.headers = {{"Content-Type", "application/json"}, {"X-Thing", "1"}, {"x-thing", "2"}};
  EXPECT_EQ(req.Header("content-type"), "application/json");
  EXPECT_EQ(req.Header("X-THING"), "1");
  EXPECT_EQ(req.Header("absent"), std::nullopt);
}

// Eight bytes at a time against a byte-by-byte reference: every byte value at every position
// of names shorter and longer than a word (the overlapping last word too).
TEST(Message, EqualsIgnoreCaseMatchesAByteByByteReference) {
  auto lower = [](unsigned char c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; };
  auto reference = [&](std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (lower(static_cast<unsigned char>(a[i])) != lower(static_cast<unsigned char>(b[i]))) {
        return false;
      }
    }
    return true;
  };
  for (std::size_t len : {0u, 1u, 7u, 8u, 9u, 14u, 16u, 17u, 23u}) {
    std::string base;
    for (std::size_t i = 0; i < len; ++i) base += static_cast<char>("Content-Length-X"[i % 16]);
    for (std::size_t at = 0; at < len; ++at) {
      for (int c = 0; c < 256; ++c) {
        std::string other = base;
        other[at] = static_cast<char>(c);
        ASSERT_EQ(EqualsIgnoreCase(base, other), reference(base, other))
            << "length " << len << ", byte " << c << " at " << at;
        ASSERT_EQ(EqualsIgnoreCase(other, base), reference(other, base));
      }
    }
  }
  EXPECT_TRUE(EqualsIgnoreCase("TRANSFER-ENCODING", "transfer-encoding"));
  EXPECT_FALSE(EqualsIgnoreCase("transfer-encodinG", "transfer-encoding!"));
  EXPECT_FALSE(EqualsIgnoreCase("x-promptops-trace", "x-promptops-tracf"));
  EXPECT_FALSE(EqualsIgnoreCase("@[`{", "`{@["));  // the bytes next to the letters do not fold
}

// Header lines: names checked when the program is compiled, values when appended; found by
// Response::Header after the ordinary headers.
TEST(Message, HeaderLinesAreCheckedAndFound) {
  static_assert(StaticHeaderName::Valid("x-promptops-trace-id"));
  static_assert(StaticHeaderName::Valid("retry-after"));
  static_assert(!StaticHeaderName::Valid(""));
  static_assert(!StaticHeaderName::Valid("X-Upper"));  // lower case only
  static_assert(!StaticHeaderName::Valid("bad name"));
  static_assert(!StaticHeaderName::Valid("x:y"));
  static_assert(!StaticHeaderName::Valid("content-length"));  // the server's own
  static_assert(!StaticHeaderName::Valid("transfer-encoding"));
  static_assert(!StaticHeaderName::Valid("connection"));
  static_assert(!StaticHeaderName::Valid("server"));
  static_assert(!StaticHeaderName::Valid("x-request-id"));

  Response r;
  r.headers = {{"content-type", "application/json"}};
  EXPECT_TRUE(AppendHeaderLine(r.head_lines, "x-promptops-model", "모델-1"));
  EXPECT_TRUE(AppendHeaderLine(r.head_lines, "x-empty", ""));
  EXPECT_FALSE(AppendHeaderLine(r.head_lines, "x-split", "a\r\nx-injected: 1"));
  EXPECT_FALSE(AppendHeaderLine(r.head_lines, "x-nul", std::string("a\0b", 3)));
  EXPECT_TRUE(AppendHeaderLine(r.head_lines, "content-type", "text/plain"));
  EXPECT_EQ(r.head_lines, "x-promptops-model: 모델-1\r\nx-empty: \r\ncontent-type: text/plain\r\n");
  EXPECT_EQ(r.Header("X-PROMPTOPS-MODEL"), "모델-1");
  EXPECT_EQ(r.Header("x-empty"), "");
  EXPECT_EQ(r.Header("content-type"), "application/json");  // `headers` first
  EXPECT_EQ(r.Header("x-split"), std::nullopt);
  EXPECT_EQ(r.Header("x-injected"), std::nullopt);
  EXPECT_EQ(FindHeaderLine("", "x"), std::nullopt);
  EXPECT_EQ(FindHeaderLine("a: 1\r\nb: 2\r\n", "b"), "2");
}

TEST(Message, ResponseFactories) {
  Response e = Response::FromError(Error::NotFound("no prompt 'x'"));
  EXPECT_EQ(e.status, 404);
  EXPECT_EQ(e.Header("content-type"), "application/json");
  EXPECT_EQ(e.body, R"({"error":{"code":"not_found","message":"no prompt 'x'"}})");
  EXPECT_EQ(Response::NoContent().status, 204);
  Response t = Response::Text(201, "hi");
  EXPECT_EQ(t.Header("Content-Type"), "text/plain; charset=utf-8");
}

}  // namespace
}  // namespace promptops::http
