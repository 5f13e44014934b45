// Tool pinning: a defence against "rug pulls", where an upstream changes a
// tool's description, schemas or annotations after it was approved (for
// example to smuggle instructions to the model).
//
// The first definition seen of each (upstream, tool) is approved (trust on
// first use). A later, different definition is recorded as a pending change
// until someone approves it (`portcullis pins approve`). Each virtual server
// decides what a pending change means for it (config::PinningMode).
//
// PinStore keeps approvals in SQLite beside the audit database, so they
// survive restarts and the CLI can change them while the gateway runs.
// Threading: every method is thread-safe (one connection behind a mutex).
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "core/json.h"
#include "core/result.h"

struct sqlite3;

namespace portcullis::compose {

// The part of a tool definition that is pinned, in canonical form.
Json pinned_definition(const Json& tool);
std::string pin_hash(const Json& tool);
// Which pinned fields differ: "description and inputSchema changed".
std::string describe_change(const Json& approved, const Json& seen);

struct Pin {
  std::string upstream, tool;
  std::string hash;  // approved
  Json definition;   // approved
  int64_t approved_ms = 0;
  std::string pending_hash;  // empty: no pending change
  Json pending_definition;
  int64_t changed_ms = 0;
  std::string change;  // describe_change(definition, pending_definition)
};

// (upstream, tool) -> what changed, for tools whose current definition is not
// the approved one.
using PinChanges = std::map<std::pair<std::string, std::string>, std::string>;

class PinStore {
 public:
  static Result<std::unique_ptr<PinStore>> open(const std::string& path);
  ~PinStore();
  PinStore(const PinStore&) = delete;
  PinStore& operator=(const PinStore&) = delete;

  struct Checked {
    PinChanges changes;                 // every tool of `upstream` that differs from its approval
    std::vector<Pin> newly_changed;     // of those, the ones first noticed by this call
  };
  // Compares an upstream's current tools with their approvals: approves tools
  // seen for the first time, records new pending changes, clears pending
  // changes that went away.
  Result<Checked> check(const std::string& upstream, const std::vector<Json>& tools);

  Result<std::vector<Pin>> list();
  // Approves the pending definition of one tool (or, with an empty `tool`,
  // of every tool of `upstream`; with both empty, of everything). Returns how
  // many pins were approved.
  Result<int> approve(const std::string& upstream, const std::string& tool);

  // True when another connection (the CLI) changed the store since the last
  // call; cheap (PRAGMA data_version).
  bool changed_elsewhere();

 private:
  explicit PinStore(sqlite3* db) : db_(db) {}
  Result<void> exec(const char* sql);
  std::mutex mu_;
  sqlite3* db_;
  int64_t data_version_ = -1;
};

// `portcullis pins list|approve ...`; returns the exit code.
int run_pins_cli(const std::vector<std::string>& args, const std::string& pins_db);

}  // namespace portcullis::compose
