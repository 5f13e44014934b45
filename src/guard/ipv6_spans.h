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

#include "guard/email_spans.h"

namespace portcullis::guard {

// Appends every address span, in text order.
void ipv6_spans(std::string_view text, std::vector<TextSpan>& out);

}  // namespace portcullis::guard
