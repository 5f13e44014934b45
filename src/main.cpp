// portcullis: the command-line entry point.
#include <signal.h>
#include <sys/resource.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <thread>
#include <atomic>
#include <unistd.h>

#include "compose/catalog.h"
#include "compose/pinning.h"
#include "config/config.h"
#include "config/watch.h"
#include "bridge/stdio_bridge.h"
#include "guard/scan_cli.h"
#include "identity/upstream_probe.h"
#include "core/scheduler.h"
#include "identity/api_keys.h"
#include "identity/authenticator.h"
#include "identity/credentials_cli.h"
#include "pipeline/gateway.h"
#include "policy/authorize_cli.h"
#include "record/audit_cli.h"
#include "server/http_server.h"

using namespace portcullis;

namespace {

constexpr const char* kUsage = R"(portcullis - a gateway for AI agents and the MCP servers they call

Usage:
  portcullis serve [--config DIR] [--listen HOST:PORT] [--log-level LEVEL]
      Run the gateway. Each virtual server is served at /mcp/<name>
      (Streamable HTTP) and /sse/<name> (legacy HTTP+SSE). Reloads the config
      on SIGHUP and when a file in DIR changes.
  portcullis check [--config DIR] [--offline]
      Validate the config and print every error as file:line: message. Unless
      --offline, also start each upstream to check the composed names.
      Exits non-zero on any error.
  portcullis audit [query|export|verify|keygen] [--config DIR] [--db PATH] [FILTERS]
      Query recorded requests (newest first; --json for JSON lines), export
      them (--format jsonl|csv), verify the hash chain and its signed
      checkpoints, or make a signing key. `portcullis audit --help` for more.
  portcullis pins list [--config DIR] [--json]
  portcullis pins approve [--config DIR] (UPSTREAM TOOL | UPSTREAM --all | --all)
      Show the approved tool definitions and the changes noticed since, or
      approve changes (a virtual server with pinning: block hides a changed
      tool until then). A running gateway picks approvals up within a second.
  portcullis keys new --id ID --subject SUB [--group G]... [--meta KEY=VALUE]...
      Make an API key for a service account: prints the key (once; it is
      never stored) and the api_keys.yaml entry holding its SHA-256.
  portcullis credentials list [--config DIR] [--user U] [--json]
  portcullis credentials revoke [--config DIR] --user U [--upstream NAME]
      Show which users hold tokens for which oauth_user upstreams (never the
      tokens), or forget them: the user's next call asks for consent again.
  portcullis connect <virtual-server> [--url URL] [--config DIR] [--log-level LEVEL]
      Bridge MCP over stdin/stdout to a running gateway's virtual server, for
      clients that only launch local processes (Claude Desktop). The default
      URL is http://<listen of DIR/portcullis.yaml>/mcp/<virtual-server>;
      --url replaces it. Logs go to stderr (level warn unless --log-level).
      Credentials come from PORTCULLIS_TOKEN or PORTCULLIS_API_KEY, metadata
      from PORTCULLIS_METADATA.
  portcullis scan [--detectors secrets,pii] [--redact] [FILE|-]
      Run guardrail detectors on text or JSON: findings as JSON lines (never
      the matched text), or the input redacted. Exits 1 when anything is found.
%PROBE%%AUTHORIZE%  portcullis --help | --version

A config DIR holds servers.d/*.yaml, an optional portcullis.yaml and
policies/. The default DIR is the current directory.
)";

struct Args {
  std::string command;
  std::string config_dir = ".";
  std::string listen;
  std::string log_level = "info";
  bool offline = false;
  std::string connect_server, connect_url, connect_log_level;  // connect
  std::vector<std::string> rest;  // passed through (audit)
};

std::string usage_text() {
  std::string u = kUsage;
  u.replace(u.find("%AUTHORIZE%"), 11, policy::kAuthorizeUsage);
  return u.replace(u.find("%PROBE%"), 7, identity::kProbeUsage);
}

int usage_error(const std::string& msg) {
  std::cerr << "portcullis: " << msg << "\nRun 'portcullis --help' for usage.\n";
  return 2;
}

void print_diagnostics(const std::vector<config::Diagnostic>& diags, const char* severity) {
  for (const auto& d : diags) {
    std::cerr << d.format();
    if (std::string(severity) != "error") std::cerr << " (" << severity << ")";
    std::cerr << "\n";
  }
}

config::LoadResult load_or_report(const std::string& dir) {
  auto loaded = config::load(dir);
  print_diagnostics(loaded.warnings, "warning");
  print_diagnostics(loaded.errors, "error");
  return loaded;
}

int cmd_check(const Args& a) {
  auto loaded = load_or_report(a.config_dir);
  if (!loaded.errors.empty()) {
    std::cerr << loaded.errors.size() << " error(s) in " << a.config_dir << "\n";
    return 1;
  }
  const auto& cfg = *loaded.config;
  size_t errors = policy::check_policy_folder(a.config_dir, std::cout, std::cerr);
  // The identity stage as serve builds it: API keys file, issuer settings.
  if (auto auth = identity::Authenticator::create(cfg.settings); !auth.ok()) {
    std::cerr << auth.error() << "\n";
    ++errors;
  }
  // Guardrails (policies/guardrails.yaml, virtual servers' blocks), as serve builds them.
  auto guards = pipeline::GuardStage::build(cfg);
  print_diagnostics(guards.errors, "error");
  errors += guards.errors.size();
  if (!a.offline) {
    // Names only exist once upstreams list them: start each one (in
    // parallel), list, compose, and report what still collides.
    spdlog::set_level(spdlog::level::warn);
    std::map<std::string, std::shared_ptr<pipeline::Upstream>> ups;
    std::vector<std::thread> starters;
    for (const auto& [name, ucfg] : cfg.upstreams) {
      auto up = std::make_shared<pipeline::Upstream>(ucfg, nullptr, nullptr);
      ups[name] = up;
      starters.emplace_back([up] { up->start(); });
    }
    for (auto& t : starters) t.join();
    compose::UpstreamCatalogs catalogs;
    for (const auto& [name, up] : ups) {
      if (up->personal()) {
        std::cout << "upstream '" << name << "': acts as each user, so it is listed per user at run time\n";
      } else if (!up->ready()) {
        std::cerr << up->config().pos.file << ":" << up->config().pos.line << ": upstream '" << name
                  << "' could not be started: " << up->status() << " (warning)\n";
      }
      catalogs[name] = up->catalog();
    }
    for (const auto& [name, vs] : cfg.virtual_servers) {
      std::vector<std::string> problems;
      auto cat = compose::VirtualCatalog::build(vs, catalogs, &problems);
      for (const auto& p : problems) {
        std::cerr << config::Diagnostic{vs.pos, p}.format() << "\n";
        ++errors;
      }
      std::cout << "virtual server '" << name << "': " << cat->list(compose::ListKind::Tools).size()
                << " tools, " << cat->list(compose::ListKind::Resources).size() << " resources, "
                << cat->list(compose::ListKind::Prompts).size() << " prompts\n";
    }
    for (auto& [name, up] : ups) up->stop();
  }
  if (errors) {
    std::cerr << errors << " error(s) in " << a.config_dir << "\n";
    return 1;
  }
  std::cout << "config OK: " << cfg.upstreams.size() << " upstream(s), " << cfg.virtual_servers.size()
            << " virtual server(s)\n";
  return 0;
}

// `portcullis keys new --id ID --subject SUB [--group G]... [--meta KEY=VALUE]...`
int cmd_keys(const Args& a) {
  const auto& r = a.rest;
  if (r.empty() || r[0] != "new") return usage_error("keys: expected 'new'");
  std::string id, subject;
  std::vector<std::string> groups;
  std::map<std::string, std::string> metadata;
  for (size_t i = 1; i < r.size(); ++i) {
    if (i + 1 >= r.size()) return usage_error("keys new: " + r[i] + " needs a value");
    const std::string& flag = r[i];
    const std::string& v = r[++i];
    if (flag == "--id") id = v;
    else if (flag == "--subject") subject = v;
    else if (flag == "--group") groups.push_back(v);
    else if (flag == "--meta" && v.find('=') != std::string::npos) metadata[v.substr(0, v.find('='))] = v.substr(v.find('=') + 1);
    else return usage_error("keys new: unknown option '" + flag + "'");
  }
  if (id.empty() || subject.empty()) return usage_error("keys new needs --id and --subject");
  auto made = identity::generate_api_key(id, subject, groups, metadata);
  if (!made.ok()) {
    std::cerr << "portcullis keys new: " << made.error() << "\n";
    return 2;
  }
  // Line 1: the key, shown this once (only its hash is ever stored); then
  // the entry to append to api_keys.yaml.
  std::cout << made.value().key << "\n";
  std::cout << made.value().yaml_entry;
  if (!made.value().yaml_entry.empty() && made.value().yaml_entry.back() != '\n') std::cout << "\n";
  return 0;
}

int cmd_serve(const Args& a) {
  // Signals are handled by one thread with sigwait; block them before any
  // other thread exists so every thread inherits the mask.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGHUP);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  signal(SIGPIPE, SIG_IGN);
  // Every open stream is a socket: allow as many as the system lets us.
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }

  auto loaded = load_or_report(a.config_dir);
  if (!loaded.errors.empty()) {
    std::cerr << "portcullis: not starting: " << loaded.errors.size() << " error(s) in " << a.config_dir << "\n";
    return 1;
  }
  auto cfg = loaded.config;
  auto addr = server::parse_listen(a.listen.empty() ? cfg->settings.listen : a.listen);
  if (!addr.ok()) return usage_error(addr.error());
  if (!cfg->settings.auth_configured && !server::is_loopback_host(addr->host)) {
    std::cerr << "portcullis: refusing to listen on " << addr->host << ":" << addr->port
              << ": no authentication is configured, so Portcullis listens on loopback only "
                 "(127.0.0.1 or ::1). Configure auth in portcullis.yaml to serve other hosts.\n";
    return 2;
  }

  pipeline::Gateway gateway(cfg);
  if (auto r = gateway.start(); !r.ok()) {
    std::cerr << "portcullis: " << r.error() << "\n";
    return 1;
  }
  server::HttpFront front(gateway);
  auto port = front.bind(*addr);
  if (!port.ok()) {
    std::cerr << "portcullis: " << port.error() << "\n";
    gateway.stop();
    return 1;
  }
  std::string base = "http://" + (addr->host.find(':') != std::string::npos ? "[" + addr->host + "]" : addr->host) +
                     ":" + std::to_string(port.value());
  spdlog::info("Portcullis listening on {}", base);
  for (const auto& [name, vs] : cfg->virtual_servers) {
    spdlog::info("  virtual server '{}': {}/mcp/{} (Streamable HTTP), {}/sse/{} (legacy SSE)", name, base, name,
                 base, name);
  }

  config::ConfigWatcher watcher;
  watcher.start(cfg->dir, [&gateway] {
    spdlog::info("config change detected; reloading");
    gateway.reload();
  });

  std::atomic<bool> shutting_down{false};
  std::thread signals([&] {
    for (;;) {
      int sig = 0;
      if (sigwait(&sigs, &sig) != 0) continue;
      if (sig == SIGHUP) {
        spdlog::info("SIGHUP: reloading config");
        gateway.reload();
        continue;
      }
      spdlog::info("signal {}: shutting down", sig);
      shutting_down = true;
      std::thread([] {
        // Never let a wedged upstream keep the process alive.
        std::this_thread::sleep_for(std::chrono::seconds(15));
        spdlog::error("shutdown is taking longer than 15s; exiting now");
        std::_Exit(1);
      }).detach();
      // Sessions first: that ends their streams and in-flight calls, so the
      // HTTP server's connection threads can finish.
      gateway.stop();
      front.stop();
      return;
    }
  });
  front.serve();
  // serve() also returns if the server fails; wake the signal thread then.
  if (!shutting_down) kill(getpid(), SIGTERM);
  signals.join();
  watcher.stop();
  gateway.stop();
  spdlog::info("Portcullis stopped");
  return 0;
}

int cmd_audit(const Args& a) { return record::run_audit_cli(a.config_dir, a.rest); }

int cmd_credentials(const Args& a) {
  auto loaded = load_or_report(a.config_dir);
  if (!loaded.config) return 1;
  return identity::run_credentials_cli(a.rest, loaded.config->settings.credentials);
}

int cmd_pins(const Args& a) {
  auto loaded = load_or_report(a.config_dir);
  if (!loaded.config) return 1;
  return compose::run_pins_cli(a.rest, loaded.config->settings.pins_db);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> argv_s(argv + 1, argv + argc);
  if (argv_s.empty()) {
    std::cerr << usage_text();
    return 2;
  }
  Args a;
  a.command = argv_s[0];
  if (a.command == "--help" || a.command == "-h" || a.command == "help") {
    std::cout << usage_text();
    return 0;
  }
  if (a.command == "probe") {
    return identity::run_probe_cli(std::vector<std::string>(argv_s.begin() + 1, argv_s.end()));
  }
  if (a.command == "scan") {
    return guard::run_scan_cli(std::vector<std::string>(argv_s.begin() + 1, argv_s.end()));
  }
  if (a.command == "authorize") {
    return policy::run_authorize_cli(std::vector<std::string>(argv_s.begin() + 1, argv_s.end()));
  }
  if (a.command == "--version" || a.command == "version") {
    std::cout << "portcullis 0.1.0\n";
    return 0;
  }
  for (size_t i = 1; i < argv_s.size(); ++i) {
    const std::string& s = argv_s[i];
    auto value = [&](const char* flag) -> std::optional<std::string> {
      if (i + 1 >= argv_s.size()) {
        usage_error(std::string(flag) + " needs a value");
        return std::nullopt;
      }
      return argv_s[++i];
    };
    if (s == "--help" || s == "-h") {
      std::cout << usage_text();
      return 0;
    } else if (s == "--config") {
      auto v = value("--config");
      if (!v) return 2;
      a.config_dir = *v;
    } else if (s == "--listen" && a.command == "serve") {
      auto v = value("--listen");
      if (!v) return 2;
      a.listen = *v;
    } else if (s == "--log-level" && a.command == "serve") {
      auto v = value("--log-level");
      if (!v) return 2;
      a.log_level = *v;
    } else if (a.command == "connect" && (s == "--url" || s == "--log-level")) {
      auto v = value(s == "--url" ? "--url" : "--log-level");
      if (!v) return 2;
      (s == "--url" ? a.connect_url : a.connect_log_level) = *v;
    } else if (a.command == "connect" && a.connect_server.empty() && !s.empty() && s[0] != '-') {
      a.connect_server = s;
    } else if (s == "--offline" && a.command == "check") {
      a.offline = true;
    } else if (a.command == "audit" || a.command == "pins" || a.command == "keys" ||
               a.command == "credentials") {
      a.rest.push_back(s);
    } else {
      return usage_error("unknown option '" + s + "' for '" + a.command + "'");
    }
  }
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  spdlog::set_level(spdlog::level::from_str(a.log_level));
  if (a.command == "serve") return cmd_serve(a);
  if (a.command == "check") return cmd_check(a);
  if (a.command == "audit") return cmd_audit(a);
  if (a.command == "connect") return bridge::run_connect(a.connect_server, a.connect_url, a.config_dir, a.connect_log_level);
  if (a.command == "pins") return cmd_pins(a);
  if (a.command == "keys") return cmd_keys(a);
  if (a.command == "credentials") return cmd_credentials(a);
  return usage_error("unknown command '" + a.command + "'");
}
