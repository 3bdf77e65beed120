// Helpers shared by the adapters (private to providers/): reading upstream JSON and turning
// error bodies into UpstreamFailure.
#pragma once

#include <boost/json.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "providers/chat.h"

namespace promptops::providers::wire {

// The string at o[key], or nullptr when absent or not a string.
const boost::json::string* StringField(const boost::json::object& o, std::string_view key);
// The object at o[key], or nullptr.
const boost::json::object* ObjectField(const boost::json::object& o, std::string_view key);
// The array at o[key], or nullptr.
const boost::json::array* ArrayField(const boost::json::object& o, std::string_view key);
// The integer at o[key] (integers or integral doubles), or nullopt.
std::optional<std::int64_t> IntField(const boost::json::object& o, std::string_view key);

// Parses an upstream JSON object; nullopt if the text is not a JSON object. The object's memory
// comes from `sp` (default: the heap). Callers that only read the answer pass a
// boost::json::monotonic_resource on a stack buffer: one parse then costs no allocation at all.
std::optional<boost::json::object> ParseObject(std::string_view text,
                                               boost::json::storage_ptr sp = {});

// The human-readable message of an upstream error body: "error.message" of OpenAI's
// {"error":{"message","type",...}} and Anthropic's {"type":"error","error":{"type","message"}}
// (prefixed with the error type when there is one), {"error":"text"}, or else the first 200
// bytes of the body (only when valid UTF-8) or "HTTP <status>".
std::string ErrorMessage(int status, std::string_view body);

// UpstreamFailure for a non-2xx status.
UpstreamFailure StatusFailure(int status, std::string_view body,
                              std::optional<std::chrono::milliseconds> retry_after);

UpstreamFailure Malformed(std::string message);

}  // namespace promptops::providers::wire
