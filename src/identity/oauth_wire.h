// The small encodings OAuth speaks on the wire: percent-encoding for
// application/x-www-form-urlencoded bodies and query strings, base64 (HTTP
// Basic client authentication) and base64url without padding (PKCE).
// All functions are pure and thread-safe.
#pragma once
#include "core/base64.h"  // base64 and base64url, which the wire encodings use
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace portcullis::identity {

// RFC 3986 percent-encoding of everything but the unreserved characters
// (ALPHA / DIGIT / "-" / "." / "_" / "~").
std::string percent_encode(std::string_view s);
// Decodes %XX escapes and, as form encoding does, '+' as a space. Invalid
// escapes are kept as they are.
std::string percent_decode(std::string_view s);

using FormFields = std::vector<std::pair<std::string, std::string>>;
// "k1=v1&k2=v2", each name and value percent-encoded, in the given order.
std::string form_encode(const FormFields& fields);
// Parses a query string or form body ("a=1&b=2", leading '?' allowed). A
// repeated name keeps its first value.
std::map<std::string, std::string> parse_query(std::string_view query);
// The query part of a URL ("" when none), without '?' and fragment.
std::string_view query_of(std::string_view url);
// `url` with `fields` appended to its query ('?' or '&' as needed).
std::string append_query(std::string_view url, const FormFields& fields);


}  // namespace portcullis::identity
