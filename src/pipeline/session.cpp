#include "pipeline/session.h"

#include <spdlog/spdlog.h>

#include "core/crypto.h"
#include "core/jsonrpc.h"

namespace portcullis::pipeline {

long long now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Session::Session(std::string id_, std::string vs, bool legacy)
    : id(std::move(id_)), virtual_server(std::move(vs)), legacy_sse(legacy) {
  last_seen_ms = now_ms();
}

Session::~Session() { close(); }

void Session::deliver(const Json& message, const std::shared_ptr<InFlight>& inflight) {
  deliver(rpc::dump(message), inflight);
}

void Session::deliver(const std::string& serialized, const std::shared_ptr<InFlight>& inflight) {
  if (inflight && inflight->stream && inflight->stream->push(serialized)) return;
  if (!stateless) outbox.push(serialized);  // nobody reads a stateless request's outbox
}

void Session::close(bool end_upstream) {
  if (closed_.exchange(true)) return;
  std::vector<std::pair<std::string, std::shared_ptr<LinkSlot>>> to_close;
  std::vector<std::shared_ptr<InFlight>> to_cancel;
  {
    std::lock_guard lock(mu);
    for (auto& [name, slot] : links) to_close.emplace_back(name, slot);
    links.clear();
    for (auto& [k, f] : inflight) to_cancel.push_back(f);
    server_requests.clear();
  }
  for (auto& f : to_cancel) f->cancel->cancel();
  for (auto& [name, slot] : to_close) {
    std::lock_guard slot_lock(slot->mu);
    if (slot->link) {
      if (!end_upstream && upstream_handles.count(name)) slot->link->detach();
      else slot->link->close();
    }
    if (slot->release) slot->release();
    slot->link.reset();
    slot->release = nullptr;
  }
  outbox.close();
}

namespace {
constexpr const char* kSealedPrefix = "v1.";
constexpr const char* kSealAad = "portcullis-session-v1";
}  // namespace

void SessionTable::configure(std::string key, std::chrono::milliseconds ttl) {
  std::lock_guard lock(mu_);
  key_ = std::move(key);
  ttl_ = ttl;
}

void SessionTable::publish(const std::shared_ptr<Session>& s) {
  std::string key;
  {
    std::lock_guard lock(mu_);
    key = key_;
    s->expires_ms = now_ms() + ttl_.count();
  }
  Json info = Json::object();
  for (const char* k : {"name", "version"}) {
    if (s->client_info.is_object() && s->client_info.contains(k)) info[k] = s->client_info[k];
  }
  Json state = {{"vs", s->virtual_server},
                {"pv", s->protocol_version},
                {"caps", s->client_capabilities},
                {"info", info},
                {"exp", s->expires_ms},
                {"own", s->owner},
                {"n", crypto::random_hex(8)}};  // two sessions never share an id
  if (!s->upstream_handles.empty()) {
    Json up = Json::object();
    for (const auto& [name, h] : s->upstream_handles) {
      up[name] = {{"sid", h.session_id}, {"pv", h.protocol_version}, {"caps", h.capabilities}, {"info", h.server_info}};
    }
    state["up"] = std::move(up);
  }
  s->id = kSealedPrefix + crypto::seal(key, state.dump(), kSealAad);
  std::lock_guard lock(mu_);
  sessions_[s->id] = s;
}

SessionTable::Found SessionTable::find_or_restore(const std::string& id) {
  std::string key;
  {
    std::lock_guard lock(mu_);
    if (auto it = sessions_.find(id); it != sessions_.end()) {
      if (it->second->expires_ms && it->second->expires_ms < now_ms()) {
        auto expired = std::move(it->second);
        sessions_.erase(it);
        ended_[id] = expired->expires_ms;
        expired->close();
        return {nullptr, "Session expired"};
      }
      return {it->second, ""};
    }
    if (ended_.count(id)) return {nullptr, "Session not found"};
    key = key_;
  }
  if (id.rfind(kSealedPrefix, 0) != 0) return {nullptr, "Session not found"};
  auto plain = crypto::open(key, std::string_view(id).substr(3), kSealAad);
  if (!plain) {
    return {nullptr, "Session not found: this session id was not issued under this gateway's session key "
                     "(altered, or sealed under another key)"};
  }
  Json state = Json::parse(*plain, nullptr, false);
  if (!state.is_object() || !state.contains("exp") || !state["exp"].is_number_integer() ||
      !state.contains("vs") || !state["vs"].is_string()) {
    return {nullptr, "Session not found: the session id holds no valid state"};
  }
  if (state["exp"].get<long long>() < now_ms()) return {nullptr, "Session expired"};
  auto s = std::make_shared<Session>(id, state["vs"].get<std::string>(), /*legacy_sse=*/false);
  s->protocol_version = state.value("pv", std::string());
  s->client_capabilities = state.value("caps", Json::object());
  s->client_info = state.value("info", Json::object());
  s->expires_ms = state["exp"].get<long long>();
  s->owner = state.value("own", std::string());
  if (state.contains("up") && state["up"].is_object()) {
    for (const auto& [name, h] : state["up"].items()) {
      if (!h.is_object() || !h.contains("sid") || !h["sid"].is_string()) continue;
      mcp::UpstreamLink::SessionHandle handle;
      handle.session_id = h["sid"].get<std::string>();
      handle.protocol_version = h.value("pv", std::string());
      handle.capabilities = h.value("caps", Json::object());
      handle.server_info = h.value("info", Json::object());
      s->upstream_handles.emplace(name, std::move(handle));
    }
  }
  s->initialized = true;
  std::lock_guard lock(mu_);
  auto [it, inserted] = sessions_.emplace(id, s);  // another thread may have restored it first
  if (inserted) spdlog::info("session {}... restored from its sealed id", id.substr(0, 16));
  return {it->second, ""};
}

std::shared_ptr<Session> SessionTable::create(const std::string& vs, bool legacy, std::string owner) {
  // 128 random bits: unguessable, and visible ASCII as the spec requires.
  auto s = std::make_shared<Session>(crypto::random_hex(16), vs, legacy);
  s->owner = std::move(owner);
  std::lock_guard lock(mu_);
  sessions_[s->id] = s;
  return s;
}

std::shared_ptr<Session> SessionTable::find(const std::string& id) const {
  std::lock_guard lock(mu_);
  auto it = sessions_.find(id);
  return it == sessions_.end() ? nullptr : it->second;
}

void SessionTable::erase(const std::string& id, bool end_upstream) {
  std::shared_ptr<Session> s;
  {
    std::lock_guard lock(mu_);
    auto it = sessions_.find(id);
    if (it == sessions_.end()) return;
    s = std::move(it->second);
    sessions_.erase(it);
    // A sealed id stays valid elsewhere until it expires, but here it ended.
    if (s->expires_ms) ended_[id] = s->expires_ms;
  }
  s->close(end_upstream);
}

std::vector<std::shared_ptr<Session>> SessionTable::all() const {
  std::lock_guard lock(mu_);
  std::vector<std::shared_ptr<Session>> out;
  out.reserve(sessions_.size());
  for (auto& [id, s] : sessions_) out.push_back(s);
  return out;
}

std::vector<std::shared_ptr<Session>> SessionTable::of(const std::string& vs) const {
  std::lock_guard lock(mu_);
  std::vector<std::shared_ptr<Session>> out;
  for (auto& [id, s] : sessions_) {
    if (s->virtual_server == vs) out.push_back(s);
  }
  return out;
}

size_t SessionTable::size() const {
  std::lock_guard lock(mu_);
  return sessions_.size();
}

size_t SessionTable::reap(std::chrono::milliseconds idle) {
  long long now = now_ms();
  long long cutoff = now - idle.count();
  std::vector<std::shared_ptr<Session>> victims;
  {
    std::lock_guard lock(mu_);
    for (auto it = ended_.begin(); it != ended_.end();) {
      it = it->second < now ? ended_.erase(it) : std::next(it);
    }
    for (auto it = sessions_.begin(); it != sessions_.end();) {
      if (it->second->open_streams.load() == 0 && it->second->last_seen_ms.load() < cutoff) {
        victims.push_back(std::move(it->second));
        it = sessions_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& s : victims) {
    spdlog::info("session {} expired after {} ms idle", s->id, idle.count());
    s->close(/*end_upstream=*/false);  // a sealed session may go on elsewhere
  }
  return victims.size();
}

}  // namespace portcullis::pipeline
