// MultiPattern: one Hyperscan pass over a text for many patterns at once, so
// the cost of a scan does not grow with the number of rules. Detectors give
// it cheap "anchor" patterns (a literal prefix, a keyword, a digit run) and
// confirm each hit with RE2 and a checksum afterwards; MultiPattern only says
// which pattern ended where.
//
// Threads: compiled once, immutable after; scan() may be called from any
// number of threads at once. Each thread keeps its own scratch space
// (thread_local), grown to fit every database it has scanned with.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

struct hs_database;

namespace portcullis::guard {

struct Anchor {
  std::string pattern;  // Hyperscan (PCRE-subset) syntax
  bool caseless = false;
  // Report the leftmost start of each match too. Free for an anchor whose
  // matches all have one length (the start is end - length); otherwise
  // Hyperscan tracks starts (SOM), which slows every scan.
  bool want_start = false;
};

struct AnchorHit {
  unsigned id;   // index into the anchors given to compile()
  size_t start;  // only meaningful for want_start anchors; else == end
  size_t end;    // one past the last byte of the match
};

class MultiPattern {
 public:
  // Error: a pattern Hyperscan refuses (with its index and reason).
  static Result<std::shared_ptr<const MultiPattern>> compile(const std::vector<Anchor>& anchors);
  ~MultiPattern();
  MultiPattern(const MultiPattern&) = delete;
  MultiPattern& operator=(const MultiPattern&) = delete;

  // Every hit, in order of end offset. Error: scratch allocation or scan
  // failure; never reported as "no hits".
  Result<std::vector<AnchorHit>> scan(std::string_view text) const;

 private:
  MultiPattern() = default;
  hs_database* db_ = nullptr;
  // Per anchor: how to find a hit's start. 0: not wanted (start == end);
  // ~0u: Hyperscan reports it (SOM); otherwise end minus this fixed width.
  std::vector<unsigned> start_width_;
  uint64_t id_ = 0;  // unique per compiled database, for per-thread scratch
};

}  // namespace portcullis::guard
