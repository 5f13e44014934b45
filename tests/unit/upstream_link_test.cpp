// UpstreamLink and the three upstream transports against real MCP servers
// (node_modules/.bin/mcp-server-everything in stdio, sse and streamableHttp
// modes) and small shell-script servers for misbehaviour. No mocks.
// Runs from the repository root (meson test workdir).
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "core/jsonrpc.h"
#include "mcp/upstream_link.h"

extern char** environ;

using namespace portcullis;
using namespace std::chrono_literals;
using mcp::LinkState;
using mcp::UpstreamLink;
using Clock = std::chrono::steady_clock;

namespace {

const char* kEverything = "node_modules/.bin/mcp-server-everything";

// Log capture: warnings to the console, everything into a ring buffer the
// tests can inspect.
std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> log_ring() {
  static auto ring = [] {
    auto r = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(4000);
    r->set_level(spdlog::level::debug);
    auto console = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    console->set_level(spdlog::level::warn);
    auto logger = std::make_shared<spdlog::logger>("test", spdlog::sinks_init_list{console, r});
    logger->set_level(spdlog::level::debug);
    spdlog::set_default_logger(logger);
    return r;
  }();
  return ring;
}
const bool kLogInstalled = (log_ring(), true);

bool logged(const std::string& needle) {
  for (const auto& line : log_ring()->last_formatted()) {
    if (line.find(needle) != std::string::npos) return true;
  }
  return false;
}

int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

bool port_accepts(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  close(fd);
  return ok;
}

// A child process in its own process group, killed (group-wide) on destruction.
class ServerProcess {
 public:
  ServerProcess(const std::string& mode, int port) : ServerProcess(std::vector<std::string>{kEverything, mode}, port) {}
  // Runs argv[0] (a path) with the rest as arguments and PORT=port.
  ServerProcess(std::vector<std::string> args, int port) : port_(port) {
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e) {
      if (strncmp(*e, "PORT=", 5) != 0) env.emplace_back(*e);
    }
    env.push_back("PORT=" + std::to_string(port));
    std::vector<char*> envp;
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    std::string prog = args.front();
    const std::string mode = args.size() > 1 ? args[1] : prog;
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    // fork + exec rather than posix_spawn, for PR_SET_PDEATHSIG: servers
    // must not outlive a test run that is killed (they are started from the
    // test's main thread, which lives as long as the run).
    pid_t parent = getpid();
    pid_ = fork();
    if (pid_ == 0) {
      setpgid(0, 0);
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(1);
      int devnull = open("/dev/null", O_RDWR);
      dup2(devnull, 0);
      dup2(devnull, 1);
      dup2(devnull, 2);
      execve(prog.c_str(), argv.data(), envp.data());
      _exit(127);
    }
    int rc = pid_ > 0 ? 0 : -1;
    REQUIRE(rc == 0);
    auto deadline = Clock::now() + 15s;
    while (!port_accepts(port) && Clock::now() < deadline) std::this_thread::sleep_for(50ms);
    REQUIRE_MESSAGE(port_accepts(port), "server " << mode << " did not listen on port " << port);
  }
  ~ServerProcess() { stop(); }
  void stop() {
    if (pid_ <= 0) return;
    kill(-pid_, SIGTERM);
    for (int i = 0; i < 100; ++i) {
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(20ms);
    }
    kill(-pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  int port() const { return port_; }

 private:
  pid_t pid_ = -1;
  int port_;
};

// One shared server per HTTP mode for the whole run (started on first use).
ServerProcess& shared_server(const std::string& mode) {
  static std::mutex mu;
  static std::map<std::string, std::unique_ptr<ServerProcess>> servers;
  std::lock_guard lock(mu);
  auto& s = servers[mode];
  if (!s) s = std::make_unique<ServerProcess>(mode, free_port());
  return *s;
}

config::UpstreamConfig base_cfg(const std::string& name) {
  config::UpstreamConfig c;
  c.name = name;
  c.timeout = 10s;
  c.connect_timeout = 10s;
  return c;
}

config::UpstreamConfig stdio_cfg() {
  auto c = base_cfg("everything-stdio");
  c.transport = config::Transport::Stdio;
  c.command = kEverything;
  c.args = {"stdio"};
  return c;
}

config::UpstreamConfig sse_cfg(int port) {
  auto c = base_cfg("everything-sse");
  c.transport = config::Transport::Sse;
  c.url = "http://127.0.0.1:" + std::to_string(port) + "/sse";
  return c;
}

config::UpstreamConfig http_cfg(int port) {
  auto c = base_cfg("everything-http");
  c.transport = config::Transport::StreamableHttp;
  c.url = "http://127.0.0.1:" + std::to_string(port) + "/mcp";
  return c;
}

// The configuration of every transport against the everything server.
std::vector<config::UpstreamConfig> every_transport() {
  return {stdio_cfg(), sse_cfg(shared_server("sse").port()),
          http_cfg(shared_server("streamableHttp").port())};
}

// Records what the link hands to its handlers.
struct Recorder {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<transport::Incoming> notifications, requests;
  std::vector<std::pair<LinkState, std::string>> states;
  std::function<void(const transport::Incoming&)> answer;  // for requests

  UpstreamLink::Handlers handlers() {
    UpstreamLink::Handlers h;
    h.on_notification = [this](const transport::Incoming& in) {
      std::lock_guard lock(mu);
      notifications.push_back(in);
      cv.notify_all();
    };
    h.on_request = [this](const transport::Incoming& in) {
      {
        std::lock_guard lock(mu);
        requests.push_back(in);
        cv.notify_all();
      }
      if (answer) answer(in);
    };
    h.on_state = [this](LinkState s, const std::string& why) {
      std::lock_guard lock(mu);
      states.emplace_back(s, why);
      cv.notify_all();
    };
    return h;
  }
  template <class Pred>
  bool wait(Pred pred, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, timeout, pred);
  }
  std::vector<transport::Incoming> notifications_named(const std::string& method) {
    std::lock_guard lock(mu);
    std::vector<transport::Incoming> out;
    for (auto& n : notifications) {
      if (n.message.value("method", "") == method) out.push_back(n);
    }
    return out;
  }
  bool saw_state_locked(LinkState s) {
    for (auto& [st, why] : states) {
      if (st == s) return true;
    }
    return false;
  }
  bool saw_state(LinkState s) {
    std::lock_guard lock(mu);
    return saw_state_locked(s);
  }
};

std::string text_of(const Json& response) {
  REQUIRE_MESSAGE(response.contains("result"), rpc::dump(response));
  const Json& content = response["result"]["content"];
  REQUIRE(content.is_array());
  REQUIRE(!content.empty());
  return content[0].value("text", "");
}

int error_code(const Json& response) {
  REQUIRE_MESSAGE(response.contains("error"), rpc::dump(response));
  return response["error"]["code"].get<int>();
}

std::string error_message(const Json& response) {
  REQUIRE_MESSAGE(response.contains("error"), rpc::dump(response));
  return response["error"]["message"].get<std::string>();
}

Json echo(UpstreamLink& link, const std::string& text) {
  return link.call("tools/call", {{"name", "echo"}, {"arguments", {{"message", text}}}});
}

bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return pred();
}

pid_t stdio_pid(const UpstreamLink& link) {
  std::string d = link.describe();
  auto at = d.find("stdio pid ");
  REQUIRE_MESSAGE(at != std::string::npos, d);
  return static_cast<pid_t>(std::stol(d.substr(at + 10)));
}

// A shell-script MCP "server": garbage on stdout around valid answers.
// VERSION (from the configured env) is the protocol version it claims.
const char* kFakeServer = R"SH(
echo "fake server booting" >&2
while IFS= read -r line; do
  id=$(printf '%s' "$line" | sed -n 's/^{"id":\([0-9][0-9]*\),.*/\1/p')
  case "$line" in
    *'"method":"initialize"'*)
      echo "this is not JSON"
      printf '{"jsonrpc":"2.0","id":%s,"result":{"protocolVersion":"%s","capabilities":{"tools":{}},"serverInfo":{"name":"fake","version":"1.0"}}}\n' "$id" "$VERSION";;
    *'"method":"notifications/'*) ;;
    *'"method":"bad/'*)
      printf '{"jsonrpc":"2.0","id":%s}\n' "$id";;
    *)
      echo '{not json either'
      printf '{"jsonrpc":"2.0","id":%s,"result":{"echo":"ok"}}\n' "$id";;
  esac
done
)SH";

config::UpstreamConfig fake_cfg(const std::string& version) {
  auto c = base_cfg("fake");
  c.command = "sh";
  c.args = {"-c", kFakeServer};
  c.env = {{"VERSION", version}};
  return c;
}

}  // namespace

TEST_CASE("initialize, tools/list and tools/call echo work over every transport") {
  for (const auto& cfg : every_transport()) {
    CAPTURE(cfg.name);
    Recorder rec;
    auto link = UpstreamLink::create(cfg, {}, rec.handlers());
    auto r = link->start();
    REQUIRE_MESSAGE(r.ok(), r.error());
    CHECK(link->state() == LinkState::Ready);
    CHECK(rec.saw_state(LinkState::Ready));
    CHECK(link->server_info()["name"] == "mcp-servers/everything");
    CHECK(link->server_capabilities().contains("tools"));
    CHECK(mcp::is_supported_revision(link->protocol_version()));
    CHECK(!link->instructions().empty());

    Json tools = link->call("tools/list", Json::object());
    REQUIRE_MESSAGE(tools.contains("result"), rpc::dump(tools));
    bool has_echo = false;
    for (const auto& t : tools["result"]["tools"]) has_echo |= t["name"] == "echo";
    CHECK(has_echo);

    CHECK(text_of(echo(*link, "hello " + cfg.name)) == "Echo: hello " + cfg.name);
    link->close();
    CHECK(link->state() == LinkState::Closed);
  }
}

TEST_CASE("concurrent calls over one link all get their own answers") {
  for (const auto& cfg : every_transport()) {
    CAPTURE(cfg.name);
    auto link = UpstreamLink::create(cfg, {}, {});
    REQUIRE(link->start().ok());
    std::atomic<int> good{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 10; ++i) {
          std::string msg = std::to_string(t);
          msg.append("-").append(std::to_string(i));
          Json resp = echo(*link, msg);
          if (resp.contains("result") && resp["result"]["content"][0]["text"] == "Echo: " + msg) ++good;
        }
      });
    }
    for (auto& th : threads) th.join();
    CHECK(good == 80);

    // Sequential round trips, for the record.
    auto t0 = Clock::now();
    const int n = 100;
    for (int i = 0; i < n; ++i) REQUIRE(echo(*link, "x").contains("result"));
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count() / n;
    MESSAGE(cfg.name << ": " << us << " us per sequential tools/call echo round trip");
  }
}

TEST_CASE("progress notifications of a long-running call reach on_notification") {
  for (const auto& cfg : every_transport()) {
    CAPTURE(cfg.name);
    Recorder rec;
    auto link = UpstreamLink::create(cfg, {}, rec.handlers());
    REQUIRE(link->start().ok());
    Json sent_id;
    mcp::CallOptions opts;
    opts.on_sent = [&](const Json& id) { sent_id = id; };
    Json resp = link->call("tools/call",
                           {{"name", "trigger-long-running-operation"},
                            {"arguments", {{"duration", 0.6}, {"steps", 3}}},
                            {"_meta", {{"progressToken", "tok-" + cfg.name}}}},
                           opts);
    CHECK(text_of(resp).find("Long running operation completed") != std::string::npos);
    REQUIRE(sent_id.is_number_integer());
    auto progress = rec.notifications_named("notifications/progress");
    REQUIRE(progress.size() == 3);
    for (size_t i = 0; i < progress.size(); ++i) {
      const Json& p = progress[i].message["params"];
      CHECK(p["progressToken"] == "tok-" + cfg.name);
      CHECK(p["progress"] == i + 1);
      CHECK(p["total"] == 3);
      if (cfg.transport == config::Transport::StreamableHttp) {
        REQUIRE(progress[i].related_request_id.has_value());
        CHECK(*progress[i].related_request_id == sent_id);
      }
    }
  }
}

TEST_CASE("a sampling request from the upstream is answered through respond()") {
  for (const auto& cfg : every_transport()) {
    CAPTURE(cfg.name);
    Recorder rec;
    UpstreamLink::ClientInfo client;
    client.capabilities = {{"sampling", Json::object()}};
    std::weak_ptr<UpstreamLink> weak;
    rec.answer = [&weak](const transport::Incoming& in) {
      if (in.message["method"] != "sampling/createMessage") return;
      if (auto link = weak.lock()) {
        link->respond(in.message["id"], {{"model", "test-model"},
                                         {"role", "assistant"},
                                         {"content", {{"type", "text"}, {"text", "the answer is 42"}}}});
      }
    };
    auto link = UpstreamLink::create(cfg, client, rec.handlers());
    weak = link;
    REQUIRE(link->start().ok());
    Json resp = link->call("tools/call", {{"name", "trigger-sampling-request"},
                                          {"arguments", {{"prompt", "what is the answer?"}, {"maxTokens", 10}}}});
    CHECK(text_of(resp).find("the answer is 42") != std::string::npos);
    std::lock_guard lock(rec.mu);
    REQUIRE(rec.requests.size() == 1);
    CHECK(rec.requests[0].message["method"] == "sampling/createMessage");
    CHECK(rec.requests[0].message["params"]["messages"][0]["content"]["text"].get<std::string>().find(
              "what is the answer?") != std::string::npos);
  }
}

TEST_CASE("a call that outlives its timeout fails with kUpstreamTimeout and the link keeps working") {
  for (const auto& cfg : every_transport()) {
    CAPTURE(cfg.name);
    auto link = UpstreamLink::create(cfg, {}, {});
    REQUIRE(link->start().ok());
    mcp::CallOptions opts;
    opts.timeout = 200ms;
    auto t0 = Clock::now();
    Json resp = link->call("tools/call",
                           {{"name", "trigger-long-running-operation"}, {"arguments", {{"duration", 3}, {"steps", 1}}}},
                           opts);
    auto took = Clock::now() - t0;
    CHECK(error_code(resp) == rpc::kUpstreamTimeout);
    CHECK(error_message(resp) == "upstream '" + cfg.name + "' did not answer tools/call within 200ms");
    CHECK(took >= 200ms);
    CHECK(took < 1500ms);
    CHECK(text_of(echo(*link, "still alive")) == "Echo: still alive");
    CHECK(link->state() == LinkState::Ready);
  }
}

TEST_CASE("a cancel token cancels a running call") {
  for (const auto& cfg : every_transport()) {
    CAPTURE(cfg.name);
    auto link = UpstreamLink::create(cfg, {}, {});
    REQUIRE(link->start().ok());
    mcp::CallOptions opts;
    opts.cancel = std::make_shared<mcp::CancelToken>();
    auto canceller = std::async(std::launch::async, [token = opts.cancel] {
      std::this_thread::sleep_for(200ms);
      token->cancel();
    });
    auto t0 = Clock::now();
    Json resp = link->call("tools/call",
                           {{"name", "trigger-long-running-operation"}, {"arguments", {{"duration", 3}, {"steps", 1}}}},
                           opts);
    CHECK(error_code(resp) == rpc::kRequestCancelled);
    CHECK(Clock::now() - t0 < 1500ms);
    canceller.get();

    // An already-cancelled token does not even send the request.
    Json again = link->call("tools/call", {{"name", "echo"}, {"arguments", {{"message", "x"}}}}, opts);
    CHECK(error_code(again) == rpc::kRequestCancelled);
    CHECK(text_of(echo(*link, "after cancel")) == "Echo: after cancel");
  }
}

TEST_CASE("a killed stdio upstream fails the pending call, then the link restarts") {
  Recorder rec;
  auto link = UpstreamLink::create(stdio_cfg(), {}, rec.handlers());
  REQUIRE(link->start().ok());
  pid_t pid = stdio_pid(*link);
  REQUIRE(pid > 0);

  std::promise<void> sent;
  mcp::CallOptions opts;
  opts.on_sent = [&](const Json&) { sent.set_value(); };
  auto pending = std::async(std::launch::async, [&] {
    return link->call("tools/call",
                      {{"name", "trigger-long-running-operation"}, {"arguments", {{"duration", 5}, {"steps", 1}}}},
                      opts);
  });
  sent.get_future().wait();
  std::this_thread::sleep_for(200ms);
  REQUIRE(kill(pid, SIGKILL) == 0);

  Json resp = pending.get();
  CHECK(error_code(resp) == rpc::kUpstreamUnavailable);
  CHECK(error_message(resp).find("upstream 'everything-stdio' closed") != std::string::npos);
  CHECK(error_message(resp).find("signal 9") != std::string::npos);
  CHECK(rec.wait([&] { return rec.saw_state_locked(LinkState::Down); }));

  // While down, calls fail fast with the reason.
  if (link->state() != LinkState::Ready) {
    Json down = echo(*link, "x");
    CHECK(error_code(down) == rpc::kUpstreamUnavailable);
    CHECK(error_message(down).find("upstream 'everything-stdio' is unavailable") != std::string::npos);
  }

  REQUIRE(wait_until([&] { return link->state() == LinkState::Ready; }, 15s));
  CHECK(stdio_pid(*link) != pid);
  CHECK(text_of(echo(*link, "back")) == "Echo: back");
  // The killed process was reaped: no zombie left.
  CHECK(waitpid(pid, nullptr, WNOHANG) == -1);
  CHECK(access(("/proc/" + std::to_string(pid)).c_str(), F_OK) != 0);

  pid_t second = stdio_pid(*link);
  link->close();
  CHECK(access(("/proc/" + std::to_string(second)).c_str(), F_OK) != 0);
}

TEST_CASE("garbage on stdout is logged and skipped; valid answers still arrive") {
  auto link = UpstreamLink::create(fake_cfg("2025-06-18"), {}, {});
  auto r = link->start();
  REQUIRE_MESSAGE(r.ok(), r.error());
  CHECK(link->server_info()["name"] == "fake");
  CHECK(link->protocol_version() == "2025-06-18");
  Json resp = link->call("tools/list", Json::object());
  CHECK(resp["result"]["echo"] == "ok");
  CHECK(logged("upstream 'fake' wrote non-JSON on stdout: this is not JSON"));
  CHECK(logged("upstream 'fake' wrote non-JSON on stdout: {not json either"));
  CHECK(wait_until([] { return logged("[upstream fake] fake server booting"); }, 2s));

  // A response that is JSON but not JSON-RPC fails its call clearly.
  Json bad = link->call("bad/method", Json::object());
  CHECK(error_code(bad) == rpc::kUpstreamInvalid);
  CHECK(error_message(bad).find("upstream 'fake' answered with invalid JSON-RPC") != std::string::npos);
  link->close();
}

TEST_CASE("an upstream choosing an unsupported protocol version is refused, naming the version") {
  Recorder rec;
  auto link = UpstreamLink::create(fake_cfg("1999-01-01"), {}, rec.handlers());
  auto r = link->start();
  REQUIRE(!r.ok());
  CHECK(r.error().find("\"1999-01-01\"") != std::string::npos);
  CHECK(link->state() == LinkState::Down);
  CHECK(rec.saw_state(LinkState::Down));
  link->close();
}

TEST_CASE("a command that cannot start or exits at once gives a clear start error") {
  SUBCASE("exits immediately") {
    auto cfg = base_cfg("dies");
    cfg.command = "sh";
    cfg.args = {"-c", "echo 'fatal: missing API key' >&2; exit 3"};
    auto link = UpstreamLink::create(cfg, {}, {});
    auto t0 = Clock::now();
    auto r = link->start();
    REQUIRE(!r.ok());
    CHECK(Clock::now() - t0 < 3s);
    CHECK(r.error().find("exited with status 3") != std::string::npos);
    CHECK(r.error().find("fatal: missing API key") != std::string::npos);
    Json resp = echo(*link, "x");
    CHECK(error_code(resp) == rpc::kUpstreamUnavailable);
    CHECK(error_message(resp).find("upstream 'dies' is unavailable: process exited with status 3") !=
          std::string::npos);
    link->close();
  }
  SUBCASE("command not found") {
    auto cfg = base_cfg("missing");
    cfg.command = "portcullis-no-such-command";
    auto link = UpstreamLink::create(cfg, {}, {});
    auto r = link->start();
    REQUIRE(!r.ok());
    CHECK(r.error() == "cannot start 'portcullis-no-such-command': command not found in PATH");
    link->close();
  }
  SUBCASE("bad working directory") {
    auto cfg = base_cfg("badcwd");
    cfg.command = "sh";
    cfg.args = {"-c", "exit 0"};
    cfg.cwd = "/nonexistent/portcullis";
    auto link = UpstreamLink::create(cfg, {}, {});
    auto r = link->start();
    REQUIRE(!r.ok());
    CHECK(r.error().find("/nonexistent/portcullis") != std::string::npos);
    link->close();
  }
}

TEST_CASE("an HTTP upstream with nothing listening gives a clear start error") {
  int port = free_port();
  for (auto cfg : {http_cfg(port), sse_cfg(port)}) {
    CAPTURE(cfg.name);
    auto link = UpstreamLink::create(cfg, {}, {});
    auto t0 = Clock::now();
    auto r = link->start();
    REQUIRE(!r.ok());
    CHECK(Clock::now() - t0 < 3s);
    CHECK(r.error().find(cfg.url) != std::string::npos);
    CHECK(r.error().find("connection refused") != std::string::npos);
    link->close();
  }
}

TEST_CASE("a streamable-http link re-initializes after the server restarts and loses the session") {
  int port = free_port();
  auto server = std::make_unique<ServerProcess>("streamableHttp", port);
  Recorder rec;
  auto link = UpstreamLink::create(http_cfg(port), {}, rec.handlers());
  REQUIRE(link->start().ok());
  CHECK(text_of(echo(*link, "one")) == "Echo: one");

  server->stop();
  server = std::make_unique<ServerProcess>("streamableHttp", port);
  // The old session is unknown to the new server: the link notices (on the
  // GET stream or on the next call), goes down and initializes again.
  REQUIRE(wait_until(
      [&] {
        if (!rec.saw_state(LinkState::Down)) echo(*link, "probe");
        return rec.saw_state(LinkState::Down) && link->state() == LinkState::Ready;
      },
      15s));
  CHECK(text_of(echo(*link, "two")) == "Echo: two");
  link->close();
}

TEST_CASE("a legacy SSE link goes down when the stream drops and comes back") {
  int port = free_port();
  auto server = std::make_unique<ServerProcess>("sse", port);
  Recorder rec;
  auto link = UpstreamLink::create(sse_cfg(port), {}, rec.handlers());
  REQUIRE(link->start().ok());
  CHECK(text_of(echo(*link, "one")) == "Echo: one");
  server->stop();
  REQUIRE(rec.wait([&] { return rec.saw_state_locked(LinkState::Down); }, 5s));
  server = std::make_unique<ServerProcess>("sse", port);
  REQUIRE(wait_until([&] { return link->state() == LinkState::Ready; }, 15s));
  CHECK(text_of(echo(*link, "two")) == "Echo: two");
  link->close();
}

TEST_CASE("destroying a link while its upstream is busy is safe") {
  for (const auto& cfg : every_transport()) {
    CAPTURE(cfg.name);
    Recorder rec;
    auto link = UpstreamLink::create(cfg, {}, rec.handlers());
    REQUIRE(link->start().ok());
    auto call = std::async(std::launch::async, [l = link.get()] {
      return l->call("tools/call", {{"name", "trigger-long-running-operation"},
                                    {"arguments", {{"duration", 1}, {"steps", 10}}},
                                    {"_meta", {{"progressToken", 7}}}});
    });
    REQUIRE(rec.wait([&] { return !rec.notifications.empty(); }, 5s));
    link->close();
    Json resp = call.get();
    CHECK(error_code(resp) == rpc::kUpstreamUnavailable);
    link.reset();  // progress may still be arriving on transport threads
    std::this_thread::sleep_for(200ms);
  }
}

TEST_CASE("is_supported_revision and CancelToken") {
  CHECK(mcp::is_supported_revision("2025-11-25"));
  CHECK(mcp::is_supported_revision("2024-11-05"));
  CHECK(!mcp::is_supported_revision("2024-10-07"));
  mcp::CancelToken t;
  int runs = 0;
  t.on_cancel([&] { ++runs; });
  CHECK(!t.cancelled());
  t.cancel();
  t.cancel();
  CHECK(t.cancelled());
  CHECK(runs == 1);
  t.on_cancel([&] { ++runs; });  // already cancelled: runs at once
  CHECK(runs == 2);
}

// A deliberately misbehaving Streamable HTTP server (in-process httplib), for
// the error paths the reference server never takes.
TEST_CASE("streamable-http: HTTP errors, garbage bodies, JSON responses and session expiry") {
  httplib::Server svr;
  std::mutex mu;
  int initializes = 0, deletes = 0, probes = 0;
  std::vector<std::string> versions_seen, sessions_seen, accepts_seen;
  std::string session = "s1";
  svr.Post("/mcp", [&](const httplib::Request& req, httplib::Response& res) {
    Json msg = Json::parse(req.body);
    std::lock_guard lock(mu);
    std::string method = msg.value("method", "");
    if (method == "initialize") {
      ++initializes;
      session = "s" + std::to_string(initializes);
      res.set_header("Mcp-Session-Id", session);
      res.set_content(rpc::dump(rpc::make_result(msg["id"], {{"protocolVersion", "2025-06-18"},
                                                             {"capabilities", {{"tools", Json::object()}}},
                                                             {"serverInfo", {{"name", "odd"}, {"version", "1"}}}})),
                      "application/json");
      return;
    }
    if (method == "server/discover") {
      // A 2025-era server refusing the era probe the way the SDK's does.
      ++probes;
      res.status = 400;
      res.set_content("Bad Request: Mcp-Session-Id header is required", "text/plain");
      return;
    }
    versions_seen.push_back(req.get_header_value("MCP-Protocol-Version"));
    sessions_seen.push_back(req.get_header_value("Mcp-Session-Id"));
    accepts_seen.push_back(req.get_header_value("Accept"));
    if (req.get_header_value("Mcp-Session-Id") != session) {
      res.status = 404;
      res.set_content("unknown session", "text/plain");
      return;
    }
    if (!msg.contains("id")) {
      res.status = 202;
      return;
    }
    std::string tool = msg["params"].value("name", "");
    if (tool == "garbage") {
      res.set_content("this is not json", "application/json");
    } else if (tool == "unavailable") {
      res.status = 503;
      res.set_content("backend overloaded, try later", "text/plain");
    } else if (tool == "expire") {
      session = "gone";
      res.status = 404;
      res.set_content("session not found", "text/plain");
    } else {
      res.set_content(rpc::dump(rpc::make_result(msg["id"], {{"content", {{{"type", "text"}, {"text", "plain json"}}}}})),
                      "application/json");
    }
  });
  svr.Get("/mcp", [&](const httplib::Request&, httplib::Response& res) { res.status = 405; });
  svr.Delete("/mcp", [&](const httplib::Request&, httplib::Response& res) {
    std::lock_guard lock(mu);
    ++deletes;
    res.status = 200;
  });
  int port = svr.bind_to_any_port("127.0.0.1");
  std::thread server([&] { svr.listen_after_bind(); });

  Recorder rec;
  auto cfg = http_cfg(port);
  cfg.name = "odd";
  auto link = UpstreamLink::create(cfg, {}, rec.handlers());
  REQUIRE(link->start().ok());
  auto call_tool = [&](const std::string& name) {
    return link->call("tools/call", {{"name", name}, {"arguments", Json::object()}});
  };

  CHECK(text_of(call_tool("fine")) == "plain json");

  Json garbage = call_tool("garbage");
  CHECK(error_code(garbage) == rpc::kUpstreamInvalid);
  CHECK(error_message(garbage).find("upstream 'odd' answered with invalid JSON-RPC") != std::string::npos);
  CHECK(error_message(garbage).find("this is not json") != std::string::npos);

  Json down = call_tool("unavailable");
  CHECK(error_code(down) == rpc::kUpstreamUnavailable);
  CHECK(error_message(down).find("upstream 'odd': HTTP 503") != std::string::npos);
  CHECK(error_message(down).find("backend overloaded") != std::string::npos);
  CHECK(link->state() == LinkState::Ready);

  Json expired = call_tool("expire");
  CHECK(error_code(expired) == rpc::kUpstreamUnavailable);
  CHECK(error_message(expired).find("session expired") != std::string::npos);
  REQUIRE(rec.wait([&] { return rec.saw_state_locked(LinkState::Down); }, 5s));
  REQUIRE(wait_until([&] { return link->state() == LinkState::Ready; }, 10s));
  CHECK(text_of(call_tool("fine")) == "plain json");
  link->close();
  CHECK(wait_until(
      [&] {
        std::lock_guard lock(mu);
        return deletes == 1;
      },
      3s));

  std::lock_guard lock(mu);
  CHECK(initializes == 2);
  CHECK(probes == 2);  // each start detects the era again
  for (const auto& v : versions_seen) CHECK(v == "2025-06-18");
  for (const auto& s : sessions_seen) CHECK((s == "s1" || s == "s2"));
  for (const auto& a : accepts_seen) CHECK(a == "application/json, text/event-stream");
  svr.stop();
  server.join();
}

// ---------------------------------------------------------------- 2026-07-28

namespace {

const char* kModernFixture = "tests/fixtures/modern-server.mjs";

config::UpstreamConfig modern_stdio_cfg() {
  auto c = base_cfg("modern-stdio");
  c.transport = config::Transport::Stdio;
  c.command = "node";
  c.args = {kModernFixture};
  return c;
}

ServerProcess& modern_http_server() {
  static int port = free_port();
  static ServerProcess server({"/usr/bin/env", "node", kModernFixture, "--http", std::to_string(port)}, port);
  return server;
}

std::vector<config::UpstreamConfig> modern_configs() {
  auto http = base_cfg("modern-http");
  http.transport = config::Transport::StreamableHttp;
  http.url = "http://127.0.0.1:" + std::to_string(modern_http_server().port()) + "/mcp";
  return {modern_stdio_cfg(), http};
}

Json call_tool(UpstreamLink& link, const std::string& name, Json args = Json::object(), const mcp::CallOptions& o = {}) {
  return link.call("tools/call", {{"name", name}, {"arguments", std::move(args)}}, o);
}

}  // namespace

TEST_CASE("auto detects a 2026-07-28 server over stdio and Streamable HTTP and takes discover's answers") {
  for (auto cfg : modern_configs()) {
    CAPTURE(cfg.name);
    Recorder rec;
    auto link = UpstreamLink::create(cfg, {}, rec.handlers());
    REQUIRE(link->start().ok());
    CHECK(link->era() == mcp::Era::Modern);
    CHECK(link->protocol_version() == "2026-07-28");
    CHECK(link->server_info()["name"] == "modern-server");
    CHECK(link->instructions() == "A 2026-07-28 test fixture.");
    CHECK(link->server_capabilities()["tools"]["listChanged"] == true);
    // Removed methods are answered by the link itself.
    CHECK(link->call("ping", Json::object())["result"] == Json::object());
    CHECK(link->call("logging/setLevel", {{"level", "info"}})["result"] == Json::object());
    Json who = Json::parse(text_of(call_tool(*link, "whoami")));
    CHECK(who["protocolVersion"] == "2026-07-28");
    CHECK(who["clientInfo"]["name"] == "portcullis");
    CHECK(who["logLevel"] == "info");
    CHECK(text_of(call_tool(*link, "echo", {{"message", "über"}})) == "Echo: über");
    link->close();
  }
}

TEST_CASE("an input_required result comes back from call_async intact, resultType and all") {
  for (auto cfg : modern_configs()) {
    CAPTURE(cfg.name);
    UpstreamLink::ClientInfo client;
    client.capabilities = {{"elicitation", Json::object()}, {"sampling", Json::object()}};
    auto link = UpstreamLink::create(cfg, client, {});
    REQUIRE(link->start().ok());
    std::promise<Json> got;
    link->call_async("tools/call", {{"name", "ask"}, {"arguments", Json::object()}}, {},
                     [&](Json r) { got.set_value(std::move(r)); });
    Json r = got.get_future().get();
    REQUIRE_MESSAGE(r.contains("result"), rpc::dump(r));
    CHECK(r["result"]["resultType"] == "input_required");
    CHECK(r["result"]["requestState"] == "ask-round-1");
    CHECK(r["result"]["inputRequests"]["name"]["method"] == "elicitation/create");
    CHECK(r["result"]["inputRequests"]["poem"]["method"] == "sampling/createMessage");
    link->close();
  }
}

TEST_CASE("a modern link relays progress and log messages of a call, and list_changed from its listen request") {
  for (auto cfg : modern_configs()) {
    CAPTURE(cfg.name);
    Recorder rec;
    auto link = UpstreamLink::create(cfg, {}, rec.handlers());
    REQUIRE(link->start().ok());
    mcp::CallOptions o;
    Json sent_id;
    o.on_sent = [&](const Json& id) { sent_id = id; };
    Json r = link->call("tools/call", {{"name", "progress"}, {"arguments", {{"steps", 2}}}, {"_meta", {{"progressToken", "t1"}}}}, o);
    CHECK(text_of(r) == "did 2 steps");
    auto progress = rec.notifications_named("notifications/progress");
    REQUIRE(progress.size() == 2);
    CHECK(progress[0].message["params"]["progressToken"] == "t1");
    if (cfg.transport == config::Transport::StreamableHttp) CHECK(progress[0].related_request_id == sent_id);

    link->call("logging/setLevel", {{"level", "debug"}});
    CHECK(text_of(call_tool(*link, "log", {{"message", "hi"}})) == "logged hi");
    REQUIRE(rec.wait([&] {
      for (auto& n : rec.notifications) if (n.message.value("method", "") == "notifications/message") return true;
      return false;
    }));

    const std::string name = "dyn-" + cfg.name;
    CHECK(text_of(call_tool(*link, "add_tool", {{"name", name}})) == "added " + name);
    REQUIRE(rec.wait([&] {
      for (auto& n : rec.notifications) if (n.message.value("method", "") == "notifications/tools/list_changed") return true;
      return false;
    }));
    auto changed = rec.notifications_named("notifications/tools/list_changed");
    CHECK_FALSE(changed[0].related_request_id.has_value());
    CHECK_FALSE(changed[0].message.value("params", Json::object()).contains("_meta"));
    CHECK(rec.notifications_named("notifications/subscriptions/acknowledged").empty());
    link->close();
  }
}

TEST_CASE("resources/subscribe on a modern link reopens its listen request with the URI") {
  auto link = UpstreamLink::create(modern_stdio_cfg(), {}, {});
  REQUIRE(link->start().ok());
  CHECK(link->call("resources/subscribe", {{"uri", "demo://greeting"}})["result"] == Json::object());
  CHECK(wait_until([] { return logged("\"resourceSubscriptions\":[\"demo://greeting\"]"); }, 5s));
  CHECK(error_code(link->call("resources/subscribe", Json::object())) == rpc::kInvalidParams);
  link->close();
}

TEST_CASE("cancelling a call to a modern upstream stops it (stdio: notifications/cancelled, HTTP: closing the POST)") {
  for (auto cfg : modern_configs()) {
    CAPTURE(cfg.name);
    auto link = UpstreamLink::create(cfg, {}, {});
    REQUIRE(link->start().ok());
    auto token = std::make_shared<mcp::CancelToken>();
    mcp::CallOptions o;
    o.cancel = token;
    auto t0 = Clock::now();
    std::thread canceller([&] {
      std::this_thread::sleep_for(200ms);
      token->cancel();
    });
    Json r = call_tool(*link, "slow", {{"ms", 5000}}, o);
    canceller.join();
    CHECK(error_code(r) == rpc::kRequestCancelled);
    CHECK(Clock::now() - t0 < 3s);
    if (cfg.transport == config::Transport::Stdio) {
      CHECK(wait_until([] { return logged("slow was cancelled"); }, 3s));
    }
    CHECK(text_of(call_tool(*link, "echo", {{"message", "after"}})) == "Echo: after");
    link->close();
  }
}

TEST_CASE("revision 2026-07-28 against a 2025-only server fails the start, saying why") {
  auto cfg = stdio_cfg();
  cfg.revision = config::Revision::Modern;
  cfg.connect_timeout = 5s;
  auto link = UpstreamLink::create(cfg, {}, {});
  auto r = link->start();
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().find("revision 2026-07-28 is configured, but the server does not speak it") != std::string::npos);
  link->close();
}

TEST_CASE("revision 2025-11-25 uses initialize even with a server that speaks 2026-07-28") {
  auto cfg = modern_stdio_cfg();
  cfg.revision = config::Revision::Legacy;
  auto link = UpstreamLink::create(cfg, {}, {});
  REQUIRE(link->start().ok());
  CHECK(link->era() == mcp::Era::Legacy);
  CHECK(link->protocol_version() == "2025-11-25");
  CHECK(text_of(call_tool(*link, "whoami")) == "null");
  link->close();
}
