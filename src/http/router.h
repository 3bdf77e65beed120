// Router: maps (method, path) to a handler. Built once at start-up, then read concurrently by
// every network thread without locks (Find is const and touches no shared mutable state).
//
// Patterns are split at '/' into segments: a literal ("prompts"), a parameter ("{name}") that
// matches one non-empty segment, or, as the last segment only, a rest parameter ("{path...}")
// that matches the remainder of the path (possibly empty, slashes included). Matching works on
// RAW (percent-encoded) segments, so "a%2Fb" is one segment; captured values are decoded.
// Where several patterns match, literals beat parameters, parameters beat rest parameters,
// decided segment by segment from the left. Matching is a walk down a tree of segments: no
// regular expressions, no allocation except for the captured values.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "http/message.h"

namespace promptops::http {

// A request handler. Runs on a network thread (or, for blocking routes, on the server's
// blocking pool); must be thread-safe, as several requests run it concurrently. Expected
// failures are returned as Response::FromError; an exception becomes a 500 "internal" response.
using Handler = std::function<Response(Request&)>;

// A coroutine route (a handler returning asio::awaitable<Response>, possibly streaming). Defined
// in http/async.h, which names Asio types; this header only passes it around.
struct AsyncRoute;

struct RouteOptions {
  // The handler may block on disk I/O (SQLite writes) or locks: the server runs it on a small
  // separate thread pool, never on a network thread.
  bool blocking = false;
};

class Router {
 public:
  Router();
  ~Router();
  Router(Router&&) noexcept;
  Router& operator=(Router&&) noexcept;

  // Adds a route. `method` is upper case ("GET"); a GET route also answers HEAD unless a HEAD
  // route is added for the same pattern. Throws std::invalid_argument for a malformed pattern
  // (not starting with '/', "{}" or an unclosed brace, a rest parameter not last) or a
  // duplicate (method, pattern): routes are configuration, so mistakes fail at start-up.
  void Add(std::string method, std::string pattern, Handler h, RouteOptions o = {});

  // Adds a coroutine route; same pattern rules, HEAD fallback and errors as Add. Called by
  // AddAsyncRoute (http/async.h), which most code should use instead.
  void AddAsync(std::string method, std::string pattern, std::shared_ptr<const AsyncRoute> route);

  // Exactly one of `handler` and `async` is set. Both are owned by the router and valid while
  // it lives.
  struct Match {
    const Handler* handler = nullptr;  // a plain route (Add)
    RouteOptions options;
    const AsyncRoute* async = nullptr;  // a coroutine route (AddAsync); run by the server
  };

  // Finds the route for req.method and req.path and fills req.path_params (decoded).
  // Errors: NotFound if no pattern matches the path; MethodNotAllowed if patterns match but
  // none for this method, and then *allow (if given) receives the allowed methods, e.g.
  // "GET, HEAD, POST", for the Allow header; InvalidArgument if a captured segment has a
  // malformed percent escape.
  Result<Match> Find(Request& req, std::string* allow = nullptr) const;

  struct Node;  // implementation detail (router.cc)

 private:
  void AddRoute(std::string method, std::string_view pattern, Handler h, RouteOptions o,
                std::shared_ptr<const AsyncRoute> async);

  std::unique_ptr<Node> root_;
};

}  // namespace promptops::http
