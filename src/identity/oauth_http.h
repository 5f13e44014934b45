// One HTTP exchange for the OAuth client: metadata GETs, form POSTs to
// token and registration endpoints, and the headless "browser" step of the
// probe. No redirects are followed (a caller that wants them follows
// Location itself, validating each hop), bodies are capped, and only http
// and https URLs are accepted. Blocking; thread-safe (no shared state).
#pragma once
#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "core/json.h"
#include "core/result.h"

namespace portcullis::identity {

struct HttpExchange {
  std::string method = "GET";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string content_type;  // for a body
  std::chrono::milliseconds timeout{10000};
  size_t max_body = 1024 * 1024;
};

struct HttpReply {
  int status = 0;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // First header named `name` (case-insensitive), "" when absent.
  std::string header(std::string_view name) const;
  // The body as a JSON object, or nullopt.
  std::optional<Json> json_object() const;
};

// Fails only when no HTTP answer was had (bad URL, connection, timeout,
// body over the cap); any status is a reply.
Result<HttpReply> http_exchange(const HttpExchange& x);

// True for an absolute http(s) URL with a host (what authorization,
// redirect and metadata URLs must be).
bool is_http_url(std::string_view url);
// True for an https URL, or an http URL whose host is a loopback name
// (localhost, 127.0.0.1, [::1]): MCP requires authorization server
// endpoints over HTTPS and redirect URIs on HTTPS or localhost.
bool is_https_or_loopback(std::string_view url);

}  // namespace portcullis::identity
