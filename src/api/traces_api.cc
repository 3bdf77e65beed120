#include "api/traces_api.h"

#include <charconv>

#include "api/request_util.h"
#include "core/json.h"

namespace promptops::api {

namespace bj = boost::json;
using http::Request;
using http::Response;

namespace {

constexpr std::int64_t kMaxPageSize = 500;
constexpr std::int64_t kDefaultExportLimit = 10000;
constexpr std::int64_t kMaxExportLimit = 100000;

Result<std::optional<std::int64_t>> QueryTimeMs(const Request& req, std::string_view name) {
  auto q = req.Query(name);
  if (!q) return std::optional<std::int64_t>();
  auto t = ParseRfc3339(*q);
  if (!t) {
    return Error::InvalidArgument("query parameter '" + std::string(name) +
                                  "' must be an RFC 3339 time, e.g. 2026-01-31T12:00:00Z");
  }
  return std::optional<std::int64_t>(ToUnixMillis(*t));
}

// from, to, prompt, version, model, status (a number or "error"), error_class, user.
Result<store::TraceFilter> FilterFromQuery(const Request& req) {
  store::TraceFilter f;
  PO_ASSIGN_OR_RETURN(f.from_ms, QueryTimeMs(req, "from"));
  PO_ASSIGN_OR_RETURN(f.to_ms, QueryTimeMs(req, "to"));
  f.prompt = req.Query("prompt");
  PO_ASSIGN_OR_RETURN(f.version, QueryInt(req, "version"));
  f.model = req.Query("model");
  if (auto status = req.Query("status")) {
    if (*status == "error") {
      f.errors_only = true;
    } else {
      std::int64_t v = 0;
      auto [ptr, ec] = std::from_chars(status->data(), status->data() + status->size(), v);
      if (ec != std::errc() || ptr != status->data() + status->size() || v < 100 || v > 599) {
        return Error::InvalidArgument(
            "query parameter 'status' must be an HTTP status (100-599) or \"error\"");
      }
      f.status = v;
    }
  }
  f.error_class = req.Query("error_class");
  f.user = req.Query("user");
  return f;
}

// Compares without an early exit on the first differing byte (no timing hint about the token).
bool EqualConstantTime(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  }
  return diff == 0;
}

class TracesApi : public std::enable_shared_from_this<TracesApi> {
 public:
  TracesApi(ApiContext& ctx, telemetry::Telemetry& t, TraceRoutesOptions o)
      : ctx_(ctx), service_(t.service()), metrics_(t.metrics()), options_(std::move(o)) {}

  void Register(http::Router& r) {
    const http::RouteOptions blocking{.blocking = true};
    auto bind = [self = shared_from_this()](Response (TracesApi::*fn)(Request&, const Actor&)) {
      return [self, fn](Request& req) {
        auto actor = Authenticate(req, self->ctx_.keys);
        if (!actor.ok()) return Response::FromError(actor.error());
        return ((*self).*fn)(req, *actor);
      };
    };
    r.Add("GET", "/api/v1/traces", bind(&TracesApi::List), blocking);
    r.Add("DELETE", "/api/v1/traces", bind(&TracesApi::Delete), blocking);
    r.Add("GET", "/api/v1/traces/export", bind(&TracesApi::Export), blocking);
    r.Add("GET", "/api/v1/traces/{id}", bind(&TracesApi::Get), blocking);
    r.Add("POST", "/api/v1/traces/{id}/feedback", bind(&TracesApi::Feedback), blocking);
    r.Add("GET", "/api/v1/feedback/summary", bind(&TracesApi::Summary), blocking);
    r.Add("GET", "/metrics",
          [self = shared_from_this()](Request& req) { return self->Metrics(req); });
  }

 private:
  Response List(Request& req, const Actor& a) {
    return Handle([&]() -> Result<Response> {
      PO_ASSIGN_OR_RETURN(auto filter, FilterFromQuery(req));
      PO_ASSIGN_OR_RETURN(auto limit, QueryInt(req, "limit", 1, kMaxPageSize));
      PO_ASSIGN_OR_RETURN(auto offset, QueryInt(req, "offset", 0));
      std::size_t lim = static_cast<std::size_t>(limit.value_or(50));
      std::size_t off = static_cast<std::size_t>(offset.value_or(0));
      PO_ASSIGN_OR_RETURN(auto page, service_.List(a, filter, off, lim));
      bj::array data;
      for (const auto& row : page.rows) data.push_back(telemetry::TraceJson(row, false));
      bj::object o;
      o["data"] = std::move(data);
      o["total"] = page.total;
      o["offset"] = off;
      o["limit"] = lim;
      return JsonResponse(200, o);
    });
  }

  Response Export(Request& req, const Actor& a) {
    return Handle([&]() -> Result<Response> {
      PO_ASSIGN_OR_RETURN(auto filter, FilterFromQuery(req));
      PO_ASSIGN_OR_RETURN(auto limit, QueryInt(req, "limit", 1, kMaxExportLimit));
      std::size_t max = static_cast<std::size_t>(limit.value_or(kDefaultExportLimit));
      std::string body;
      std::size_t lines = 0;
      PO_ASSIGN_OR_RETURN(std::size_t total,
                          service_.Export(a, filter, max, [&](const store::TraceRow& row) {
                            body += bj::serialize(telemetry::TraceJson(row, true));
                            body += '\n';
                            ++lines;
                          }));
      Response r = Response::Text(200, std::move(body), "application/x-ndjson");
      r.headers.emplace_back("x-promptops-total", std::to_string(total));
      if (total > lines) r.headers.emplace_back("x-promptops-truncated", "true");
      return r;
    });
  }

  Response Get(Request& req, const Actor& a) {
    return Handle([&]() -> Result<Response> {
      PO_ASSIGN_OR_RETURN(auto d, service_.Get(a, req.Param("id")));
      bj::object o = telemetry::TraceJson(d.trace, true);
      bj::array fb;
      for (const auto& f : d.feedback) fb.push_back(telemetry::FeedbackJson(f));
      o["feedback"] = std::move(fb);
      return JsonResponse(200, o);
    });
  }

  Response Delete(Request& req, const Actor& a) {
    return Handle([&]() -> Result<Response> {
      PO_ASSIGN_OR_RETURN(auto days, QueryInt(req, "older_than_days", 0, 365000));
      if (!days) {
        return Error::InvalidArgument(
            "query parameter 'older_than_days' is required (0 deletes every trace)");
      }
      PO_ASSIGN_OR_RETURN(auto deleted, service_.DeleteOlderThan(a, *days));
      return JsonResponse(200, bj::object{{"deleted", deleted}});
    });
  }

  Response Feedback(Request& req, const Actor& a) {
    return Handle([&]() -> Result<Response> {
      PO_ASSIGN_OR_RETURN(bj::object body, JsonBody(req));
      PO_ASSIGN_OR_RETURN(auto in, telemetry::ParseFeedback(body));
      PO_ASSIGN_OR_RETURN(auto row, service_.AddFeedback(a, req.Param("id"), in));
      return JsonResponse(201, telemetry::FeedbackJson(row));
    });
  }

  Response Summary(Request& req, const Actor& a) {
    return Handle([&]() -> Result<Response> {
      store::FeedbackSummaryFilter f;
      f.prompt = req.Query("prompt");
      PO_ASSIGN_OR_RETURN(f.version, QueryInt(req, "version"));
      f.model = req.Query("model");
      PO_ASSIGN_OR_RETURN(auto rows, service_.SummarizeFeedback(a, f));
      bj::array data;
      for (const auto& row : rows) data.push_back(telemetry::FeedbackSummaryJson(row));
      return JsonResponse(200, bj::object{{"data", std::move(data)}});
    });
  }

  Response Metrics(Request& req) {
    if (!options_.metrics_bearer_token.empty()) {
      auto auth = req.Header("authorization");
      if (!auth || !EqualConstantTime(*auth, "Bearer " + options_.metrics_bearer_token)) {
        return Response::FromError(
            Error::Unauthenticated("GET /metrics needs 'Authorization: Bearer <metrics token>'"));
      }
    }
    return Response::Text(200, metrics_.Expose(), "text/plain; version=0.0.4; charset=utf-8");
  }

  ApiContext& ctx_;
  telemetry::TraceService& service_;
  telemetry::Metrics& metrics_;
  TraceRoutesOptions options_;
};

}  // namespace

void AddTraceRoutes(http::Router& router, ApiContext& ctx, telemetry::Telemetry& telemetry,
                    TraceRoutesOptions options) {
  std::make_shared<TracesApi>(ctx, telemetry, std::move(options))->Register(router);
}

}  // namespace promptops::api
