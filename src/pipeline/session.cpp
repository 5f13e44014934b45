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
  outbox.push(serialized);
}

void Session::close() {
  if (closed_.exchange(true)) return;
  std::vector<std::shared_ptr<LinkSlot>> to_close;
  std::vector<std::shared_ptr<InFlight>> to_cancel;
  {
    std::lock_guard lock(mu);
    for (auto& [name, slot] : links) {
      to_close.push_back(slot);
    }
    links.clear();
    for (auto& [k, f] : inflight) to_cancel.push_back(f);
    server_requests.clear();
  }
  for (auto& f : to_cancel) f->cancel->cancel();
  for (auto& slot : to_close) {
    std::lock_guard slot_lock(slot->mu);
    if (slot->link) slot->link->close();
    if (slot->release) slot->release();
    slot->link.reset();
    slot->release = nullptr;
  }
  outbox.close();
}

std::shared_ptr<Session> SessionTable::create(const std::string& vs, bool legacy) {
  // 128 random bits: unguessable, and visible ASCII as the spec requires.
  auto s = std::make_shared<Session>(crypto::random_hex(16), vs, legacy);
  std::lock_guard lock(mu_);
  sessions_[s->id] = s;
  return s;
}

std::shared_ptr<Session> SessionTable::find(const std::string& id) const {
  std::lock_guard lock(mu_);
  auto it = sessions_.find(id);
  return it == sessions_.end() ? nullptr : it->second;
}

void SessionTable::erase(const std::string& id) {
  std::shared_ptr<Session> s;
  {
    std::lock_guard lock(mu_);
    auto it = sessions_.find(id);
    if (it == sessions_.end()) return;
    s = std::move(it->second);
    sessions_.erase(it);
  }
  s->close();
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
  long long cutoff = now_ms() - idle.count();
  std::vector<std::shared_ptr<Session>> victims;
  {
    std::lock_guard lock(mu_);
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
    s->close();
  }
  return victims.size();
}

}  // namespace portcullis::pipeline
