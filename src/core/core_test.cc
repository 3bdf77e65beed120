#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>

#include <algorithm>
#include <array>
#include <map>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/error.h"
#include "core/hash.h"
#include "core/json.h"
#include "core/json_scan.h"
#include "core/log.h"
#include "core/utf8.h"

namespace promptops {
namespace {

// The text log format: a field's value is written as it is unless it is empty or holds a space,
// a double quote, '=', a line break or a tab; then it is a JSON string (quoted and escaped).
TEST(Log, TextFieldsAreQuotedOnlyWhenTheyMustBe) {
  std::FILE* capture = std::tmpfile();
  ASSERT_NE(capture, nullptr);
  std::fflush(stderr);
  int saved = ::dup(2);
  ASSERT_GE(saved, 0);
  ASSERT_GE(::dup2(::fileno(capture), 2), 0);
  log::SetJson(false);
  log::Info("message", {{"a", "plain"},
                        {"b", "two words"},
                        {"c", ""},
                        {"d", "x=y"},
                        {"e", "say \"hi\""},
                        {"f", "line\nbreak"},
                        {"g", "tab\there"},
                        {"h", "안녕하세요"}});
  ::dup2(saved, 2);
  ::close(saved);
  std::rewind(capture);
  char buf[512] = {};
  std::size_t n = std::fread(buf, 1, sizeof buf - 1, capture);
  std::fclose(capture);
  std::string line(buf, n);
  EXPECT_NE(line.find(" info message a=plain b=\"two words\" c=\"\" d=\"x=y\" e=\"say \\\"hi\\\"\" "
                      "f=\"line\\nbreak\" g=\"tab\\there\" h=안녕하세요\n"),
            std::string::npos)
      << line;
}

TEST(ErrorCode, EveryCodeHasANameStatusAndExitCodeThatRoundTrip) {
  for (int i = 0; i <= static_cast<int>(ErrorCode::kTimeout); ++i) {
    auto code = static_cast<ErrorCode>(i);
    auto name = ErrorCodeName(code);
    ASSERT_FALSE(name.empty());
    ASSERT_EQ(ErrorCodeFromName(name), code) << name;
    EXPECT_GE(HttpStatusFor(code), 400);
    EXPECT_GE(ExitCodeFor(code), 2);
  }
  EXPECT_EQ(HttpStatusFor(ErrorCode::kNotFound), 404);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kConflict), 409);
  EXPECT_EQ(ErrorCodeForHttpStatus(404), ErrorCode::kNotFound);
  EXPECT_FALSE(ErrorCodeFromName("nope").has_value());
}

Result<int> Half(int x) {
  if (x % 2) return Error::InvalidArgument("odd");
  return x / 2;
}
Result<int> Quarter(int x) {
  PO_ASSIGN_OR_RETURN(int h, Half(x));
  return Half(h);
}

TEST(Result, PropagatesErrorsAndValues) {
  EXPECT_EQ(*Quarter(8), 2);
  auto r = Quarter(6);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(r.error().ToString(), "invalid_argument: odd");
}

TEST(Sha256, MatchesKnownVectors) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(RandomToken, HasRequestedLengthAndAlphabetAndDiffers) {
  auto a = RandomToken(40), b = RandomToken(40);
  EXPECT_EQ(a.size(), 40u);
  EXPECT_NE(a, b);
  for (char c : a) EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)));
}

TEST(Base64, EncodesRfc4648VectorsAndRoundTrips) {
  struct Case {
    const char* plain;
    const char* encoded;
  } cases[] = {{"", ""},
               {"f", "Zg=="},
               {"fo", "Zm8="},
               {"foo", "Zm9v"},
               {"foob", "Zm9vYg=="},
               {"fooba", "Zm9vYmE="},
               {"foobar", "Zm9vYmFy"}};
  for (const auto& c : cases) {
    EXPECT_EQ(Base64Encode(c.plain), c.encoded);
    EXPECT_EQ(*Base64Decode(c.encoded), c.plain);
  }
  EXPECT_FALSE(Base64Decode("a$==").has_value());
}

// The 16-byte steps against a byte-by-byte reference: every stop byte at every position of runs
// shorter and longer than a step, and the tail after the last whole step.
TEST(JsonScan, SkipsMatchAByteByByteReference) {
  auto plain_ref = [](const std::string& s) {
    std::size_t i = 0;
    while (i < s.size()) {
      auto c = static_cast<unsigned char>(s[i]);
      if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\') break;
      ++i;
    }
    return i;
  };
  auto unescaped_ref = [](const std::string& s) {
    std::size_t i = 0;
    while (i < s.size()) {
      auto c = static_cast<unsigned char>(s[i]);
      if (c < 0x20 || c == '"' || c == '\\') break;
      ++i;
    }
    return i;
  };
  auto check = [&](const std::string& s) {
    auto* b = reinterpret_cast<const unsigned char*>(s.data());
    ASSERT_EQ(static_cast<std::size_t>(json::SkipPlainAscii(b, b + s.size()) - b), plain_ref(s))
        << s;
    ASSERT_EQ(
        static_cast<std::size_t>(json::SkipUnescaped(s.data(), s.data() + s.size()) - s.data()),
        unescaped_ref(s))
        << s;
  };
  const char stops[] = {'"',
                        '\\',
                        '\0',
                        '\n',
                        0x1F,
                        0x20,
                        0x7E,
                        0x7F,
                        static_cast<char>(0x80),
                        static_cast<char>(0xC3),
                        static_cast<char>(0xFF)};
  for (std::size_t len = 0; len <= 40; ++len) {
    std::string base(len, 'a');
    check(base);
    for (std::size_t at = 0; at < len; ++at) {
      for (char c : stops) {
        std::string s = base;
        s[at] = c;
        check(s);
        if (at + 3 < len) {  // a second stop later changes nothing
          s[at + 3] = '"';
          check(s);
        }
      }
    }
  }
  check("안녕하세요, \"world\"");  // UTF-8 ends a plain run but needs no escape
  std::mt19937 rng(7);
  for (int i = 0; i < 20000; ++i) {
    std::string s(rng() % 48, '\0');
    for (char& c : s) c = static_cast<char>(rng() % 8 == 0 ? rng() % 256 : 'a' + rng() % 26);
    check(s);
  }
}

TEST(FastId, HasRequestedLengthAlphabetAndDoesNotRepeat) {
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i) {
    auto id = FastId(20);
    ASSERT_EQ(id.size(), 20u);
    for (char c : id) ASSERT_TRUE(std::isalnum(static_cast<unsigned char>(c)));
    ASSERT_TRUE(seen.insert(id).second);
  }
}

TEST(FastId, UsesEveryCharacterEvenlyAtAnyLength) {
  EXPECT_EQ(FastId(0), "");
  std::map<char, int> count;
  int total = 0;
  for (std::size_t length : {1u, 2u, 3u, 7u, 16u, 31u}) {
    for (int i = 0; i < 2000; ++i) {
      auto id = FastId(length);
      ASSERT_EQ(id.size(), length);
      for (char c : id) ++count[c];
      total += static_cast<int>(length);
    }
  }
  ASSERT_EQ(count.size(), 62u);  // A-Z, a-z, 0-9 and nothing else
  double expected = total / 62.0;
  for (const auto& [c, n] : count) {
    EXPECT_NEAR(n, expected, expected * 0.2) << "character " << c;
  }
}

TEST(FastId, EveryPositionOfADrawIsEven) {
  // Eight characters come from one 64-bit draw, the later ones from its lower bits: each position
  // must still be spread evenly over the alphabet.
  constexpr int kIds = 31000;
  std::array<std::map<char, int>, 9> count;
  for (int i = 0; i < kIds; ++i) {
    auto id = FastId(9);  // one draw and one character of the next
    for (std::size_t k = 0; k < id.size(); ++k) ++count[k][id[k]];
  }
  double expected = kIds / 62.0;
  for (std::size_t k = 0; k < count.size(); ++k) {
    ASSERT_EQ(count[k].size(), 62u) << "position " << k;
    double chi2 = 0;
    for (const auto& [c, n] : count[k]) chi2 += (n - expected) * (n - expected) / expected;
    // 61 degrees of freedom: the 99.99th percentile is ~111.
    EXPECT_LT(chi2, 111.0) << "position " << k;
  }
}

TEST(ConstantTimeEquals, ComparesEveryByteAndTheLength) {
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  std::string key = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeX";
  EXPECT_TRUE(ConstantTimeEquals(key, std::string(key)));
  for (std::size_t i = 0; i < key.size(); ++i) {  // a difference in any word or in the tail
    std::string other = key;
    other[i] ^= 0x01;
    EXPECT_FALSE(ConstantTimeEquals(key, other)) << "byte " << i;
  }
  for (std::size_t n : {1u, 7u, 8u, 9u, 63u}) {
    EXPECT_TRUE(ConstantTimeEquals(key.substr(0, n), key.substr(0, n)));
    EXPECT_FALSE(ConstantTimeEquals(key.substr(0, n), key.substr(0, n + 1)));
  }
  EXPECT_FALSE(ConstantTimeEquals(std::string("a\0b", 3), std::string("a\0c", 3)));
}

TEST(TimeOrderedId, HasTheShapeOfATraceId) {
  auto id = TimeOrderedId("tr-", 24, 1'764'000'000'000);
  ASSERT_EQ(id.size(), 27u);
  EXPECT_EQ(id.substr(0, 3), "tr-");
  for (char c : id.substr(3)) ASSERT_TRUE(std::isalnum(static_cast<unsigned char>(c))) << id;
  EXPECT_EQ(id.substr(3, 8), "0V3U4EJE");  // 1764000000000 in base 62 (0-9A-Za-z)
  EXPECT_NE(id, TimeOrderedId("tr-", 24, 1'764'000'000'000));  // the rest is random
}

TEST(TimeOrderedId, EncodesTheTimeInBase62WithAnAsciiOrderedAlphabet) {
  EXPECT_EQ(TimeOrderedId("", 8, 0), "00000000");
  EXPECT_EQ(TimeOrderedId("", 8, 61), "0000000z");
  EXPECT_EQ(TimeOrderedId("", 8, 62), "00000010");
  EXPECT_EQ(TimeOrderedId("", 8, 62 * 62 + 10), "0000010A");
  EXPECT_EQ(TimeOrderedId("", 8, -5), "00000000");                     // clamped
  EXPECT_EQ(TimeOrderedId("", 8, 218340105584895), "zzzzzzzz");        // 62^8 - 1
  EXPECT_EQ(TimeOrderedId("", 8, std::int64_t{1} << 62), "zzzzzzzz");  // clamped
  EXPECT_EQ(TimeOrderedId("x-", 10, 62).substr(0, 10), "x-00000010");
}

TEST(TimeOrderedId, SortsByTimeAcrossMillisecondsAndDigitCarries) {
  // Consecutive ms, carries in low and high digits, and times decades apart: the byte order of
  // the ids is the order of the times, whatever the random part.
  // clang-format off
  std::vector<std::int64_t> times = {0, 1, 9, 10, 35, 36, 61, 62, 63, 3843, 3844, 1'000'000,
                                     1'764'000'000'000, 1'764'000'000'001, 1'764'000'000'061,
                                     1'764'000'000'062, 2'000'000'000'000, 4'102'444'800'000};
  // clang-format on
  for (int round = 0; round < 200; ++round) {
    for (std::size_t i = 1; i < times.size(); ++i) {
      auto a = TimeOrderedId("tr-", 24, times[i - 1]);
      auto b = TimeOrderedId("tr-", 24, times[i]);
      ASSERT_LT(a, b) << times[i - 1] << " vs " << times[i];
    }
  }
  // A sorted sample of random times gives sorted ids.
  std::mt19937_64 rng(42);
  std::vector<std::int64_t> sample;
  for (int i = 0; i < 5000; ++i) {
    sample.push_back(static_cast<std::int64_t>(rng() % 4'102'444'800'000ULL));
  }
  std::sort(sample.begin(), sample.end());
  sample.erase(std::unique(sample.begin(), sample.end()), sample.end());
  std::string prev;
  for (auto t : sample) {
    auto id = TimeOrderedId("tr-", 24, t);
    ASSERT_LT(prev, id);
    prev = id;
  }
}

TEST(TimeOrderedId, IsUniqueWithinOneMillisecondAndAcrossThreads) {
  std::set<std::string> seen;
  for (int i = 0; i < 20000; ++i) ASSERT_TRUE(seen.insert(TimeOrderedId("tr-", 24, 7)).second);
  std::vector<std::vector<std::string>> per_thread(4);
  std::vector<std::thread> threads;
  for (auto& out : per_thread) {
    threads.emplace_back([&out] {
      for (int i = 0; i < 5000; ++i) out.push_back(TimeOrderedId("tr-", 24, 7));
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& ids : per_thread) {
    for (const auto& id : ids) ASSERT_TRUE(seen.insert(id).second) << id;
  }
}

TEST(Utf8, AcceptsKoreanAndRejectsMalformedSequences) {
  struct Case {
    std::string s;
    bool valid;
  } cases[] = {
      {"hello", true},
      {"\xEC\x95\x88\xEB\x85\x95\xED\x95\x98\xEC\x84\xB8\xEC\x9A\x94", true},  // 안녕하세요
      {"\xF0\x9F\x98\x80", true},                                              // emoji
      {"\xC0\xAF", false},                                                     // overlong '/'
      {"\xED\xA0\x80", false},                                                 // surrogate
      {"\xEC\x95", false},                                                     // truncated
      {"\xFF", false},
      {"\xF4\x90\x80\x80", false},  // > U+10FFFF
  };
  for (const auto& c : cases) EXPECT_EQ(utf8::IsValid(c.s), c.valid) << c.s;
  EXPECT_EQ(utf8::CodePointCount("\xEC\x95\x88\xEB\x85\x95"), 2u);
}

TEST(Json, ParseRejectsMalformedDeepAndInvalidUtf8) {
  EXPECT_TRUE(json::Parse("{\"a\":[1,2]}").ok());
  EXPECT_FALSE(json::Parse("{\"a\":").ok());
  EXPECT_FALSE(json::Parse("\"\xFF\"").ok());
  std::string deep(100, '[');
  deep += std::string(100, ']');
  auto r = json::Parse(deep);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("deeper"), std::string::npos);
  EXPECT_FALSE(json::ParseObject("[1]").ok());
  // The messages name the problem; invalid UTF-8 is named as such wherever it is.
  for (std::string_view bad : {"\"\xFF\"", "{\"a\":1}\xC3", "{\"\xE2\x82\":1}", "\xEF\xBB"}) {
    auto e = json::Parse(bad);
    ASSERT_FALSE(e.ok()) << bad;
    EXPECT_EQ(e.error().message, "request body is not valid UTF-8") << bad;
  }
  EXPECT_EQ(json::Parse("{\"a\":").error().message.rfind("malformed JSON: ", 0), 0u);
  EXPECT_EQ(json::Parse("[1] 2").error().message.rfind("malformed JSON: ", 0), 0u);
  EXPECT_EQ(deep.size(), 200u);
  EXPECT_EQ(json::Parse(deep).error().message, "JSON nested deeper than 64 levels");
  // A thread's parser is reused: a document after a failed one, and Korean text, parse whole.
  auto ok = json::Parse(R"({"k":"값","n":[1,2,3]})");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->at("k").as_string(), "값");
  EXPECT_EQ(ok->at("n").as_array().size(), 3u);
  // Big documents (their own parser) too.
  std::string big = "[";
  for (int i = 0; i < 50000; ++i) big += (i ? ",\"" : "\"") + std::to_string(i) + "\"";
  big += "]";
  auto b = json::Parse(big);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->as_array().size(), 50000u);
  EXPECT_EQ(b->as_array().back().as_string(), "49999");
  EXPECT_TRUE(json::Parse("{}").ok());
}

TEST(Json, TypedAccessorsNameTheField) {
  auto o = *json::ParseObject(R"({"s":"x","i":3,"d":1.5,"b":true,"n":null})");
  EXPECT_EQ(**json::OptString(o, "s"), "x");
  EXPECT_FALSE(json::OptString(o, "n")->has_value());
  EXPECT_EQ(**json::OptInt(o, "i"), 3);
  EXPECT_DOUBLE_EQ(**json::OptDouble(o, "i"), 3.0);
  auto bad = json::OptInt(o, "s");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message, "field 's' must be an integer");
  EXPECT_FALSE(json::RequireString(o, "missing").ok());
  EXPECT_EQ(json::ErrorBody(Error::NotFound("x")),
            R"({"error":{"code":"not_found","message":"x"}})");
}

// A character that needs an escape is found at any offset of a string of any length.
TEST(Json, EscapesAreFoundAtEveryOffset) {
  const std::string specials[] = {"\"", "\\", "\n", std::string(1, '\0'), "\x1f", "é", "\x7f"};
  for (std::size_t len = 0; len <= 33; ++len) {
    for (std::size_t at = 0; at <= len; ++at) {
      for (const auto& sp : specials) {
        std::string text = std::string(at, 'a') + sp + std::string(len - at, 'b');
        std::string out;
        json::AppendString(out, text);
        ASSERT_EQ(out, json::Serialize(json::bj::value(text))) << len << " " << at;
      }
    }
  }
}

TEST(Json, AppendHelpersWriteWhatSerializeWrites) {
  // Every escape class, Korean text and a 4-byte UTF-8 sequence, compared with Boost.JSON.
  const std::string samples[] = {"",
                                 "plain",
                                 "quote \" backslash \\ slash /",
                                 "tab\tnewline\ncr\rbs\bff\f",
                                 std::string("nul\0ctl\x01\x1f end", 13),
                                 "안녕하세요, 환불 문의입니다",
                                 "emoji \xF0\x9F\x98\x80 ok",
                                 "\"escape first",
                                 "escape last\n",
                                 "\x7f del is not escaped"};
  for (const auto& s : samples) {
    std::string out = "x";
    json::AppendString(out, s);
    EXPECT_EQ(out, "x" + json::Serialize(json::bj::value(s)));
    // What was written parses back to the same text.
    auto back = json::Parse(out.substr(1));
    ASSERT_TRUE(back.ok()) << out;
    EXPECT_EQ(back->as_string(), s);
  }
  auto v = *json::Parse(R"({"a":[1,2.5,-3e-7,true,null,{"b":"\u00e9\n"}],"k":"값"})");
  std::string out = "[";
  json::AppendValue(out, v);
  EXPECT_EQ(out, "[" + json::Serialize(v));
  // An array or object held directly serializes the same (without a copy into a value).
  out = "[";
  json::AppendValue(out, v.as_object());
  EXPECT_EQ(out, "[" + json::Serialize(v));
  out.clear();
  json::AppendValue(out, v.as_object().at("a").as_array());
  EXPECT_EQ(out, json::Serialize(v.as_object().at("a")));
  // Every kind of value, numbers at their extremes, keys that need escapes, and nesting far
  // deeper than the parser's limit (built in code): the same text as Boost.JSON's serializer.
  json::bj::value kinds = *json::Parse(
      R"({"s":"x\"y","i":-9223372036854775808,"u":18446744073709551615,"d":[1.5,-0.0,1E300,5E-324,2.0,-1E-7],)"
      R"("b":[true,false,null],"e":{},"a":[],"k\u0001\"":{"n":[[1],{"m":"값"}]}})");
  json::bj::value deep = json::bj::array{};
  for (int i = 0; i < 200; ++i) deep = json::bj::array{std::move(deep), json::bj::object{{"i", i}}};
  for (const json::bj::value* x : {&kinds, &deep}) {
    out.clear();
    json::AppendValue(out, *x);
    EXPECT_EQ(out, json::Serialize(*x));
  }
  std::string n;
  json::AppendInt(n, 0);
  n += ',';
  json::AppendInt(n, -9223372036854775807LL - 1);
  n += ',';
  json::AppendInt(n, 1700000000);
  EXPECT_EQ(n, "0,-9223372036854775808,1700000000");
}

TEST(Json, CanonicalSerializeSortsKeysAndPrintsNumbersReadably) {
  auto a = *json::Parse(R"({"b":[1,{"z":0.2,"a":true}],"a":null,"c":2.0,"d":1e300})");
  EXPECT_EQ(json::CanonicalSerialize(a),
            R"({"a":null,"b":[1,{"a":true,"z":0.2}],"c":2.0,"d":1e+300})");
  auto b = *json::Parse(R"({"a":null,"c":2.0,"b":[1,{"a":true,"z":0.2}],"d":1e300})");
  EXPECT_EQ(json::CanonicalSerialize(a), json::CanonicalSerialize(b));
}

TEST(Rfc3339, FormatsAndParsesUtc) {
  auto t = FromUnixMillis(1'700'000'000'123);
  EXPECT_EQ(FormatRfc3339(t), "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(ParseRfc3339("2023-11-14T22:13:20.123Z"), t);
  EXPECT_EQ(ParseRfc3339("2023-11-15T00:13:20.123+02:00"), t);
  EXPECT_FALSE(ParseRfc3339("2023-13-14T22:13:20Z").has_value());
  EXPECT_FALSE(ParseRfc3339("yesterday").has_value());
}

}  // namespace
}  // namespace promptops
