// AuditLog: the gateway's recorder. The request thread hands over one
// AuditRecord per request; a writer thread links them into the hash chain
// (audit_chain.h), signs a checkpoint per batch and commits both to the store
// (SQLite by default, PostgreSQL for several instances) in one transaction.
//
// Request thread: record() only moves the record into a bounded in-memory
// queue. It never hashes, serializes or touches disk. When the queue is full
// the configured policy applies:
//   Block (default): the caller waits until the writer makes room (a warning
//     is logged at most once per second while anyone waits).
//   Drop: the record is discarded and counted. The count is carried into the
//     chain: the next record written says how many were dropped just before
//     it (dropped_before) and every checkpoint signs the running total, so
//     drops are visible to `audit verify` and cannot be hidden later.
//
// Writer thread: batches records (up to max_batch, or whatever arrived within
// flush_interval of the oldest), applies the capture mode to payloads, hashes
// and links them, and commits. Transient lock contention is retried forever
// (that is the backpressure); any other store error loses the batch, which is
// logged and counted in dropped() and in the chain's dropped total. Every
// retention_interval it prunes per the retention settings.
//
// What "acknowledged" means: a record is acknowledged once its batch has
// committed: written() counts it, flush() has returned, and it is visible to
// readers. An acknowledged record survives a crash of the process (kill -9)
// and, with synchronous_full, of the machine. A response is sent without
// waiting for its record: a record enqueued less than flush_interval (plus
// the commit time) before a crash can be lost, and the chain stays
// verifiable because a batch commits whole or not at all.
//
// Thread rules: record(), flush() and the counters are thread-safe. The
// destructor drains the queue and joins the writer.
#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "core/result.h"
#include "record/audit_chain.h"
#include "record/audit_record.h"
#include "record/audit_store.h"

namespace portcullis::record {

class AuditLog {
 public:
  enum class QueueFull { Block, Drop };
  struct Options {
    size_t queue_capacity = 65536;                  // records waiting for the writer
    size_t max_batch = 1024;                        // records per transaction
    std::chrono::milliseconds flush_interval{50};   // max time a record waits
    std::chrono::milliseconds busy_timeout{5000};   // SQLite busy handler
    QueueFull queue_full = QueueFull::Block;
    CaptureMode capture = CaptureMode::Hash;
    std::string chain_id = "local";                 // this instance's chain
    std::optional<SigningKey> key;                  // unsigned checkpoints without
    Retention retention;
    std::chrono::milliseconds retention_interval{60000};
    bool synchronous_full = false;                  // SQLite synchronous=FULL
  };

  // SQLite at `path`: opens (creating or migrating) it and chains rows
  // migrated from an older schema. Starts the writer thread.
  static Result<std::unique_ptr<AuditLog>> open(const std::string& path);
  static Result<std::unique_ptr<AuditLog>> open(const std::string& path, Options options);
  // Any store opened for writing.
  static Result<std::unique_ptr<AuditLog>> open(std::unique_ptr<AuditStore> store, std::string name, Options options);

  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;
  ~AuditLog();  // flushes and joins the writer

  // Thread-safe; see the queue-full policy above. Never touches disk.
  void record(AuditRecord r);
  // Blocks until every record enqueued before the call is committed (or,
  // after a hard store error, given up on).
  void flush();

  uint64_t written() const;       // records committed
  uint64_t dropped() const;       // records lost to hard store errors (logged)
  uint64_t dropped_full() const;  // records dropped because the queue was full (Drop)
  const std::string& path() const;  // the store's name (SQLite path, or "postgres")
  const Options& options() const;

 private:
  struct Impl;
  explicit AuditLog(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace portcullis::record
