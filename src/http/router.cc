#include "http/router.h"

#include <algorithm>
#include <functional>
#include <map>
#include <stdexcept>
#include <unordered_map>

#include "core/hash.h"

namespace promptops::http {

struct Router::Node {
  struct Route {
    std::string method;
    Handler handler;  // empty for an async route
    RouteOptions options;
    std::shared_ptr<const AsyncRoute> async;
    std::vector<std::string> param_names;  // in capture order, for this route's pattern
  };
  std::map<std::string, std::unique_ptr<Node>, std::less<>> literals;
  std::unique_ptr<Node> param;  // "{name}"
  std::unique_ptr<Node> rest;   // "{name...}": terminal
  std::vector<Route> routes;
  // In the root only: the node of every pattern made of literal segments alone, by its path.
  // A path equal to such a pattern is matched by it before anything else (literals beat
  // parameters at every segment), so Find looks it up here first.
  std::unordered_map<std::string, const Node*, StringHash, std::equal_to<>> exact;
};

namespace {

enum class SegmentKind { kLiteral, kParam, kRest };

struct PatternSegment {
  SegmentKind kind;
  std::string text;  // literal text or parameter name
};

std::vector<PatternSegment> ParsePattern(std::string_view pattern) {
  if (pattern.empty() || pattern[0] != '/') {
    throw std::invalid_argument("route pattern must start with '/': " + std::string(pattern));
  }
  std::vector<PatternSegment> out;
  std::string_view rest = pattern.substr(1);
  while (true) {
    std::size_t slash = rest.find('/');
    std::string_view seg = rest.substr(0, slash);
    if (!out.empty() && out.back().kind == SegmentKind::kRest) {
      throw std::invalid_argument("rest parameter must be last: " + std::string(pattern));
    }
    if (!seg.empty() && seg.front() == '{') {
      if (seg.back() != '}' || seg.size() < 3) {
        throw std::invalid_argument("malformed parameter in pattern: " + std::string(pattern));
      }
      std::string_view name = seg.substr(1, seg.size() - 2);
      if (name.size() > 3 && name.substr(name.size() - 3) == "...") {
        out.push_back({SegmentKind::kRest, std::string(name.substr(0, name.size() - 3))});
      } else {
        out.push_back({SegmentKind::kParam, std::string(name)});
      }
      if (out.back().text.find_first_of("{}./") != std::string::npos) {
        throw std::invalid_argument("malformed parameter in pattern: " + std::string(pattern));
      }
    } else {
      if (seg.find_first_of("{}") != std::string_view::npos) {
        throw std::invalid_argument("braces must enclose a whole segment: " + std::string(pattern));
      }
      out.push_back({SegmentKind::kLiteral, std::string(seg)});
    }
    if (slash == std::string_view::npos) break;
    rest = rest.substr(slash + 1);
  }
  return out;
}

// The state of one Find: the path still to match and the raw captures so far.
struct Walk {
  const std::string& method;
  std::vector<std::string_view> captures;  // raw
  // The first path-matching node (for Allow) when no route has the method.
  const Router::Node* path_match = nullptr;
};

}  // namespace

Router::Router() : root_(std::make_unique<Node>()) {}
Router::~Router() = default;
Router::Router(Router&&) noexcept = default;
Router& Router::operator=(Router&&) noexcept = default;

void Router::Add(std::string method,
                 std::string pattern,  // NOLINT(performance-unnecessary-value-param)
                 Handler h, RouteOptions o) {
  AddRoute(std::move(method), pattern, std::move(h), o, nullptr);
}

void Router::AddAsync(std::string method,
                      std::string pattern,  // NOLINT(performance-unnecessary-value-param)
                      std::shared_ptr<const AsyncRoute> route) {
  if (!route) throw std::invalid_argument("null async route: " + pattern);
  AddRoute(std::move(method), pattern, {}, {}, std::move(route));
}

void Router::AddRoute(std::string method, std::string_view pattern, Handler h, RouteOptions o,
                      std::shared_ptr<const AsyncRoute> async) {
  std::vector<PatternSegment> segments = ParsePattern(pattern);
  Node* node = root_.get();
  std::vector<std::string> names;
  for (const auto& seg : segments) {
    std::unique_ptr<Node>* next = nullptr;
    switch (seg.kind) {
      case SegmentKind::kLiteral:
        next = &node->literals[seg.text];
        break;
      case SegmentKind::kParam:
        next = &node->param;
        names.push_back(seg.text);
        break;
      case SegmentKind::kRest:
        next = &node->rest;
        names.push_back(seg.text);
        break;
    }
    if (!*next) *next = std::make_unique<Node>();
    node = next->get();
  }
  for (const auto& r : node->routes) {
    if (r.method == method) {
      throw std::invalid_argument(
          std::string("duplicate route: ").append(method).append(" ").append(pattern));
    }
  }
  node->routes.push_back({std::move(method), std::move(h), o, std::move(async), std::move(names)});
  bool literal_only = std::all_of(segments.begin(), segments.end(), [](const PatternSegment& s) {
    return s.kind == SegmentKind::kLiteral;
  });
  if (literal_only) root_->exact.emplace(std::string(pattern), node);
}

namespace {

// Finds the route for `method` on `node` (GET also serves HEAD when no HEAD route exists).
const Router::Node::Route* RouteFor(const Router::Node& node, std::string_view method) {
  const Router::Node::Route* get = nullptr;
  for (const auto& r : node.routes) {
    if (r.method == method) return &r;
    if (r.method == "GET") get = &r;
  }
  return method == "HEAD" ? get : nullptr;
}

// Depth-first search in priority order (literal, parameter, rest). `path` is the raw path
// after the segment that led to `node`; it is empty at the end or starts with '/'.
const Router::Node::Route* Search(const Router::Node& node, std::string_view path, bool at_end,
                                  Walk& walk) {
  if (at_end) {
    if (node.routes.empty()) return nullptr;
    if (const auto* r = RouteFor(node, walk.method)) return r;
    if (!walk.path_match) walk.path_match = &node;
    return nullptr;
  }
  // path starts with '/': the next segment runs to the following '/'.
  std::string_view after = path.substr(1);
  std::size_t slash = after.find('/');
  std::string_view seg = after.substr(0, slash);
  std::string_view remaining =
      slash == std::string_view::npos ? std::string_view() : after.substr(slash);
  bool last = slash == std::string_view::npos;

  if (auto it = node.literals.find(seg); it != node.literals.end()) {
    if (const auto* r = Search(*it->second, remaining, last, walk)) return r;
  }
  if (node.param && !seg.empty()) {
    walk.captures.push_back(seg);
    if (const auto* r = Search(*node.param, remaining, last, walk)) return r;
    walk.captures.pop_back();
  }
  if (node.rest) {
    walk.captures.push_back(after);
    if (const auto* r = Search(*node.rest, {}, true, walk)) return r;
    walk.captures.pop_back();
  }
  return nullptr;
}

Router::Match MatchOf(const Router::Node::Route& r) {
  if (r.async) return Router::Match{nullptr, r.options, r.async.get()};
  return Router::Match{&r.handler, r.options, nullptr};
}

std::string AllowList(const Router::Node& node) {
  std::vector<std::string> methods;
  bool has_get = false, has_head = false;
  for (const auto& r : node.routes) {
    methods.push_back(r.method);
    has_get |= r.method == "GET";
    has_head |= r.method == "HEAD";
  }
  if (has_get && !has_head) methods.push_back("HEAD");
  std::sort(methods.begin(), methods.end());
  std::string out;
  for (const auto& m : methods) {
    if (!out.empty()) out += ", ";
    out += m;
  }
  return out;
}

}  // namespace

Result<Router::Match> Router::Find(Request& req, std::string* allow) const {
  std::string_view path = req.path;
  if (path.empty() || path[0] != '/') return Error::NotFound("no route for " + req.path);
  if (auto it = root_->exact.find(path); it != root_->exact.end()) {
    if (const auto* r = RouteFor(*it->second, req.method)) {
      req.path_params.clear();
      return MatchOf(*r);
    }
  }
  Walk walk{req.method, {}, nullptr};
  const Node::Route* route = Search(*root_, path, false, walk);
  if (!route) {
    if (walk.path_match) {
      if (allow) *allow = AllowList(*walk.path_match);
      return Error{ErrorCode::kMethodNotAllowed,
                   "method " + req.method + " is not allowed for " + req.path};
    }
    return Error::NotFound("no route for " + req.path);
  }
  req.path_params.clear();
  req.path_params.reserve(walk.captures.size());
  for (std::size_t i = 0; i < walk.captures.size(); ++i) {
    auto decoded = UrlDecode(walk.captures[i], false);
    if (!decoded) {
      return Error::InvalidArgument("malformed percent-encoding in path parameter '" +
                                    route->param_names[i] + "'");
    }
    req.path_params.emplace_back(route->param_names[i], std::move(*decoded));
  }
  return MatchOf(*route);
}

}  // namespace promptops::http
