// Internal to the cli module: the `trace ...` commands (trace_commands.cc) and their text
// output, separated so that tests can check the formatting without a server.
#pragma once

#include <boost/json.hpp>

#include <string>

namespace promptops::cli {

// The table printed by `trace list` for a GET /api/v1/traces page: one row per trace, and a
// "N of TOTAL traces" footer when the page is not everything.
std::string TraceListText(const boost::json::object& page);
// The text printed by `trace show` for GET /api/v1/traces/{id}: fields, then feedback, then the
// request and response bodies when present.
std::string TraceShowText(const boost::json::object& trace);
// "1.2s", "340ms", "870us" for a duration in microseconds.
std::string DurationText(std::int64_t us);

}  // namespace promptops::cli
