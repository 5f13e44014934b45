#include "record/audit_chain.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/crypto.h"
#include "core/text.h"

namespace portcullis::record {

// ------------------------------------------------------------- signing key

Result<SigningKey> SigningKey::from_hex(const std::string& hex) {
  std::string t(text::trim(hex));
  auto raw = crypto::from_hex(t);
  if (!raw || raw->size() != 32) {
    return fail("an audit signing key must be 64 hexadecimal characters (32 bytes), e.g. from: portcullis audit keygen FILE");
  }
  SigningKey k;
  k.key_ = std::move(*raw);
  k.id_ = crypto::sha256_hex(k.key_).substr(0, 16);
  return k;
}

Result<std::optional<SigningKey>> SigningKey::load(const std::string& file, const std::string& env) {
  if (!file.empty()) {
    std::ifstream in(file);
    if (!in) return fail("cannot read the audit signing key file " + file + ": " + std::strerror(errno));
    std::stringstream ss;
    ss << in.rdbuf();
    auto k = from_hex(ss.str());
    if (!k) return fail(file + ": " + k.error());
    return std::optional<SigningKey>(std::move(*k));
  }
  if (!env.empty()) {
    const char* v = std::getenv(env.c_str());
    if (!v || !*v) return fail("the audit signing key variable " + env + " is not set");
    auto k = from_hex(v);
    if (!k) return fail(env + ": " + k.error());
    return std::optional<SigningKey>(std::move(*k));
  }
  return std::optional<SigningKey>();
}

Result<void> SigningKey::generate_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0) return fail("cannot create " + path + ": " + std::strerror(errno));
  std::string line = crypto::random_hex(32) + "\n";
  bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  ok = ::fsync(fd) == 0 && ok;
  ::close(fd);
  if (!ok) return fail("cannot write " + path + ": " + std::strerror(errno));
  return {};
}

std::string SigningKey::mac_hex(const std::string& message) const {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()), reinterpret_cast<const unsigned char*>(message.data()),
       message.size(), md, &len);
  static const char* digits = "0123456789abcdef";
  std::string out(len * 2, '0');
  for (unsigned i = 0; i < len; ++i) {
    out[2 * i] = digits[md[i] >> 4];
    out[2 * i + 1] = digits[md[i] & 15];
  }
  return out;
}

// -------------------------------------------------------------- checkpoint

Json to_json(const Checkpoint& c) {
  return Json{{"chain", c.chain_id}, {"seq", c.seq},       {"head_hash", c.head_hash}, {"dropped_total", c.dropped_total},
              {"ts_ms", c.ts_ms},    {"key_id", c.key_id}, {"mac", c.mac}};
}

Result<Checkpoint> checkpoint_from_json(const Json& j) {
  if (!j.is_object()) return fail("a checkpoint must be a JSON object");
  try {
    Checkpoint c;
    c.chain_id = j.value("chain", std::string());
    c.seq = j.value("seq", int64_t{0});
    c.head_hash = j.value("head_hash", std::string());
    c.dropped_total = j.value("dropped_total", uint64_t{0});
    c.ts_ms = j.value("ts_ms", int64_t{0});
    c.key_id = j.value("key_id", std::string());
    c.mac = j.value("mac", std::string());
    return c;
  } catch (const Json::exception& e) {
    return fail(std::string("invalid checkpoint: ") + e.what());
  }
}

std::string checkpoint_message(const Checkpoint& c) {
  Json j = to_json(c);
  j.erase("mac");
  return canonical_json(j);
}

// ------------------------------------------------------------------- chain

AuditChain::AuditChain(std::string chain_id, std::optional<SigningKey> key, ChainState state, CaptureMode capture)
    : chain_id_(std::move(chain_id)), key_(std::move(key)), state_(std::move(state)), capture_(capture) {}

void AuditChain::link(AuditRecord& r) {
  apply_capture(r, capture_);
  state_.dropped_total += r.dropped_before;
  r.chain_id = chain_id_;
  r.seq = ++state_.seq;
  r.prev_hash = state_.hash;
  r.hash = record_hash(r);
  state_.hash = r.hash;
}

Checkpoint AuditChain::checkpoint(int64_t now_ms) const {
  Checkpoint c;
  c.chain_id = chain_id_;
  c.seq = state_.seq;
  c.head_hash = state_.hash;
  c.dropped_total = state_.dropped_total;
  c.ts_ms = now_ms;
  if (key_) {
    c.key_id = key_->id();
    c.mac = key_->mac_hex(checkpoint_message(c));
  }
  return c;
}

// ---------------------------------------------------------------- verifier

namespace {
std::string rec_name(int64_t row, int64_t seq) {
  return "record " + std::to_string(row) + " (seq " + std::to_string(seq) + ")";
}
std::string cp_name(int64_t row, const Checkpoint& c) {
  return "checkpoint " + std::to_string(row) + " (seq " + std::to_string(c.seq) + ")";
}
}  // namespace

ChainVerifier::ChainVerifier(std::string chain_id, const SigningKey* key) : key_(key) {
  res_.chain_id = std::move(chain_id);
  res_.signed_checkpoints = key != nullptr;
}

bool ChainVerifier::fail_at(int64_t row, std::string message) {
  if (!res_.ok) return false;
  res_.ok = false;
  res_.failed_row = row;
  res_.message = std::move(message);
  return false;
}

bool ChainVerifier::check_signature(const std::string& what, const Checkpoint& c) {
  if (!key_) return true;
  if (c.mac.empty()) return fail_at(0, what + ": unsigned, but a signing key was given");
  if (c.key_id != key_->id()) {
    return fail_at(0, what + ": signed with another key (key id " + c.key_id + ", ours " + key_->id() + ")");
  }
  if (CRYPTO_memcmp(key_->mac_hex(checkpoint_message(c)).data(), c.mac.data(), 64) != 0 || c.mac.size() != 64) {
    return fail_at(0, what + ": bad signature: the checkpoint was altered");
  }
  return true;
}

bool ChainVerifier::set_anchor(const std::optional<Checkpoint>& anchor) {
  if (!anchor) return true;
  if (!check_signature("retention anchor (seq " + std::to_string(anchor->seq) + ")", *anchor)) return false;
  res_.anchored = true;
  expected_seq_ = anchor->seq + 1;
  prev_hash_ = anchor->head_hash;
  res_.dropped_total = anchor->dropped_total;
  return true;
}

bool ChainVerifier::add_checkpoint(int64_t row, const Checkpoint& c) {
  if (!res_.ok) return false;
  if (c.chain_id != res_.chain_id) {
    return fail_at(0, cp_name(row, c) + ": belongs to chain '" + c.chain_id + "', not '" + res_.chain_id + "'");
  }
  if (!check_signature(cp_name(row, c), c)) return false;
  if (c.seq < expected_seq_ - 1) return true;  // older than the anchor: nothing left to compare
  auto [it, inserted] = checkpoints_.emplace(c.seq, std::make_pair(row, c));
  if (!inserted && it->second.second.head_hash != c.head_hash) {
    return fail_at(0, cp_name(row, c) + " contradicts " + cp_name(it->second.first, it->second.second) +
                          " about the chain head");
  }
  ++res_.checkpoints;
  return true;
}

bool ChainVerifier::add(int64_t row, const AuditRecord& r) {
  if (!res_.ok) return false;
  const std::string name = rec_name(row, r.seq);
  if (r.chain_id != res_.chain_id) {
    return fail_at(row, name + ": inserted: it names chain '" + r.chain_id + "', not '" + res_.chain_id + "'");
  }
  if (r.seq < expected_seq_) {
    if (res_.records == 0) {
      return fail_at(row, name + ": inserted: the chain " +
                              (res_.anchored ? "was pruned through seq " + std::to_string(expected_seq_ - 1)
                                             : std::string("starts at seq 1")));
    }
    return fail_at(row, name + ": inserted: seq " + std::to_string(r.seq) + " already belongs to record " +
                            std::to_string(prev_row_));
  }
  if (r.seq > expected_seq_) {
    std::string missing = r.seq - 1 == expected_seq_ ? "seq " + std::to_string(expected_seq_)
                                                     : "seq " + std::to_string(expected_seq_) + ".." +
                                                           std::to_string(r.seq - 1);
    return fail_at(row, "deleted: " + missing + " missing before " + name);
  }
  if (record_hash(r) != r.hash) {
    return fail_at(row, name + ": altered: its contents do not match its hash");
  }
  if (r.prev_hash != prev_hash_) {
    return fail_at(row, name + ": inserted or replaced: its prev_hash does not match the hash of " +
                            (res_.records ? rec_name(prev_row_, r.seq - 1)
                                          : res_.anchored ? std::string("the retention anchor")
                                                          : std::string("the chain's start")));
  }
  if (auto cp = checkpoints_.find(r.seq); cp != checkpoints_.end() && cp->second.second.head_hash != r.hash) {
    return fail_at(row, name + ": replaced: " + cp_name(cp->second.first, cp->second.second) +
                            " signed another hash for it (the chain was rewritten)");
  }
  if (res_.records == 0) res_.first_seq = r.seq;
  ++res_.records;
  res_.last_seq = r.seq;
  res_.dropped_total += r.dropped_before;
  res_.head_hash = r.hash;
  prev_hash_ = r.hash;
  prev_row_ = row;
  expected_seq_ = r.seq + 1;
  return true;
}

VerifyResult ChainVerifier::finish() {
  if (!res_.ok) return res_;
  int64_t last = expected_seq_ - 1;
  if (!checkpoints_.empty()) {
    const auto& [seq, newest] = *checkpoints_.rbegin();
    if (seq > last) {
      fail_at(0, "deleted: " + cp_name(newest.first, newest.second) + " signs the chain through seq " +
                     std::to_string(seq) + ", but the records end at seq " + std::to_string(last));
      return res_;
    }
    if (seq < last) {
      // Every committed batch has its checkpoint: what comes after the last
      // one was not written by the gateway.
      fail_at(0, "inserted: records after seq " + std::to_string(seq) + " (through seq " + std::to_string(last) +
                     ") are not covered by any signed checkpoint");
      return res_;
    }
    if (newest.second.dropped_total != res_.dropped_total) {
      fail_at(0, cp_name(newest.first, newest.second) + ": its dropped count " +
                     std::to_string(newest.second.dropped_total) + " differs from the records' " +
                     std::to_string(res_.dropped_total));
      return res_;
    }
  } else if (res_.records > 0) {
    fail_at(0, "inserted: no checkpoint covers records seq " + std::to_string(res_.first_seq) + ".." +
                   std::to_string(last));
    return res_;
  }
  res_.message = "chain '" + res_.chain_id + "' intact: " + std::to_string(res_.records) + " records" +
                 (res_.records ? " (seq " + std::to_string(res_.first_seq) + ".." + std::to_string(res_.last_seq) + ")"
                               : std::string()) +
                 ", " + std::to_string(res_.checkpoints) + " checkpoints " +
                 (key_ ? "with valid signatures" : "NOT signature-checked (no signing key)") +
                 (res_.anchored ? ", anchored at seq " + std::to_string(res_.first_seq - 1) : std::string()) + ", " +
                 std::to_string(res_.dropped_total) + " records dropped (queue full)" +
                 (res_.records ? ", head " + res_.head_hash : std::string());
  return res_;
}

}  // namespace portcullis::record
