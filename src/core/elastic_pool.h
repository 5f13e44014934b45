// ElasticPool: a task queue whose worker count grows with demand.
//
// cpp-httplib runs one connection per task for the life of the connection, so
// a fixed pool is exhausted by long-lived SSE streams (a GET stream per
// session). This pool keeps `min_idle` workers warm, spawns a new worker
// whenever a task arrives and none is idle, and retires workers that stay idle
// for `idle_timeout`. `max_workers` bounds memory; past it, tasks wait in the
// queue (FIFO). Thread-safe: enqueue() may be called from any thread.
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>

namespace portcullis {

class ElasticPool {
 public:
  struct Options {
    size_t min_idle = 8;
    size_t max_workers = 16384;
    std::chrono::milliseconds idle_timeout{30000};
    size_t stack_bytes = 256 * 1024;  // per worker; streams need little stack
  };
  explicit ElasticPool(Options options);
  ~ElasticPool();
  ElasticPool(const ElasticPool&) = delete;
  ElasticPool& operator=(const ElasticPool&) = delete;

  void enqueue(std::function<void()> fn);
  // Stops accepting work, runs what is queued, joins every worker.
  void shutdown();

  size_t workers() const;
  size_t busy() const;

 private:
  static void* worker_main(void* self);
  void run_worker();
  bool spawn_worker();  // REQUIRES: mu_ held

  Options options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable all_done_;
  std::deque<std::function<void()>> tasks_;
  size_t workers_ = 0;
  size_t idle_ = 0;
  bool stopping_ = false;
};

}  // namespace portcullis
