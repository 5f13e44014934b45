// The cheap checks that turn a secret-shaped candidate into a finding:
// provider checksums, Shannon entropy, and recognising the placeholder and
// documentation values ("AKIAIOSFODNN7EXAMPLE", "xxxx…", "${TOKEN}") that
// look like secrets but are not. Pure functions; any thread.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace portcullis::guard {

// CRC-32 (IEEE 802.3, the zlib one).
uint32_t crc32(std::string_view data);

// `value` in base 62 (0-9A-Za-z), left-padded with '0' to `width`.
std::string base62(uint32_t value, size_t width);

// GitHub (ghp_/gho_/ghu_/ghs_/ghr_) and npm (npm_) tokens end in six base62
// characters: the CRC-32 of the 30 random characters between the prefix and
// the checksum. `token` is the whole token, prefix included.
bool base62_crc_checksum_ok(std::string_view token, size_t prefix_len);

// Bits per character, over the byte distribution of `s`.
double shannon_entropy(std::string_view s);

// Documentation examples and placeholders: contains "EXAMPLE", "xxxx",
// "your_"/"<...>"/"${...}", "changeme", "redacted", or is one repeated
// character (after the prefix) or a plain ascending run.
bool looks_like_placeholder(std::string_view value);

}  // namespace portcullis::guard
