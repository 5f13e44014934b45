// Legacy HTTP+SSE upstream transport (MCP 2024-11-05), client side.
//
// A long-lived GET on the SSE URL first announces the POST endpoint
// (`event: endpoint`), then carries every server message (`event: message`).
// Client messages are POSTed to the endpoint one at a time, in order; the
// server acknowledges each with 202 once it has dispatched it.
#include <spdlog/spdlog.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>

#include "core/jsonrpc.h"
#include "core/text.h"
#include "transport/http_common.h"
#include "transport/transports_impl.h"

namespace portcullis::transport {
namespace {

using namespace std::chrono_literals;
using detail::MsgKind;

using detail::Outgoing;

struct State {
  config::UpstreamConfig cfg;
  detail::Url sse_url;
  detail::Url endpoint;  // (mu) valid once have_endpoint
  std::shared_ptr<detail::ClientPool> pool;
  detail::ClientTimeouts timeouts;
  UpstreamTransport::Sink sink;
  UpstreamTransport::OnClosed on_closed;

  std::mutex mu;
  std::condition_variable cv;
  bool opened = false;              // (mu)
  std::atomic<bool> closed{false};  // written under mu
  std::atomic<bool> dead{false};    // written under mu
  bool have_endpoint = false;       // (mu)
  bool stream_ended = false;        // (mu)
  std::string open_error;           // (mu)
  httplib::Client* stream_client = nullptr;  // (mu)
  std::string protocol_version;              // (mu)
  std::deque<Outgoing> queue;                // (mu)
  bool draining = false;                     // (mu)
  httplib::Client* post_client = nullptr;    // (mu) the POST in progress

  std::string prefix() const { return "upstream '" + cfg.name + "'"; }
};

void deliver(State& s, Json msg) {
  if (s.closed.load()) return;
  s.sink(Incoming{std::move(msg), std::nullopt, std::nullopt});
}

void fail_request(State& s, const Json& id, int code, const std::string& message) {
  deliver(s, rpc::make_error(id, code, message));
}

void mark_dead(State& s, const std::string& reason) {
  UpstreamTransport::OnClosed cb;
  {
    std::lock_guard lock(s.mu);
    if (s.closed || s.dead) return;
    s.dead = true;
    if (s.stream_client) s.stream_client->stop();
    cb = s.on_closed;
    s.cv.notify_all();
  }
  spdlog::warn("{}: {}", s.prefix(), reason);
  if (cb) cb(reason);
}

void stream_task(const std::shared_ptr<State>& sp) {
  State& s = *sp;
  auto t = s.timeouts;
  t.read = 24h;  // legacy servers send no keep-alives; an idle session is silent
  auto cli = s.pool->make(t);
  {
    std::lock_guard lock(s.mu);
    if (s.closed) return;
    s.stream_client = cli.get();
  }
  int status = -1;
  std::string reason, body, bad_endpoint;
  bool connected = false;
  httplib::Request req;
  req.method = "GET";
  req.path = s.sse_url.target;
  req.headers = detail::base_headers(s.cfg);
  req.headers.emplace("Accept", "text/event-stream");
  req.headers.emplace("Cache-Control", "no-cache");
  text::SseParser parser([&](text::SseParser::Event&& ev) {
    if (ev.event == "endpoint") {
      std::string_view ref = ev.data;
      while (!ref.empty() && (ref.back() == ' ' || ref.back() == '\n')) ref.remove_suffix(1);
      auto u = detail::resolve_url(s.sse_url, ref);
      if (!u.ok()) {
        bad_endpoint = "invalid endpoint \"" + detail::excerpt(ref) + "\": " + u.error();
        return;
      }
      if (u->origin() != s.sse_url.origin()) {
        bad_endpoint = "endpoint " + u->str() + " is on another origin than " + s.sse_url.origin();
        return;
      }
      std::lock_guard lock(s.mu);
      s.endpoint = u.value();
      s.have_endpoint = true;
      s.cv.notify_all();
      return;
    }
    if (ev.event != "message" || ev.data.empty()) return;
    auto parsed = rpc::parse(ev.data, detail::kUpstreamLimits);
    if (!parsed.ok()) {
      spdlog::warn("{} sent invalid JSON on its SSE stream ({}): {}", s.prefix(), parsed.error(),
                   detail::excerpt(ev.data));
      return;
    }
    deliver(s, std::move(parsed).value());
  });
  req.response_handler = [&](const httplib::Response& r) {
    status = r.status;
    reason = r.reason;
    connected = r.status == 200 &&
                text::starts_with(text::to_lower(r.get_header_value("Content-Type")), "text/event-stream");
    return true;
  };
  req.content_receiver = [&](const char* d, size_t n, uint64_t, uint64_t) {
    if (s.closed.load() || s.dead.load()) return false;
    if (connected) {
      parser.feed(std::string_view(d, n));
      return bad_endpoint.empty();
    }
    if (body.size() < 4096) body.append(d, std::min(n, 4096 - body.size()));
    return true;
  };
  httplib::Response res;
  httplib::Error err = httplib::Error::Success;
  bool ok = cli->send(req, res, err);

  const std::string where = "GET " + s.sse_url.str();
  std::string why;
  if (!bad_endpoint.empty()) why = bad_endpoint;
  else if (status >= 0 && !connected) {
    why = where + " answered HTTP " + std::to_string(status) + (reason.empty() ? "" : " " + reason);
    if (status == 200) why += " without an event stream";
    if (!body.empty()) why += ": " + detail::excerpt(body);
  } else if (!ok) {
    why = where + " failed: " + detail::describe_error(err);
  } else {
    why = "the server closed the SSE stream";
  }
  bool report;
  {
    std::lock_guard lock(s.mu);
    s.stream_client = nullptr;
    if (s.closed) return;
    report = s.have_endpoint;
    if (!report) {
      s.open_error = why;
      s.stream_ended = true;
      s.cv.notify_all();
    }
  }
  if (report) mark_dead(s, why);
}

void post_one(State& s, const Outgoing& o) {
  const bool is_req = o.kind == MsgKind::Request;
  auto failed = [&](int code, const std::string& why) {
    if (is_req) fail_request(s, o.id, code, why);
    else spdlog::warn("{}: could not deliver a message: {}", s.prefix(), why);
  };
  detail::Url ep;
  std::string ver;
  bool usable, dead;
  {
    std::lock_guard lock(s.mu);
    dead = s.dead;
    usable = !s.closed && !s.dead && s.have_endpoint;
    if (usable) {
      ep = s.endpoint;
      ver = s.protocol_version;
    }
  }
  if (!usable) {
    failed(rpc::kUpstreamUnavailable,
           s.prefix() + " is unavailable: " + (dead ? "its SSE stream ended" : "the transport is closed"));
    return;
  }
  auto cli = s.pool->checkout(s.timeouts);
  {
    std::lock_guard lock(s.mu);
    s.post_client = cli.get();
  }
  httplib::Request req;
  req.method = "POST";
  req.path = ep.target;
  req.headers = detail::base_headers(s.cfg);
  req.headers.emplace("Content-Type", "application/json");
  if (!ver.empty()) req.headers.emplace("MCP-Protocol-Version", ver);
  req.body = o.body;
  httplib::Response res;
  httplib::Error err = httplib::Error::Success;
  bool ok = cli->send(req, res, err);
  {
    std::lock_guard lock(s.mu);
    s.post_client = nullptr;
  }
  s.pool->checkin(std::move(cli), ok && !s.closed.load());
  if (s.closed.load()) return;
  if (!ok) {
    failed(rpc::kUpstreamUnavailable,
           s.prefix() + " is unavailable: POST " + ep.str() + " failed: " + detail::describe_error(err));
    return;
  }
  if (res.status >= 200 && res.status < 300) return;
  std::string why = "HTTP " + std::to_string(res.status) + (res.reason.empty() ? "" : " " + res.reason);
  if (!res.body.empty()) why += ": " + detail::excerpt(res.body);
  failed(rpc::kUpstreamUnavailable, s.prefix() + ": " + why);
  if (res.status == 404) mark_dead(s, "session expired (HTTP 404 on POST)");
}

void drain(const std::shared_ptr<State>& sp) {
  State& s = *sp;
  for (;;) {
    Outgoing o;
    {
      std::lock_guard lock(s.mu);
      if (s.queue.empty()) {
        s.draining = false;
        return;
      }
      o = std::move(s.queue.front());
      s.queue.pop_front();
    }
    post_one(s, o);
  }
}

class SseTransport final : public UpstreamTransport {
 public:
  explicit SseTransport(const config::UpstreamConfig& cfg) : st_(std::make_shared<State>()) {
    st_->cfg = cfg;
    st_->timeouts = detail::timeouts_for(cfg);
  }
  ~SseTransport() override { close(); }

  Result<void> open(Sink sink, OnClosed on_closed) override {
    State& s = *st_;
    auto url = detail::parse_url(s.cfg.url);
    if (!url.ok()) return fail(url.error());
    {
      std::lock_guard lock(s.mu);
      if (s.opened) return fail("transport already opened");
      if (s.closed) return fail("transport closed");
      s.sse_url = url.value();
      s.pool = detail::ClientPool::for_origin(s.sse_url.origin());
      s.sink = std::move(sink);
      s.on_closed = std::move(on_closed);
      s.opened = true;
    }
    detail::http_pool().enqueue([sp = st_] { stream_task(sp); });
    std::unique_lock lock(s.mu);
    auto limit = s.cfg.connect_timeout.count() > 0 ? s.cfg.connect_timeout : std::chrono::milliseconds(30000);
    s.cv.wait_for(lock, limit, [&] { return s.have_endpoint || s.stream_ended || s.closed || s.dead; });
    if (s.have_endpoint && !s.closed && !s.dead) {
      spdlog::debug("{}: SSE endpoint is {}", s.prefix(), s.endpoint.str());
      return {};
    }
    std::string why = s.closed ? "transport closed"
                      : !s.open_error.empty()
                          ? s.open_error
                          : "no endpoint event on " + s.sse_url.str() + " within " +
                                std::to_string(limit.count()) + "ms";
    // Give up on this stream; nothing is reported through on_closed.
    s.closed = true;
    if (s.stream_client) s.stream_client->stop();
    s.cv.notify_all();
    return fail(why);
  }

  void send(const Json& message) override {
    State& s = *st_;
    Outgoing o = detail::outgoing(message);
    std::unique_lock lock(s.mu);
    if (!s.have_endpoint || s.closed || s.dead) {
      bool dead = s.dead;
      lock.unlock();
      if (o.kind == MsgKind::Request) {
        fail_request(s, o.id, rpc::kUpstreamUnavailable,
                     s.prefix() + " is unavailable: " + (dead ? "its SSE stream ended" : "the transport is closed"));
      }
      return;
    }
    s.queue.push_back(std::move(o));
    if (!s.draining) {
      s.draining = true;
      detail::http_pool().enqueue([sp = st_] { drain(sp); });
    }
  }

  void on_initialized(const std::string& protocol_version) override {
    std::lock_guard lock(st_->mu);
    st_->protocol_version = protocol_version;
  }

  void close() override {
    State& s = *st_;
    std::lock_guard lock(s.mu);
    if (s.closed) return;
    s.closed = true;
    if (s.stream_client) s.stream_client->stop();
    if (s.post_client) s.post_client->stop();
    s.cv.notify_all();
  }

  std::string describe() const override {
    std::lock_guard lock(st_->mu);
    std::string out = "sse " + st_->cfg.url;
    if (st_->have_endpoint) out += " endpoint " + st_->endpoint.target;
    return out;
  }

 private:
  std::shared_ptr<State> st_;
};

}  // namespace

std::unique_ptr<UpstreamTransport> make_sse_transport(const config::UpstreamConfig& cfg) {
  return std::make_unique<SseTransport>(cfg);
}

}  // namespace portcullis::transport
