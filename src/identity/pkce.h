// PKCE (RFC 7636) with the S256 method, the only one MCP allows a client
// that can compute SHA-256 to use. Thread-safe.
#pragma once
#include <string>
#include <string_view>

namespace portcullis::identity {

struct Pkce {
  std::string verifier;   // 43 characters of base64url (32 random bytes)
  std::string challenge;  // base64url(SHA-256(verifier)), no padding
  static constexpr const char* kMethod = "S256";
};

// A fresh verifier from the OS CSPRNG and its challenge.
Pkce make_pkce();
// The S256 challenge of `verifier`.
std::string pkce_challenge(std::string_view verifier);

// An unguessable value for the `state` parameter (base64url, 32 random bytes).
std::string make_state();

}  // namespace portcullis::identity
