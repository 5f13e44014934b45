#include "core/scheduler.h"

namespace portcullis {

Scheduler::Scheduler() : thread_([this] { run(); }) {}

Scheduler::~Scheduler() { stop(); }

Scheduler& Scheduler::shared() {
  static Scheduler* s = new Scheduler();  // never destroyed: callbacks may run at exit
  return *s;
}

Scheduler::TaskId Scheduler::at(Clock::time_point when, std::function<void()> fn) {
  std::lock_guard lock(mu_);
  TaskId id = next_id_++;
  bool earliest = tasks_.empty() || when < tasks_.begin()->first.first;
  tasks_.emplace(std::make_pair(when, id), std::move(fn));
  index_.emplace(id, when);
  if (earliest) cv_.notify_one();
  return id;
}

bool Scheduler::cancel(TaskId id) {
  std::lock_guard lock(mu_);
  auto it = index_.find(id);
  if (it == index_.end()) return false;
  tasks_.erase(std::make_pair(it->second, id));
  index_.erase(it);
  return true;
}

void Scheduler::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    cv_.notify_one();
  }
  if (thread_.joinable()) thread_.join();
}

void Scheduler::run() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    if (tasks_.empty()) {
      cv_.wait(lock);
      continue;
    }
    auto first = tasks_.begin();
    // Copy the deadline: cancel() may erase this node while we wait.
    const Clock::time_point due = first->first.first;
    if (due > Clock::now()) {
      cv_.wait_until(lock, due);
      continue;
    }
    auto fn = std::move(first->second);
    index_.erase(first->first.second);
    tasks_.erase(first);
    lock.unlock();
    fn();
    lock.lock();
  }
}

}  // namespace portcullis
