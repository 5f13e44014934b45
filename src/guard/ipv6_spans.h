// IPv6 address spans found from ':' bytes (byte_blocks.h masks) instead of a Hyperscan anchor
// (character-class anchors like [0-9A-Fa-f]{1,4}: are Hyperscan's slow
// case). An address is a maximal run of hex digits and colons that
//  - holds "::" or four "h:" groups in a row (h: 1-4 hex digits), the anchor
//    the PII detector used before,
//  - has no letter or digit right before or after it, and
//  - inet_pton(AF_INET6) accepts (pii_checks.h ipv6_ok).
// A trailing dotted quad ("::ffff:1.2.3.4") is not part of the run, as it
// was not part of the RE2 span the detector used before; the differential
// test in tests/unit/guard_pii_scanners_test.cpp holds the two to the same
// answers on random text.
//
// Pure function; any thread.
#pragma once
#include <string_view>
#include <vector>

#include "guard/byte_blocks.h"
#include "guard/email_spans.h"

namespace portcullis::guard {

// Appends every address span, in text order.
void ipv6_spans(std::string_view text, std::vector<TextSpan>& out);

// The same search fed the ':' bytes block by block (a caller that reads the
// text once for several scanners: pii.cpp). One per scan, one thread.
class Ipv6Scanner {
 public:
  Ipv6Scanner(std::string_view text, std::vector<TextSpan>& out) : t_(text), out_(out) {}
  // The colons worth a look among a block's (bit i: byte i), from the masks
  // alone: every anchored run has a colon right after another ("::") or
  // ends a chain of four colons each 2-5 bytes after the one before (four
  // "h:" groups). Every block in text order.
  uint64_t mark(uint64_t colons) {
    uint64_t chain1 = colons & near_before(colons, prev_[0], 2, 5);
    uint64_t chain2 = colons & near_before(chain1, prev_[1], 2, 5);
    uint64_t chain3 = colons & near_before(chain2, prev_[2], 2, 5);
    uint64_t worth = chain3 | (colons & near_before(colons, prev_[0], 1, 1));
    prev_[0] = colons, prev_[1] = chain1, prev_[2] = chain2;
    return worth;
  }
  // Appends the addresses around the colons `worth` marks in the block at
  // `offset`; blocks in text order, blocks with no such colon may be left out.
  void walk(size_t offset, uint64_t worth);

 private:
  std::string_view t_;
  std::vector<TextSpan>& out_;
  uint64_t prev_[3] = {0, 0, 0};  // the previous block's colons, chain1, chain2
  size_t settled_ = 0;            // runs before this offset are done
};

}  // namespace portcullis::guard
