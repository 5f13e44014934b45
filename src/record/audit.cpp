#include "record/audit.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "record/sqlite_store.h"

namespace portcullis::record {
namespace {

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Logs at most once per second per limiter; thread-safe.
class RateLimit {
 public:
  bool allow() {
    int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now().time_since_epoch())
                      .count();
    int64_t last = last_.load(std::memory_order_relaxed);
    if (last != kNever && now - last < 1000) return false;
    return last_.compare_exchange_strong(last, now, std::memory_order_relaxed);
  }

 private:
  static constexpr int64_t kNever = INT64_MIN;
  std::atomic<int64_t> last_{kNever};
};

}  // namespace

struct AuditLog::Impl {
  struct Pending {
    std::chrono::steady_clock::time_point at;
    AuditRecord record;
  };

  std::string name;
  Options options;
  std::unique_ptr<AuditStore> store;  // writer thread only (after open)
  std::optional<AuditChain> chain;    // writer thread only (after open)

  std::mutex mu;
  std::condition_variable writer_cv;  // writer waits for work / batch window
  std::condition_variable space_cv;   // producers wait for room
  std::condition_variable done_cv;    // flush() waits for progress
  std::deque<Pending> queue;          // (mu)
  uint64_t enqueued = 0;              // (mu)
  uint64_t processed = 0;             // (mu) committed or lost
  uint64_t pending_drops = 0;         // (mu) dropped since the last record enqueued
  size_t flush_waiters = 0;           // (mu)
  bool stopping = false;              // (mu)

  std::atomic<uint64_t> written{0};
  std::atomic<uint64_t> dropped{0};
  std::atomic<uint64_t> dropped_full{0};
  RateLimit full_warning, busy_warning, drop_warning;
  std::thread thread;

  size_t batch_threshold() const { return std::max<size_t>(1, std::min(options.max_batch, options.queue_capacity)); }

  // Links and commits `batch`.
  void write_batch(std::vector<AuditRecord>& batch) {
    ChainState before = chain->state();
    for (auto& r : batch) chain->link(r);
    Checkpoint cp = chain->checkpoint(wall_ms());
    auto backoff = std::chrono::milliseconds(10);
    for (;;) {
      std::string error;
      auto rc = store->append(batch, cp, &error);
      if (rc == AuditStore::Append::Ok) {
        written.fetch_add(batch.size(), std::memory_order_relaxed);
        return;
      }
      if (rc == AuditStore::Append::Busy) {
        if (busy_warning.allow()) spdlog::warn("audit log {}: store busy ({}); retrying", name, error);
        std::this_thread::sleep_for(backoff);
        backoff = std::min(backoff * 2, std::chrono::milliseconds(500));
        continue;
      }
      spdlog::error("audit log {}: {} records lost: {}", name, batch.size(), error);
      dropped.fetch_add(batch.size(), std::memory_order_relaxed);
      // The chain goes on from where the store is; the loss is counted into
      // the next record's dropped_before.
      chain->rewind(before);
      uint64_t lost = batch.size();
      for (const auto& r : batch) lost += r.dropped_before;
      std::lock_guard lk(mu);
      pending_drops += lost;
      return;
    }
  }

  void prune_if_due(std::chrono::steady_clock::time_point& next) {
    if (!options.retention.any() || std::chrono::steady_clock::now() < next) return;
    next = std::chrono::steady_clock::now() + options.retention_interval;
    auto n = store->prune(options.chain_id, options.retention, wall_ms());
    if (!n) spdlog::error("audit log {}: retention failed: {}", name, n.error());
    else if (*n) spdlog::info("audit log {}: retention removed {} records", name, *n);
  }

  void run() {
    const size_t threshold = batch_threshold();
    std::vector<AuditRecord> batch;
    batch.reserve(std::max<size_t>(1, options.max_batch));
    auto next_prune = std::chrono::steady_clock::now();
    std::unique_lock lk(mu);
    for (;;) {
      lk.unlock();
      prune_if_due(next_prune);
      lk.lock();
      auto wake = options.retention.any() ? options.retention_interval : std::chrono::milliseconds(3600000);
      writer_cv.wait_for(lk, wake, [&] { return stopping || !queue.empty(); });
      if (queue.empty() && stopping && pending_drops > 0) {
        // Drops no later record will carry: a marker record carries them.
        AuditRecord marker;
        marker.ts_ms = wall_ms();
        marker.method = "audit/dropped";
        marker.outcome = "dropped";
        marker.dropped_before = std::exchange(pending_drops, 0);
        queue.push_back(Pending{std::chrono::steady_clock::now(), std::move(marker)});
        ++enqueued;
      }
      if (queue.empty()) {
        if (stopping) break;
        continue;
      }
      // Batch window: until the oldest record is flush_interval old, the
      // batch is full, or someone wants it now.
      auto deadline = queue.front().at + options.flush_interval;
      writer_cv.wait_until(lk, deadline, [&] { return stopping || flush_waiters > 0 || queue.size() >= threshold; });
      size_t n = std::min(queue.size(), std::max<size_t>(1, options.max_batch));
      for (size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(queue.front().record));
        queue.pop_front();
      }
      space_cv.notify_all();
      lk.unlock();
      write_batch(batch);
      batch.clear();  // frees the records' memory outside the lock producers wait on
      lk.lock();
      processed += n;
      done_cv.notify_all();
    }
  }
};

AuditLog::AuditLog(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<AuditLog>> AuditLog::open(const std::string& path) { return open(path, Options{}); }

Result<std::unique_ptr<AuditLog>> AuditLog::open(const std::string& path, Options options) {
  SqliteStore::Options so;
  so.busy_timeout = options.busy_timeout;
  so.synchronous_full = options.synchronous_full;
  auto store = SqliteStore::open(path, so);
  if (!store) return fail(store.error());
  SqliteStore* sqlite = store->get();
  auto state = sqlite->chain_state(options.chain_id);
  if (!state) return fail(state.error());
  AuditChain chain(options.chain_id, options.key, *state, options.capture);
  auto migrated = sqlite->chain_unchained(chain, wall_ms());
  if (!migrated) return fail(migrated.error());
  if (*migrated) spdlog::info("audit log {}: chained {} records migrated from an older schema", path, *migrated);
  return open(std::move(store.value()), path, std::move(options));
}

Result<std::unique_ptr<AuditLog>> AuditLog::open(std::unique_ptr<AuditStore> store, std::string name,
                                                 Options options) {
  if (options.queue_capacity == 0) return fail("audit log: queue_capacity must be at least 1");
  if (options.max_batch == 0) return fail("audit log: max_batch must be at least 1");
  auto state = store->chain_state(options.chain_id);
  if (!state) return fail(state.error());
  auto impl = std::make_unique<Impl>();
  impl->name = std::move(name);
  impl->chain.emplace(options.chain_id, options.key, *state, options.capture);
  impl->options = std::move(options);
  impl->store = std::move(store);
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] {
    pthread_setname_np(pthread_self(), "audit-writer");  // for top -H and perf
    raw->run();
  });
  return std::unique_ptr<AuditLog>(new AuditLog(std::move(impl)));
}

AuditLog::~AuditLog() {
  {
    std::lock_guard lk(impl_->mu);
    impl_->stopping = true;
  }
  impl_->writer_cv.notify_all();
  if (impl_->thread.joinable()) impl_->thread.join();
}

void AuditLog::record(AuditRecord r) {
  Impl& im = *impl_;
  std::unique_lock lk(im.mu);
  if (im.queue.size() >= im.options.queue_capacity) {
    im.writer_cv.notify_one();  // a full queue is a full batch: don't wait for the window
    if (im.options.queue_full == QueueFull::Drop) {
      ++im.pending_drops;
      im.dropped_full.fetch_add(1, std::memory_order_relaxed);
      if (im.drop_warning.allow()) {
        spdlog::warn("audit log {}: queue full ({} records); dropping records ({} so far)", im.name,
                     im.queue.size(), im.dropped_full.load(std::memory_order_relaxed));
      }
      return;
    }
    auto blocked_since = std::chrono::steady_clock::now();
    while (im.queue.size() >= im.options.queue_capacity) {
      if (im.full_warning.allow()) {
        auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                            blocked_since);
        spdlog::warn("audit log {}: queue full ({} records); blocking request thread ({} ms so far)", im.name,
                     im.queue.size(), waited.count());
      }
      im.space_cv.wait_for(lk, std::chrono::seconds(1));
    }
  }
  r.dropped_before = std::exchange(im.pending_drops, 0);
  im.queue.push_back(Impl::Pending{std::chrono::steady_clock::now(), std::move(r)});
  ++im.enqueued;
  if (im.queue.size() == 1 || im.queue.size() >= im.batch_threshold()) im.writer_cv.notify_one();
}

void AuditLog::flush() {
  Impl& im = *impl_;
  std::unique_lock lk(im.mu);
  const uint64_t target = im.enqueued;
  if (im.processed >= target) return;
  ++im.flush_waiters;
  im.writer_cv.notify_one();
  im.done_cv.wait(lk, [&] { return im.processed >= target; });
  --im.flush_waiters;
}

uint64_t AuditLog::written() const { return impl_->written.load(std::memory_order_relaxed); }
uint64_t AuditLog::dropped() const { return impl_->dropped.load(std::memory_order_relaxed); }
uint64_t AuditLog::dropped_full() const { return impl_->dropped_full.load(std::memory_order_relaxed); }
const std::string& AuditLog::path() const { return impl_->name; }
const AuditLog::Options& AuditLog::options() const { return impl_->options; }

}  // namespace portcullis::record
