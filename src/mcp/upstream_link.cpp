#include "mcp/upstream_link.h"

#include <spdlog/spdlog.h>

#include <future>
#include <set>
#include <unordered_map>

#include "core/elastic_pool.h"
#include "core/jsonrpc.h"
#include "core/scheduler.h"
#include "core/text.h"

namespace portcullis::mcp {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const char* to_string(Era e) { return e == Era::Modern ? "2026-07-28 (modern)" : "legacy"; }

bool is_supported_revision(const std::string& v) {
  for (const char* r : kSupportedRevisions) {
    if (v == r) return true;
  }
  return false;
}

void CancelToken::cancel() {
  std::vector<std::function<void()>> callbacks;
  {
    std::lock_guard lock(mu_);
    if (cancelled_.exchange(true)) return;
    callbacks.swap(callbacks_);
  }
  for (auto& fn : callbacks) fn();
}

void CancelToken::on_cancel(std::function<void()> fn) {
  {
    std::lock_guard lock(mu_);
    if (!cancelled_.load()) {
      callbacks_.push_back(std::move(fn));
      return;
    }
  }
  fn();
}

namespace {

// Restarts and transport teardown run here, never on the shared scheduler
// thread (a start blocks up to connect_timeout).
ElasticPool& background_pool() {
  static ElasticPool* pool = new ElasticPool(ElasticPool::Options{
      .min_idle = 0, .max_workers = 1024, .idle_timeout = 10s, .stack_bytes = 512 * 1024});
  return *pool;
}

// One call waiting for its response. Lives on the caller's stack; reachable
// through Core::pending only while registered there (under Core::mu).
// One request awaiting its response. A synchronous call waits on `cv`; an
// asynchronous one has `on_done`, run once outside the link's mutex.
struct Pending {
  std::condition_variable cv;
  Json response;
  bool done = false;
  bool cancelled = false;
  std::function<void(Json)> on_done;
  std::string method;
  std::chrono::milliseconds timeout{0};
  Scheduler::TaskId timer = 0;
  std::shared_ptr<transport::UpstreamTransport> transport;
  std::chrono::steady_clock::time_point sent_at;
  bool modern = false;  // sent in the modern era: cancel by aborting where possible
};
using PendingPtr = std::shared_ptr<Pending>;

std::string supported_list() {
  std::string out;
  for (const char* r : kSupportedRevisions) out += (out.empty() ? "" : ", ") + std::string(r);
  return out;
}

}  // namespace

// Shared state of a link. Transport callbacks hold it by weak_ptr, so a late
// delivery after the link is gone touches nothing.
struct LinkCore : std::enable_shared_from_this<LinkCore> {
  config::UpstreamConfig cfg;
  UpstreamLink::ClientInfo client;
  UpstreamLink::Handlers handlers;
  std::string who;  // "upstream 'x'"

  mutable std::mutex mu;
  LinkState state = LinkState::Connecting;  // (mu)
  std::string reason = "not started yet";   // (mu) why not Ready
  std::shared_ptr<transport::UpstreamTransport> transport;  // (mu)
  std::atomic<uint64_t> gen{0};    // written under mu; bumps retire a transport
  std::atomic<bool> closed{false};  // written under mu
  bool starting = false;            // (mu)
  std::string death_reason;         // (mu) transport died while starting
  std::unordered_map<int64_t, PendingPtr> pending;  // (mu)
  std::string last_garbage;                         // (mu) last non-JSON-RPC output
  std::chrono::steady_clock::time_point last_garbage_at;  // (mu)
  std::atomic<int64_t> next_id{1};
  Json caps = Json::object(), info = Json::object();  // (mu)
  std::string instructions, version;                  // (mu)
  std::chrono::milliseconds backoff{1000};            // (mu)
  Era era = Era::Legacy;                              // (mu)
  Envelope envelope;                                  // (mu) modern: sent with every request
  std::set<std::string> resource_uris;                // (mu) modern: resources/subscribe'd
  // Modern: the one subscriptions/listen request kept open. `seq` retires
  // an old listen when a new one replaces it; `cancel` is null when none is
  // open (or one is waiting to be reopened).
  struct Listen {
    uint64_t seq = 0;
    int64_t id = 0;
    Json filter;
    std::shared_ptr<CancelToken> cancel;
    std::chrono::milliseconds backoff{1000};
  } listen;  // (mu)
  // Scheduled restarts are invalidated by bumping this rather than by
  // Scheduler::cancel(), which is unsafe while the scheduler waits on the
  // task's deadline (it waits on a reference into the erased node).
  uint64_t restart_seq = 0;  // (mu)

  Result<void> start();
  Result<void> fail_start(uint64_t g, const std::string& why);
  // During start(): retires the current transport (ending its session, or
  // leaving it alive for others when !end_session) and opens a fresh one
  // under a new generation, stored back into `g`.
  Result<std::shared_ptr<transport::UpstreamTransport>> reopen_transport(uint64_t& g, bool end_session);
  // `session_id`: an upstream session to continue (Streamable HTTP).
  Result<std::shared_ptr<transport::UpstreamTransport>> open_transport(uint64_t g,
                                                                      const std::string& session_id = {});
  // One request during start(), waited for until `deadline`.
  struct StartExchange {
    Json response;         // set when answered
    bool answered = false;
    std::string died;      // the transport died (or the link closed) meanwhile
  };
  StartExchange exchange(uint64_t g, const std::shared_ptr<transport::UpstreamTransport>& t,
                         const std::string& method, Json params, Clock::time_point deadline);
  Result<void> initialize(uint64_t g, const std::shared_ptr<transport::UpstreamTransport>& t,
                          Clock::time_point deadline, std::chrono::milliseconds connect_timeout);
  Result<void> become_ready(uint64_t g, const std::shared_ptr<transport::UpstreamTransport>& t, Era e,
                            const std::string& v, Json new_caps, Json new_info, std::string new_instructions);
  void call_async(const std::string& method, Json params, const CallOptions& opts, std::function<void(Json)> done);
  // Modern era: the answer to a method 2026-07-28 removed, or nullopt.
  std::optional<Json> emulate_removed(const std::string& method, const Json& params);
  void send_cancel(const std::shared_ptr<transport::UpstreamTransport>& t, bool modern, int64_t id,
                   const std::string& reason);
  // Modern era: opens, replaces or closes the subscriptions/listen request
  // so that it matches the server's capabilities and resource_uris.
  void refresh_listen();
  void listen_ended(uint64_t seq, const Json& response);
  // Modern era: handles a listen-stream notification; false when `in` is not one.
  bool on_listen_notification(transport::Incoming& in);
  void on_incoming(uint64_t g, transport::Incoming&& in);
  void on_transport_closed(uint64_t g, const std::string& why);
  void cancel_pending(int64_t id);
  void expire_pending(int64_t id);
  // Completes an asynchronous call. REQUIRES: mu not held.
  static void complete(const PendingPtr& p, Json response);
  // Completes whichever call waits for `id`, sync or async. Returns false
  // when none does. REQUIRES: mu not held.
  bool resolve(int64_t id, Json response);
  Json timeout_error(int64_t id, const std::string& method, std::chrono::milliseconds timeout,
                     std::chrono::steady_clock::time_point since);
  void fail_all_locked(int code, const std::string& message);
  void schedule_restart_locked();
  void emit(LinkState s, const std::string& why) {
    if (handlers.on_state && !closed.load()) handlers.on_state(s, why);
  }
  static void dispose(std::shared_ptr<transport::UpstreamTransport> t) {
    if (!t) return;
    background_pool().enqueue([t = std::move(t)]() mutable {
      t->close();
      t.reset();
    });
  }
};

void LinkCore::fail_all_locked(int code, const std::string& message) {
  for (auto& [id, p] : pending) {
    Json err = rpc::make_error(id, code, message);
    if (p->on_done) {
      // We hold mu: complete on another thread.
      background_pool().enqueue([p, err = std::move(err)]() mutable { complete(p, std::move(err)); });
    } else {
      p->response = std::move(err);
      p->done = true;
      p->cv.notify_one();
    }
  }
  pending.clear();
}

void LinkCore::complete(const PendingPtr& p, Json response) {
  if (p->timer) Scheduler::shared().cancel(p->timer);
  auto done = std::move(p->on_done);
  p->on_done = nullptr;
  p->transport.reset();
  if (done) done(std::move(response));
}

bool LinkCore::resolve(int64_t id, Json response) {
  PendingPtr async;
  {
    std::lock_guard lock(mu);
    auto it = pending.find(id);
    if (it == pending.end()) return false;
    PendingPtr p = std::move(it->second);
    pending.erase(it);
    if (!p->on_done) {
      p->response = std::move(response);
      p->done = true;
      p->cv.notify_one();
      return true;
    }
    async = std::move(p);
  }
  complete(async, std::move(response));
  return true;
}

Json LinkCore::timeout_error(int64_t id, const std::string& method, std::chrono::milliseconds timeout,
                             std::chrono::steady_clock::time_point since) {
  std::string msg = who + " did not answer " + method + " within " + text::format_duration(timeout);
  std::lock_guard lock(mu);
  if (!last_garbage.empty() && last_garbage_at >= since) {
    // The likeliest cause: the answer was written, but not as JSON-RPC.
    msg += "; meanwhile it wrote output that is not valid JSON-RPC: " + last_garbage;
  }
  return rpc::make_error(id, rpc::kUpstreamTimeout, msg);
}

void LinkCore::cancel_pending(int64_t id) {
  PendingPtr p;
  {
    std::lock_guard lock(mu);
    auto it = pending.find(id);
    if (it == pending.end()) return;
    if (!it->second->on_done) {
      it->second->cancelled = true;
      it->second->cv.notify_one();
      return;
    }
    p = it->second;
    pending.erase(it);
  }
  if (p->transport) send_cancel(p->transport, p->modern, id, "cancelled by the client");
  complete(p, rpc::make_error(id, rpc::kRequestCancelled, who + ": " + p->method + " was cancelled"));
}

void LinkCore::expire_pending(int64_t id) {
  PendingPtr p;
  {
    std::lock_guard lock(mu);
    auto it = pending.find(id);
    if (it == pending.end()) return;
    p = it->second;
    pending.erase(it);
  }
  p->timer = 0;  // it is firing
  if (p->transport) send_cancel(p->transport, p->modern, id, "timeout after " + text::format_duration(p->timeout));
  complete(p, timeout_error(id, p->method, p->timeout, p->sent_at));
}

void LinkCore::schedule_restart_locked() {
  auto delay = backoff;
  backoff = std::min<std::chrono::milliseconds>(backoff * 2, 30s);
  std::weak_ptr<LinkCore> weak = weak_from_this();
  spdlog::debug("{}: restarting in {}", who, text::format_duration(delay));
  const uint64_t seq = ++restart_seq;
  Scheduler::shared().after(delay, [weak, seq] {
    background_pool().enqueue([weak, seq] {
      auto c = weak.lock();
      if (!c) return;
      {
        std::lock_guard lock(c->mu);
        if (c->closed || c->restart_seq != seq) return;
      }
      auto r = c->start();
      (void)r;
    });
  });
}

void LinkCore::send_cancel(const std::shared_ptr<transport::UpstreamTransport>& t, bool modern, int64_t id,
                           const std::string& reason) {
  // 2026-07-28 over HTTP: closing the request's stream is the cancellation.
  if (modern && t->abort_request(Json(id))) return;
  t->send(rpc::make_notification("notifications/cancelled", {{"requestId", id}, {"reason", reason}}));
}

Result<std::shared_ptr<transport::UpstreamTransport>> LinkCore::open_transport(uint64_t g,
                                                                              const std::string& session_id) {
  std::shared_ptr<transport::UpstreamTransport> t = transport::make_transport(cfg);
  if (!session_id.empty()) t->adopt_session(session_id);
  {
    std::lock_guard lock(mu);
    if (closed || gen != g) return fail("the link is closed");
    transport = t;  // so that close() can interrupt a blocking open()
  }
  std::weak_ptr<LinkCore> weak = weak_from_this();
  auto opened = t->open(
      [weak, g](transport::Incoming&& in) {
        if (auto c = weak.lock()) c->on_incoming(g, std::move(in));
      },
      [weak, g](const std::string& why) {
        if (auto c = weak.lock()) c->on_transport_closed(g, why);
      });
  if (!opened.ok()) return fail(opened.error());
  return t;
}

Result<std::shared_ptr<transport::UpstreamTransport>> LinkCore::reopen_transport(uint64_t& g, bool end_session) {
  std::shared_ptr<transport::UpstreamTransport> old;
  {
    std::lock_guard lock(mu);
    if (closed || gen != g) return fail("the link is closed");
    g = ++gen;
    death_reason.clear();
    old = std::move(transport);
    transport.reset();
  }
  if (old && !end_session) old->detach();
  dispose(std::move(old));
  return open_transport(g);
}

LinkCore::StartExchange LinkCore::exchange(uint64_t g, const std::shared_ptr<transport::UpstreamTransport>& t,
                                           const std::string& method, Json params, Clock::time_point deadline) {
  StartExchange x;
  auto pp = std::make_shared<Pending>();
  Pending& p = *pp;
  const int64_t id = next_id.fetch_add(1);
  {
    std::lock_guard lock(mu);
    if (closed || gen != g) {
      x.died = "the link is closed";
      return x;
    }
    if (!death_reason.empty()) {
      x.died = death_reason;
      return x;
    }
    pending.emplace(id, pp);
  }
  t->send(rpc::make_request(id, method, std::move(params)));
  std::unique_lock lock(mu);
  p.cv.wait_until(lock, deadline, [&] { return p.done; });
  if (!p.done) pending.erase(id);
  x.died = death_reason;
  if (closed || gen != g) x.died = "the link is closed";
  if (p.done) {
    x.answered = true;
    x.response = std::move(p.response);
  }
  return x;
}

Result<void> LinkCore::start() {
  uint64_t g;
  {
    std::lock_guard lock(mu);
    if (closed) return fail("the link is closed");
    if (state == LinkState::Ready) return {};
    if (starting) return fail("a start is already in progress");
    starting = true;
    state = LinkState::Connecting;
    g = ++gen;
    death_reason.clear();
    ++restart_seq;  // a manual start supersedes a scheduled one
  }
  auto connect_timeout = cfg.connect_timeout.count() > 0 ? cfg.connect_timeout : 30000ms;
  const auto deadline = Clock::now() + connect_timeout;
  std::optional<UpstreamLink::SessionHandle> resume;
  {
    std::lock_guard lock(mu);
    resume = std::move(client.resume);  // only the first start continues it
    client.resume.reset();
  }
  auto opened = open_transport(g, resume ? resume->session_id : std::string());
  if (!opened.ok()) return fail_start(g, opened.error());
  std::shared_ptr<transport::UpstreamTransport> t = opened.value();
  if (resume && !t->session_handle().empty()) {
    // One ping tells whether the server still knows the session; if not,
    // this link starts a session of its own rather than failing the
    // client's first call.
    t->on_initialized(resume->protocol_version);
    auto x = exchange(g, t, "ping", Json::object(), deadline);
    if (x.died.empty() && x.answered && x.response.contains("result")) {
      spdlog::debug("{}: continuing upstream session {}", who, resume->session_id);
      return become_ready(g, t, Era::Legacy, resume->protocol_version, std::move(resume->capabilities),
                          std::move(resume->server_info), "");
    }
    if (x.died == "the link is closed") return fail_start(g, x.died);
    spdlog::info("{}: upstream session {} cannot be continued ({}); starting a new one", who, resume->session_id,
                 !x.died.empty() ? x.died : x.answered ? rpc::dump(x.response) : std::string("no answer to ping"));
    // The session is not ours to end: detach rather than DELETE it.
    auto reopened = reopen_transport(g, /*end_session=*/false);
    if (!reopened.ok()) return fail_start(g, reopened.error());
    t = reopened.value();
  }

  const bool sse = cfg.transport == config::Transport::Sse;
  const config::Revision want = sse ? config::Revision::Legacy : cfg.revision;
  if (want != config::Revision::Legacy) {
    const bool pinned = want == config::Revision::Modern;
    // A legacy server may ignore the probe entirely: do not let that cost
    // the whole connect timeout.
    const auto probe_timeout = pinned ? connect_timeout : std::min<std::chrono::milliseconds>(connect_timeout, 3000ms);
    const auto probe_deadline = std::min(deadline, Clock::now() + probe_timeout);
    Envelope env;
    {
      std::lock_guard lock(mu);
      env = envelope;
    }
    env.protocol_version = kModernRevisions[0];
    env.client_capabilities = client.capabilities;
    env.client_info = client.client_info;
    std::string legacy_why;
    for (int round = 0; round < 3; ++round) {
      auto x = exchange(g, t, "server/discover", with_envelope(Json::object(), env), probe_deadline);
      if (!x.died.empty()) {
        if (pinned || x.died == "the link is closed") return fail_start(g, x.died);
        // stdio: the probe killed a legacy server; initialize a fresh one.
        spdlog::debug("{}: the server/discover probe ended the connection ({}); retrying with initialize", who, x.died);
        auto reopened = reopen_transport(g, /*end_session=*/true);
        if (!reopened.ok()) return fail_start(g, reopened.error());
        t = reopened.value();
        break;
      }
      if (!x.answered) {
        legacy_why = "no answer to server/discover within " + text::format_duration(probe_timeout);
        if (pinned) return fail_start(g, "revision 2026-07-28 is configured, but there was " + legacy_why);
        break;
      }
      DiscoverVerdict v = judge_discover(x.response, env.protocol_version);
      if (v.kind == DiscoverVerdict::Modern) {
        const Json& r = v.result;
        Json new_caps = r.contains("capabilities") && r["capabilities"].is_object() ? r["capabilities"] : Json::object();
        std::string new_instructions =
            r.contains("instructions") && r["instructions"].is_string() ? r["instructions"].get<std::string>() : "";
        return become_ready(g, t, Era::Modern, v.version, std::move(new_caps), server_info_of(r),
                            std::move(new_instructions));
      }
      if (v.kind == DiscoverVerdict::Retry) {
        env.protocol_version = v.version;
        continue;
      }
      if (v.kind == DiscoverVerdict::Refused) return fail_start(g, v.why);
      // Errors synthesized by the transport already name the upstream.
      legacy_why = v.why;
      for (const std::string& pre : {who + " is unavailable: ", who + ": "}) {
        auto at = legacy_why.find(pre);
        if (at != std::string::npos) legacy_why.erase(at, pre.size());
      }
      if (pinned) return fail_start(g, "revision 2026-07-28 is configured, but the server does not speak it: " + legacy_why);
      break;
    }
    if (!legacy_why.empty()) spdlog::debug("{}: not a 2026-07-28 server ({}); using initialize", who, legacy_why);
  }
  return initialize(g, t, deadline, connect_timeout);
}

Result<void> LinkCore::initialize(uint64_t g, const std::shared_ptr<transport::UpstreamTransport>& t,
                                  Clock::time_point deadline, std::chrono::milliseconds connect_timeout) {
  auto x = exchange(g, t, "initialize",
                    {{"protocolVersion", client.protocol_version},
                     {"capabilities", client.capabilities},
                     {"clientInfo", client.client_info}},
                    deadline);
  if (!x.died.empty()) return fail_start(g, x.died);
  if (!x.answered) {
    return fail_start(g, "no answer to initialize within " + text::format_duration(connect_timeout));
  }
  const Json& resp = x.response;
  if (resp.contains("error")) {
    const Json& e = resp["error"];
    std::string msg = e.is_object() && e.contains("message") && e["message"].is_string()
                          ? e["message"].get<std::string>()
                          : rpc::dump(e);
    // Errors synthesized by the transport already name the upstream.
    for (const std::string& pre : {who + " is unavailable: ", who + " closed: ", who + ": "}) {
      if (text::starts_with(msg, pre)) return fail_start(g, msg.substr(pre.size()));
    }
    return fail_start(g, "initialize failed: " + msg);
  }
  if (!resp.contains("result") || !resp["result"].is_object()) {
    return fail_start(g, "initialize answered without a result object");
  }
  const Json& result = resp["result"];
  std::string v = result.contains("protocolVersion") && result["protocolVersion"].is_string()
                      ? result["protocolVersion"].get<std::string>()
                      : std::string();
  if (!is_supported_revision(v)) {
    return fail_start(g, "the server chose protocol version \"" + (v.empty() ? rpc::dump(result.value("protocolVersion", Json())) : v) +
                             "\", which Portcullis does not support (supported: " + supported_list() + ")");
  }
  Json new_caps = result.contains("capabilities") && result["capabilities"].is_object() ? result["capabilities"] : Json::object();
  Json new_info = result.contains("serverInfo") && result["serverInfo"].is_object() ? result["serverInfo"] : Json::object();
  std::string new_instructions =
      result.contains("instructions") && result["instructions"].is_string() ? result["instructions"].get<std::string>() : "";

  t->on_initialized(v);
  t->send(rpc::make_notification("notifications/initialized", nullptr));
  return become_ready(g, t, Era::Legacy, v, std::move(new_caps), std::move(new_info), std::move(new_instructions));
}

Result<void> LinkCore::become_ready(uint64_t g, const std::shared_ptr<transport::UpstreamTransport>& t, Era e,
                                    const std::string& v, Json new_caps, Json new_info,
                                    std::string new_instructions) {
  {
    std::unique_lock lock(mu);
    if (closed || gen != g || !death_reason.empty()) {
      std::string why = closed || gen != g ? std::string("the link is closed") : death_reason;
      lock.unlock();  // fail_start takes mu
      return fail_start(g, why);
    }
    caps = std::move(new_caps);
    info = std::move(new_info);
    instructions = std::move(new_instructions);
    version = v;
    era = e;
    if (e == Era::Modern) {
      envelope.protocol_version = v;
      envelope.client_capabilities = client.capabilities;
      envelope.client_info = client.client_info;
    }
    // Whatever listen the previous connection had died with it.
    ++listen.seq;
    listen.cancel.reset();
    listen.filter = Json();
    listen.id = 0;
    listen.backoff = 1000ms;
    state = LinkState::Ready;
    reason.clear();
    starting = false;
    backoff = 1000ms;
  }
  spdlog::debug("{} ready ({}, protocol {})", who, t->describe(), v);
  emit(LinkState::Ready, "");
  refresh_listen();
  return {};
}

Result<void> LinkCore::fail_start(uint64_t g, const std::string& why) {
  std::shared_ptr<transport::UpstreamTransport> t;
  bool notify = false;
  {
    std::lock_guard lock(mu);
    starting = false;
    if (gen == g && !closed) {
      t = std::move(transport);
      transport.reset();
      ++gen;
      state = LinkState::Down;
      reason = why;
      fail_all_locked(rpc::kUpstreamUnavailable, who + " is unavailable: " + why);
      schedule_restart_locked();
      notify = true;
    }
  }
  dispose(std::move(t));
  spdlog::debug("{} failed to start: {}", who, why);
  if (notify) emit(LinkState::Down, why);
  return fail(why);
}

void LinkCore::on_transport_closed(uint64_t g, const std::string& why) {
  std::shared_ptr<transport::UpstreamTransport> t;
  {
    std::lock_guard lock(mu);
    if (g != gen || closed) return;
    fail_all_locked(rpc::kUpstreamUnavailable, who + " closed: " + why);
    if (starting) {
      death_reason = why;  // start() notices and fails
      return;
    }
    if (state != LinkState::Ready) return;
    t = std::move(transport);
    transport.reset();
    ++gen;
    state = LinkState::Down;
    reason = why;
    schedule_restart_locked();
  }
  dispose(std::move(t));
  emit(LinkState::Down, why);
}

void LinkCore::on_incoming(uint64_t g, transport::Incoming&& in) {
  if (g != gen.load() || closed.load()) return;
  if (in.invalid_output) {
    std::lock_guard lock(mu);
    last_garbage = *in.invalid_output;
    last_garbage_at = Clock::now();
    return;
  }
  Json& m = in.message;
  std::string why;
  switch (rpc::classify(m, &why)) {
    case rpc::Kind::Response: {
      const Json idj = m["id"];
      if (idj.is_number_integer() && resolve(idj.get<int64_t>(), std::move(m))) return;
      spdlog::debug("{}: dropping a response for unknown id {}", who, rpc::dump(idj));
      return;
    }
    case rpc::Kind::Request: {
      std::shared_ptr<transport::UpstreamTransport> t;
      {
        std::lock_guard lock(mu);
        if (g != gen) return;
        t = transport;
      }
      if (!t) return;
      bool modern;
      {
        std::lock_guard lock(mu);
        modern = era == Era::Modern;
      }
      if (modern) {
        // 2026-07-28 has no server->client requests, and no way to answer one over HTTP.
        spdlog::warn("{} sent a {} request, which 2026-07-28 does not allow; ignoring it", who,
                     rpc::dump(m["method"]));
        return;
      }
      if (m["method"] == "ping") {
        t->send(rpc::make_result(m["id"], Json::object()));
      } else if (handlers.on_request) {
        handlers.on_request(in);
      } else {
        t->send(rpc::make_error(m["id"], rpc::kMethodNotFound,
                                "method not supported by the client: " + m["method"].get<std::string>()));
      }
      return;
    }
    case rpc::Kind::Notification: {
      bool modern;
      {
        std::lock_guard lock(mu);
        modern = era == Era::Modern;
      }
      if (modern && on_listen_notification(in)) return;
      if (handlers.on_notification) handlers.on_notification(in);
      return;
    }
    case rpc::Kind::Invalid: {
      auto id = m.is_object() ? m.find("id") : m.end();
      if (m.is_object() && id != m.end() && id->is_number_integer() &&
          resolve(id->get<int64_t>(),
                  rpc::make_error(*id, rpc::kUpstreamInvalid, who + " answered with invalid JSON-RPC: " + why))) {
        return;
      }
      spdlog::warn("{} sent an invalid JSON-RPC message ({}): {}", who, why,
                   rpc::dump(m).substr(0, 200));
      std::lock_guard lock(mu);
      last_garbage = rpc::dump(m).substr(0, 80) + " (" + why + ")";
      last_garbage_at = Clock::now();
      return;
    }
  }
}

struct UpstreamLink::Impl {
  std::shared_ptr<LinkCore> core;
};

std::shared_ptr<UpstreamLink> UpstreamLink::create(config::UpstreamConfig cfg, ClientInfo client,
                                                   Handlers handlers) {
  return std::shared_ptr<UpstreamLink>(new UpstreamLink(std::move(cfg), std::move(client), std::move(handlers)));
}

UpstreamLink::UpstreamLink(config::UpstreamConfig cfg, ClientInfo client, Handlers handlers)
    : impl_(std::make_unique<Impl>()), cfg_(cfg) {
  auto c = std::make_shared<LinkCore>();
  c->cfg = std::move(cfg);
  c->client = std::move(client);
  c->handlers = std::move(handlers);
  c->who = "upstream '" + c->cfg.name + "'";
  impl_->core = std::move(c);
}

UpstreamLink::~UpstreamLink() { close(); }

Result<void> UpstreamLink::start() { return impl_->core->start(); }

Json UpstreamLink::call(const std::string& method, Json params, const CallOptions& opts) {
  // One code path for both forms: the timeout timer, cancellation and the
  // modern-era handling all live in call_async.
  auto promise = std::make_shared<std::promise<Json>>();
  auto answer = promise->get_future();
  impl_->core->call_async(method, std::move(params), opts,
                          [promise](Json response) { promise->set_value(std::move(response)); });
  return answer.get();
}

void UpstreamLink::call_async(const std::string& method, Json params, const CallOptions& opts,
                              std::function<void(Json)> done) {
  impl_->core->call_async(method, std::move(params), opts, std::move(done));
}

std::optional<Json> LinkCore::emulate_removed(const std::string& method, const Json& params) {
  const bool subscribe = method == "resources/subscribe";
  if (method == "ping") return rpc::make_result(nullptr, Json::object());
  if (method == "logging/setLevel") {
    if (!params.is_object() || !params.contains("level") || !params["level"].is_string()) {
      return rpc::make_error(nullptr, rpc::kInvalidParams, "logging/setLevel needs a string \"level\"");
    }
    std::lock_guard lock(mu);
    envelope.log_level = params["level"].get<std::string>();
    return rpc::make_result(nullptr, Json::object());
  }
  if (subscribe || method == "resources/unsubscribe") {
    if (!params.is_object() || !params.contains("uri") || !params["uri"].is_string()) {
      return rpc::make_error(nullptr, rpc::kInvalidParams, method + " needs a string \"uri\"");
    }
    {
      std::lock_guard lock(mu);
      if (subscribe) resource_uris.insert(params["uri"].get<std::string>());
      else resource_uris.erase(params["uri"].get<std::string>());
    }
    refresh_listen();
    return rpc::make_result(nullptr, Json::object());
  }
  return std::nullopt;
}

void LinkCore::call_async(const std::string& method, Json params, const CallOptions& opts,
                          std::function<void(Json)> done) {
  auto p = std::make_shared<Pending>();
  p->method = method;
  p->timeout = opts.timeout.value_or(cfg.timeout);
  p->sent_at = Clock::now();
  p->on_done = std::move(done);
  bool modern;
  {
    std::lock_guard lock(mu);
    modern = state == LinkState::Ready && era == Era::Modern;
  }
  if (modern) {
    if (auto local = emulate_removed(method, params)) {
      complete(p, std::move(*local));
      return;
    }
    std::lock_guard lock(mu);
    params = with_envelope(std::move(params), envelope);
  }
  // The timer exists before the call can complete, so complete() always
  // sees it; it only names the id, so a late firing is a no-op.
  const int64_t id = next_id.fetch_add(1, std::memory_order_relaxed);
  std::weak_ptr<LinkCore> weak = weak_from_this();
  p->timer = Scheduler::shared().after(p->timeout, [weak, id] {
    if (auto core = weak.lock()) core->expire_pending(id);
  });
  {
    std::lock_guard lock(mu);
    // A restart into the other era between the two locks: the envelope
    // would be wrong (or missing), so treat the link as not ready.
    if (state == LinkState::Ready && transport && (era == Era::Modern) == modern) {
      p->transport = transport;
      p->modern = modern;
      pending.emplace(id, p);
    }
  }
  if (!p->transport) {
    complete(p, rpc::make_error(nullptr, rpc::kUpstreamUnavailable, who + " is unavailable: " + [&] {
      std::lock_guard lock(mu);
      return reason.empty() ? std::string("not ready") : reason;
    }()));
    return;
  }
  if (opts.on_sent) opts.on_sent(Json(id));
  auto t = p->transport;
  t->send(rpc::make_request(id, method, std::move(params)));
  if (opts.cancel) {
    opts.cancel->on_cancel([weak, id] {
      if (auto core = weak.lock()) core->cancel_pending(id);
    });
  }
}

void LinkCore::refresh_listen() {
  Json filter;
  uint64_t seq = 0;
  std::shared_ptr<CancelToken> old, token;
  {
    std::lock_guard lock(mu);
    if (closed || state != LinkState::Ready || era != Era::Modern) return;
    filter = listen_filter(caps, resource_uris);
    if (listen.cancel && filter == listen.filter) return;  // open, and asking for the right things
    old = std::move(listen.cancel);
    listen.filter = filter;
    listen.id = 0;
    seq = ++listen.seq;
    if (!filter.is_null()) token = listen.cancel = std::make_shared<CancelToken>();
  }
  if (old) old->cancel();  // its completion sees a newer seq and does nothing
  if (!token) return;
  std::weak_ptr<LinkCore> weak = weak_from_this();
  CallOptions opts;
  opts.cancel = token;
  opts.timeout = std::chrono::hours(24);  // it is meant to stay open; a day is a sanity bound
  opts.on_sent = [weak, seq](const Json& id) {
    auto c = weak.lock();
    if (!c) return;
    std::lock_guard lock(c->mu);
    if (c->listen.seq == seq) c->listen.id = id.get<int64_t>();
  };
  spdlog::debug("{}: subscriptions/listen {}", who, rpc::dump(filter));
  call_async("subscriptions/listen", {{"notifications", filter}}, opts, [weak, seq](Json response) {
    if (auto c = weak.lock()) c->listen_ended(seq, response);
  });
}

void LinkCore::listen_ended(uint64_t seq, const Json& response) {
  std::chrono::milliseconds delay;
  {
    std::lock_guard lock(mu);
    if (closed || listen.seq != seq || state != LinkState::Ready || era != Era::Modern) return;
    listen.cancel.reset();  // so that the next refresh_listen opens one
    listen.filter = Json();
    listen.id = 0;
    delay = listen.backoff;
    listen.backoff = std::min<std::chrono::milliseconds>(listen.backoff * 2, 30s);
  }
  std::string what = response.contains("error")
                         ? "failed: " + response["error"].value("message", rpc::dump(response["error"]))
                         : std::string("was ended by the server");
  spdlog::debug("{}: subscriptions/listen {}; reopening in {}", who, what, text::format_duration(delay));
  std::weak_ptr<LinkCore> weak = weak_from_this();
  Scheduler::shared().after(delay, [weak] {
    background_pool().enqueue([weak] {
      if (auto c = weak.lock()) c->refresh_listen();
    });
  });
}

bool LinkCore::on_listen_notification(transport::Incoming& in) {
  Json& m = in.message;
  if (!m.contains("params") || !m["params"].is_object()) return false;
  Json& params = m["params"];
  if (!params.contains("_meta") || !params["_meta"].is_object() ||
      !params["_meta"].contains(meta_key::kSubscriptionId)) {
    return false;
  }
  const Json sub = params["_meta"][meta_key::kSubscriptionId];
  if (m["method"] == "notifications/subscriptions/acknowledged") {
    std::lock_guard lock(mu);
    if (sub.is_number_integer() && sub.get<int64_t>() == listen.id) listen.backoff = 1000ms;
    spdlog::debug("{}: subscriptions/listen acknowledged: {}", who, rpc::dump(params.value("notifications", Json())));
    return true;
  }
  // The subscription id names our request on this hop only; to the rest
  // of the gateway this is an ordinary, unrelated change notification.
  params["_meta"].erase(meta_key::kSubscriptionId);
  if (params["_meta"].empty()) params.erase("_meta");
  in.related_request_id.reset();
  if (handlers.on_notification) handlers.on_notification(in);
  return true;
}

void UpstreamLink::notify(const std::string& method, Json params) {
  LinkCore& c = *impl_->core;
  std::shared_ptr<transport::UpstreamTransport> t;
  {
    std::lock_guard lock(c.mu);
    if (c.state != LinkState::Ready) return;
    if (c.era == Era::Modern) {
      spdlog::debug("{}: not sending {}: 2026-07-28 has no such client notification", c.who, method);
      return;
    }
    t = c.transport;
  }
  if (t) t->send(rpc::make_notification(method, std::move(params)));
}

void UpstreamLink::respond(const Json& upstream_request_id, Json result_or_error_response) {
  LinkCore& c = *impl_->core;
  Json& r = result_or_error_response;
  bool envelope = false;
  if (r.is_object()) {
    if (r.contains("error") && r["error"].is_object()) {
      envelope = true;
    } else if (r.contains("result")) {
      envelope = true;
      for (auto it = r.begin(); it != r.end(); ++it) {
        if (it.key() != "result" && it.key() != "jsonrpc" && it.key() != "id") envelope = false;
      }
    }
  }
  Json msg;
  if (envelope) {
    msg = std::move(r);
    msg["jsonrpc"] = "2.0";
    msg["id"] = upstream_request_id;
  } else {
    msg = rpc::make_result(upstream_request_id, std::move(r));
  }
  std::shared_ptr<transport::UpstreamTransport> t;
  {
    std::lock_guard lock(c.mu);
    if (c.era != Era::Modern) t = c.transport;
  }
  if (t) t->send(msg);
  else spdlog::debug("{}: dropping a response to {}: no connection", c.who, rpc::dump(upstream_request_id));
}

void UpstreamLink::close() {
  LinkCore& c = *impl_->core;
  std::shared_ptr<transport::UpstreamTransport> t;
  {
    std::lock_guard lock(c.mu);
    if (c.closed) return;
    c.closed = true;
    ++c.gen;
    c.state = LinkState::Closed;
    c.reason = "the link is closed";
    ++c.restart_seq;
    t = std::move(c.transport);
    c.transport.reset();
    c.fail_all_locked(rpc::kUpstreamUnavailable, c.who + " is closed");
  }
  if (t) t->close();
}

void UpstreamLink::detach() {
  LinkCore& c = *impl_->core;
  std::shared_ptr<transport::UpstreamTransport> t;
  {
    std::lock_guard lock(c.mu);
    t = c.transport;
  }
  if (t) t->detach();  // before close(), which would end the session
  close();
}

std::optional<UpstreamLink::SessionHandle> UpstreamLink::session_handle() const {
  LinkCore& c = *impl_->core;
  std::lock_guard lock(c.mu);
  if (c.state != LinkState::Ready || c.era != Era::Legacy || !c.transport) return std::nullopt;
  std::string sid = c.transport->session_handle();
  if (sid.empty()) return std::nullopt;
  return SessionHandle{std::move(sid), c.version, c.caps, c.info};
}

LinkState UpstreamLink::state() const {
  std::lock_guard lock(impl_->core->mu);
  return impl_->core->state;
}

Json UpstreamLink::server_capabilities() const {
  std::lock_guard lock(impl_->core->mu);
  return impl_->core->caps;
}

Json UpstreamLink::server_info() const {
  std::lock_guard lock(impl_->core->mu);
  return impl_->core->info;
}

std::string UpstreamLink::instructions() const {
  std::lock_guard lock(impl_->core->mu);
  return impl_->core->instructions;
}

std::string UpstreamLink::protocol_version() const {
  std::lock_guard lock(impl_->core->mu);
  return impl_->core->version;
}

Era UpstreamLink::era() const {
  std::lock_guard lock(impl_->core->mu);
  return impl_->core->era;
}

std::string UpstreamLink::describe() const {
  LinkCore& c = *impl_->core;
  std::shared_ptr<transport::UpstreamTransport> t;
  {
    std::lock_guard lock(c.mu);
    t = c.transport;
  }
  return c.who + " (" + (t ? t->describe() : std::string("not connected")) + ")";
}

}  // namespace portcullis::mcp
