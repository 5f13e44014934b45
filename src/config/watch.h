// ConfigWatcher: calls `on_change` (debounced) when a file under the config
// DIR that the config is read from changes: portcullis.yaml, servers.d/ or
// policies/ (*.cedar, entities.json). Linux inotify; one background thread. Thread-safe start/stop.
#pragma once
#include <atomic>
#include <functional>
#include <string>
#include <thread>

namespace portcullis::config {

class ConfigWatcher {
 public:
  ConfigWatcher() = default;
  ~ConfigWatcher();
  // Returns false (and logs) when inotify is unavailable; SIGHUP still works.
  bool start(const std::string& dir, std::function<void()> on_change);
  void stop();

 private:
  void run(std::function<void()> on_change);
  int fd_ = -1;
  int stop_pipe_[2] = {-1, -1};
  std::thread thread_;
};

}  // namespace portcullis::config
