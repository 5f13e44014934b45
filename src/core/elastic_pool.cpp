#include "core/elastic_pool.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <exception>

namespace portcullis {

ElasticPool::ElasticPool(Options options) : options_(options) {
  std::lock_guard lock(mu_);
  for (size_t i = 0; i < options_.min_idle; ++i) spawn_worker();
}

ElasticPool::~ElasticPool() { shutdown(); }

bool ElasticPool::spawn_worker() {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, options_.stack_bytes);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_t t;
  bool ok = pthread_create(&t, &attr, &ElasticPool::worker_main, this) == 0;
  pthread_attr_destroy(&attr);
  if (ok) {
    ++workers_;
    ++idle_;
  }
  return ok;
}

void* ElasticPool::worker_main(void* self) {
  static_cast<ElasticPool*>(self)->run_worker();
  return nullptr;
}

void ElasticPool::enqueue(std::function<void()> fn) {
  std::lock_guard lock(mu_);
  if (stopping_) return;
  tasks_.push_back(std::move(fn));
  if (idle_ < tasks_.size() && workers_ < options_.max_workers) spawn_worker();
  cv_.notify_one();
}

void ElasticPool::run_worker() {
  std::unique_lock lock(mu_);
  for (;;) {
    if (tasks_.empty()) {
      if (stopping_) break;
      bool timed_out = !cv_.wait_for(lock, options_.idle_timeout,
                                     [&] { return !tasks_.empty() || stopping_; });
      if (timed_out && idle_ > options_.min_idle) break;
      continue;
    }
    auto fn = std::move(tasks_.front());
    tasks_.pop_front();
    --idle_;
    lock.unlock();
    // A task that throws is a bug in that task; it must not take the
    // process, and everyone else's requests, down with it.
    try {
      fn();
    } catch (const std::exception& e) {
      spdlog::error("internal error in a background task (a request may go unanswered): {}", e.what());
    } catch (...) {
      spdlog::error("internal error in a background task (a request may go unanswered)");
    }
    fn = nullptr;  // destroy captured state outside the lock
    lock.lock();
    ++idle_;
  }
  --idle_;
  --workers_;
  if (workers_ == 0) all_done_.notify_all();
}

void ElasticPool::shutdown() {
  std::unique_lock lock(mu_);
  stopping_ = true;
  cv_.notify_all();
  all_done_.wait(lock, [&] { return workers_ == 0; });
}

size_t ElasticPool::workers() const {
  std::lock_guard lock(mu_);
  return workers_;
}

size_t ElasticPool::busy() const {
  std::lock_guard lock(mu_);
  return workers_ - idle_;
}

}  // namespace portcullis
