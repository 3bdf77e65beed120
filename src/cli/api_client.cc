#include "cli/api_client.h"

#include "core/json.h"
#include "http/client.h"
#include "http/message.h"

namespace promptops::cli {

namespace bj = boost::json;

ApiClient::ApiClient(std::string base_url, std::string key)
    : base_url_(std::move(base_url)), key_(std::move(key)) {
  while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
}

Result<ApiClient::Raw> ApiClient::Send(std::string_view method, std::string_view path,
                                       std::string_view body) const {
  http::Headers headers;
  headers.emplace_back("Accept", "application/json");
  if (!body.empty()) headers.emplace_back("Content-Type", "application/json");
  if (!key_.empty()) headers.emplace_back("Authorization", "Bearer " + key_);
  auto r = http::Fetch(method, base_url_ + std::string(path), headers, body);
  if (!r.ok()) {
    Error e = r.error();
    if (e.code == ErrorCode::kUnavailable) {
      e.message +=
          " (is the server running? set --server or PROMPTOPS_URL; using " + base_url_ + ")";
    }
    return e;
  }
  if (r->status >= 200 && r->status < 300) return Raw{r->status, std::move(r->body)};

  // An error response: the API's {"error":{"code","message"}} when there is one.
  ErrorCode code = ErrorCodeForHttpStatus(r->status);
  std::string message;
  if (auto parsed = json::ParseObject(r->body); parsed.ok()) {
    if (auto* err = parsed->if_contains("error"); err && err->is_object()) {
      const auto& eo = err->as_object();
      if (auto* c = eo.if_contains("code"); c && c->is_string()) {
        if (auto known = ErrorCodeFromName(c->as_string())) code = *known;
      }
      if (auto* m = eo.if_contains("message"); m && m->is_string()) message = m->as_string();
    }
  }
  if (message.empty()) {
    message = "server answered HTTP " + std::to_string(r->status);
    std::string_view snippet(r->body);
    if (!snippet.empty()) message += ": " + std::string(snippet.substr(0, 200));
  }
  return Error{code, std::move(message)};
}

Result<bj::value> ApiClient::Call(std::string_view method, std::string_view path,
                                  const bj::value& body) const {
  std::string text = body.is_null() ? std::string() : json::Serialize(body);
  PO_ASSIGN_OR_RETURN(Raw raw, Send(method, path, text));
  if (raw.body.empty()) return bj::value(nullptr);
  auto parsed = json::Parse(raw.body);
  if (!parsed.ok()) {
    return Error{ErrorCode::kUpstreamError,
                 "server sent a response that is not JSON: " + parsed.error().message};
  }
  return std::move(parsed).value();
}

Result<std::string> ApiClient::CallText(std::string_view method, std::string_view path) const {
  PO_ASSIGN_OR_RETURN(Raw raw, Send(method, path, {}));
  return std::move(raw.body);
}

std::string PromptPath(std::string_view name, std::string_view suffix) {
  std::string p = "/api/v1/prompts/" + http::UrlEncode(name);
  p += suffix;
  return p;
}

void AddQuery(std::string& path, std::string_view key, std::string_view value) {
  path += path.find('?') == std::string::npos ? '?' : '&';
  path += http::UrlEncode(key);
  path += '=';
  path += http::UrlEncode(value);
}

}  // namespace promptops::cli
