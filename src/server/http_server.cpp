#include "server/http_server.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <charconv>

#include "core/elastic_pool.h"
#include "core/jsonrpc.h"
#include "core/text.h"
#include "identity/authenticator.h"
#include "server/admin_routes.h"
#include "server/consent_pages.h"
#include "server/standard_headers.h"

namespace portcullis::server {

using pipeline::InFlight;
using pipeline::MessageStream;
using pipeline::Session;
using Clock = std::chrono::steady_clock;

namespace {

// Time a POST waits for the upstream before it switches its answer from a
// JSON body to an SSE stream (so the client sees progress and we notice if it
// disconnects). Fast calls never pay for a stream.
constexpr auto kStreamAfter = std::chrono::milliseconds(250);
// SSE comments sent on a quiet stream: often enough to reveal a client that
// went away during a call, rarer on idle GET streams, thousands of which may
// be open at once.
constexpr auto kKeepAlive = std::chrono::seconds(5);
constexpr auto kIdleStreamKeepAlive = std::chrono::seconds(15);

class PoolTaskQueue : public httplib::TaskQueue {
 public:
  PoolTaskQueue() : pool_(ElasticPool::Options{}) {}
  void enqueue(std::function<void()> fn) override { pool_.enqueue(std::move(fn)); }
  void shutdown() override { pool_.shutdown(); }

 private:
  ElasticPool pool_;
};

void send_json(httplib::Response& res, int status, const Json& body) {
  res.status = status;
  res.set_content(rpc::dump(body), "application/json");
}

void send_rpc_error(httplib::Response& res, int status, int code, const std::string& message,
                    const Json& id = nullptr, Json data = nullptr) {
  send_json(res, status, rpc::make_error(id, code, message, std::move(data)));
}

constexpr const char* kMetaVersion = "io.modelcontextprotocol/protocolVersion";
constexpr const char* kMetaCapabilities = "io.modelcontextprotocol/clientCapabilities";
constexpr const char* kMetaClientInfo = "io.modelcontextprotocol/clientInfo";
constexpr const char* kMetaLogLevel = "io.modelcontextprotocol/logLevel";

const Json* request_meta(const Json& msg) {
  auto p = msg.find("params");
  if (p == msg.end() || !p->is_object()) return nullptr;
  auto m = p->find("_meta");
  return m != p->end() && m->is_object() ? &*m : nullptr;
}

// Whether a message without a session is served statelessly (2026-07-28).
// Like the reference dual-era servers: it is legacy only when it opens a
// session (initialize) or names a legacy revision in its header and carries
// no 2026-07-28 envelope. Anything else gets the stateless validation, whose
// errors say what is missing.
bool is_stateless(const httplib::Request& req, const Json& msg) {
  const Json* meta = request_meta(msg);
  if (meta && (meta->contains(kMetaVersion) || meta->contains(kMetaCapabilities))) return true;
  if (msg.value("method", "") == "initialize") return false;
  std::string v = req.get_header_value("MCP-Protocol-Version");
  return !mcp::is_supported_revision(std::string(text::trim(v)));
}

// HTTP status of a stateless request's error, per 2026-07-28.
int status_for_error(int code) {
  switch (code) {
    case rpc::kHeaderMismatch:
    case rpc::kMissingClientCapability:
    case rpc::kUnsupportedProtocolVersion:
    case rpc::kInvalidRequest:
      return 400;
    case rpc::kMethodNotFound:
      return 404;
    default:
      return 200;
  }
}

std::string origin_host(const std::string& origin) {
  auto scheme = origin.find("://");
  std::string rest = scheme == std::string::npos ? origin : origin.substr(scheme + 3);
  if (!rest.empty() && rest[0] == '[') {
    auto close = rest.find(']');
    return close == std::string::npos ? rest : rest.substr(0, close + 1);
  }
  return rest.substr(0, rest.find_first_of(":/"));
}

bool accepts(const httplib::Request& req, const char* type) {
  std::string accept = req.get_header_value("Accept");
  return accept.empty() || accept.find(type) != std::string::npos || accept.find("*/*") != std::string::npos;
}

// Writes the next event of `stream` to an SSE response: a message, a
// keep-alive comment after `keepalive` of quiet (which also reveals a client
// that went away), or the end. Sets *final_written once the completing
// response is out. Returns false when the client is gone.
bool pump(MessageStream& stream, httplib::DataSink& sink, Clock::duration keepalive, bool* final_written) {
  static const std::string kComment = ": keepalive\n\n";
  std::string msg;
  bool final = false;
  switch (stream.pop(&msg, &final, Clock::now() + keepalive)) {
    case MessageStream::Pop::Message: {
      std::string ev = text::sse_event(msg, "message");
      if (!sink.write(ev.data(), ev.size())) return false;
      if (final) {
        *final_written = true;
        sink.done();
      }
      return true;
    }
    case MessageStream::Pop::Timeout:
      return sink.write(kComment.data(), kComment.size());
    case MessageStream::Pop::Closed:
      sink.done();
      return true;
  }
  return false;
}

// The record stage's headers on an MCP response: the request id that finds
// its audit record, and the latency phases so far (Server-Timing, ms).
// A response that switched to an SSE stream sends its headers before the
// upstream answers: only identity is known then; the record has the rest.
void timing_headers(httplib::Response& res, const InFlight& f) {
  auto ms = [](int64_t us) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3f", static_cast<double>(us) / 1000.0);
    return std::string(buf);
  };
  res.set_header("X-Portcullis-Request-Id", f.request_id);
  res.set_header("Server-Timing", "identity;dur=" + ms(f.identity_us) + ", authorize;dur=" +
                                      (f.authorized.decision.empty() ? "0" : ms(f.authorized.us)) + ", guard;dur=" +
                                      (f.guarded.us ? ms(f.guarded.us) : "0") + ", upstream;dur=" +
                                      ms(f.upstream_us.load()) + ", total;dur=" + ms(f.total_us.load()));
}

int64_t us_since(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t).count();
}

}  // namespace

bool is_loopback_host(const std::string& host) {
  return host == "127.0.0.1" || host == "localhost" || host == "::1" || host == "[::1]" ||
         text::starts_with(host, "127.");
}

Result<ListenAddress> parse_listen(const std::string& s) {
  auto colon = s.rfind(':');
  if (colon == std::string::npos) return fail("invalid listen address \"" + s + "\" (expected HOST:PORT)");
  ListenAddress a;
  a.host = s.substr(0, colon);
  if (a.host.size() >= 2 && a.host.front() == '[' && a.host.back() == ']') a.host = a.host.substr(1, a.host.size() - 2);
  std::string port = s.substr(colon + 1);
  auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), a.port);
  if (ec != std::errc() || p != port.data() + port.size() || a.port < 0 || a.port > 65535 || a.host.empty()) {
    return fail("invalid listen address \"" + s + "\" (expected HOST:PORT)");
  }
  return a;
}

struct HttpFront::Impl {
  explicit Impl(pipeline::Gateway& g) : gw(g) {}
  pipeline::Gateway& gw;
  httplib::Server svr;

  void routes();
  // The identity stage: who sends this request, per auth.mode, with its
  // metadata contract. Null when the request is refused; the answer (401
  // with a WWW-Authenticate challenge, 403 for missing scopes, 400 for bad
  // metadata) is then already in `res`. `path` is the route's resource
  // path ("/mcp/<vs>"), which the challenge's resource_metadata names.
  std::shared_ptr<const identity::Principal> identify(const httplib::Request& req, httplib::Response& res,
                                                      const std::string& path);
  void protected_resource_metadata(const httplib::Request& req, httplib::Response& res);
  bool check_origin(const httplib::Request& req, httplib::Response& res);
  bool known_vs(const std::string& vs, httplib::Response& res);
  // The session the request names, when it exists, belongs to `vs` and to
  // `who`: another principal's session does not exist for this one. `id`:
  // the request's id, echoed in an error (null when there is none).
  std::shared_ptr<Session> session_of(const httplib::Request& req, httplib::Response& res,
                                      const std::string& vs, const identity::Principal& who,
                                      const Json& id = nullptr);
  void post_mcp(const httplib::Request& req, httplib::Response& res, const std::string& vs);
  void post_stateless(const httplib::Request& req, httplib::Response& res, const std::string& vs, Json msg,
                      std::shared_ptr<const identity::Principal> who, int64_t identity_us);
  void get_mcp(const httplib::Request& req, httplib::Response& res, const std::string& vs);
  void delete_mcp(const httplib::Request& req, httplib::Response& res, const std::string& vs);
  void get_sse(const httplib::Request& req, httplib::Response& res, const std::string& vs);
  void post_sse(const httplib::Request& req, httplib::Response& res, const std::string& vs);
  void answer_request(const httplib::Request& req, httplib::Response& res,
                      const std::shared_ptr<Session>& session, const std::shared_ptr<InFlight>& inflight);
  void stream_outbox(httplib::Response& res, const std::shared_ptr<Session>& session, std::string first,
                     std::function<void()> on_end);
  std::optional<Json> parse_body(const httplib::Request& req, httplib::Response& res);
};

bool HttpFront::Impl::check_origin(const httplib::Request& req, httplib::Response& res) {
  // DNS-rebinding defence: a browser page on another origin must not reach us.
  if (!req.has_header("Origin")) return true;
  std::string origin = req.get_header_value("Origin");
  auto rt = gw.runtime();
  for (const auto& allowed : rt->config->settings.allowed_origins) {
    if (allowed == "*" || allowed == origin) return true;
  }
  if (is_loopback_host(origin_host(origin))) return true;
  send_rpc_error(res, 403, rpc::kInvalidRequest, "Forbidden: Origin " + origin + " is not allowed");
  return false;
}

std::shared_ptr<const identity::Principal> HttpFront::Impl::identify(const httplib::Request& req,
                                                                      httplib::Response& res,
                                                                      const std::string& path) {
  // The views below point into these strings.
  const std::string authorization = req.get_header_value("Authorization");
  const std::string api_key = req.get_header_value("X-API-Key");
  const std::string metadata = req.get_header_value("X-Portcullis-Metadata");
  auto outcome = gw.authenticator()->authenticate({authorization, api_key, metadata, path});
  if (outcome.ok()) return std::make_shared<const identity::Principal>(std::move(outcome.principal()));
  const identity::AuthFailure& f = outcome.failure();
  if (!f.www_authenticate.empty()) res.set_header("WWW-Authenticate", f.www_authenticate);
  send_json(res, f.status, f.body());
  spdlog::debug("{} {} refused with {}: {}", req.method, req.path, f.status, f.message);
  return nullptr;
}

void HttpFront::Impl::protected_resource_metadata(const httplib::Request& req, httplib::Response& res) {
  auto auth = gw.authenticator();
  auto not_found = [&](const std::string& why) {
    send_json(res, 404, {{"error", "not_found"}, {"error_description", why}});
  };
  // RFC 9728 path insertion: /.well-known/oauth-protected-resource, then the
  // resource's own path, then the route: "" (the gateway), /mcp/<vs>, /sse/<vs>.
  const std::string base = auth->resource_metadata_url("");
  const size_t at = base.find("/.well-known/");
  if (at == std::string::npos) {
    return not_found("this gateway is not an OAuth protected resource (auth.resource is not set)");
  }
  const std::string prefix = base.substr(at);
  if (!text::starts_with(req.path, prefix)) return not_found("no protected resource at " + req.path);
  const std::string route = req.path.substr(prefix.size());
  if (!route.empty()) {
    if (!text::starts_with(route, "/mcp/") && !text::starts_with(route, "/sse/")) {
      return not_found("no protected resource at " + req.path);
    }
    if (!gw.runtime()->config->virtual_servers.count(route.substr(5))) {
      return not_found("no virtual server '" + route.substr(5) + "'");
    }
  }
  auto doc = auth->protected_resource_metadata(route);
  if (!doc) return not_found("this gateway is not an OAuth protected resource (auth.resource is not set)");
  res.set_header("Cache-Control", "max-age=300");
  send_json(res, 200, *doc);
}

bool HttpFront::Impl::known_vs(const std::string& vs, httplib::Response& res) {
  if (gw.runtime()->config->virtual_servers.count(vs)) return true;
  send_rpc_error(res, 404, rpc::kInvalidRequest, "Not Found: no virtual server '" + vs + "'");
  return false;
}

std::shared_ptr<Session> HttpFront::Impl::session_of(const httplib::Request& req, httplib::Response& res,
                                                     const std::string& vs, const identity::Principal& who,
                                                     const Json& id) {
  if (!req.has_header("Mcp-Session-Id")) {
    send_rpc_error(res, 400, rpc::kInvalidRequest, "Bad Request: Mcp-Session-Id header is required", id);
    return nullptr;
  }
  auto found = gw.sessions().find_or_restore(req.get_header_value("Mcp-Session-Id"));
  auto s = found.session;
  if (!s || s->virtual_server != vs || s->legacy_sse || s->owner != who.key()) {
    send_rpc_error(res, 404, -32001, s ? "Session not found" : found.why, id);
    return nullptr;
  }
  if (req.has_header("MCP-Protocol-Version")) {
    std::string v = req.get_header_value("MCP-Protocol-Version");
    if (!mcp::is_supported_revision(v)) {
      send_rpc_error(res, 400, rpc::kInvalidRequest, "Bad Request: unsupported MCP-Protocol-Version: " + v, id);
      return nullptr;
    }
    if (v != s->protocol_version) {
      send_rpc_error(res, 400, rpc::kInvalidRequest,
                     "Bad Request: MCP-Protocol-Version " + v + " does not match the negotiated version " +
                         s->protocol_version,
                     id);
      return nullptr;
    }
  }
  return s;
}

std::optional<Json> HttpFront::Impl::parse_body(const httplib::Request& req, httplib::Response& res) {
  std::string ctype = text::to_lower(req.get_header_value("Content-Type"));
  if (ctype.find("application/json") == std::string::npos) {
    send_rpc_error(res, 415, rpc::kInvalidRequest, "Unsupported Media Type: Content-Type must be application/json");
    return std::nullopt;
  }
  const auto& settings = gw.runtime()->config->settings;
  auto parsed = rpc::parse(req.body, {settings.max_body_bytes, settings.max_json_depth});
  if (!parsed.ok()) {
    send_rpc_error(res, 400, rpc::kParseError, "Parse error: " + parsed.error());
    return std::nullopt;
  }
  if (parsed->is_array()) {
    send_rpc_error(res, 400, rpc::kInvalidRequest,
                   "Invalid Request: JSON-RPC batches are not supported (removed in protocol 2025-06-18)");
    return std::nullopt;
  }
  std::string why;
  if (rpc::classify(*parsed, &why) == rpc::Kind::Invalid) {
    Json id = parsed->is_object() && parsed->contains("id") ? (*parsed)["id"] : Json(nullptr);
    if (!(id.is_string() || id.is_number_integer())) id = nullptr;
    send_rpc_error(res, 400, rpc::kInvalidRequest, "Invalid Request: " + why, id);
    return std::nullopt;
  }
  return std::move(parsed.value());
}

void HttpFront::Impl::post_mcp(const httplib::Request& req, httplib::Response& res, const std::string& vs) {
  if (!check_origin(req, res)) return;
  const auto identify_start = Clock::now();
  auto who = identify(req, res, "/mcp/" + vs);
  const int64_t identity_us = us_since(identify_start);
  if (!who || !known_vs(vs, res)) return;
  auto msg = parse_body(req, res);
  if (!msg) return;
  if (!req.has_header("Mcp-Session-Id") && is_stateless(req, *msg)) {
    return post_stateless(req, res, vs, std::move(*msg), std::move(who), identity_us);
  }
  rpc::Kind kind = rpc::classify(*msg);
  if (kind == rpc::Kind::Request && (*msg)["method"] == "initialize") {
    // The id is minted after initialize, because it seals what was negotiated.
    auto session = std::make_shared<Session>(std::string(), vs, /*legacy_sse=*/false);
    session->owner = who->key();
    auto inflight = std::make_shared<InFlight>();
    inflight->principal = who;
    inflight->downstream_id = (*msg)["id"];
    inflight->stream = std::make_shared<MessageStream>();
    inflight->identity_us = identity_us;
    gw.handle_request(session, *msg, inflight);
    std::string out;
    bool final = false;
    inflight->stream->pop(&out, &final, Clock::now() + std::chrono::seconds(5));
    gw.sessions().publish(session);
    res.set_header("Mcp-Session-Id", session->id);
    timing_headers(res, *inflight);
    res.set_content(out, "application/json");
    spdlog::info("session {}... opened on /mcp/{} ({})", session->id.substr(0, 16), vs, session->protocol_version);
    return;
  }
  auto session = session_of(req, res, vs, *who, kind == rpc::Kind::Request ? (*msg)["id"] : Json(nullptr));
  if (!session) return;
  if (kind == rpc::Kind::Notification) {
    gw.handle_notification(session, *msg);
    res.status = 202;
    return;
  }
  if (kind == rpc::Kind::Response) {
    gw.handle_response(session, *msg);
    res.status = 202;
    return;
  }
  auto inflight = std::make_shared<InFlight>();
  inflight->principal = std::move(who);
  inflight->client_ip = req.remote_addr;  // authorize stage
  inflight->downstream_id = (*msg)["id"];
  inflight->request_bytes = req.body.size();
  inflight->guardrails_header = req.get_header_value("X-Portcullis-Guardrails");
  inflight->stream = std::make_shared<MessageStream>();
  inflight->identity_us = identity_us;
  gw.handle_request(session, *msg, inflight);
  answer_request(req, res, session, inflight);
}

void HttpFront::Impl::post_stateless(const httplib::Request& req, httplib::Response& res, const std::string& vs,
                                     Json body, std::shared_ptr<const identity::Principal> who, int64_t identity_us) {
  // Kept with the request, for a continuation's digest should an upstream
  // ask for input.
  auto request = std::make_shared<const Json>(std::move(body));
  const Json& msg = *request;
  rpc::Kind kind = rpc::classify(msg);
  if (kind == rpc::Kind::Response) {
    send_rpc_error(res, 400, rpc::kInvalidRequest,
                   "Invalid Request: protocol 2026-07-28 has no server-to-client requests, so there is nothing to "
                   "respond to");
    return;
  }
  if (kind == rpc::Kind::Notification) {
    // 2026-07-28 defines no client notifications over HTTP (a closed stream
    // is the cancellation): accept and ignore.
    res.status = 202;
    return;
  }
  const Json& id = msg["id"];
  const std::string& method = msg["method"].get_ref<const std::string&>();
  const Json* meta = request_meta(msg);
  auto invalid = [&](const std::string& what) {
    send_rpc_error(res, 400, rpc::kInvalidParams,
                   "Invalid params: " + what +
                       " (a request without Mcp-Session-Id is served statelessly, protocol 2026-07-28; 2025-11-25 "
                       "clients start with initialize)",
                   id);
  };
  if (!meta) return invalid("params._meta is missing");
  auto version = meta->find(kMetaVersion);
  if (version == meta->end() || !version->is_string() || version->get_ref<const std::string&>().empty()) {
    return invalid(std::string("params._meta[\"") + kMetaVersion + "\"] is missing");
  }
  auto caps = meta->find(kMetaCapabilities);
  if (caps == meta->end() || !caps->is_object()) {
    return invalid(std::string("params._meta[\"") + kMetaCapabilities + "\"] is missing or not an object");
  }
  const std::string& requested = version->get_ref<const std::string&>();
  if (!req.has_header("MCP-Protocol-Version")) {
    send_rpc_error(res, 400, rpc::kHeaderMismatch, "Header mismatch: the MCP-Protocol-Version header is missing", id);
    return;
  }
  std::string header_version(text::trim(req.get_header_value("MCP-Protocol-Version")));
  if (header_version != requested) {
    send_rpc_error(res, 400, rpc::kHeaderMismatch,
                   "Header mismatch: MCP-Protocol-Version " + header_version + " differs from _meta protocolVersion " +
                       requested,
                   id);
    return;
  }
  if (requested != pipeline::kStatelessRevision) {
    send_rpc_error(res, 400, rpc::kUnsupportedProtocolVersion,
                   "Unsupported protocol version: " + requested + " (without a session this endpoint speaks " +
                       pipeline::kStatelessRevision + "; older revisions start with initialize)",
                   id, {{"supported", Json::array({pipeline::kStatelessRevision})}, {"requested", requested}});
    return;
  }
  const compose::Route* route = nullptr;
  auto rt = gw.runtime();
  if (method == "tools/call") {
    auto cat = gw.stateless_catalog(vs, rt);
    const Json& params = msg["params"];
    if (cat && params.contains("name") && params["name"].is_string()) route = cat->tool(params["name"].get<std::string>());
  }
  auto mismatch = check_standard_headers(msg, route, [&req](const std::string& name) -> std::optional<std::string> {
    if (!req.has_header(name)) return std::nullopt;
    return req.get_header_value(name);
  });
  if (mismatch) {
    send_rpc_error(res, 400, rpc::kHeaderMismatch, "Header mismatch: " + *mismatch, id);
    return;
  }
  std::string log_level;
  if (auto l = meta->find(kMetaLogLevel); l != meta->end()) {
    if (!l->is_string()) return invalid(std::string("params._meta[\"") + kMetaLogLevel + "\"] must be a string");
    log_level = l->get<std::string>();
  }
  if (method == "subscriptions/listen" && !accepts(req, "text/event-stream")) {
    send_rpc_error(res, 406, rpc::kInvalidRequest, "Not Acceptable: subscriptions/listen answers with an SSE stream",
                   id);
    return;
  }
  auto session = std::make_shared<Session>(std::string(), vs, /*legacy_sse=*/false);
  session->stateless = true;
  session->owner = who->key();
  session->protocol_version = requested;
  session->client_capabilities = *caps;
  if (auto ci = meta->find(kMetaClientInfo); ci != meta->end() && ci->is_object()) session->client_info = *ci;
  session->log_level = log_level;
  session->initialized = true;
  auto inflight = std::make_shared<InFlight>();
  inflight->principal = std::move(who);
  inflight->client_ip = req.remote_addr;  // authorize stage
  inflight->downstream_id = id;
  inflight->request_bytes = req.body.size();
  inflight->guardrails_header = req.get_header_value("X-Portcullis-Guardrails");
  inflight->stream = std::make_shared<MessageStream>();
  inflight->request = std::move(request);
  inflight->identity_us = identity_us;
  gw.handle_request(session, msg, inflight);
  answer_request(req, res, session, inflight);
}

void HttpFront::Impl::answer_request(const httplib::Request& req, httplib::Response& res,
                                     const std::shared_ptr<Session>& session,
                                     const std::shared_ptr<InFlight>& inflight) {
  auto stream = inflight->stream;
  bool sse = accepts(req, "text/event-stream");
  std::string first;
  bool final = false;
  auto r = stream->pop(&first, &final, Clock::now() + (sse ? kStreamAfter : std::chrono::hours(24)));
  // A stateless request's protocol errors carry their HTTP status too.
  auto json_answer = [&](const std::string& body) {
    stream->close();
    timing_headers(res, *inflight);
    if (session->stateless && body.find("\"error\"") != std::string::npos) {
      Json parsed = Json::parse(body, nullptr, false);
      if (parsed.is_object() && parsed.contains("error") && parsed["error"].is_object()) {
        res.status = status_for_error(parsed["error"].value("code", 0));
      }
    }
    res.set_content(body, "application/json");
  };
  if (r == MessageStream::Pop::Message && final) return json_answer(first);
  if (!sse) {
    // A JSON-only client: related messages go to its GET stream instead
    // (a stateless client has none: they are dropped).
    while (r != MessageStream::Pop::Closed) {
      if (r == MessageStream::Pop::Message) {
        if (final) break;
        if (!session->stateless) session->outbox.push(first);
      }
      r = stream->pop(&first, &final, Clock::now() + std::chrono::hours(24));
    }
    return json_answer(first);
  }
  // Stream the rest: related notifications and requests, then the response.
  auto pending = std::make_shared<std::string>(r == MessageStream::Pop::Message ? first : std::string());
  auto finished = std::make_shared<bool>(false);
  res.set_header("Cache-Control", "no-cache");
  timing_headers(res, *inflight);
  res.set_chunked_content_provider(
      "text/event-stream",
      [stream, pending, finished](size_t, httplib::DataSink& sink) {
        if (!pending->empty()) {
          std::string ev = text::sse_event(*pending, "message");
          pending->clear();
          if (!sink.write(ev.data(), ev.size())) return false;
        }
        return pump(*stream, sink, kKeepAlive, finished.get());
      },
      [stream, inflight, finished, session](bool) {
        stream->close();
        if (!*finished) {
          spdlog::info("session {}: client disconnected during {}; cancelling it upstream", session->id,
                       inflight->method);
          inflight->cancel->cancel();
        }
      });
}

void HttpFront::Impl::stream_outbox(httplib::Response& res, const std::shared_ptr<Session>& session,
                                    std::string first, std::function<void()> on_end) {
  auto pending = std::make_shared<std::string>(std::move(first));
  res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider(
      "text/event-stream",
      [session, pending](size_t, httplib::DataSink& sink) {
        if (!pending->empty()) {
          bool ok = sink.write(pending->data(), pending->size());
          pending->clear();
          if (!ok) return false;
        }
        bool unused = false;  // the outbox carries no completing response
        return pump(session->outbox, sink, kIdleStreamKeepAlive, &unused);
      },
      [on_end = std::move(on_end)](bool) { on_end(); });
}

void HttpFront::Impl::get_mcp(const httplib::Request& req, httplib::Response& res, const std::string& vs) {
  if (!check_origin(req, res)) return;
  auto who = identify(req, res, "/mcp/" + vs);
  if (!who || !known_vs(vs, res)) return;
  if (!accepts(req, "text/event-stream")) {
    send_rpc_error(res, 406, rpc::kInvalidRequest, "Not Acceptable: GET needs Accept: text/event-stream");
    return;
  }
  auto session = session_of(req, res, vs, *who);
  if (!session) return;
  if (session->outbox.attached()) {
    send_rpc_error(res, 409, rpc::kInvalidRequest, "Conflict: this session already has an open GET stream");
    return;
  }
  session->outbox.set_attached(true);
  session->open_streams++;
  session->last_seen_ms = pipeline::now_ms();
  stream_outbox(res, session, std::string(), [session] {
    session->outbox.set_attached(false);
    session->open_streams--;
    session->last_seen_ms = pipeline::now_ms();
  });
}

void HttpFront::Impl::delete_mcp(const httplib::Request& req, httplib::Response& res, const std::string& vs) {
  if (!check_origin(req, res)) return;
  auto who = identify(req, res, "/mcp/" + vs);
  if (!who || !known_vs(vs, res)) return;
  auto session = session_of(req, res, vs, *who);
  if (!session) return;
  gw.sessions().erase(session->id);
  spdlog::info("session {} ended by the client", session->id);
  res.status = 200;
}

void HttpFront::Impl::get_sse(const httplib::Request& req, httplib::Response& res, const std::string& vs) {
  if (!check_origin(req, res)) return;
  auto who = identify(req, res, "/sse/" + vs);
  if (!who || !known_vs(vs, res)) return;
  auto session = gw.sessions().create(vs, /*legacy_sse=*/true, who->key());
  session->outbox.set_attached(true);
  session->open_streams++;
  spdlog::info("session {} opened on /sse/{} (legacy SSE)", session->id, vs);
  std::string endpoint = "/sse/" + vs + "/message?sessionId=" + session->id;
  pipeline::Gateway* gw_ptr = &gw;
  stream_outbox(res, session, text::sse_event(endpoint, "endpoint"), [gw_ptr, session] {
    // The stream is the session: when it ends, so does the session.
    session->open_streams--;
    gw_ptr->sessions().erase(session->id);
    spdlog::info("session {} (legacy SSE) closed", session->id);
  });
}

void HttpFront::Impl::post_sse(const httplib::Request& req, httplib::Response& res, const std::string& vs) {
  if (!check_origin(req, res)) return;
  const auto identify_start = Clock::now();
  auto who = identify(req, res, "/sse/" + vs);
  const int64_t identity_us = us_since(identify_start);
  if (!who || !known_vs(vs, res)) return;
  auto session = gw.sessions().find(req.get_param_value("sessionId"));
  if (!session || !session->legacy_sse || session->virtual_server != vs || session->owner != who->key()) {
    send_rpc_error(res, 404, -32001, "Session not found");
    return;
  }
  auto msg = parse_body(req, res);
  if (!msg) return;
  rpc::Kind kind = rpc::classify(*msg);
  if (kind == rpc::Kind::Notification) {
    gw.handle_notification(session, *msg);
  } else if (kind == rpc::Kind::Response) {
    gw.handle_response(session, *msg);
  } else {
    auto inflight = std::make_shared<InFlight>();
    inflight->principal = std::move(who);
    inflight->client_ip = req.remote_addr;  // authorize stage
    inflight->downstream_id = (*msg)["id"];
    inflight->request_bytes = req.body.size();
    inflight->guardrails_header = req.get_header_value("X-Portcullis-Guardrails");
    inflight->identity_us = identity_us;
    res.set_header("X-Portcullis-Request-Id", inflight->request_id);
    // Every answer travels on the SSE stream, so the POST returns at once.
    pipeline::Gateway* gw_ptr = &gw;
    gw.pool().enqueue([gw_ptr, session, m = std::move(*msg), inflight] { gw_ptr->handle_request(session, m, inflight); });
  }
  res.status = 202;
  res.set_content("Accepted", "text/plain");
}

void HttpFront::Impl::routes() {
  const char* vs_pattern = "([a-z0-9-]+)";
  svr.Post(std::string("/mcp/") + vs_pattern, [this](const httplib::Request& q, httplib::Response& r) {
    post_mcp(q, r, q.matches[1]);
  });
  svr.Get(std::string("/mcp/") + vs_pattern, [this](const httplib::Request& q, httplib::Response& r) {
    get_mcp(q, r, q.matches[1]);
  });
  svr.Delete(std::string("/mcp/") + vs_pattern, [this](const httplib::Request& q, httplib::Response& r) {
    delete_mcp(q, r, q.matches[1]);
  });
  svr.Get(std::string("/sse/") + vs_pattern, [this](const httplib::Request& q, httplib::Response& r) {
    get_sse(q, r, q.matches[1]);
  });
  svr.Post(std::string("/sse/") + vs_pattern + "/message", [this](const httplib::Request& q, httplib::Response& r) {
    post_sse(q, r, q.matches[1]);
  });
  // RFC 9728 Protected Resource Metadata, for the gateway and each virtual
  // server: public, since it is how a client learns where to authenticate.
  svr.Get(R"(/\.well-known/oauth-protected-resource(/.*)?)", [this](const httplib::Request& q, httplib::Response& r) {
    protected_resource_metadata(q, r);
  });
  // Browser steps of upstream consent (auth type oauth_user).
  add_consent_routes(svr, gw);
  svr.Get("/healthz", [this](const httplib::Request& q, httplib::Response& r) {
    // Liveness is public; what runs behind the gateway is not.
    httplib::Response refused;
    if (!identify(q, refused, "")) {
      send_json(r, 200, {{"status", "ok"}});
      return;
    }
    auto rt = gw.runtime();
    Json ups = Json::object();
    for (const auto& [name, up] : rt->upstreams) ups[name] = up->status();
    send_json(r, 200, {{"status", "ok"}, {"upstreams", ups}, {"sessions", gw.sessions().size()},
                       {"problems", rt->problems}});
  });
  add_admin_routes(svr, gw, [this](const httplib::Request& q, httplib::Response& r) { return identify(q, r, ""); });
  svr.set_error_handler(httplib::Server::HandlerWithResponse([this](const httplib::Request&, httplib::Response& r) {
    if (!r.body.empty() || r.status < 400) return httplib::Server::HandlerResponse::Unhandled;
    std::string message;
    switch (r.status) {
      case 413:
        message = "Payload Too Large: the request body exceeds the limit of " +
                  std::to_string(gw.runtime()->config->settings.max_body_bytes) + " bytes";
        break;
      case 404: message = "Not Found"; break;
      case 405: message = "Method Not Allowed"; break;
      default: message = "HTTP error " + std::to_string(r.status);
    }
    r.set_content(rpc::dump(rpc::make_error(nullptr, rpc::kInvalidRequest, message)), "application/json");
    return httplib::Server::HandlerResponse::Handled;
  }));
  svr.set_exception_handler([](const httplib::Request& q, httplib::Response& r, std::exception_ptr ep) {
    std::string what = "unknown error";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    spdlog::error("internal error on {} {}: {}", q.method, q.path, what);
    send_rpc_error(r, 500, rpc::kInternalError, "Internal error");
  });
}

HttpFront::HttpFront(pipeline::Gateway& gateway) : impl_(std::make_unique<Impl>(gateway)) {
  auto& svr = impl_->svr;
  svr.new_task_queue = [] { return new PoolTaskQueue(); };
  svr.set_tcp_nodelay(true);
  svr.set_keep_alive_max_count(1000000);
  // httplib polls idle keep-alive connections; keep that window short.
  svr.set_keep_alive_timeout(5);
  svr.set_payload_max_length(gateway.runtime()->config->settings.max_body_bytes);
  impl_->routes();
}

HttpFront::~HttpFront() { stop(); }

Result<int> HttpFront::bind(const ListenAddress& addr) {
  int port = addr.port == 0 ? impl_->svr.bind_to_any_port(addr.host) : (impl_->svr.bind_to_port(addr.host, addr.port) ? addr.port : -1);
  if (port < 0) return fail("cannot listen on " + addr.host + ":" + std::to_string(addr.port) + ": " + std::strerror(errno));
  return port;
}

void HttpFront::serve() { impl_->svr.listen_after_bind(); }

Result<void> HttpFront::listen(const ListenAddress& addr) {
  auto p = bind(addr);
  if (!p.ok()) return fail(p.error());
  serve();
  return {};
}

void HttpFront::stop() { impl_->svr.stop(); }

}  // namespace portcullis::server
