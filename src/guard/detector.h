// The contract every guardrail detector implements. A detector looks at one
// piece of text and reports findings: which rule matched where. It never
// decides what happens next; modes (audit/enforce/strict) and actions
// (validate/mutate) belong to the guardrail chain that calls it.
//
// Threads: a Detector is built once from its settings and is immutable after;
// scan() is const and may be called from any number of threads at once.
#pragma once
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/json.h"
#include "core/result.h"

namespace portcullis::guard {

// One match. Offsets are byte offsets into the scanned text, [start, end).
// A finding never carries the matched text itself: audit records and block
// messages are built from findings, and secrets must not reach them.
struct Finding {
  std::string detector;  // "sql", "secrets", "pii", "injection", "poisoning"
  std::string rule;      // stable rule id, e.g. "aws_access_key", "ddl_drop"
  size_t start = 0, end = 0;
  double score = 1.0;  // 0..1; heuristic detectors compare it to a threshold
  // What a mutate action puts in place of [start, end), e.g. "[EMAIL_1]" or
  // "[REDACTED:aws_access_key]". Empty: the detector cannot redact this finding
  // (an SQL rule, say), so mutate falls back to blocking.
  std::string replacement;
  std::string message;  // short human explanation, never containing the match

  bool operator==(const Finding&) const = default;
};

// Per-scan state shared by the detectors of one request: PII placeholders must
// give the same value the same placeholder within one request ([EMAIL_1]).
struct ScanContext {
  // Key is detector-defined (e.g. "EMAIL" + normalised value); the value is the
  // placeholder number handed out for it.
  std::vector<std::pair<std::string, int>> placeholders;
  // Index kept by placeholder_for() (placeholders.h): key -> number, plus
  // "#KIND" -> how many of that kind were handed out, so a request carrying
  // thousands of values stays linear. Defaulted; other code can ignore it.
  std::unordered_map<std::string, int> placeholder_index;
  // Name of the argument or field being scanned, when known ("query"). Lets
  // the SQL sanitizer restrict itself to configured SQL arguments.
  std::string field;
};

class Detector {
 public:
  virtual ~Detector() = default;
  virtual std::string_view name() const = 0;
  // Findings in text order. An error (engine out of memory, scratch
  // allocation failure, input the detector cannot handle) is an error, never
  // "no findings": strict mode must be able to fail closed.
  virtual Result<std::vector<Finding>> scan(std::string_view text, ScanContext& ctx) const = 0;
};

}  // namespace portcullis::guard
