#include "pipeline/upstream.h"

#include <spdlog/spdlog.h>

#include "core/jsonrpc.h"
#include "core/scheduler.h"

namespace portcullis::pipeline {

Json full_client_capabilities() {
  return {{"roots", {{"listChanged", true}}}, {"sampling", Json::object()}, {"elicitation", Json::object()}};
}

Upstream::Upstream(config::UpstreamConfig cfg, OnCatalogChanged on_changed, OnSharedTraffic on_shared)
    : cfg_(std::move(cfg)),
      on_changed_(std::move(on_changed)),
      on_shared_(std::move(on_shared)),
      catalog_(std::make_shared<compose::UpstreamCatalog>()) {}

Upstream::~Upstream() { stop(); }

void Upstream::start() {
  // Nobody's credential could list it: each session does, with its own.
  if (personal()) return;
  std::weak_ptr<Upstream> weak = weak_from_this();
  mcp::UpstreamLink::Handlers h;
  h.on_notification = [weak](const transport::Incoming& in) {
    auto self = weak.lock();
    if (!self) return;
    const std::string method = in.message.value("method", "");
    if (method == "notifications/tools/list_changed" || method == "notifications/prompts/list_changed" ||
        method == "notifications/resources/list_changed") {
      self->schedule_refresh();
      return;
    }
    if (self->on_shared_) self->on_shared_(self, in, false);
  };
  h.on_request = [weak](const transport::Incoming& in) {
    auto self = weak.lock();
    if (!self) return;
    if (self->on_shared_) self->on_shared_(self, in, true);
  };
  h.on_state = [weak](mcp::LinkState state, const std::string& reason) {
    auto self = weak.lock();
    if (!self) return;
    if (state == mcp::LinkState::Ready) {
      spdlog::info("upstream '{}' is ready", self->name());
      // A restart may have changed what the upstream offers; the first
      // start loads the catalogue itself.
      if (self->was_ready_.exchange(true)) self->schedule_refresh();
    } else if (state == mcp::LinkState::Down) {
      spdlog::warn("upstream '{}' is down: {}", self->name(), reason);
      std::lock_guard lock(self->mu_);
      self->last_error_ = reason;
    }
  };
  mcp::UpstreamLink::ClientInfo client;
  client.capabilities = full_client_capabilities();
  client.client_info = {{"name", "portcullis"}, {"version", "0.1.0"}};
  link_ = mcp::UpstreamLink::create(cfg_, client, std::move(h));
  auto r = link_->start();
  if (!r.ok()) {
    spdlog::error("upstream '{}' failed to start: {}", name(), r.error());
    std::lock_guard lock(mu_);
    last_error_ = r.error();
    return;
  }
  refresh_catalog(/*notify=*/false);
}

void Upstream::stop() {
  if (stopped_.exchange(true)) return;
  if (link_) link_->close();
}

std::shared_ptr<const compose::UpstreamCatalog> Upstream::catalog() const {
  std::lock_guard lock(mu_);
  return catalog_;
}

std::shared_ptr<mcp::UpstreamLink> Upstream::shared_link() const { return link_; }

bool Upstream::ready() const { return link_ && link_->state() == mcp::LinkState::Ready; }

std::string Upstream::status() const {
  if (ready()) return "ready";
  if (personal()) return "per user (each session connects with its own credential)";
  std::lock_guard lock(mu_);
  return "down: " + (last_error_.empty() ? std::string("starting") : last_error_);
}

Result<std::vector<Json>> Upstream::list_all(mcp::UpstreamLink& link, const std::string& method,
                                             const std::string& key) {
  std::vector<Json> all;
  std::string cursor;
  for (int page = 0; page < 1000; ++page) {
    Json params = Json::object();
    if (!cursor.empty()) params["cursor"] = cursor;
    Json resp = link.call(method, params);
    if (resp.contains("error")) {
      return fail(method + " failed: " + resp["error"].value("message", std::string("unknown error")));
    }
    const Json& result = resp["result"];
    if (!result.is_object() || !result.contains(key) || !result[key].is_array()) {
      return fail(method + " answered without a \"" + key + "\" array");
    }
    for (const Json& item : result[key]) all.push_back(item);
    if (!result.contains("nextCursor") || !result["nextCursor"].is_string()) return all;
    std::string next = result["nextCursor"].get<std::string>();
    if (next.empty() || next == cursor) return all;
    cursor = std::move(next);
  }
  return fail(method + " returned more than 1000 pages");
}

std::shared_ptr<const compose::UpstreamCatalog> Upstream::list_catalog(mcp::UpstreamLink& link,
                                                                       const compose::UpstreamCatalog& fallback) {
  Json caps = link.server_capabilities();
  auto next = std::make_shared<compose::UpstreamCatalog>();
  auto load = [&](const char* cap, const char* method, const char* key, std::vector<Json>& out,
                  const std::vector<Json>& old) {
    if (!caps.contains(cap)) return;
    auto r = list_all(link, method, key);
    if (r.ok()) {
      out = std::move(r.value());
    } else {
      spdlog::warn("upstream '{}': {}", name(), r.error());
      out = old;  // keep what we had rather than showing an empty list after a blip
    }
  };
  load("tools", "tools/list", "tools", next->tools, fallback.tools);
  load("resources", "resources/list", "resources", next->resources, fallback.resources);
  load("resources", "resources/templates/list", "resourceTemplates", next->resource_templates,
       fallback.resource_templates);
  load("prompts", "prompts/list", "prompts", next->prompts, fallback.prompts);
  return next;
}

void Upstream::refresh_catalog(bool notify) {
  refresh_pending_ = false;
  auto link = link_;
  if (!link || link->state() != mcp::LinkState::Ready || stopped_) return;
  auto next = list_catalog(*link, *catalog());
  {
    std::lock_guard lock(mu_);
    catalog_ = next;
  }
  spdlog::debug("upstream '{}' catalogue: {} tools, {} resources, {} templates, {} prompts", name(),
                next->tools.size(), next->resources.size(), next->resource_templates.size(),
                next->prompts.size());
  if (notify && on_changed_) on_changed_(name());
}

void Upstream::schedule_refresh() {
  if (refresh_pending_.exchange(true)) return;
  std::weak_ptr<Upstream> weak = weak_from_this();
  // The refresh itself calls the upstream, so it must not run on the
  // scheduler thread: hand it to a detached thread.
  Scheduler::shared().after(std::chrono::milliseconds(100), [weak] {
    std::thread([weak] {
      if (auto self = weak.lock()) self->refresh_catalog();
    }).detach();
  });
}

Result<std::shared_ptr<mcp::UpstreamLink>> Upstream::open_client_link(
    const Json& client_capabilities, mcp::UpstreamLink::Handlers handlers,
    std::optional<mcp::UpstreamLink::SessionHandle> resume, std::optional<config::UpstreamConfig> personal) {
  if (client_links_.fetch_add(1) >= cfg_.max_sessions) {
    client_links_.fetch_sub(1);
    return fail("upstream '" + name() + "' has reached max_sessions (" +
                std::to_string(cfg_.max_sessions) + ") client sessions");
  }
  mcp::UpstreamLink::ClientInfo client;
  // Declare upstream exactly what the downstream client can do, so the
  // upstream never asks for something nobody can answer.
  client.capabilities = Json::object();
  for (const char* cap : {"roots", "sampling", "elicitation"}) {
    if (client_capabilities.is_object() && client_capabilities.contains(cap)) {
      client.capabilities[cap] = client_capabilities[cap];
    }
  }
  client.resume = std::move(resume);
  auto link = mcp::UpstreamLink::create(personal ? std::move(*personal) : cfg_, client, std::move(handlers));
  auto r = link->start();
  if (!r.ok()) {
    link->close();
    client_links_.fetch_sub(1);
    return fail("upstream '" + name() + "' is unavailable: " + r.error());
  }
  return link;
}

void Upstream::client_link_closed() { client_links_.fetch_sub(1); }

}  // namespace portcullis::pipeline
