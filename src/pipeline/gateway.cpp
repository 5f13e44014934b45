#include "pipeline/gateway.h"

#include <spdlog/spdlog.h>

#include <sstream>
#include <thread>

#include "core/crypto.h"
#include "core/jsonrpc.h"
#include "core/scheduler.h"

namespace portcullis::pipeline {

Gateway::Gateway(std::shared_ptr<const config::GatewayConfig> config)
    : pool_(ElasticPool::Options{}) {
  auto rt = std::make_shared<Runtime>();
  rt->config = std::move(config);
  runtime_ = rt;
}

Gateway::~Gateway() { stop(); }

std::shared_ptr<const Runtime> Gateway::runtime() const {
  std::lock_guard lock(runtime_mu_);
  return runtime_;
}

void Gateway::configure_sessions(const config::Settings& settings) {
  // Without a configured key, sessions are sealed under a key of this
  // process alone: they end with it, and other instances cannot serve them.
  if (settings.session_key.empty() && session_key_.empty()) session_key_ = crypto::random_bytes(32);
  sessions_.configure(settings.session_key.empty() ? session_key_ : settings.session_key, settings.session_ttl);
}

namespace {

// The consent flow for `settings`: the running one while the vault settings
// stay the same, so a reload keeps pending consents and cached tokens.
// `authenticator` gives the current identity stage, which proves who opened
// a consent link when credentials.confirm_user asks for a sign-in.
Result<std::shared_ptr<identity::UpstreamConsent>> consent_for(
    const config::Settings& settings, const Runtime* previous,
    std::function<std::shared_ptr<const identity::Authenticator>()> authenticator) {
  const config::CredentialSettings& s = settings.credentials;
  if (s.key.empty()) return std::shared_ptr<identity::UpstreamConsent>();
  std::shared_ptr<identity::UpstreamConsent> consent;
  if (previous && previous->consent) {
    const auto& was = previous->consent->settings();
    if (was.vault == s.vault && was.key == s.key && was.public_url == s.public_url &&
        was.consent_timeout == s.consent_timeout)
      consent = previous->consent;
  }
  if (!consent) {
    auto opened = identity::UpstreamConsent::open(s);
    if (!opened.ok()) return fail(opened.error());
    consent = std::move(opened).value();
  }
  std::optional<identity::UpstreamConsent::SignIn> sign_in;
  if (!s.confirm_client_id.empty()) {
    identity::UpstreamConsent::SignIn in;
    in.issuer = settings.auth.oauth.issuer;
    in.resource = settings.auth.resource;
    in.scopes = settings.auth.oauth.scopes;
    in.client.issuer = in.issuer;
    in.client.client_id = s.confirm_client_id;
    in.client.client_secret = s.confirm_client_secret;
    in.client.source = "preregistered";
    in.verify = [authenticator](const std::string& token) -> Result<std::string> {
      auto auth = authenticator();
      if (!auth) return fail("no identity stage");
      return auth->who_holds(token);
    };
    sign_in = std::move(in);
  }
  consent->require_sign_in(std::move(sign_in));
  return consent;
}

}  // namespace

Result<void> Gateway::start() {
  auto cfg = runtime()->config;
  configure_sessions(cfg->settings);
  auto audit = record::open_audit_log(cfg->settings);
  if (!audit.ok()) return fail("cannot open the audit database " + cfg->settings.audit_db + ": " + audit.error());
  audit_ = std::move(audit.value());
  auto auth = identity::Authenticator::create(cfg->settings);
  if (!auth.ok()) return fail("authentication is misconfigured: " + auth.error());
  auto consent = consent_for(cfg->settings, nullptr, [this] { return authenticator(); });
  if (!consent.ok()) return fail(consent.error());
  auto policies = PolicyStage::load(cfg->dir);
  if (!policies.ok()) return fail("policies:\n" + policies.error());
  std::lock_guard lock(rebuild_mu_);
  if (auto r = open_pins(*cfg); !r.ok()) return r;
  auto guards = GuardStage::build(*cfg);
  if (!guards.stage) return fail("guardrails are misconfigured: " + guards.errors.front().format());
  auto rt = make_runtime(cfg, nullptr, std::move(guards.stage));
  rt->authenticator = std::move(auth.value());
  rt->consent = std::move(consent.value());
  rt->policy = std::move(policies.value());
  {
    std::lock_guard rlock(runtime_mu_);
    runtime_ = rt;
  }
  if (rt->policy) spdlog::info("authorization: {} Cedar policies", rt->policy->policy_count());
  schedule_reap();
  return {};
}

// Builds a runtime for `cfg`, reusing the running upstreams of `previous`
// whose connection settings did not change and starting the others in
// parallel. REQUIRES: rebuild_mu_ held.
std::shared_ptr<Runtime> Gateway::make_runtime(std::shared_ptr<const config::GatewayConfig> cfg,
                                               const Runtime* previous, std::shared_ptr<const GuardStage> guards) {
  auto rt = std::make_shared<Runtime>();
  rt->config = cfg;
  rt->guards = std::move(guards);
  std::vector<std::shared_ptr<Upstream>> fresh;
  for (const auto& [name, ucfg] : cfg->upstreams) {
    if (previous) {
      auto it = previous->upstreams.find(name);
      if (it != previous->upstreams.end() && it->second->config().same_connection(ucfg)) {
        rt->upstreams[name] = it->second;
        continue;
      }
    }
    auto up = std::make_shared<Upstream>(
        ucfg, [this, guard = guard_](const std::string&) { if_running(guard, [&] { rebuild_catalogs(); }); },
        [this, guard = guard_](const std::shared_ptr<Upstream>& u, const transport::Incoming& in, bool req) {
          if_running(guard, [&] { on_shared_traffic(u, in, req); });
        });
    rt->upstreams[name] = up;
    fresh.push_back(up);
  }
  // Start new upstreams side by side; each start is bounded by its own
  // connect timeout, and a failed one keeps retrying in the background.
  std::vector<std::thread> starters;
  for (auto& up : fresh) starters.emplace_back([up] { up->start(); });
  for (auto& t : starters) t.join();
  build_catalogs(*rt);
  for (const auto& p : rt->problems) spdlog::error("{}", p);
  return rt;
}

compose::PinChanges Gateway::check_pins(const Runtime& rt) {
  compose::PinChanges all;
  if (!pins_) return all;
  for (const auto& [name, up] : rt.upstreams) all.merge(check_pins_of(rt, name, up->catalog()->tools));
  return all;
}

compose::PinChanges Gateway::check_pins_of(const Runtime& rt, const std::string& upstream,
                                           const std::vector<Json>& tools) {
  if (!pins_) return {};
  // Only upstreams that a pinning virtual server uses are checked.
  std::vector<std::string> servers;
  for (const auto& [name, vs] : rt.config->virtual_servers) {
    if (vs.pinning == config::PinningMode::Off) continue;
    for (const auto& sel : vs.tools) {
      if (sel.upstream == upstream) {
        servers.push_back(name);
        break;
      }
    }
  }
  if (servers.empty()) return {};
  auto checked = pins_->check(upstream, tools);
  if (!checked.ok()) {
    spdlog::error("tool pins of upstream '{}' could not be checked: {}", upstream, checked.error());
    return {};
  }
  for (const auto& pin : checked.value().newly_changed) {
    for (const auto& vs_name : servers) {
      auto mode = rt.config->virtual_servers.at(vs_name).pinning;
      spdlog::warn("virtual server '{}': tool '{}' of upstream '{}' no longer matches its approval: {} ({})",
                   vs_name, pin.tool, upstream, pin.change,
                   mode == config::PinningMode::Block ? "blocked until approved" : "warning only");
      if (!audit_) continue;
      record::AuditRecord r;
      r.ts_ms = now_ms();
      r.virtual_server = vs_name;
      r.upstream = upstream;
      r.tool = pin.tool;
      r.original_tool = pin.tool;
      r.method = "pinning";
      r.outcome = mode == config::PinningMode::Block ? "pin_blocked" : "pin_changed";
      r.pin_state = mode == config::PinningMode::Block ? "blocked" : "changed";
      r.error_message = pin.change + "; approved " + pin.hash.substr(0, 12) + ", now " + pin.pending_hash.substr(0, 12);
      audit_->record(std::move(r));
    }
  }
  return std::move(checked.value().changes);
}

void Gateway::build_catalogs(Runtime& rt) {
  rt.catalogs.clear();
  rt.problems.clear();
  rt.pin_changes = check_pins(rt);
  compose::UpstreamCatalogs catalogs;
  for (const auto& [name, up] : rt.upstreams) catalogs[name] = up->catalog();
  for (const auto& [name, vs] : rt.config->virtual_servers) {
    rt.catalogs[name] = compose::VirtualCatalog::build(vs, screen_tools(rt, vs, catalogs), &rt.problems, &rt.pin_changes);
  }
}

Result<void> Gateway::open_pins(const config::GatewayConfig& cfg) {
  if (pins_) return {};
  bool pinning = false;
  for (const auto& [name, vs] : cfg.virtual_servers) pinning |= vs.pinning != config::PinningMode::Off;
  if (!pinning) return {};
  auto pins = compose::PinStore::open(cfg.settings.pins_db);
  if (!pins.ok()) return fail("cannot open the tool pin store: " + pins.error());
  pins_ = std::move(pins.value());
  watch_pins();
  return {};
}

void Gateway::watch_pins() {
  // `portcullis pins approve` runs in another process; notice its writes.
  Scheduler::shared().after(std::chrono::seconds(1), [this, guard = guard_] {
    if_running(guard, [&] {
      if (pins_->changed_elsewhere()) {
        spdlog::info("tool pins changed; rebuilding catalogues");
        std::thread([this, guard] { if_running(guard, [&] { rebuild_catalogs(); }); }).detach();
      }
      watch_pins();
    });
  });
}

void Gateway::schedule_reap() {
  Scheduler::shared().after(std::chrono::seconds(30), [this, guard = guard_] {
    if_running(guard, [&] {
      sessions_.reap(runtime()->config->settings.session_idle_timeout);
      // Off the scheduler thread: it may fetch the issuer's keys.
      if (auto auth = authenticator()) std::thread([auth] { auth->refresh_keys_if_stale(); }).detach();
      reap_exchanges();
      schedule_reap();
    });
  });
}

void Gateway::rebuild_catalogs() {
  if (stopped_) return;
  std::lock_guard lock(rebuild_mu_);
  auto before = runtime();
  auto rt = std::make_shared<Runtime>(*before);
  build_catalogs(*rt);
  if (rt->problems != before->problems) {
    for (const auto& p : rt->problems) spdlog::error("{}", p);
  }
  {
    std::lock_guard rlock(runtime_mu_);
    runtime_ = rt;
  }
  notify_list_changes(*before, *rt);
}

std::vector<const char*> list_change_notifications(const compose::VirtualCatalog* before,
                                                  const compose::VirtualCatalog* after) {
  using compose::ListKind;
  std::vector<const char*> notes;
  if (!after) return notes;
  auto changed = [&](ListKind k) { return !before || before->digest(k) != after->digest(k); };
  if (changed(ListKind::Tools)) notes.push_back("notifications/tools/list_changed");
  if (changed(ListKind::Resources) || changed(ListKind::ResourceTemplates)) {
    notes.push_back("notifications/resources/list_changed");
  }
  if (changed(ListKind::Prompts)) notes.push_back("notifications/prompts/list_changed");
  return notes;
}

void Gateway::notify_list_changes(const Runtime& before, const Runtime& after) {
  for (const auto& [name, cat] : after.catalogs) {
    auto notes = list_change_notifications(before.catalog(name), cat.get());
    if (notes.empty()) continue;
    for (const auto& s : sessions_.of(name)) {
      if (!s->initialized) continue;
      for (const char* method : notes) s->outbox.push(rpc::dump(rpc::make_notification(method, nullptr)));
    }
    for (const char* method : notes) notify_listeners(name, method);
    spdlog::info("virtual server '{}': lists changed, {} session(s) notified", name, sessions_.of(name).size());
  }
}

std::vector<config::Diagnostic> Gateway::reload() {
  auto before = runtime();
  auto loaded = config::load(before->config->dir);
  for (const auto& w : loaded.warnings) spdlog::warn("{}", w.format());
  if (!loaded.errors.empty()) {
    spdlog::error("config reload rejected ({} error(s)); the previous config keeps serving",
                  loaded.errors.size());
    for (const auto& e : loaded.errors) spdlog::error("{}", e.format());
    return loaded.errors;
  }
  auto auth = identity::Authenticator::create(loaded.config->settings);
  if (!auth.ok()) {
    spdlog::error("config reload rejected: authentication is misconfigured: {}; the previous config keeps serving",
                  auth.error());
    return {config::Diagnostic{loaded.config->settings.auth.pos, auth.error()}};
  }
  auto consent = consent_for(loaded.config->settings, before.get(), [this] { return authenticator(); });
  if (!consent.ok()) {
    spdlog::error("config reload rejected: {}; the previous config keeps serving", consent.error());
    return {config::Diagnostic{loaded.config->settings.credentials.pos, consent.error()}};
  }
  auto guards = GuardStage::build(*loaded.config);
  if (!guards.stage) {
    spdlog::error("config reload rejected: the guardrails have {} error(s); the previous config keeps serving",
                  guards.errors.size());
    for (const auto& e : guards.errors) spdlog::error("{}", e.format());
    return guards.errors;
  }
  auto policies = PolicyStage::load(loaded.config->dir);
  if (!policies.ok()) {
    // Each problem is "file:line:col: message"; the last good set keeps serving.
    spdlog::error("config reload rejected: the policies do not load; the previous config and policies keep serving");
    std::vector<config::Diagnostic> problems;
    std::istringstream lines(policies.error());
    for (std::string line; std::getline(lines, line);) {
      spdlog::error("{}", line);
      config::Diagnostic d;
      d.message = line;  // "file:line:col: message" already
      problems.push_back(std::move(d));
    }
    return problems;
  }
  configure_sessions(loaded.config->settings);
  if (loaded.config->settings.listen != before->config->settings.listen) {
    spdlog::warn("reload: 'listen' changed; it takes effect on restart");
  }
  std::shared_ptr<Runtime> rt;
  {
    std::lock_guard lock(rebuild_mu_);
    // Without a pin store, pinning stays off; the reload still applies.
    if (auto r = open_pins(*loaded.config); !r.ok()) spdlog::error("{}", r.error());
    rt = make_runtime(loaded.config, before.get(), std::move(guards.stage));
    rt->authenticator = std::move(auth.value());
    rt->consent = std::move(consent.value());
    rt->policy = std::move(policies.value());
    std::lock_guard rlock(runtime_mu_);
    runtime_ = rt;
  }
  // Upstreams that were replaced or removed: stop them, and drop the
  // per-client links sessions hold to them (recreated on next use).
  std::vector<std::string> gone;
  for (const auto& [name, up] : before->upstreams) {
    auto it = rt->upstreams.find(name);
    if (it == rt->upstreams.end() || it->second != up) gone.push_back(name);
  }
  for (const auto& s : sessions_.all()) {
    if (!rt->config->virtual_servers.count(s->virtual_server)) {
      sessions_.erase(s->id);
      continue;
    }
    std::vector<std::shared_ptr<Session::LinkSlot>> slots;
    {
      std::lock_guard lock(s->mu);
      for (const auto& name : gone) {
        if (auto it = s->links.find(name); it != s->links.end()) {
          slots.push_back(it->second);
          s->links.erase(it);
        }
      }
    }
    for (auto& slot : slots) {
      std::lock_guard lock(slot->mu);
      if (slot->link) slot->link->close();
      if (slot->release) slot->release();
      slot->link.reset();
    }
  }
  for (const auto& name : gone) before->upstreams.at(name)->stop();
  notify_list_changes(*before, *rt);
  if (before->policy || rt->policy) {
    // New policies may show or hide tools, prompts and resources to anyone.
    for (const auto& s : sessions_.all()) {
      if (!s->initialized || s->stateless) continue;
      for (const char* m : {"notifications/tools/list_changed", "notifications/prompts/list_changed",
                            "notifications/resources/list_changed"})
        s->outbox.push(rpc::dump(rpc::make_notification(m, nullptr)));
    }
  }
  spdlog::info("config reloaded from {}: {} upstream(s), {} virtual server(s), {} policies", rt->config->dir,
               rt->upstreams.size(), rt->catalogs.size(), rt->policy ? rt->policy->policy_count() : 0);
  return {};
}

void Gateway::stop() {
  if (stopped_.exchange(true)) return;
  // Closing a stdio upstream can take seconds (it is given time to exit on
  // its own), so sessions and upstreams are closed side by side.
  std::vector<std::function<void()>> closers;
  for (const auto& s : sessions_.all()) {
    // Other instances may go on serving sealed sessions.
    closers.push_back([this, id = s->id] { sessions_.erase(id, /*end_upstream=*/false); });
  }
  std::vector<std::shared_ptr<Listener>> listeners;
  {
    std::lock_guard lock(listeners_mu_);
    listeners = listeners_;
  }
  for (const auto& l : listeners) end_listener(l, /*tell_client=*/true);
  {
    std::lock_guard lock(stateless_mu_);
    for (const auto& [name, slot] : stateless_links_) {
      closers.push_back([slot] {
        std::lock_guard lock(slot->mu);
        if (slot->link) slot->link->close();
      });
    }
  }
  auto rt = runtime();
  for (const auto& [name, up] : rt->upstreams) closers.push_back([up] { up->stop(); });
  std::atomic<size_t> next{0};
  std::vector<std::thread> workers;
  for (size_t i = 0; i < std::min<size_t>(closers.size(), 64); ++i) {
    workers.emplace_back([&] {
      for (size_t k; (k = next++) < closers.size();) closers[k]();
    });
  }
  for (auto& w : workers) w.join();
  {
    // Waits for callbacks already running; later ones see `stopped`.
    std::unique_lock lock(guard_->mu);
    guard_->stopped = true;
  }
  if (audit_) audit_->flush();
}

}  // namespace portcullis::pipeline
