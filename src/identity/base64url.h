// Base64url (RFC 4648 §5) without padding, as JOSE uses it. Decoding is
// strict: only the URL-safe alphabet, no padding, no whitespace, no length
// of 1 mod 4, and unused trailing bits must be zero, so that every encoded
// form has exactly one decoding (no malleable tokens). Pure, thread-safe.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace portcullis::identity {

std::string base64url_encode(std::string_view bytes);
std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace portcullis::identity
