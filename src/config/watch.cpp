#include "config/watch.h"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/inotify.h>
#include <unistd.h>

namespace portcullis::config {

ConfigWatcher::~ConfigWatcher() { stop(); }

bool ConfigWatcher::start(const std::string& dir, std::function<void()> on_change) {
  fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd_ < 0 || pipe(stop_pipe_) != 0) {
    spdlog::warn("config watcher unavailable; reload with SIGHUP");
    return false;
  }
  const uint32_t mask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE;
  bool any = false;
  for (const std::string& p : {dir, dir + "/servers.d", dir + "/policies"}) {
    if (inotify_add_watch(fd_, p.c_str(), mask) >= 0) any = true;
  }
  if (!any) return false;
  thread_ = std::thread([this, on_change = std::move(on_change)] { run(on_change); });
  return true;
}

void ConfigWatcher::run(std::function<void()> on_change) {
  char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
  for (;;) {
    pollfd fds[2] = {{fd_, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) continue;
    if (fds[1].revents) return;
    bool relevant = false;
    ssize_t n;
    while ((n = read(fd_, buf, sizeof buf)) > 0) {
      for (char* p = buf; p < buf + n;) {
        auto* ev = reinterpret_cast<inotify_event*>(p);
        std::string name = ev->len ? ev->name : "";
        // Editors write temp files; only YAML, Cedar and JSON (policies/entities.json) files matter.
        auto ends = [&](const char* s) {
          std::string suf(s);
          return name.size() >= suf.size() && name.compare(name.size() - suf.size(), suf.size(), suf) == 0;
        };
        if (ends(".yaml") || ends(".yml") || ends(".cedar") || ends(".json")) relevant = true;
        p += sizeof(inotify_event) + ev->len;
      }
    }
    if (!relevant) continue;
    // Debounce: a save is often several events; wait for quiet.
    for (;;) {
      pollfd q[2] = {{fd_, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
      int r = poll(q, 2, 300);
      if (r > 0 && q[1].revents) return;
      if (r <= 0) break;
      while (read(fd_, buf, sizeof buf) > 0) {
      }
    }
    on_change();
  }
}

void ConfigWatcher::stop() {
  if (thread_.joinable()) {
    (void)!write(stop_pipe_[1], "x", 1);
    thread_.join();
  }
  for (int* fd : {&fd_, &stop_pipe_[0], &stop_pipe_[1]}) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
  }
}

}  // namespace portcullis::config
