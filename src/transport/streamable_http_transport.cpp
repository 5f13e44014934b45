// Streamable HTTP upstream transport (MCP 2025-03-26 .. 2026-07-28), client side.
//
// A request carrying the 2026-07-28 envelope in params._meta is a stateless
// exchange: it gets the SEP-2243 headers instead of the session headers, its
// HTTP error bodies are JSON-RPC errors worth passing on (-32022 etc.), and
// closing its connection is how it is cancelled. The link never calls
// on_initialized() for a 2026-07-28 server, so no GET stream is opened.
//
// Every outgoing message is one POST. Requests are answered either with a
// JSON body or with an SSE stream carrying the response plus related
// requests/notifications. After initialization a GET stream carries
// unrelated server messages. Exchanges run on the shared HTTP pool, using
// keep-alive clients pooled per origin.
//
// Ordering: a notification or response is POSTed only after everything sent
// before it has been handed to the server, and nothing sent after it is
// POSTed before the server accepted it (its 202). Requests are not held back
// by other requests (their answers may take long).
#include <spdlog/spdlog.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <unordered_map>

#include "core/jsonrpc.h"
#include "core/text.h"
#include "transport/http_common.h"
#include "transport/transports_impl.h"

namespace portcullis::transport {
namespace {

using namespace std::chrono_literals;
using detail::MsgKind;

using detail::Outgoing;

struct InFlight {
  httplib::Client* cli = nullptr;
  std::atomic<bool> cancelled{false};
};

struct State {
  config::UpstreamConfig cfg;
  detail::Url url;
  std::shared_ptr<detail::ClientPool> pool;
  detail::ClientTimeouts timeouts;
  UpstreamTransport::Sink sink;
  UpstreamTransport::OnClosed on_closed;

  std::mutex mu;
  std::condition_variable cv;
  bool opened = false;              // (mu)
  std::atomic<bool> closed{false};  // written under mu
  std::atomic<bool> dead{false};    // session ended on its own; written under mu
  std::string session_id;           // (mu)
  bool keep_session = false;        // (mu) close() leaves the session alive upstream
  std::string protocol_version;     // (mu)
  std::deque<Outgoing> queue;       // (mu)
  bool draining = false;            // (mu)
  std::unordered_map<std::string, InFlight*> inflight;  // (mu) by request id
  bool get_running = false;                             // (mu)
  httplib::Client* get_client = nullptr;                // (mu)
  std::string last_event_id;                            // (mu) of the GET stream

  std::string prefix() const { return "upstream '" + cfg.name + "'"; }
};

void deliver(State& s, Json msg, const std::optional<Json>& related) {
  if (s.closed.load()) return;
  s.sink(Incoming{std::move(msg), related, std::nullopt});
}

void fail_request(State& s, const Json& id, int code, const std::string& message) {
  deliver(s, rpc::make_error(id, code, message), id);
}

// The session ended on the server's side (expired, or the server is gone).
void session_gone(State& s, const std::string& reason) {
  UpstreamTransport::OnClosed cb;
  {
    std::lock_guard lock(s.mu);
    if (s.closed || s.dead) return;
    s.dead = true;
    if (s.get_client) s.get_client->stop();
    cb = s.on_closed;
    s.cv.notify_all();
  }
  spdlog::warn("{}: {}", s.prefix(), reason);
  if (cb) cb(reason);
}

bool means_session_gone(int status, const std::string& body, const std::string& sent_session) {
  if (sent_session.empty()) return false;
  if (status == 404) return true;
  // Some servers (including the reference SDK examples) answer 400 "No
  // valid session ID" for a session they no longer know.
  return status == 400 && text::to_lower(body).find("session") != std::string::npos;
}

void add_session_headers(httplib::Request& req, const std::string& sid, const std::string& ver) {
  if (!sid.empty()) req.headers.emplace("Mcp-Session-Id", sid);
  if (!ver.empty()) req.headers.emplace("MCP-Protocol-Version", ver);
}

struct SseExchange {
  bool ok = false;
  httplib::Error err = httplib::Error::Success;
  int status = -1;
  bool connected = false;  // 200 text/event-stream
  std::string reason;
  std::string body;  // non-stream body (errors), bounded
  std::string last_id;
  std::optional<long> retry_ms;
  bool got_response = false;
};

// Runs one GET SSE exchange on `cli` (registered by the caller for stop()).
// `related`/`wait_for` are set when resuming a request's stream.
SseExchange sse_get(State& s, httplib::Client& cli, const std::string& last_event_id,
                    const std::optional<Json>& wait_for) {
  std::string sid, ver;
  {
    std::lock_guard lock(s.mu);
    sid = s.session_id;
    ver = s.protocol_version;
  }
  SseExchange x;
  httplib::Request req;
  req.method = "GET";
  req.path = s.url.target;
  req.headers = detail::base_headers(s.cfg);
  req.headers.emplace("Accept", "text/event-stream");
  req.headers.emplace("Cache-Control", "no-cache");
  add_session_headers(req, sid, ver);
  if (!last_event_id.empty()) req.headers.emplace("Last-Event-ID", last_event_id);
  text::SseParser parser([&](text::SseParser::Event&& ev) {
    if (!ev.id.empty()) x.last_id = ev.id;
    if (ev.retry_ms) x.retry_ms = ev.retry_ms;
    if (ev.data.empty() || ev.event != "message") return;
    auto parsed = rpc::parse(ev.data, detail::kUpstreamLimits);
    if (!parsed.ok()) {
      spdlog::warn("{} sent invalid JSON on its SSE stream ({}): {}", s.prefix(), parsed.error(),
                   detail::excerpt(ev.data));
      return;
    }
    Json m = std::move(parsed).value();
    if (wait_for && detail::kind_of(m) == MsgKind::Response && m["id"] == *wait_for) x.got_response = true;
    deliver(s, std::move(m), wait_for);
  });
  req.response_handler = [&](const httplib::Response& r) {
    x.status = r.status;
    x.reason = r.reason;
    x.connected = r.status == 200 &&
                  text::starts_with(text::to_lower(r.get_header_value("Content-Type")), "text/event-stream");
    return true;
  };
  req.content_receiver = [&](const char* d, size_t n, uint64_t, uint64_t) {
    if (s.closed.load() || s.dead.load()) return false;
    if (x.connected) {
      parser.feed(std::string_view(d, n));
      if (wait_for && x.got_response) return false;  // resumed stream done
      if (!x.last_id.empty() && wait_for == std::nullopt) {
        std::lock_guard lock(s.mu);
        s.last_event_id = x.last_id;
      }
      return true;
    }
    if (x.body.size() < 4096) x.body.append(d, std::min(n, 4096 - x.body.size()));
    return true;
  };
  httplib::Response res;
  x.ok = cli.send(req, res, x.err);
  return x;
}

// Re-attaches to a request's SSE stream that ended before its response.
bool resume_request_stream(const std::shared_ptr<State>& sp, const Json& id, const std::string& key,
                           std::string last_id) {
  State& s = *sp;
  for (int attempt = 0; attempt < 3; ++attempt) {
    {
      std::unique_lock lock(s.mu);
      s.cv.wait_for(lock, std::chrono::milliseconds(250 << attempt), [&] { return s.closed || s.dead; });
      if (s.closed || s.dead) return true;
    }
    auto cli = s.pool->make(s.timeouts);
    InFlight fl;
    fl.cli = cli.get();
    {
      std::lock_guard lock(s.mu);
      s.inflight[key] = &fl;
    }
    auto x = sse_get(s, *cli, last_id, id);
    {
      std::lock_guard lock(s.mu);
      auto it = s.inflight.find(key);
      if (it != s.inflight.end() && it->second == &fl) s.inflight.erase(it);
    }
    if (x.got_response || fl.cancelled || s.closed) return true;
    if (!x.last_id.empty()) last_id = x.last_id;
    if (x.status >= 400) return false;
  }
  return false;
}

// The JSON-RPC error response in an HTTP error body, re-addressed to `id`
// (servers often answer null when they refused the request before reading
// its id); nullopt when the body is not one.
std::optional<Json> modern_error_body(const std::string& body, const Json& id) {
  if (body.empty()) return std::nullopt;
  auto parsed = rpc::parse(body, detail::kUpstreamLimits);
  if (!parsed.ok()) return std::nullopt;
  Json j = std::move(parsed).value();
  if (!j.is_object() || !j.contains("error") || !j["error"].is_object() || !j["error"].contains("code") ||
      !j["error"]["code"].is_number_integer()) {
    return std::nullopt;
  }
  if (!j["error"].contains("message") || !j["error"]["message"].is_string()) j["error"]["message"] = "(no message)";
  j["jsonrpc"] = "2.0";
  j["id"] = id;
  return j;
}

void post_message(const std::shared_ptr<State>& sp, const Outgoing& o) {
  State& s = *sp;
  const bool is_req = o.kind == MsgKind::Request;
  const std::string key = is_req ? detail::id_key(o.id) : std::string();
  auto unavailable = [&](const std::string& why) {
    if (is_req) fail_request(s, o.id, rpc::kUpstreamUnavailable, s.prefix() + " is unavailable: " + why);
    else spdlog::warn("{}: could not deliver a message: {}", s.prefix(), why);
  };
  auto invalid = [&](const std::string& why) {
    if (is_req) fail_request(s, o.id, rpc::kUpstreamInvalid, s.prefix() + " answered with invalid JSON-RPC: " + why);
    else spdlog::warn("{} answered with invalid JSON-RPC: {}", s.prefix(), why);
  };

  // subscriptions/listen stays open for as long as the server has nothing
  // to say (it sends keep-alive comments): its own client, a long read timeout.
  const bool long_lived = o.method == "subscriptions/listen";
  auto timeouts = s.timeouts;
  if (long_lived) timeouts.read = std::max<std::chrono::milliseconds>(timeouts.read, 5min);
  auto cli = long_lived ? s.pool->make(timeouts) : s.pool->checkout(timeouts);
  InFlight fl;
  fl.cli = cli.get();
  std::string sid, ver;
  {
    std::unique_lock lock(s.mu);
    if (s.closed || s.dead) {
      bool dead = s.dead;
      lock.unlock();
      s.pool->checkin(std::move(cli));
      unavailable(dead ? "its session ended" : "the transport is closed");
      return;
    }
    sid = s.session_id;
    ver = s.protocol_version;
    if (is_req) s.inflight[key] = &fl;
  }

  httplib::Request req;
  req.method = "POST";
  req.path = s.url.target;
  req.headers = detail::base_headers(s.cfg);
  req.headers.emplace("Content-Type", "application/json");
  req.headers.emplace("Accept", "application/json, text/event-stream");
  if (o.modern()) {
    for (const auto& [k, v] : o.modern_headers) req.headers.emplace(k, v);
  } else {
    add_session_headers(req, sid, ver);
  }
  req.body = o.body;

  int status = -1;
  std::string ctype, reason, body, last_id;
  bool is_sse = false, too_big = false, got_response = false;
  std::optional<Json> related;
  if (is_req) related = o.id;
  text::SseParser parser([&](text::SseParser::Event&& ev) {
    if (!ev.id.empty()) last_id = ev.id;
    if (ev.data.empty() || ev.event != "message") return;  // priming events, other types
    auto parsed = rpc::parse(ev.data, detail::kUpstreamLimits);
    if (!parsed.ok()) {
      spdlog::warn("{} sent invalid JSON on a response stream ({}): {}", s.prefix(), parsed.error(),
                   detail::excerpt(ev.data));
      return;
    }
    Json m = std::move(parsed).value();
    if (is_req && detail::kind_of(m) == MsgKind::Response && m["id"] == o.id) got_response = true;
    deliver(s, std::move(m), related);
  });
  req.response_handler = [&](const httplib::Response& r) {
    status = r.status;
    reason = r.reason;
    ctype = text::to_lower(r.get_header_value("Content-Type"));
    if (r.has_header("Mcp-Session-Id") && !o.modern()) {  // 2026-07-28 has no sessions
      std::lock_guard lock(s.mu);
      if (!s.closed) s.session_id = r.get_header_value("Mcp-Session-Id");
    }
    is_sse = status == 200 && text::starts_with(ctype, "text/event-stream");
    return true;
  };
  req.content_receiver = [&](const char* d, size_t n, uint64_t, uint64_t) {
    if (fl.cancelled.load() || s.closed.load()) return false;
    if (is_sse) {
      parser.feed(std::string_view(d, n));
      return true;
    }
    if (body.size() + n > detail::kUpstreamLimits.max_bytes) {
      too_big = true;
      return false;
    }
    body.append(d, n);
    return true;
  };
  httplib::Response res;
  httplib::Error err = httplib::Error::Success;
  bool ok = cli->send(req, res, err);
  bool cancelled;
  {
    std::lock_guard lock(s.mu);
    if (is_req) {
      auto it = s.inflight.find(key);
      if (it != s.inflight.end() && it->second == &fl) s.inflight.erase(it);
    }
    cancelled = fl.cancelled.load();
  }
  s.pool->checkin(std::move(cli), ok && !cancelled && !long_lived);
  if (cancelled || s.closed.load()) return;

  const std::string where = "POST " + s.url.str();
  if (!ok && !too_big) {
    if (got_response) return;  // the stream broke after the answer: harmless
    if (is_sse && is_req && !last_id.empty() && resume_request_stream(sp, o.id, key, last_id)) return;
    unavailable(where + " failed: " + detail::describe_error(err));
    return;
  }
  if (status >= 200 && status < 300) {
    if (status == 202 || status == 204) return;
    if (is_sse) {
      if (!is_req || got_response) return;
      if (!last_id.empty() && resume_request_stream(sp, o.id, key, last_id)) return;
      unavailable("the response stream ended before the answer");
      return;
    }
    if (too_big) {
      invalid("response body exceeds " + std::to_string(detail::kUpstreamLimits.max_bytes) + " bytes");
      return;
    }
    if (body.empty() && !is_req) return;
    if (!text::starts_with(ctype, "application/json")) {
      if (is_req) invalid("unexpected Content-Type \"" + ctype + "\": " + detail::excerpt(body));
      return;
    }
    auto parsed = rpc::parse(body, detail::kUpstreamLimits);
    if (!parsed.ok()) {
      invalid(parsed.error() + ": " + detail::excerpt(body));
      return;
    }
    Json j = std::move(parsed).value();
    if (j.is_array()) {
      for (auto& m : j) {
        if (!m.is_object()) {
          invalid("batch element is not an object");
          continue;
        }
        deliver(s, std::move(m), related);
      }
    } else if (j.is_object()) {
      deliver(s, std::move(j), related);
    } else {
      invalid("not a JSON-RPC message: " + detail::excerpt(body));
    }
    return;
  }
  if (means_session_gone(status, body, sid)) {
    if (is_req) fail_request(s, o.id, rpc::kUpstreamUnavailable, s.prefix() + ": session expired (HTTP " + std::to_string(status) + ")");
    session_gone(s, "session expired (HTTP " + std::to_string(status) + ")");
    return;
  }
  if (is_req && o.modern() && !too_big) {
    // A 2026-07-28 server answers protocol errors (unsupported version,
    // missing capability, header mismatch, unknown method) with an HTTP
    // error status and a JSON-RPC error body: pass that error on as is.
    if (auto err = modern_error_body(body, o.id)) {
      deliver(s, std::move(*err), related);
      return;
    }
  }
  std::string why = "HTTP " + std::to_string(status) + (reason.empty() ? "" : " " + reason);
  if (!body.empty()) why += ": " + detail::excerpt(body);
  if (is_req) fail_request(s, o.id, rpc::kUpstreamUnavailable, s.prefix() + ": " + why);
  else spdlog::warn("{}: {} answered {}", s.prefix(), where, why);
}

void drain(const std::shared_ptr<State>& sp) {
  State& s = *sp;
  for (;;) {
    Outgoing o;
    {
      std::lock_guard lock(s.mu);
      if (s.queue.empty() || s.closed) {
        s.queue.clear();
        s.draining = false;
        return;
      }
      o = std::move(s.queue.front());
      s.queue.pop_front();
    }
    if (o.kind == MsgKind::Request) {
      detail::http_pool().enqueue([sp, o = std::move(o)] { post_message(sp, o); });
    } else {
      post_message(sp, o);
    }
  }
}

void get_loop(const std::shared_ptr<State>& sp) {
  State& s = *sp;
  int attempt = 0, conn_failures = 0;
  auto t = s.timeouts;
  t.read = std::max<std::chrono::milliseconds>(t.read, 5min);  // servers ping every ~15s
  for (;;) {
    auto cli = s.pool->make(t);
    std::string last;
    {
      std::lock_guard lock(s.mu);
      if (s.closed || s.dead) break;
      s.get_client = cli.get();
      last = s.last_event_id;
    }
    auto x = sse_get(s, *cli, last, std::nullopt);
    {
      std::lock_guard lock(s.mu);
      s.get_client = nullptr;
      if (s.closed || s.dead) break;
      if (!x.last_id.empty()) s.last_event_id = x.last_id;
    }
    if (x.connected) {
      attempt = 0;
      conn_failures = 0;
    } else if (x.status < 0) {
      if (++conn_failures >= 3) {
        session_gone(s, "connection lost: GET " + s.url.str() + " failed: " + detail::describe_error(x.err));
        break;
      }
    } else if (x.status == 405) {
      spdlog::debug("{} offers no GET stream (HTTP 405)", s.prefix());
      break;
    } else {
      std::string sid;
      {
        std::lock_guard lock(s.mu);
        sid = s.session_id;
      }
      if (means_session_gone(x.status, x.body, sid)) {
        session_gone(s, "session expired (HTTP " + std::to_string(x.status) + ")");
        break;
      }
      if (x.status >= 400 && x.status < 500 && x.status != 408 && x.status != 409 && x.status != 429) {
        spdlog::warn("{}: GET stream refused: HTTP {} {}", s.prefix(), x.status, detail::excerpt(x.body));
        break;
      }
    }
    auto delay = x.retry_ms ? std::chrono::milliseconds(*x.retry_ms)
                            : std::chrono::milliseconds(std::min(30000, 1000 << std::min(attempt, 5)));
    ++attempt;
    std::unique_lock lock(s.mu);
    s.cv.wait_for(lock, delay, [&] { return s.closed || s.dead; });
  }
  std::lock_guard lock(s.mu);
  s.get_running = false;
}

class StreamableHttpTransport final : public UpstreamTransport {
 public:
  explicit StreamableHttpTransport(const config::UpstreamConfig& cfg) : st_(std::make_shared<State>()) {
    st_->cfg = cfg;
    st_->timeouts = detail::timeouts_for(cfg);
  }
  ~StreamableHttpTransport() override { close(); }

  Result<void> open(Sink sink, OnClosed on_closed) override {
    State& s = *st_;
    auto url = detail::parse_url(s.cfg.url);
    if (!url.ok()) return fail(url.error());
    std::lock_guard lock(s.mu);
    if (s.opened) return fail("transport already opened");
    if (s.closed) return fail("transport closed");
    s.url = url.value();
    s.pool = detail::ClientPool::for_origin(s.url.origin());
    s.sink = std::move(sink);
    s.on_closed = std::move(on_closed);
    s.opened = true;
    return {};
  }

  void send(const Json& message) override {
    State& s = *st_;
    Outgoing o = detail::outgoing(message);
    std::unique_lock lock(s.mu);
    if (!s.opened || s.closed || s.dead) {
      bool dead = s.dead;
      lock.unlock();
      if (o.kind == MsgKind::Request) {
        fail_request(s, o.id, rpc::kUpstreamUnavailable,
                     s.prefix() + " is unavailable: " + (dead ? "its session ended" : "the transport is closed"));
      }
      return;
    }
    if (o.kind == MsgKind::Notification && message["method"] == "notifications/cancelled") {
      // Stop waiting on the cancelled request's response stream: the server
      // will not answer it, and the stream would otherwise stay open.
      const Json* params = message.contains("params") ? &message["params"] : nullptr;
      if (params && params->is_object() && params->contains("requestId")) {
        auto it = s.inflight.find(detail::id_key((*params)["requestId"]));
        if (it != s.inflight.end()) {
          it->second->cancelled = true;
          it->second->cli->stop();
          s.inflight.erase(it);
        }
      }
    }
    if (o.kind == MsgKind::Request && s.queue.empty() && !s.draining) {
      lock.unlock();
      detail::http_pool().enqueue([sp = st_, o = std::move(o)] { post_message(sp, o); });
      return;
    }
    s.queue.push_back(std::move(o));
    if (!s.draining) {
      s.draining = true;
      detail::http_pool().enqueue([sp = st_] { drain(sp); });
    }
  }

  bool abort_request(const Json& id) override {
    State& s = *st_;
    std::lock_guard lock(s.mu);
    auto it = s.inflight.find(detail::id_key(id));
    if (it != s.inflight.end()) {
      it->second->cancelled = true;
      it->second->cli->stop();
      s.inflight.erase(it);
    }
    return true;
  }

  void on_initialized(const std::string& protocol_version) override {
    State& s = *st_;
    std::lock_guard lock(s.mu);
    s.protocol_version = protocol_version;
    if (!s.get_running && s.opened && !s.closed && !s.dead) {
      s.get_running = true;
      detail::http_pool().enqueue([sp = st_] { get_loop(sp); });
    }
  }

  std::string session_handle() const override {
    std::lock_guard lock(st_->mu);
    return st_->dead ? std::string() : st_->session_id;
  }

  bool adopt_session(const std::string& session_id) override {
    std::lock_guard lock(st_->mu);
    if (st_->opened) return false;
    st_->session_id = session_id;
    return true;
  }

  void detach() override {
    {
      std::lock_guard lock(st_->mu);
      st_->keep_session = true;
    }
    close();
  }

  void close() override {
    State& s = *st_;
    std::string sid, ver;
    bool dead;
    {
      std::lock_guard lock(s.mu);
      if (s.closed) return;
      s.closed = true;
      dead = s.dead || s.keep_session;
      sid = s.session_id;
      ver = s.protocol_version;
      if (s.get_client) s.get_client->stop();
      for (auto& [k, fl] : s.inflight) {
        fl->cancelled = true;
        fl->cli->stop();
      }
      s.inflight.clear();
      s.queue.clear();
      s.cv.notify_all();
    }
    if (sid.empty() || dead || !s.pool) return;
    // End the session upstream, without making the caller wait for it.
    detail::http_pool().enqueue([sp = st_, sid, ver] {
      detail::ClientTimeouts t{2s, 2s, 2s};
      auto cli = sp->pool->checkout(t);
      httplib::Request req;
      req.method = "DELETE";
      req.path = sp->url.target;
      req.headers = detail::base_headers(sp->cfg);
      add_session_headers(req, sid, ver);
      httplib::Response res;
      httplib::Error err;
      bool ok = cli->send(req, res, err);
      if (!ok) spdlog::debug("{}: DELETE session failed: {}", sp->prefix(), detail::describe_error(err));
      else if (res.status >= 300 && res.status != 405 && res.status != 404)
        spdlog::debug("{}: DELETE session answered HTTP {}", sp->prefix(), res.status);
      sp->pool->checkin(std::move(cli), ok);
    });
  }

  std::string describe() const override {
    std::lock_guard lock(st_->mu);
    std::string out = "streamable-http " + st_->cfg.url;
    if (!st_->session_id.empty()) out += " session " + st_->session_id;
    return out;
  }

 private:
  std::shared_ptr<State> st_;
};

}  // namespace

std::unique_ptr<UpstreamTransport> make_streamable_http_transport(const config::UpstreamConfig& cfg) {
  return std::make_unique<StreamableHttpTransport>(cfg);
}

}  // namespace portcullis::transport
