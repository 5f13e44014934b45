// Cryptographic primitives from OpenSSL: random identifiers and SHA-256.
// Thread-safe.
#pragma once
#include <string>
#include <string_view>

namespace portcullis::crypto {

// `bytes` random bytes from the OS CSPRNG, hex-encoded (2*bytes characters).
std::string random_hex(size_t bytes);
std::string sha256_hex(std::string_view data);

}  // namespace portcullis::crypto
