// AuditChain: links records into a hash chain and signs checkpoints of it;
// ChainVerifier walks a stored chain and names the first break.
//
// Chain: record seq N carries prev_hash = hash of seq N-1 (64 zeros for
// seq 1) and hash = SHA-256 of its canonical form (audit_record.h), so a
// record cannot change, vanish or appear without breaking a link.
//
// Checkpoint: written in the same transaction as every batch of records, it
// signs the chain head: mac = hex HMAC-SHA256(key, canonical JSON of
// {chain, dropped_total, head_hash, key_id, seq, ts_ms}). key_id is the first
// 16 hex digits of SHA-256(key), so a verifier holding another key says so.
// Since every committed record is covered by a checkpoint committed with it,
// a record that no checkpoint covers was added by someone else, and someone
// without the key cannot rewrite the chain and re-sign it. Without a key
// checkpoints are written unsigned (mac "") and only the chain is checked.
//
// Anchor: retention deletes whole prefixes of the chain up to a checkpoint
// and keeps that checkpoint as the chain's signed anchor; verification then
// starts from the anchor instead of from seq 1.
//
// What it cannot show: a truncated tail together with its checkpoints, by
// someone who deletes both, leaves a valid shorter chain. Copy checkpoints
// elsewhere (`portcullis audit verify` prints the head) to detect that.
//
// Thread rules: AuditChain belongs to the writer thread. ChainVerifier is
// single-threaded. SigningKey is immutable and thread-safe.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "core/result.h"
#include "record/audit_record.h"

namespace portcullis::record {

inline const std::string kGenesisHash(64, '0');

class SigningKey {
 public:
  // `hex`: 64 hex digits (32 bytes), surrounding whitespace ignored.
  static Result<SigningKey> from_hex(const std::string& hex);
  // Reads the key from `file` (if not empty) else from env var `env` (if not empty).
  // nullopt when neither is set.
  static Result<std::optional<SigningKey>> load(const std::string& file, const std::string& env);
  // Writes a fresh random key to `path` (mode 0600); fails if it exists.
  static Result<void> generate_file(const std::string& path);

  const std::string& id() const { return id_; }
  std::string mac_hex(const std::string& message) const;

 private:
  std::string key_, id_;
};

struct Checkpoint {
  std::string chain_id;
  int64_t seq = 0;  // the chain head it signs
  std::string head_hash;
  uint64_t dropped_total = 0;  // records dropped (queue full) since the chain began
  int64_t ts_ms = 0;
  std::string key_id, mac;  // empty when unsigned

  bool operator==(const Checkpoint&) const = default;
};
Json to_json(const Checkpoint& c);
Result<Checkpoint> checkpoint_from_json(const Json& j);
std::string checkpoint_message(const Checkpoint& c);

struct ChainState {
  int64_t seq = 0;
  std::string hash = kGenesisHash;
  uint64_t dropped_total = 0;
};

class AuditChain {
 public:
  AuditChain(std::string chain_id, std::optional<SigningKey> key, ChainState state, CaptureMode capture);

  // Captures payloads, then fills chain_id, seq, prev_hash and hash. Adds
  // r.dropped_before (records lost just before this one) to the total.
  void link(AuditRecord& r);
  Checkpoint checkpoint(int64_t now_ms) const;
  const ChainState& state() const { return state_; }
  // Back to `s` (after a batch failed to commit).
  void rewind(ChainState s) { state_ = std::move(s); }

 private:
  std::string chain_id_;
  std::optional<SigningKey> key_;
  ChainState state_;
  CaptureMode capture_;
};

struct VerifyResult {
  bool ok = true;
  std::string message;      // the first break, or a summary when ok
  int64_t failed_row = 0;   // row id of the record at fault (0: none / a checkpoint)
  std::string chain_id;
  uint64_t records = 0, checkpoints = 0;
  int64_t first_seq = 0, last_seq = 0;
  std::string head_hash;
  uint64_t dropped_total = 0;
  bool signed_checkpoints = false;
  bool anchored = false;  // started from a retention anchor
};

class ChainVerifier {
 public:
  ChainVerifier(std::string chain_id, const SigningKey* key);
  // Call before any record. `anchor`: the retention anchor, if any.
  bool set_anchor(const std::optional<Checkpoint>& anchor);
  // Call before any record, in any order. `row`: the checkpoint's row id.
  bool add_checkpoint(int64_t row, const Checkpoint& c);
  // Records in (seq, row id) order. Returns false at the first break.
  bool add(int64_t row, const AuditRecord& r);
  VerifyResult finish();

 private:
  bool fail_at(int64_t row, std::string message);
  bool check_signature(const std::string& what, const Checkpoint& c);

  const SigningKey* key_;
  VerifyResult res_;
  int64_t expected_seq_ = 1;
  std::string prev_hash_ = kGenesisHash;
  int64_t prev_row_ = 0;
  std::map<int64_t, std::pair<int64_t, Checkpoint>> checkpoints_;  // seq -> (row, checkpoint)
};

}  // namespace portcullis::record
