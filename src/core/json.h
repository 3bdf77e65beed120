// JSON helpers on top of Boost.JSON: parsing untrusted input with limits, and typed field access
// that reports wrong types as InvalidArgument errors naming the field.
#pragma once

#include <boost/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"

namespace promptops::json {

namespace bj = boost::json;

// Maximum nesting depth accepted from clients.
inline constexpr std::size_t kMaxDepth = 64;

// Parses untrusted JSON text. Errors (InvalidArgument) say what is wrong and where; depth is
// limited to kMaxDepth; invalid UTF-8 inside strings is rejected.
Result<bj::value> Parse(std::string_view text);
// Parse() that also requires an object at the top level.
Result<bj::object> ParseObject(std::string_view text);

// Serializes compactly.
std::string Serialize(const bj::value& v);
// Appends `v` serialized compactly (exactly as Serialize would) to `out`, without building an
// intermediate string.
void AppendValue(std::string& out, const bj::value& v);
// The same for an array or object held directly: without these overloads the argument would be
// converted to a bj::value, a deep copy of every element.
void AppendValue(std::string& out, const bj::array& v);
void AppendValue(std::string& out, const bj::object& v);
// Appends `s` as a JSON string literal, quotes included. `s` must be valid UTF-8 (it passes
// through unchanged); quote, backslash and control characters are escaped.
void AppendString(std::string& out, std::string_view s);
// Appends a JSON number.
void AppendInt(std::string& out, std::int64_t v);

// Serializes with object keys sorted (recursively): equal values give equal text, whatever the
// key order they arrived in. Used for content hashes and equality of config/metadata.
// The output format is part of every stored content hash: never change it.
std::string CanonicalSerialize(const bj::value& v);

// Typed access to optional fields: absent or null -> nullopt; present with another type ->
// InvalidArgument("field 'name' must be a string").
Result<std::optional<std::string>> OptString(const bj::object& o, std::string_view key);
Result<std::optional<std::int64_t>> OptInt(const bj::object& o, std::string_view key);
Result<std::optional<double>> OptDouble(const bj::object& o, std::string_view key);
Result<std::optional<bool>> OptBool(const bj::object& o, std::string_view key);
// Returns a pointer to the object/array field or nullptr if absent/null; wrong type -> error.
Result<const bj::object*> OptObject(const bj::object& o, std::string_view key);
Result<const bj::array*> OptArray(const bj::object& o, std::string_view key);
// The same checks on a value found already (nullptr: absent); `key` names it in the error. For a
// caller that reads many fields in one pass over an object instead of a lookup per field.
Result<std::optional<std::string>> OptString(const bj::value* v, std::string_view key);
Result<std::optional<std::int64_t>> OptInt(const bj::value* v, std::string_view key);
Result<std::optional<double>> OptDouble(const bj::value* v, std::string_view key);
Result<std::optional<bool>> OptBool(const bj::value* v, std::string_view key);
Result<const bj::object*> OptObject(const bj::value* v, std::string_view key);
Result<const bj::array*> OptArray(const bj::value* v, std::string_view key);
// Required variants: absent -> InvalidArgument("field 'name' is required").
Result<std::string> RequireString(const bj::object& o, std::string_view key);
Result<std::string> RequireString(const bj::value* v, std::string_view key);

// The error body every API returns: {"error":{"code":"...","message":"..."}}.
std::string ErrorBody(const Error& e);

}  // namespace promptops::json
