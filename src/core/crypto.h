// Cryptographic primitives from OpenSSL: random identifiers and SHA-256.
// Thread-safe.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace portcullis::crypto {

// `bytes` random bytes from the OS CSPRNG, hex-encoded (2*bytes characters).
std::string random_hex(size_t bytes);
std::string random_bytes(size_t bytes);
std::string sha256_hex(std::string_view data);

// Hex decoding; nullopt unless `hex` is an even number of hex digits.
std::optional<std::string> from_hex(std::string_view hex);

// AES-256-GCM with a random 96-bit nonce. seal() returns
// base64url(nonce || ciphertext || tag) without padding; open() reverses it
// and fails, revealing nothing about why, when the token was altered, was
// sealed under another key or with other `aad`, or is not a token at all.
// REQUIRES: key.size() == 32.
std::string seal(std::string_view key, std::string_view plaintext, std::string_view aad);
std::optional<std::string> open(std::string_view key, std::string_view token, std::string_view aad);

}  // namespace portcullis::crypto
