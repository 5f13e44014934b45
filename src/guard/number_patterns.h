// Leftmost-first matchers for the number-shaped PII patterns, equal to what
// RE2 reports for the same pattern searched in [from, to) (the differential
// test in tests/unit/guard_pii_scanners_test.cpp holds them to it). They
// replace RE2 inside numeric runs, where a call's fixed cost (~150 ns, a
// shared DFA cache behind a lock) was most of the work on number-dense text.
//
//   ssn:   [0-9]{3}-[0-9]{2}-[0-9]{4}
//   ipv4:  [0-9]{1,3}(?:\.[0-9]{1,3}){3}
//   phone: \+?\(?[0-9]{1,5}\)?(?:[ .\-/]?\(?[0-9]{1,5}\)?){1,6}
//   iban:  [A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,32}
//
// Each returns false when there is no match; else the first match's span.
// Pure functions; any thread.
#pragma once
#include <string_view>

#include "guard/email_spans.h"

namespace portcullis::guard {

bool find_ssn(std::string_view text, size_t from, size_t to, TextSpan& match);
bool find_ipv4(std::string_view text, size_t from, size_t to, TextSpan& match);
bool find_phone(std::string_view text, size_t from, size_t to, TextSpan& match);
bool find_iban(std::string_view text, size_t from, size_t to, TextSpan& match);

// find_iban over many windows of one text (an IBAN window after each pair
// of capitals followed by digits, mostly moving forward): a range of bytes
// an earlier window ruled out, whatever the window's end, is not looked at
// again. Same answers as find_iban; one per scan, one thread.
class IbanFinder {
 public:
  explicit IbanFinder(std::string_view text) : t_(text) {}
  bool find(size_t from, size_t to, TextSpan& match);

 private:
  std::string_view t_;
  size_t ruled_from_ = 0, ruled_to_ = 0;  // no match starts in [ruled_from_, ruled_to_)
};

// The whole of `s` is a dotted quad of 1-3 digit groups ("421.108.1.1"),
// as RE2::FullMatch of the ipv4 pattern would say.
bool dotted_quad_shape(std::string_view s);

}  // namespace portcullis::guard
