// stdio upstream transport: the upstream is a child process speaking
// newline-delimited JSON-RPC on stdin/stdout; stderr is logged.
//
// Process management lives on one I/O thread per child: it reads stdout and
// stderr, watches the process through a pidfd (or by polling waitpid when
// pidfds are unavailable), escalates SIGTERM/SIGKILL on close, and reaps the
// child, so no zombie is ever left behind.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "core/jsonrpc.h"
#include "transport/http_common.h"
#include "transport/transports_impl.h"

extern char** environ;

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

namespace portcullis::transport {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr auto kWriteTimeout = 5s;
constexpr auto kGraceBeforeTerm = 2s;
constexpr auto kGraceBeforeKill = 2s;
constexpr size_t kMaxLine = detail::kUpstreamLimits.max_bytes;
constexpr size_t kStderrTail = 3;

// PR_SET_PDEATHSIG fires when the *thread* that forked the child exits, not
// the process. Every child is therefore forked from this one thread, which
// lives as long as the process.
class Spawner {
 public:
  static Spawner& get() {
    static Spawner* s = new Spawner();  // never destroyed
    return *s;
  }
  template <class F>
  auto run(F f) -> decltype(f()) {
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto fut = task.get_future();
    {
      std::lock_guard lock(mu_);
      queue_.push_back([&task] { task(); });
    }
    cv_.notify_one();
    return fut.get();
  }

 private:
  Spawner() {
    std::thread([this] {
      std::unique_lock lock(mu_);
      for (;;) {
        cv_.wait(lock, [&] { return !queue_.empty(); });
        auto fn = std::move(queue_.front());
        queue_.pop_front();
        lock.unlock();
        fn();
        lock.lock();
      }
    }).detach();
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
};

struct Child {
  pid_t pid = -1;
  int in = -1, out = -1, err = -1;
};

struct ChildFailure {
  int stage;  // 1 dup2, 2 chdir, 3 exec
  int err;
};

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// Runs on the spawner thread. Only async-signal-safe calls after fork().
Result<Child> spawn_child(const std::string& path, const std::vector<std::string>& args,
                          const std::vector<std::string>& env, const std::string& cwd) {
  std::vector<char*> argv, envp;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1}, report[2] = {-1, -1};
  auto close_all = [&] {
    for (int* p : {in, out, err, report}) {
      close_fd(p[0]);
      close_fd(p[1]);
    }
  };
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0 ||
      pipe2(report, O_CLOEXEC) != 0) {
    int e = errno;
    close_all();
    return fail(std::string("pipe: ") + std::strerror(e));
  }
  const pid_t parent = getpid();
  const char* cwd_c = cwd.empty() ? nullptr : cwd.c_str();
  pid_t pid = fork();
  if (pid < 0) {
    int e = errno;
    close_all();
    return fail(std::string("fork: ") + std::strerror(e));
  }
  if (pid == 0) {
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(127);  // the gateway died before prctl
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int s = 1; s < NSIG; ++s) sigaction(s, &dfl, nullptr);
    auto die = [&](int stage) {
      ChildFailure f{stage, errno};
      ssize_t w = write(report[1], &f, sizeof f);
      (void)w;
      _exit(127);
    };
    if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0 || dup2(err[1], 2) < 0) die(1);
    if (cwd_c && chdir(cwd_c) != 0) die(2);
    // Everything else (including fds other threads opened without
    // O_CLOEXEC) closes at exec; report[1] stays usable until then.
    if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
      long max = sysconf(_SC_OPEN_MAX);
      if (max < 0 || max > 65536) max = 65536;
      for (int fd = 3; fd < max; ++fd) fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
    execve(path.c_str(), argv.data(), envp.data());
    die(3);
  }
  setpgid(pid, pid);  // also done by the child; whichever runs first wins
  close_fd(in[0]);
  close_fd(out[1]);
  close_fd(err[1]);
  close_fd(report[1]);
  ChildFailure f{};
  ssize_t n;
  do {
    n = read(report[0], &f, sizeof f);
  } while (n < 0 && errno == EINTR);
  close_fd(report[0]);
  if (n == static_cast<ssize_t>(sizeof f)) {
    while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    close_fd(in[1]);
    close_fd(out[0]);
    close_fd(err[0]);
    const char* what = f.stage == 2 ? "cannot change to directory '" : "";
    if (f.stage == 2) return fail(std::string(what) + cwd + "': " + std::strerror(f.err));
    if (f.stage == 1) return fail(std::string("dup2: ") + std::strerror(f.err));
    return fail(std::string("exec: ") + std::strerror(f.err));
  }
  return Child{pid, in[1], out[0], err[0]};
}

bool is_executable_file(const std::string& p) {
  struct stat st {};
  return stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(p.c_str(), X_OK) == 0;
}

std::string exit_text(int status) {
  if (WIFEXITED(status)) return "process exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    std::string out = "process killed by signal " + std::to_string(sig);
    if (const char* abbrev = sigabbrev_np(sig)) out += std::string(" (SIG") + abbrev + ")";
    return out;
  }
  return "process ended (status " + std::to_string(status) + ")";
}

// The transport whose I/O thread is the current thread, if any.
thread_local const void* tl_io_owner = nullptr;

class StdioTransport final : public UpstreamTransport {
 public:
  explicit StdioTransport(config::UpstreamConfig cfg) : s_(std::make_shared<Shared>()) {
    s_->cfg = std::move(cfg);
  }
  ~StdioTransport() override { close(); }

  Result<void> open(Sink sink, OnClosed on_closed) override;
  void send(const Json& message) override;
  void close() override;
  std::string describe() const override {
    std::lock_guard lock(s_->mu);
    if (s_->pid > 0) return "stdio pid " + std::to_string(s_->pid) + " (" + s_->cfg.command + ")";
    return "stdio (" + s_->cfg.command + ")";
  }

 private:
  struct Shared {
    config::UpstreamConfig cfg;
    Sink sink;
    OnClosed on_closed;

    mutable std::mutex mu;
    std::condition_variable cv;
    pid_t pid = -1;               // (mu) set once by open()
    bool reaped = false;          // (mu) once true, pid may be reused: never signal it
    bool opened = false;          // (mu)
    bool closing = false;         // (mu)
    bool finished = false;        // (mu) I/O thread done
    std::string final_reason;     // (mu) set with finished
    std::string override_reason;  // (mu) why we killed it, if we did

    std::mutex write_mu;
    int in_fd = -1;  // (write_mu)

    int out_fd = -1, err_fd = -1, pidfd = -1, wake_fd = -1;  // owned by the I/O thread
    std::thread io;

    ~Shared() {
      if (wake_fd >= 0) ::close(wake_fd);
    }
    void signal_group(int sig) {
      // REQUIRES: mu held. The group id is the child's pid.
      if (pid > 0 && !reaped) ::kill(-pid, sig);
    }
    void wake() {
      uint64_t one = 1;
      if (wake_fd >= 0) {
        ssize_t w = ::write(wake_fd, &one, sizeof one);
        (void)w;
      }
    }
  };

  static void io_loop(std::shared_ptr<Shared> s);
  static void handle_stdout_line(Shared& s, std::string_view line);

  std::shared_ptr<Shared> s_;
  std::mutex close_mu_;
};

Result<void> StdioTransport::open(Sink sink, OnClosed on_closed) {
  auto& s = *s_;
  {
    std::lock_guard lock(s.mu);
    if (s.opened) return fail("transport already opened");
    if (s.closing) return fail("transport closed");
    s.opened = true;
  }
  const auto& cfg = s.cfg;
  if (cfg.command.empty()) return fail("no command configured");

  // Environment: the gateway's, with the configured variables on top.
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    size_t eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    env.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
  }
  for (const auto& [k, v] : cfg.env) env[k] = v;
  std::vector<std::string> envv;
  envv.reserve(env.size());
  for (const auto& [k, v] : env) envv.push_back(k + "=" + v);

  // Resolve the command with the child's PATH, so a configured PATH applies.
  std::string path;
  if (cfg.command.find('/') != std::string::npos) {
    path = cfg.command;
    std::string check = path;
    if (path.front() != '/' && !cfg.cwd.empty()) check = cfg.cwd + "/" + path;
    if (!is_executable_file(check)) {
      return fail("cannot start '" + cfg.command + "': " +
                  (access(check.c_str(), F_OK) == 0 ? "not an executable file" : "no such file"));
    }
  } else {
    auto it = env.find("PATH");
    std::string dirs = it != env.end() ? it->second : "/usr/local/bin:/usr/bin:/bin";
    size_t start = 0;
    for (;;) {
      size_t colon = dirs.find(':', start);
      std::string dir = dirs.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
      if (dir.empty()) dir = ".";
      std::string cand = dir + "/" + cfg.command;
      if (is_executable_file(cand)) {
        path = cand;
        break;
      }
      if (colon == std::string::npos) break;
      start = colon + 1;
    }
    if (path.empty()) return fail("cannot start '" + cfg.command + "': command not found in PATH");
  }

  std::vector<std::string> argv;
  argv.push_back(cfg.command);
  argv.insert(argv.end(), cfg.args.begin(), cfg.args.end());

  auto child = Spawner::get().run([&] { return spawn_child(path, argv, envv, cfg.cwd); });
  if (!child.ok()) return fail("cannot start '" + cfg.command + "': " + child.error());

  s.sink = std::move(sink);
  s.on_closed = std::move(on_closed);
  s.out_fd = child->out;
  s.err_fd = child->err;
  fcntl(s.out_fd, F_SETFL, fcntl(s.out_fd, F_GETFL) | O_NONBLOCK);
  fcntl(s.err_fd, F_SETFL, fcntl(s.err_fd, F_GETFL) | O_NONBLOCK);
  fcntl(child->in, F_SETFL, fcntl(child->in, F_GETFL) | O_NONBLOCK);
  s.pidfd = static_cast<int>(syscall(SYS_pidfd_open, child->pid, 0));
  s.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  {
    std::lock_guard lock(s.write_mu);
    s.in_fd = child->in;
  }
  bool closing;
  {
    std::lock_guard lock(s.mu);
    s.pid = child->pid;
    closing = s.closing;
  }
  spdlog::debug("upstream '{}': started {} as pid {}", cfg.name, path, child->pid);
  s.io = std::thread(&StdioTransport::io_loop, s_);
  if (closing) {
    close();
    return fail("transport closed");
  }
  return {};
}

void StdioTransport::handle_stdout_line(Shared& s, std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  size_t i = 0;
  while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
  if (i == line.size()) return;
  auto parsed = rpc::parse(line, detail::kUpstreamLimits);
  if (!parsed.ok()) {
    spdlog::warn("upstream '{}' wrote non-JSON on stdout: {}", s.cfg.name, detail::excerpt(line));
    Incoming bad;
    bad.invalid_output = "\"" + detail::excerpt(line, 80) + "\" (" + parsed.error() + ")";
    s.sink(std::move(bad));
    return;
  }
  s.sink(Incoming{std::move(parsed).value(), std::nullopt, std::nullopt});
}

void StdioTransport::io_loop(std::shared_ptr<Shared> sp) {
  Shared& s = *sp;
  tl_io_owner = &s;
  std::string out_buf, err_buf;
  size_t out_scan = 0;
  bool discarding = false;  // inside an over-long stdout line
  std::deque<std::string> tail;
  std::optional<Clock::time_point> term_at, kill_at;
  bool escalating = false;
  bool stdout_eof_while_running = false;  // stdout closed but the process lived on
  bool killed_for_eof = false;
  int status = 0;
  bool have_status = false, reaped = false;
  std::vector<char> chunk(64 * 1024);

  auto escalate = [&](auto grace) {
    if (escalating) return;
    escalating = true;
    term_at = Clock::now() + grace;
    kill_at = *term_at + kGraceBeforeKill;
  };

  auto on_out = [&](const char* data, size_t n) {
    out_buf.append(data, n);
    for (;;) {
      size_t nl = out_buf.find('\n', out_scan);
      if (nl == std::string::npos) {
        out_scan = out_buf.size();
        if (out_buf.size() > kMaxLine) {
          if (!discarding) {
            spdlog::warn("upstream '{}' wrote a stdout line longer than {} bytes; discarding it",
                         s.cfg.name, kMaxLine);
          }
          discarding = true;
          out_buf.clear();
          out_scan = 0;
        }
        return;
      }
      if (!discarding) handle_stdout_line(s, std::string_view(out_buf.data(), nl));
      discarding = false;
      out_buf.erase(0, nl + 1);
      out_scan = 0;
    }
  };
  auto err_line = [&](std::string_view l) {
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    if (l.empty()) return;
    if (l.size() > 4096) l = l.substr(0, 4096);
    spdlog::info("[upstream {}] {}", s.cfg.name, l);
    tail.emplace_back(detail::excerpt(l, 200));
    if (tail.size() > kStderrTail) tail.pop_front();
  };
  auto on_err = [&](const char* data, size_t n) {
    err_buf.append(data, n);
    size_t start = 0;
    for (;;) {
      size_t nl = err_buf.find('\n', start);
      if (nl == std::string::npos) break;
      err_line(std::string_view(err_buf.data() + start, nl - start));
      start = nl + 1;
    }
    err_buf.erase(0, start);
    if (err_buf.size() > 64 * 1024) {
      err_line(err_buf);
      err_buf.clear();
    }
  };
  // Reads what is available; returns false on EOF or error.
  auto pump = [&](int fd, auto&& consume) {
    for (;;) {
      ssize_t n = ::read(fd, chunk.data(), chunk.size());
      if (n > 0) {
        consume(chunk.data(), static_cast<size_t>(n));
        if (static_cast<size_t>(n) < chunk.size()) return true;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
      return false;
    }
  };
  auto try_reap = [&] {
    std::lock_guard lock(s.mu);
    if (s.pidfd >= 0 && !reaped) {
      // The leader is a zombie now and keeps its pid (and so the group id)
      // reserved: clean up anything it left behind in its group.
      ::kill(-s.pid, SIGTERM);
    }
    pid_t r;
    do {
      r = waitpid(s.pid, &status, WNOHANG);
    } while (r < 0 && errno == EINTR);
    if (r == s.pid) {
      have_status = true;
      reaped = true;
    } else if (r < 0 && errno == ECHILD) {
      reaped = true;  // reaped elsewhere (SIGCHLD ignored?)
    }
    if (reaped) s.reaped = true;
  };

  while (!reaped) {
    pollfd fds[4];
    int n = 0, i_out = -1, i_err = -1, i_pid = -1, i_wake = -1;
    if (s.out_fd >= 0) {
      fds[n] = {s.out_fd, POLLIN, 0};
      i_out = n++;
    }
    if (s.err_fd >= 0) {
      fds[n] = {s.err_fd, POLLIN, 0};
      i_err = n++;
    }
    if (s.pidfd >= 0) {
      fds[n] = {s.pidfd, POLLIN, 0};
      i_pid = n++;
    }
    if (s.wake_fd >= 0) {
      fds[n] = {s.wake_fd, POLLIN, 0};
      i_wake = n++;
    }
    int timeout = s.pidfd >= 0 ? -1 : 100;
    auto now = Clock::now();
    for (auto& d : {term_at, kill_at}) {
      if (!d) continue;
      int ms = static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(*d - now).count());
      if (ms < 0) ms = 0;
      if (timeout < 0 || ms < timeout) timeout = ms;
    }
    int pr = ::poll(fds, n, timeout);
    if (pr < 0 && errno != EINTR) {
      spdlog::error("upstream '{}': poll failed: {}", s.cfg.name, std::strerror(errno));
      std::this_thread::sleep_for(10ms);
    }
    if (pr > 0) {
      if (i_wake >= 0 && fds[i_wake].revents) {
        uint64_t v;
        ssize_t r = ::read(s.wake_fd, &v, sizeof v);
        (void)r;
        std::lock_guard lock(s.mu);
        if (s.closing) escalate(kGraceBeforeTerm);
      }
      if (i_out >= 0 && fds[i_out].revents) {
        if (!pump(s.out_fd, on_out)) {
          close_fd(s.out_fd);
          std::lock_guard lock(s.mu);
          if (!s.closing) {
            stdout_eof_while_running = true;
            escalate(kGraceBeforeTerm);
          }
        }
      }
      if (i_err >= 0 && fds[i_err].revents) {
        if (!pump(s.err_fd, on_err)) close_fd(s.err_fd);
      }
    }
    if (s.pidfd < 0 || (i_pid >= 0 && pr > 0 && fds[i_pid].revents)) try_reap();
    now = Clock::now();
    if (term_at && now >= *term_at) {
      term_at.reset();
      std::lock_guard lock(s.mu);
      if (stdout_eof_while_running) killed_for_eof = true;
      spdlog::debug("upstream '{}': sending SIGTERM to pid {}", s.cfg.name, s.pid);
      s.signal_group(SIGTERM);
    }
    if (kill_at && now >= *kill_at) {
      kill_at.reset();
      std::lock_guard lock(s.mu);
      spdlog::warn("upstream '{}': pid {} ignored SIGTERM; sending SIGKILL", s.cfg.name, s.pid);
      s.signal_group(SIGKILL);
    }
  }

  // Drain what the process wrote before exiting (bounded: a leftover
  // grandchild may hold the pipes open).
  auto drain_until = Clock::now() + 200ms;
  while ((s.out_fd >= 0 || s.err_fd >= 0) && Clock::now() < drain_until) {
    pollfd fds[2];
    int n = 0;
    if (s.out_fd >= 0) fds[n++] = {s.out_fd, POLLIN, 0};
    if (s.err_fd >= 0) fds[n++] = {s.err_fd, POLLIN, 0};
    int pr = ::poll(fds, n, 50);
    if (pr <= 0) break;
    for (int i = 0; i < n; ++i) {
      if (!fds[i].revents) continue;
      if (fds[i].fd == s.out_fd) {
        if (!pump(s.out_fd, on_out)) close_fd(s.out_fd);
      } else if (!pump(s.err_fd, on_err)) {
        close_fd(s.err_fd);
      }
    }
  }
  if (!out_buf.empty() && !discarding) handle_stdout_line(s, out_buf);
  if (!err_buf.empty()) err_line(err_buf);
  close_fd(s.out_fd);
  close_fd(s.err_fd);
  close_fd(s.pidfd);
  {
    std::lock_guard lock(s.write_mu);
    close_fd(s.in_fd);
  }

  std::string reason = have_status ? exit_text(status) : std::string("process ended");
  OnClosed on_closed;
  {
    std::lock_guard lock(s.mu);
    if (!s.override_reason.empty()) reason = s.override_reason + " (" + reason + ")";
    else if (killed_for_eof) reason = "process closed its stdout and was stopped (" + reason + ")";
    if (!tail.empty() && (!have_status || WIFEXITED(status))) {
      reason += "; stderr: ";
      for (size_t i = 0; i < tail.size(); ++i) reason += (i ? " | " : "") + tail[i];
    }
    s.finished = true;
    s.final_reason = reason;
    if (!s.closing) on_closed = s.on_closed;
    s.closing = true;  // no on_closed after this
  }
  s.cv.notify_all();
  spdlog::debug("upstream '{}': {}", s.cfg.name, reason);
  if (on_closed) on_closed(reason);
}

void StdioTransport::send(const Json& message) {
  auto& s = *s_;
  std::string line = rpc::dump(message);
  line.push_back('\n');
  std::string err;
  bool stuck = false;
  {
    std::lock_guard lock(s.write_mu);
    if (s.in_fd < 0) {
      err = "process is not running";
    } else {
      const char* p = line.data();
      size_t left = line.size();
      auto deadline = Clock::now() + kWriteTimeout;
      while (left > 0) {
        ssize_t n = ::write(s.in_fd, p, left);
        if (n > 0) {
          p += n;
          left -= static_cast<size_t>(n);
          continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
          auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
          if (ms <= 0) {
            stuck = true;
            err = "writing to its stdin timed out after 5s (the process is not reading)";
            break;
          }
          pollfd pfd{s.in_fd, POLLOUT, 0};
          ::poll(&pfd, 1, static_cast<int>(ms));
          continue;
        }
        err = std::string("cannot write to its stdin: ") + std::strerror(errno);
        break;
      }
      if (!err.empty()) close_fd(s.in_fd);
    }
  }
  if (err.empty()) return;
  if (stuck) {
    std::lock_guard lock(s.mu);
    if (s.override_reason.empty()) s.override_reason = err;
    s.signal_group(SIGKILL);
  }
  if (!stuck && tl_io_owner != &s) {
    // The process is most likely exiting: its exit status and stderr explain
    // far better than EPIPE. Wait (briefly) for the I/O thread to reap it.
    std::unique_lock lock(s.mu);
    if (s.cv.wait_for(lock, 1s, [&] { return s.finished; })) err = s.final_reason;
  }
  spdlog::debug("upstream '{}': {}", s.cfg.name, err);
  if (detail::kind_of(message) == detail::MsgKind::Request && s.sink) {
    s.sink(Incoming{rpc::make_error(message["id"], rpc::kUpstreamUnavailable,
                                    "upstream '" + s.cfg.name + "' is unavailable: " + err),
                    std::nullopt, std::nullopt});
  }
}

void StdioTransport::close() {
  auto& s = *s_;
  std::lock_guard serial(close_mu_);
  {
    std::lock_guard lock(s.mu);
    if (s.closing && !s.io.joinable()) return;
    s.closing = true;
  }
  {
    std::lock_guard lock(s.write_mu);
    close_fd(s.in_fd);  // a well-behaved server exits on EOF
  }
  s.wake();
  if (!s.io.joinable()) return;
  if (tl_io_owner == &s) {
    s.io.detach();  // called from a sink callback: the loop finishes on its own
    return;
  }
  s.io.join();
}

}  // namespace

std::unique_ptr<UpstreamTransport> make_stdio_transport(const config::UpstreamConfig& cfg) {
  return std::make_unique<StdioTransport>(cfg);
}

}  // namespace portcullis::transport
