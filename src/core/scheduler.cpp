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
  tasks_.emplace(when, std::make_pair(id, std::move(fn)));
  cv_.notify_one();
  return id;
}

bool Scheduler::cancel(TaskId id) {
  std::lock_guard lock(mu_);
  for (auto it = tasks_.begin(); it != tasks_.end(); ++it) {
    if (it->second.first == id) {
      tasks_.erase(it);
      return true;
    }
  }
  return false;
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
    if (first->first > Clock::now()) {
      cv_.wait_until(lock, first->first);
      continue;
    }
    auto fn = std::move(first->second.second);
    tasks_.erase(first);
    lock.unlock();
    fn();
    lock.lock();
  }
}

}  // namespace portcullis
