#include "identity/oauth_http.h"

#include <httplib.h>

#include "core/text.h"
#include "transport/http_common.h"

namespace portcullis::identity {

std::string HttpReply::header(std::string_view name) const {
  std::string want = text::to_lower(name);
  for (const auto& [k, v] : headers) {
    if (text::to_lower(k) == want) return v;
  }
  return {};
}

std::optional<Json> HttpReply::json_object() const {
  Json j = Json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  return j;
}

bool is_http_url(std::string_view url) {
  auto u = transport::detail::parse_url(url);
  return u.ok() && !u->host.empty();
}

bool is_https_or_loopback(std::string_view url) {
  auto u = transport::detail::parse_url(url);
  if (!u.ok()) return false;
  if (u->scheme == "https") return true;
  std::string host = text::to_lower(u->host);
  return host == "localhost" || host == "127.0.0.1" || host == "[::1]";
}

Result<HttpReply> http_exchange(const HttpExchange& x) {
  auto url = transport::detail::parse_url(x.url);
  if (!url.ok()) return fail(url.error());
  httplib::Client cli(url->origin());
  cli.set_follow_location(false);
  cli.set_connection_timeout(x.timeout);
  cli.set_read_timeout(x.timeout);
  cli.set_write_timeout(x.timeout);
  httplib::Request req;
  req.method = x.method;
  req.path = url->target;
  for (const auto& [k, v] : x.headers) req.headers.emplace(k, v);
  if (!req.has_header("Accept")) req.headers.emplace("Accept", "application/json");
  if (!x.body.empty() || x.method == "POST") {
    req.body = x.body;
    req.headers.emplace("Content-Type", x.content_type.empty() ? "application/octet-stream" : x.content_type);
  }
  HttpReply reply;
  bool too_big = false;
  req.response_handler = [&](const httplib::Response& r) {
    reply.status = r.status;
    for (const auto& [k, v] : r.headers) reply.headers.emplace_back(k, v);
    return true;
  };
  req.content_receiver = [&](const char* d, size_t n, uint64_t, uint64_t) {
    if (reply.body.size() + n > x.max_body) {
      too_big = true;
      return false;
    }
    reply.body.append(d, n);
    return true;
  };
  httplib::Response res;
  httplib::Error err = httplib::Error::Success;
  bool ok = cli.send(req, res, err);
  if (too_big) return fail(x.method + " " + x.url + ": response body exceeds " + std::to_string(x.max_body) + " bytes");
  if (!ok) return fail(x.method + " " + x.url + " failed: " + transport::detail::describe_error(err));
  return reply;
}

}  // namespace portcullis::identity
