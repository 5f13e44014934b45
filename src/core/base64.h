// Base64 (RFC 4648) in the two forms Portcullis meets: the standard alphabet
// with padding (HTTP Basic credentials, `=?base64?...?=` header values) and
// the URL-safe alphabet without padding (JOSE, PKCE, sealed tokens).
//
// Decoding is strict, so that every encoded form has exactly one decoding
// (no malleable tokens): only the form's own alphabet, padding exactly where
// the form requires it, no whitespace, and unused trailing bits zero.
// Pure functions; thread-safe.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace portcullis {

std::string base64_encode(std::string_view bytes);
std::optional<std::string> base64_decode(std::string_view text);
std::string base64url_encode(std::string_view bytes);
std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace portcullis
