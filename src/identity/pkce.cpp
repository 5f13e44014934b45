#include "identity/pkce.h"

#include <openssl/sha.h>

#include "core/crypto.h"
#include "identity/oauth_wire.h"

namespace portcullis::identity {

std::string pkce_challenge(std::string_view verifier) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(verifier.data()), verifier.size(), digest);
  return base64url_encode(std::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
}

Pkce make_pkce() {
  Pkce p;
  p.verifier = base64url_encode(crypto::random_bytes(32));
  p.challenge = pkce_challenge(p.verifier);
  return p;
}

std::string make_state() { return base64url_encode(crypto::random_bytes(32)); }

}  // namespace portcullis::identity
