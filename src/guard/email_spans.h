// Email address spans without a regular expression. For each '@' the span is
// exactly what RE2 (leftmost-first) reports for
//   [A-Za-z0-9._%+-]{1,64}@<label>(\.<label>)*\.[A-Za-z]{2,24}
//   <label> = [A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?
// searched forward from the end of the previous span, with the domain read
// up to 256 bytes after its '@' (the window the PII detector used to give
// RE2). The differential test in tests/unit/guard_pii_scanners_test.cpp
// holds it to RE2 on random text. A hand scanner because RE2's per-call
// cost (~1 us an address, two calls each) dominated email-dense text.
//
// The caller decides what counts (neighbouring characters, file names).
// Pure function; any thread.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace portcullis::guard {

struct TextSpan {
  size_t start, end;  // [start, end) in the text
};

// Appends every span, in text order.
void email_spans(std::string_view text, std::vector<TextSpan>& out);

// The same search fed the '@' bytes block by block (a caller that reads
// the text once for several scanners: pii.cpp). One per scan, one thread.
class EmailScanner {
 public:
  EmailScanner(std::string_view text, std::vector<TextSpan>& out) : t_(text), out_(out) {}
  // The '@' bytes of the 64-byte block at `offset` (bit i: byte offset+i);
  // blocks in text order, blocks without '@' may be left out.
  void walk(size_t offset, uint64_t ats);
  void at_sign(size_t at);  // the '@' at `at` (at >= next())
  size_t next() const { return next_; }

 private:
  std::string_view t_;
  std::vector<TextSpan>& out_;
  size_t lower_ = 0, next_ = 0;
};

}  // namespace portcullis::guard
