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
#include <string_view>
#include <vector>

namespace portcullis::guard {

struct TextSpan {
  size_t start, end;  // [start, end) in the text
};

// Appends every span, in text order.
void email_spans(std::string_view text, std::vector<TextSpan>& out);

}  // namespace portcullis::guard
