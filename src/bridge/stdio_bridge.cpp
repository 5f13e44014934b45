#include "bridge/stdio_bridge.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/jsonrpc.h"
#include "core/text.h"
#include "transport/http_common.h"
#include "transport/upstream_transport.h"

namespace portcullis::bridge {
namespace {

using namespace std::chrono_literals;

// One stdin line (one JSON-RPC message or batch) may not exceed this.
constexpr size_t kMaxLine = 16 * 1024 * 1024;
constexpr rpc::Limits kLimits{kMaxLine, 512};
// The transport names its upstream in the errors it synthesizes ("upstream
// '<name>' is unavailable: ..."). The name has a space, so it can never be a
// configured upstream's name relayed by the gateway: those errors are
// recognized and reworded as the gateway's.
constexpr const char* kUpstreamName = "Portcullis gateway";
// Tool calls may run long; the gateway enforces its own per-upstream
// timeouts and sends SSE keep-alives, so the bridge never cuts a call short.
constexpr auto kRequestTimeout = std::chrono::milliseconds(10min);
constexpr auto kConnectTimeout = std::chrono::milliseconds(10s);
// How long the exit waits for the session's DELETE.
constexpr auto kExitGrace = 4s;

volatile sig_atomic_t g_signal = 0;
void on_signal(int sig) { g_signal = sig; }

bool valid_name(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

// Whole lines to a file descriptor, one writer at a time.
class Output {
 public:
  Output(int fd, int wake_fd) : fd_(fd), wake_fd_(wake_fd) {}

  // Writes `line` plus '\n'. Once the reader is gone every write is dropped
  // and the main loop is woken to exit.
  void write_line(std::string line) {
    line.push_back('\n');
    std::lock_guard lock(mu_);
    if (broken_) return;
    size_t off = 0;
    while (off < line.size()) {
      ssize_t n = ::write(fd_, line.data() + off, line.size() - off);
      if (n > 0) {
        off += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        pollfd p{fd_, POLLOUT, 0};
        ::poll(&p, 1, 1000);
        continue;
      }
      broken_ = true;
      spdlog::warn("stdout is closed ({}); exiting", n < 0 ? std::strerror(errno) : "short write");
      char b = 1;
      [[maybe_unused]] ssize_t w = ::write(wake_fd_, &b, 1);
      return;
    }
  }

 private:
  std::mutex mu_;
  int fd_;
  int wake_fd_;
  bool broken_ = false;
};

// One connection to the gateway: a transport and, once initialized, a session.
struct Link {
  uint64_t gen = 0;
  std::unique_ptr<transport::UpstreamTransport> t;
  // Why the link before this one ended on its own (empty if it did not), for
  // errors that need the client to initialize again.
  std::string note;
  // Guarded by Bridge::mu_:
  std::unordered_map<std::string, Json> pending;  // client requests awaiting their answer, by id key
  std::unordered_set<std::string> init_ids;       // pending initialize requests
  bool used = false;
  bool dead = false;  // the session ended on its own (gateway gone, session expired)
  std::string dead_reason;
};

class Bridge {
 public:
  // `headers` go with every request to the gateway (its credentials).
  Bridge(std::string url, std::map<std::string, std::string> headers, Output& out)
      : url_(std::move(url)), headers_(std::move(headers)), out_(out) {}

  // One stdin line.
  void handle_line(std::string_view line) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t\r\n") == std::string_view::npos) return;
    auto parsed = rpc::parse(line, kLimits);
    if (!parsed.ok()) {
      spdlog::warn("stdin: not a JSON-RPC message ({}): {}", parsed.error(), transport::detail::excerpt(line));
      emit(rpc::make_error(nullptr, rpc::kParseError, "Parse error: " + parsed.error()));
      return;
    }
    Json j = std::move(parsed).value();
    if (j.is_array()) {
      if (j.empty()) {
        emit(rpc::make_error(nullptr, rpc::kInvalidRequest, "Invalid Request: empty batch"));
        return;
      }
      for (auto& m : j) handle_message(std::move(m));
      return;
    }
    handle_message(std::move(j));
  }

  void line_too_long() {
    spdlog::warn("stdin: a line exceeds {} bytes; discarded", kMaxLine);
    emit(rpc::make_error(nullptr, rpc::kParseError,
                         "Parse error: message exceeds the limit of " + std::to_string(kMaxLine) +
                             " bytes; it was discarded"));
  }

  // Ends the session (DELETE). Returns true if a transport ever existed.
  bool close() {
    std::shared_ptr<Link> l;
    bool any;
    {
      std::lock_guard lock(mu_);
      l = std::move(link_);
      any = next_gen_ > 1;
    }
    if (l) l->t->close();
    return any;
  }

 private:
  void emit(const Json& msg) { out_.write_line(rpc::dump(msg)); }

  void handle_message(Json m) {
    std::string why;
    rpc::Kind kind = rpc::classify(m, &why);
    if (kind == rpc::Kind::Invalid) {
      Json id = nullptr;
      if (m.is_object() && m.contains("id") && (m["id"].is_string() || m["id"].is_number_integer() || m["id"].is_number_unsigned()))
        id = m["id"];
      spdlog::warn("stdin: invalid JSON-RPC message ({}): {}", why, transport::detail::excerpt(rpc::dump(m)));
      emit(rpc::make_error(id, rpc::kInvalidRequest, "Invalid Request: " + why));
      return;
    }
    send(std::move(m), kind);
  }

  void send(Json m, rpc::Kind kind) {
    const bool is_init = kind == rpc::Kind::Request && m["method"] == "initialize";
    std::shared_ptr<Link> l, old;
    std::string old_why;
    {
      std::lock_guard lock(mu_);
      if (link_ && (link_->dead || (is_init && link_->used))) {
        if (kind == rpc::Kind::Response) {
          spdlog::warn("dropping the client's response to id {}: the gateway session ended ({})", rpc::dump(m["id"]),
                       link_->dead_reason);
          return;
        }
        old = std::move(link_);
        old_why = old->dead ? "the session ended (" + old->dead_reason + ")" : "the client started a new session";
      }
      if (!link_) {
        if (kind == rpc::Kind::Response) {
          spdlog::warn("dropping the client's response to id {}: no gateway session", rpc::dump(m["id"]));
          return;
        }
        auto made = make_link(old && old->dead ? old->dead_reason : std::string());
        if (!made) {
          if (kind == rpc::Kind::Request) {
            emit(rpc::make_error(m["id"], rpc::kUpstreamUnavailable, "Portcullis gateway at " + url_ + ": " + open_error_));
          }
          return;
        }
        link_ = std::move(made);
      }
      l = link_;
      l->used = true;
      if (kind == rpc::Kind::Request) {
        std::string key = transport::detail::id_key(m["id"]);
        l->pending[key] = m["id"];
        if (is_init) l->init_ids.insert(key);
      } else if (kind == rpc::Kind::Notification && m["method"] == "notifications/cancelled") {
        // The gateway will not answer a cancelled request.
        const Json* p = m.contains("params") ? &m["params"] : nullptr;
        if (p && p->is_object() && p->contains("requestId")) {
          std::string key = transport::detail::id_key((*p)["requestId"]);
          l->pending.erase(key);
          l->init_ids.erase(key);
        }
      }
    }
    if (old) retire(old, old_why);
    l->t->send(m);
  }

  // REQUIRES: mu_ held.
  std::shared_ptr<Link> make_link(std::string note) {
    config::UpstreamConfig cfg;
    cfg.name = kUpstreamName;
    cfg.transport = config::Transport::StreamableHttp;
    cfg.url = url_;
    cfg.headers = headers_;
    cfg.timeout = kRequestTimeout;
    cfg.connect_timeout = kConnectTimeout;
    cfg.pos.file = "<portcullis connect>";
    auto l = std::make_shared<Link>();
    l->gen = next_gen_++;
    l->note = std::move(note);
    l->t = transport::make_transport(cfg);
    std::weak_ptr<Link> wl = l;
    auto r = l->t->open([this, wl](transport::Incoming&& in) { on_incoming(wl, std::move(in)); },
                        [this, wl](const std::string& reason) { on_closed(wl, reason); });
    if (!r.ok()) {
      open_error_ = r.error();
      spdlog::error("cannot connect to {}: {}", url_, r.error());
      return nullptr;
    }
    spdlog::debug("connection #{} to {}", l->gen, url_);
    return l;
  }

  // Closes a link that is no longer current and answers what it left pending.
  void retire(const std::shared_ptr<Link>& l, const std::string& why) {
    std::unordered_map<std::string, Json> pending;
    {
      std::lock_guard lock(mu_);
      pending.swap(l->pending);
      l->init_ids.clear();
      retired_.push_back(l);  // its transport's threads may still be finishing
    }
    l->t->close();
    for (auto& [key, id] : pending) {
      emit(rpc::make_error(id, rpc::kUpstreamUnavailable,
                           "Portcullis gateway at " + url_ + ": " + why + " before this request was answered"));
    }
  }

  void on_incoming(const std::weak_ptr<Link>& wl, transport::Incoming&& in) {
    auto l = wl.lock();
    if (!l || in.message.is_null()) return;
    Json& m = in.message;
    if (rpc::classify(m) == rpc::Kind::Response) {
      std::string key = transport::detail::id_key(m["id"]);
      bool was_init;
      {
        std::lock_guard lock(mu_);
        if (l->pending.erase(key) == 0) {
          spdlog::debug("dropping a response to id {}: already answered", key);
          return;
        }
        was_init = l->init_ids.erase(key) > 0;
      }
      if (m.contains("error") && m["error"].contains("message") && m["error"]["message"].is_string()) {
        m["error"]["message"] = reword(*l, m["error"]["message"].get<std::string>());
      }
      if (was_init && m.contains("result") && m["result"].is_object()) {
        auto v = m["result"].find("protocolVersion");
        // Before the client sees the answer, so that everything it sends
        // next carries MCP-Protocol-Version; also opens the GET stream.
        if (v != m["result"].end() && v->is_string()) l->t->on_initialized(v->get<std::string>());
      }
    }
    emit(m);
  }

  void on_closed(const std::weak_ptr<Link>& wl, const std::string& reason) {
    auto l = wl.lock();
    if (!l) return;
    {
      std::lock_guard lock(mu_);
      l->dead = true;
      l->dead_reason = reason;
    }
    spdlog::warn("the gateway session at {} ended: {}; the next message opens a new connection (the client must "
                 "initialize again)",
                 url_, reason);
  }

  // Errors the transport synthesized name "upstream 'Portcullis gateway'":
  // say which gateway, and what the client can do about it.
  std::string reword(const Link& l, const std::string& msg) {
    const std::string prefix = std::string("upstream '") + kUpstreamName + "'";
    if (!text::starts_with(msg, prefix)) return msg;
    std::string rest = msg.substr(prefix.size());
    std::string out = std::string(kUpstreamName) + (rest.find(url_) == std::string::npos ? " at " + url_ : "") + rest;
    std::string dead_reason;
    {
      std::lock_guard lock(mu_);
      dead_reason = l.dead_reason;
    }
    if (rest.find("its session ended") != std::string::npos && !dead_reason.empty()) {
      out += " (" + dead_reason + "); reconnect the client to start a new session";
    } else if (rest.find("session expired") != std::string::npos) {
      out += "; reconnect the client to start a new session";
    } else if (!l.note.empty() && rest.find(": HTTP 4") != std::string::npos) {
      out += " (the previous gateway session ended: " + l.note + "; reconnect the client to start a new session)";
    }
    return out;
  }

  const std::string url_;
  const std::map<std::string, std::string> headers_;
  Output& out_;
  std::mutex mu_;
  std::shared_ptr<Link> link_;                 // (mu_) the current connection
  std::vector<std::shared_ptr<Link>> retired_;  // (mu_)
  uint64_t next_gen_ = 1;                       // (mu_)
  std::string open_error_;                      // (mu_)
};

int arg_error(const std::string& msg) {
  std::cerr << "portcullis connect: " << msg << "\nRun 'portcullis --help' for usage.\n";
  return 2;
}

void setup_logging(spdlog::level::level_enum level) {
  auto logger = spdlog::stderr_color_mt("portcullis-connect");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [connect] %v");
  logger->set_level(level);
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);
}

// Waits for queued HTTP work (the DELETE) to finish, at most kExitGrace.
bool drain_http(std::chrono::steady_clock::duration grace) {
  auto done = std::make_shared<std::atomic<bool>>(false);
  std::thread([done] {
    transport::detail::http_pool().shutdown();
    done->store(true);
  }).detach();
  auto deadline = std::chrono::steady_clock::now() + grace;
  while (!done->load() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(20ms);
  return done->load();
}

}  // namespace

Result<std::string> default_gateway_url(const std::string& config_dir, const std::string& virtual_server) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(config_dir, ec)) return fail("config directory '" + config_dir + "' does not exist");
  std::string listen = "127.0.0.1:8080";
  fs::path file = fs::path(config_dir) / "portcullis.yaml";
  if (fs::exists(file, ec)) {
    try {
      YAML::Node doc = YAML::LoadFile(file.string());
      if (doc.IsMap() && doc["listen"].IsDefined()) {
        if (!doc["listen"].IsScalar()) return fail(file.string() + ": 'listen' must be HOST:PORT");
        listen = doc["listen"].Scalar();
      }
    } catch (const YAML::Exception& e) {
      return fail(file.string() + ": " + e.what());
    }
  }
  auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon + 1 == listen.size()) {
    return fail(file.string() + ": 'listen' must be HOST:PORT (got \"" + listen + "\")");
  }
  std::string host = listen.substr(0, colon), port = listen.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  // A wildcard listen address is reached over loopback.
  if (host.empty() || host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return "http://" + host + ":" + port + "/mcp/" + virtual_server;
}

std::map<std::string, std::string> gateway_credentials() {
  std::map<std::string, std::string> headers;
  auto env = [](const char* name) -> std::string {
    const char* v = std::getenv(name);
    return v ? v : "";
  };
  if (auto token = env("PORTCULLIS_TOKEN"); !token.empty()) headers["Authorization"] = "Bearer " + token;
  if (auto key = env("PORTCULLIS_API_KEY"); !key.empty()) headers["X-API-Key"] = key;
  if (auto meta = env("PORTCULLIS_METADATA"); !meta.empty()) headers["X-Portcullis-Metadata"] = meta;
  return headers;
}

int run_connect(const std::string& virtual_server, const std::string& url_arg, const std::string& config_dir,
                const std::string& log_level) {
  if (virtual_server.empty()) return arg_error("missing the virtual server name (portcullis connect <virtual-server>)");
  if (!valid_name(virtual_server)) {
    return arg_error("invalid virtual server name '" + virtual_server + "' (expected [a-z0-9-]+)");
  }
  auto level = spdlog::level::warn;
  if (!log_level.empty()) {
    level = spdlog::level::from_str(log_level);
    if (level == spdlog::level::off && log_level != "off") {
      return arg_error("invalid --log-level '" + log_level + "' (trace, debug, info, warn, error, critical, off)");
    }
  }
  setup_logging(level);

  std::string url = url_arg;
  if (url.empty()) {
    auto u = default_gateway_url(config_dir, virtual_server);
    if (!u.ok()) return arg_error(u.error());
    url = u.value();
  }
  if (auto parsed = transport::detail::parse_url(url); !parsed.ok()) return arg_error(parsed.error());

  // SIGINT/SIGTERM are blocked except while the main thread waits in ppoll,
  // so every other thread (created later) inherits the block and the signal
  // interrupts exactly that wait.
  sigset_t block, orig;
  sigemptyset(&block);
  sigaddset(&block, SIGINT);
  sigaddset(&block, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &block, &orig);
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
  sigdelset(&orig, SIGINT);
  sigdelset(&orig, SIGTERM);

  int wake[2];
  if (pipe2(wake, O_CLOEXEC | O_NONBLOCK) != 0) {
    std::cerr << "portcullis connect: pipe: " << std::strerror(errno) << "\n";
    return 1;
  }
  spdlog::info("relaying stdio to {}", url);

  Output out(STDOUT_FILENO, wake[1]);
  Bridge bridge(url, gateway_credentials(), out);
  std::string line;
  bool discarding = false;  // inside a line that exceeded kMaxLine
  std::vector<char> buf(64 * 1024);
  const char* end_reason = "stdin closed";
  for (;;) {
    pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {wake[0], POLLIN, 0}};
    int r = ppoll(fds, 2, nullptr, &orig);
    if (r < 0) {
      if (errno == EINTR) {
        if (g_signal) {
          end_reason = g_signal == SIGINT ? "SIGINT" : "SIGTERM";
          break;
        }
        continue;
      }
      spdlog::error("poll: {}", std::strerror(errno));
      end_reason = "poll failed";
      break;
    }
    if (fds[1].revents) {
      end_reason = "stdout closed";
      break;
    }
    if (!fds[0].revents) continue;
    ssize_t n = ::read(STDIN_FILENO, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
      spdlog::warn("stdin: {}", std::strerror(errno));
      break;
    }
    if (n == 0) {
      if (!discarding && !line.empty()) bridge.handle_line(line);  // last line without '\n'
      break;
    }
    std::string_view chunk(buf.data(), static_cast<size_t>(n));
    while (!chunk.empty()) {
      size_t nl = chunk.find('\n');
      std::string_view part = chunk.substr(0, nl);
      if (!discarding) {
        if (line.size() + part.size() > kMaxLine) {
          discarding = true;
          line.clear();
          line.shrink_to_fit();
          bridge.line_too_long();
        } else {
          line.append(part);
        }
      }
      if (nl == std::string_view::npos) break;
      chunk.remove_prefix(nl + 1);
      if (!discarding) bridge.handle_line(line);
      discarding = false;
      line.clear();
    }
  }
  spdlog::info("{}: ending the gateway session", end_reason);
  if (bridge.close() && !drain_http(kExitGrace)) {
    // A wedged exchange must not keep the client waiting for our exit.
    spdlog::warn("the gateway did not confirm the end of the session within {} s", kExitGrace.count());
    spdlog::default_logger()->flush();
    std::fflush(nullptr);
    std::_Exit(0);
  }
  return 0;
}

}  // namespace portcullis::bridge
