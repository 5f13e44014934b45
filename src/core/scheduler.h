// Scheduler: runs callbacks at a point in time on one background thread.
// Used for restart backoff, idle-session reaping and debounced refreshes.
// Callbacks must be short; long work should be handed to a pool.
// Thread-safe.
#pragma once
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>

namespace portcullis {

class Scheduler {
 public:
  using Clock = std::chrono::steady_clock;
  using TaskId = unsigned long long;

  Scheduler();
  ~Scheduler();
  TaskId at(Clock::time_point when, std::function<void()> fn);
  TaskId after(std::chrono::milliseconds delay, std::function<void()> fn) {
    return at(Clock::now() + delay, std::move(fn));
  }
  // Returns true if the task was removed before it ran. O(log n).
  bool cancel(TaskId id);
  void stop();

  // A process-wide instance, started on first use.
  static Scheduler& shared();

 private:
  void run();
  std::mutex mu_;
  std::condition_variable cv_;
  // Ordered by (deadline, id); `index_` finds a task's deadline for cancel().
  std::map<std::pair<Clock::time_point, TaskId>, std::function<void()>> tasks_;
  std::unordered_map<TaskId, Clock::time_point> index_;
  TaskId next_id_ = 1;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace portcullis
