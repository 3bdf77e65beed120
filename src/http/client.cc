#include "http/client.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

namespace promptops::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

struct Url {
  std::string host;         // without brackets
  std::string port;         // digits
  std::string host_header;  // "host", "host:port" or "[::1]:port"
  std::string target;       // "/path?query"
};

Result<Url> ParseUrl(std::string_view url) {
  if (url.starts_with("https://")) return Error::InvalidArgument("https is not supported yet");
  if (!url.starts_with("http://")) {
    return Error::InvalidArgument("unsupported URL (expected http://host:port/path): " +
                                  std::string(url));
  }
  std::string_view rest = url.substr(7);
  std::size_t end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  std::string_view target = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  if (std::size_t hash = target.find('#'); hash != std::string_view::npos) {
    target = target.substr(0, hash);
  }
  Url u;
  u.target = target.empty() || target[0] != '/' ? "/" + std::string(target) : std::string(target);
  std::string_view port;
  if (authority.starts_with("[")) {
    std::size_t close = authority.find(']');
    if (close == std::string_view::npos)
      return Error::InvalidArgument("malformed URL host: " + std::string(url));
    u.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return Error::InvalidArgument("malformed URL host: " + std::string(url));
      port = after.substr(1);
    }
  } else {
    std::size_t colon = authority.rfind(':');
    u.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (u.host.empty()) return Error::InvalidArgument("URL has no host: " + std::string(url));
  if (port.empty()) {
    u.port = "80";
  } else {
    if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos ||
        std::stoi(std::string(port)) > 65535) {
      return Error::InvalidArgument("malformed URL port: " + std::string(url));
    }
    u.port = std::string(port);
  }
  std::string host = u.host.find(':') != std::string::npos ? "[" + u.host + "]" : u.host;
  u.host_header = u.port == "80" ? host : host + ":" + u.port;
  return u;
}

asio::awaitable<void> Exchange(const Url& u, bhttp::request<bhttp::string_body>& req,
                               std::size_t max_body, std::optional<Result<ClientResponse>>& out) {
  auto executor = co_await asio::this_coro::executor;
  std::string where = u.host + ":" + u.port;
  tcp::resolver resolver(executor);
  auto [resolve_ec, endpoints] = co_await resolver.async_resolve(u.host, u.port, kTuple);
  if (resolve_ec) {
    out = Error::Unavailable("cannot connect to " + where + ": " + resolve_ec.message());
    co_return;
  }
  beast::tcp_stream stream(executor);
  auto [connect_ec, ep] = co_await stream.async_connect(endpoints, kTuple);
  if (connect_ec) {
    out = Error::Unavailable("cannot connect to " + where + ": " + connect_ec.message());
    co_return;
  }
  auto [write_ec, wn] = co_await bhttp::async_write(stream, req, kTuple);
  if (write_ec) {
    out = Error::Unavailable("connection to " + where + " failed: " + write_ec.message());
    co_return;
  }
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.header_limit(64 * 1024);
  parser.body_limit(max_body);
  if (req.method() == bhttp::verb::head) parser.skip(true);
  auto [read_ec, rn] = co_await bhttp::async_read(stream, buffer, parser, kTuple);
  if (read_ec) {
    bool protocol =
        read_ec.category() == bhttp::make_error_code(bhttp::error::bad_version).category() &&
        read_ec != bhttp::error::end_of_stream && read_ec != bhttp::error::partial_message;
    if (protocol) {
      out =
          Error{ErrorCode::kUpstreamError, "bad response from " + where + ": " + read_ec.message()};
    } else {
      out = Error::Unavailable("connection to " + where + " failed: " + read_ec.message());
    }
    co_return;
  }
  auto& msg = parser.get();
  ClientResponse res;
  res.status = static_cast<int>(msg.result_int());
  for (const auto& field : msg) {
    res.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  res.body = std::move(msg.body());
  beast::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  out = std::move(res);
}

}  // namespace

std::optional<std::string_view> ClientResponse::Header(std::string_view name) const {
  return FindHeader(headers, name);
}

Result<ClientResponse> Fetch(std::string_view method, std::string_view url, const Headers& headers,
                             std::string_view body, FetchOptions o) {
  PO_ASSIGN_OR_RETURN(Url u, ParseUrl(url));
  if (method.empty()) return Error::InvalidArgument("empty HTTP method");

  bhttp::request<bhttp::string_body> req;
  req.version(11);
  bhttp::verb verb = bhttp::string_to_verb(method);
  if (verb == bhttp::verb::unknown) {
    req.method_string(method);
  } else {
    req.method(verb);
  }
  req.target(u.target);
  req.set(bhttp::field::host, u.host_header);
  req.set(bhttp::field::user_agent, "promptops-cli");
  for (const auto& [name, value] : headers) {
    if (EqualsIgnoreCase(name, "host") || EqualsIgnoreCase(name, "user-agent")) {
      req.set(name, value);
    } else if (!IsFramingHeader(name)) {
      req.insert(name, value);
    }
  }
  req.keep_alive(false);
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    req.body() = std::string(body);
    req.content_length(body.size());
  }

  // Declared before the io_context: coroutine frames destroyed with it refer to these.
  std::optional<Result<ClientResponse>> out;
  asio::io_context ioc(1);
  asio::co_spawn(ioc, Exchange(u, req, o.max_body_bytes, out), [&out](const std::exception_ptr& e) {
    if (!e || out) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      out = Error::Internal(std::string("http client failed: ") + ex.what());
    }
  });
  ioc.run_for(o.timeout);
  if (!out) {
    return Error{ErrorCode::kTimeout, "request to " + u.host + ":" + u.port + " timed out after " +
                                          std::to_string(o.timeout.count()) + " ms"};
  }
  return std::move(*out);
}

}  // namespace promptops::http
