#include "identity/upstream_probe.h"

#include <httplib.h>

#include <condition_variable>
#include <iostream>
#include <mutex>
#include <thread>

#include "core/crypto.h"
#include "core/jsonrpc.h"
#include "core/text.h"
#include "identity/oauth_client.h"
#include "identity/oauth_http.h"
#include "identity/oauth_wire.h"
#include "transport/http_common.h"

namespace portcullis::identity {

namespace {

using namespace std::chrono_literals;
constexpr const char* kUserKey = "probe";
constexpr const char* kUpstream = "probe";
constexpr int kMaxRedirects = 10;

// The loopback listener authorization servers redirect to.
class LoopbackCallback {
 public:
  Result<std::string> start() {
    port_ = server_.bind_to_any_port("127.0.0.1");
    if (port_ <= 0) return fail("cannot listen on 127.0.0.1 for the OAuth callback");
    server_.Get("/callback", [this](const httplib::Request& req, httplib::Response& res) {
      std::string target = req.target;
      {
        std::lock_guard lock(mu_);
        query_ = std::string(query_of(target));
        got_ = true;
      }
      cv_.notify_all();
      res.set_content("Portcullis received the authorization response; you can close this window.\n", "text/plain");
    });
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    return redirect_uri();
  }
  ~LoopbackCallback() {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }
  std::string redirect_uri() const { return "http://127.0.0.1:" + std::to_string(port_) + "/callback"; }
  // The next callback's query string, consumed; nullopt on timeout.
  std::optional<std::string> wait(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, timeout, [&] { return got_; })) return std::nullopt;
    got_ = false;
    return query_;
  }

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  bool got_ = false;
  std::string query_;
};

// One POST's outcome.
struct McpReply {
  int status = 0;
  std::optional<Json> response;  // the JSON-RPC response to the request, if any
  std::string www_authenticate;
  std::string body_excerpt;
};

class ProbeSession {
 public:
  ProbeSession(const ProbeOptions& o, OAuthClient& oauth, LoopbackCallback& cb, std::ostream& err)
      : o_(o), oauth_(oauth), callback_(cb), err_(err) {}

  bool modern() const { return o_.protocol_version == "2026-07-28"; }

  // Sends a request (or a notification when `notification`), authorizing as
  // the server demands. Returns the JSON-RPC response (null for a notification).
  Result<Json> request(const std::string& method, Json params, bool notification = false) {
    bool refreshed = false;
    for (;;) {
      auto r = post(method, params, notification);
      if (!r.ok()) return fail(r.error());
      if (r->status == 401 || (r->status == 403 && is_insufficient_scope(r->www_authenticate))) {
        auto challenge = parse_bearer_challenge(r->www_authenticate);
        BearerChallenge ch = challenge.value_or(BearerChallenge{});
        if (r->status == 401 && have_token_ && !refreshed) {
          refreshed = true;
          auto c = oauth_.refresh(kUserKey, kUpstream);
          if (c.ok()) {
            token_ = c->access_token;
            err_ << "probe: the server refused the token; refreshed it\n";
            continue;
          }
          err_ << "probe: " << c.error() << "\n";
        }
        if (authorizations_ >= o_.max_authorizations) {
          return fail(method + ": the server still answers HTTP " + std::to_string(r->status) +
                      (ch.error.empty() ? "" : " (" + ch.error + ")") + " after " + std::to_string(authorizations_) +
                      " authorization(s); giving up");
        }
        std::vector<std::string> previous = r->status == 403 ? scopes_ : std::vector<std::string>{};
        if (auto a = authorize(challenge ? &ch : nullptr, previous); !a.ok()) return fail(a.error());
        continue;
      }
      if (r->status == 202 || r->status == 204) return Json();
      if (r->status < 200 || r->status >= 300) {
        if (r->response) return *r->response;  // a JSON-RPC error in an HTTP error (2026-07-28)
        return fail(method + ": HTTP " + std::to_string(r->status) +
                    (r->body_excerpt.empty() ? "" : ": " + r->body_excerpt));
      }
      if (notification) return Json();
      if (!r->response) return fail(method + ": the server sent no response");
      return *r->response;
    }
  }

  void end() {
    if (session_id_.empty()) return;
    auto url = transport::detail::parse_url(o_.url);
    if (!url.ok()) return;
    httplib::Client cli(url->origin());
    cli.set_connection_timeout(2s);
    cli.set_read_timeout(2s);
    httplib::Headers h = {{"Mcp-Session-Id", session_id_}};
    if (!protocol_version_.empty()) h.emplace("MCP-Protocol-Version", protocol_version_);
    if (have_token_) h.emplace("Authorization", "Bearer " + token_);
    (void)cli.Delete(url->target, h);
  }

  void set_protocol_version(std::string v) { protocol_version_ = std::move(v); }

 private:
  static bool is_insufficient_scope(const std::string& www) {
    auto c = parse_bearer_challenge(www);
    return c && c->insufficient_scope();
  }

  Result<void> authorize(const BearerChallenge* challenge, const std::vector<std::string>& previous) {
    ++authorizations_;
    auto pending = oauth_.begin_authorization(kUserKey, kUpstream, o_.url, challenge, previous);
    if (!pending.ok()) return fail("authorization failed: " + pending.error());
    err_ << "probe: authorizing at " << pending->issuer << " (client " << pending->client.source << " "
         << pending->client.client_id << ", auth " << pending->client.token_endpoint_auth_method << ", resource "
         << pending->resource << ", scope \"" << join_scopes(pending->scopes) << "\")\n";
    scopes_ = pending->scopes;
    auto query = browse(pending->url);
    if (!query.ok()) return fail("authorization failed: " + query.error());
    auto cred = oauth_.complete_authorization(AuthorizationResponse::from_query(*query));
    if (!cred.ok()) return fail("authorization failed: " + cred.error());
    token_ = cred->access_token;
    have_token_ = true;
    if (!cred->scopes.empty()) scopes_ = cred->scopes;
    err_ << "probe: authorized (scopes \"" << join_scopes(cred->scopes) << "\""
         << (cred->refresh_token.empty() ? "" : ", with a refresh token") << ")\n";
    return {};
  }

  // The headless user agent: follows redirects from the authorization URL
  // until one lands on the loopback callback. Every hop must be http(s).
  Result<std::string> browse(const std::string& start) {
    std::string url = start;
    const std::string callback = callback_.redirect_uri();
    for (int hop = 0; hop <= kMaxRedirects; ++hop) {
      if (!is_http_url(url)) return fail("refusing to follow a redirect to a non-http(s) URL");
      HttpExchange x;
      x.url = url;
      x.headers.emplace_back("Accept", "text/html, */*");
      auto r = http_exchange(x);
      if (!r.ok()) return fail(r.error());
      if (text::starts_with(url, callback)) break;  // our own listener has it
      std::string location = r->header("Location");
      if (r->status < 300 || r->status >= 400 || location.empty()) {
        if (o_.browser_wait.count() == 0) {
          return fail("the authorization server answered HTTP " + std::to_string(r->status) + " at " + url +
                      " instead of redirecting back; it needs a person (rerun with --browser-wait and open the URL)");
        }
        err_ << "probe: open this URL in a browser to authorize:\n  " << start << "\n";
        auto q = callback_.wait(o_.browser_wait);
        if (!q) return fail("no authorization response within " + std::to_string(o_.browser_wait.count()) + "s");
        return *q;
      }
      auto base = transport::detail::parse_url(url);
      if (!base.ok()) return fail(base.error());
      auto next = transport::detail::resolve_url(*base, location);
      if (!next.ok()) return fail("bad redirect Location: " + next.error());
      // Keep the host as the server wrote it (resolve_url adds the port).
      url = location.find("://") != std::string::npos ? location : next->str();
      if (hop == kMaxRedirects) return fail("too many redirects during authorization");
    }
    auto q = callback_.wait(5s);
    if (!q) return fail("the authorization response never reached the loopback callback");
    return *q;
  }

  Result<McpReply> post(const std::string& method, Json params, bool notification) {
    auto url = transport::detail::parse_url(o_.url);
    if (!url.ok()) return fail(url.error());
    Json msg = {{"jsonrpc", "2.0"}, {"method", method}};
    Json id = next_id_++;
    if (!notification) msg["id"] = id;
    httplib::Request req;
    req.method = "POST";
    req.path = url->target;
    req.headers.emplace("Content-Type", "application/json");
    req.headers.emplace("Accept", "application/json, text/event-stream");
    if (modern()) {
      if (!params.is_object()) params = Json::object();
      params["_meta"]["io.modelcontextprotocol/protocolVersion"] = o_.protocol_version;
      params["_meta"]["io.modelcontextprotocol/clientCapabilities"] = Json::object();
      params["_meta"]["io.modelcontextprotocol/clientInfo"] = {{"name", "portcullis-probe"}, {"version", "0.1.0"}};
      req.headers.emplace("MCP-Protocol-Version", o_.protocol_version);
      req.headers.emplace("Mcp-Method", method);
      if (method == "tools/call" && params.contains("name") && params["name"].is_string()) {
        req.headers.emplace("Mcp-Name", transport::detail::encode_header_value(params["name"].get<std::string>()));
      }
    } else {
      if (!session_id_.empty()) req.headers.emplace("Mcp-Session-Id", session_id_);
      if (!protocol_version_.empty()) req.headers.emplace("MCP-Protocol-Version", protocol_version_);
    }
    if (have_token_) req.headers.emplace("Authorization", "Bearer " + token_);
    if (!params.is_null()) msg["params"] = params;
    req.body = msg.dump();

    McpReply reply;
    bool sse = false;
    std::string body;
    auto take = [&](Json m) {
      if (m.is_object() && m.contains("id") && m["id"] == id && !m.contains("method")) reply.response = std::move(m);
    };
    text::SseParser parser([&](text::SseParser::Event&& ev) {
      if (ev.data.empty() || ev.event != "message") return;
      Json m = Json::parse(ev.data, nullptr, false);
      if (!m.is_discarded()) take(std::move(m));
    });
    req.response_handler = [&](const httplib::Response& r) {
      reply.status = r.status;
      reply.www_authenticate = r.get_header_value("WWW-Authenticate");
      sse = text::starts_with(text::to_lower(r.get_header_value("Content-Type")), "text/event-stream");
      if (r.has_header("Mcp-Session-Id") && !modern()) session_id_ = r.get_header_value("Mcp-Session-Id");
      return true;
    };
    req.content_receiver = [&](const char* d, size_t n, uint64_t, uint64_t) {
      if (sse) {
        parser.feed(std::string_view(d, n));
        return !reply.response.has_value();  // stop reading once answered
      }
      if (body.size() + n > 16 * 1024 * 1024) return false;
      body.append(d, n);
      return true;
    };
    httplib::Client cli(url->origin());
    cli.set_connection_timeout(10s);
    cli.set_read_timeout(30s);
    httplib::Response res;
    httplib::Error err = httplib::Error::Success;
    bool ok = cli.send(req, res, err);
    if (!ok && !reply.response) {
      return fail("POST " + o_.url + " (" + method + ") failed: " + transport::detail::describe_error(err));
    }
    if (!sse && !body.empty()) {
      Json j = Json::parse(body, nullptr, false);
      if (!j.is_discarded()) {
        if (j.is_array()) {
          for (auto& m : j) take(std::move(m));
        } else {
          take(std::move(j));
        }
      }
      reply.body_excerpt = transport::detail::excerpt(body);
    }
    return reply;
  }

  const ProbeOptions& o_;
  OAuthClient& oauth_;
  LoopbackCallback& callback_;
  std::ostream& err_;
  std::string session_id_, protocol_version_;
  std::string token_;
  bool have_token_ = false;
  std::vector<std::string> scopes_;
  int authorizations_ = 0;
  long long next_id_ = 1;
};

// Arguments for `tool` when none were given: a plain value for each
// required property, by its declared type.
Json default_arguments(const Json& tool) {
  Json args = Json::object();
  const Json* schema = tool.contains("inputSchema") ? &tool["inputSchema"] : nullptr;
  if (!schema || !schema->is_object() || !schema->contains("required") || !(*schema)["required"].is_array()) {
    return args;
  }
  for (const auto& name : (*schema)["required"]) {
    if (!name.is_string()) continue;
    std::string type = "string";
    if (schema->contains("properties") && (*schema)["properties"].contains(name.get<std::string>())) {
      type = (*schema)["properties"][name.get<std::string>()].value("type", "string");
    }
    if (type == "number" || type == "integer") args[name.get<std::string>()] = 1;
    else if (type == "boolean") args[name.get<std::string>()] = false;
    else if (type == "object") args[name.get<std::string>()] = Json::object();
    else if (type == "array") args[name.get<std::string>()] = Json::array();
    else args[name.get<std::string>()] = "test";
  }
  return args;
}

std::string describe_error(const Json& response) {
  const Json& e = response["error"];
  return "error " + std::to_string(e.value("code", 0)) + ": " + e.value("message", std::string("(no message)"));
}

// The text of a tool result, one line per content item.
std::string render_result(const Json& result) {
  std::string out;
  if (result.contains("content") && result["content"].is_array()) {
    for (const auto& c : result["content"]) {
      if (!out.empty()) out += "\n  ";
      if (c.value("type", "") == "text") out += c.value("text", "");
      else out += "[" + c.value("type", std::string("?")) + " content]";
    }
  }
  return out;
}

Result<std::shared_ptr<CredentialVault>> open_vault(const ProbeOptions& o) {
  std::string key;
  if (o.vault_path.empty()) {
    key = crypto::random_bytes(32);
  } else {
    auto k = crypto::from_hex(o.vault_key_hex);
    if (!k || k->size() != 32) return fail("--vault needs a 32-byte key as 64 hex digits (PORTCULLIS_VAULT_KEY)");
    key = *k;
  }
  auto v = CredentialVault::open(o.vault_path.empty() ? ":memory:" : o.vault_path, key);
  if (!v.ok()) return fail(v.error());
  return std::shared_ptr<CredentialVault>(std::move(v).value());
}

}  // namespace

int run_probe(const ProbeOptions& o, std::ostream& out, std::ostream& err) {
  if (!is_http_url(o.url)) {
    err << "probe: \"" << o.url << "\" is not an http(s) URL\n";
    return 2;
  }
  auto vault = open_vault(o);
  if (!vault.ok()) {
    err << "probe: " << vault.error() << "\n";
    return 2;
  }
  LoopbackCallback callback;
  auto redirect = callback.start();
  if (!redirect.ok()) {
    err << "probe: " << redirect.error() << "\n";
    return 1;
  }
  OAuthClientOptions opts;
  opts.redirect_uri = *redirect;
  opts.client_name = "Portcullis probe";
  opts.client_metadata_url = o.client_metadata_url;
  if (!o.client_id.empty()) {
    ClientRegistration pre;
    pre.client_id = o.client_id;
    pre.client_secret = o.client_secret;
    pre.token_endpoint_auth_method = o.client_auth_method;
    opts.preregistered.push_back(std::move(pre));
  }
  OAuthClient oauth(opts, *vault);
  ProbeSession session(o, oauth, callback, err);

  auto step = [&](const std::string& method, Json params) -> std::optional<Json> {
    auto r = session.request(method, std::move(params));
    if (!r.ok()) {
      err << "probe: " << r.error() << "\n";
      return std::nullopt;
    }
    if (r->contains("error")) {
      err << "probe: " << method << " failed: " << describe_error(*r) << "\n";
      return std::nullopt;
    }
    if (!r->contains("result") || !(*r)["result"].is_object()) {
      err << "probe: " << method << ": the response has no result object\n";
      return std::nullopt;
    }
    return (*r)["result"];
  };

  if (!session.modern()) {
    Json init = {{"protocolVersion", o.protocol_version},
                 {"capabilities", Json::object()},
                 {"clientInfo", {{"name", "portcullis-probe"}, {"version", "0.1.0"}}}};
    auto result = step("initialize", init);
    if (!result) return 1;
    std::string version = result->value("protocolVersion", "");
    const Json& info = result->contains("serverInfo") ? (*result)["serverInfo"] : Json::object();
    out << "server: " << info.value("name", std::string("?")) << " " << info.value("version", std::string(""))
        << " (protocol " << version << ")\n";
    session.set_protocol_version(version);
    if (auto n = session.request("notifications/initialized", Json(), true); !n.ok()) {
      err << "probe: " << n.error() << "\n";
      return 1;
    }
  } else {
    out << "server: " << o.url << " (protocol " << o.protocol_version << ", stateless)\n";
  }

  auto listed = step("tools/list", Json::object());
  if (!listed) return 1;
  std::vector<Json> tools;
  if (listed->contains("tools") && (*listed)["tools"].is_array()) {
    for (const auto& t : (*listed)["tools"]) tools.push_back(t);
  }
  std::string names;
  for (const auto& t : tools) names += (names.empty() ? "" : ", ") + t.value("name", std::string("?"));
  out << "tools (" << tools.size() << "): " << names << "\n";

  const Json* chosen = nullptr;
  for (const auto& t : tools) {
    if (o.tool.empty() || t.value("name", "") == o.tool) {
      chosen = &t;
      break;
    }
  }
  int rc = 0;
  if (!chosen) {
    if (!o.tool.empty()) {
      err << "probe: the server lists no tool named '" << o.tool << "'\n";
      rc = 1;
    }
  } else {
    std::string name = chosen->value("name", "");
    Json args = o.tool_arguments.is_null() ? default_arguments(*chosen) : o.tool_arguments;
    auto called = step("tools/call", {{"name", name}, {"arguments", args}});
    if (!called) {
      rc = 1;
    } else {
      bool is_error = called->value("isError", false);
      out << "call " << name << (is_error ? " (isError)" : "") << ": " << render_result(*called) << "\n";
      rc = is_error ? 1 : 0;
    }
  }
  session.end();
  return rc;
}

int run_probe_cli(const std::vector<std::string>& args) {
  ProbeOptions o;
  auto usage = [](const std::string& msg) {
    std::cerr << "portcullis probe: " << msg << "\nUsage:\n" << kProbeUsage;
    return 2;
  };
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      std::cout << "Usage:\n" << kProbeUsage;
      return 0;
    }
    if (!a.empty() && a[0] != '-') {
      if (!o.url.empty()) return usage("more than one URL (\"" + o.url + "\", \"" + a + "\")");
      o.url = a;
      continue;
    }
    if (i + 1 >= args.size()) return usage(a + " needs a value");
    const std::string& v = args[++i];
    if (a == "--client-id") o.client_id = v;
    else if (a == "--client-secret") o.client_secret = v;
    else if (a == "--client-auth") {
      if (v != "none" && v != "client_secret_basic" && v != "client_secret_post") {
        return usage("--client-auth is none, client_secret_basic or client_secret_post");
      }
      o.client_auth_method = v;
    } else if (a == "--client-metadata-url") {
      auto p = split_url(v);
      if (!p.ok() || !text::starts_with(v, "https://") || p->path.size() < 2) {
        return usage("--client-metadata-url must be an https URL with a path");
      }
      o.client_metadata_url = v;
    } else if (a == "--protocol-version") o.protocol_version = v;
    else if (a == "--tool") o.tool = v;
    else if (a == "--args") {
      o.tool_arguments = Json::parse(v, nullptr, false);
      if (o.tool_arguments.is_discarded() || !o.tool_arguments.is_object()) return usage("--args must be a JSON object");
    } else if (a == "--vault") o.vault_path = v;
    else if (a == "--browser-wait" || a == "--max-authorizations") {
      int n = -1;
      try {
        n = std::stoi(v);
      } catch (...) {
      }
      if (n < 0) return usage(a + " needs a non-negative number");
      if (a == "--browser-wait") o.browser_wait = std::chrono::seconds(n);
      else o.max_authorizations = n;
    } else {
      return usage("unknown option '" + a + "'");
    }
  }
  if (o.url.empty()) return usage("no MCP server URL");
  if (!o.client_secret.empty() && o.client_id.empty()) return usage("--client-secret needs --client-id");
  if (const char* k = std::getenv("PORTCULLIS_VAULT_KEY")) o.vault_key_hex = k;
  return run_probe(o, std::cout, std::cerr);
}

}  // namespace portcullis::identity
