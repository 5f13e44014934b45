// UpstreamTokens: each user's own credential for upstreams whose `auth` is
// per user (config::UpstreamAuth::per_user()). Today that is
// oauth_token_exchange: the caller's verified bearer token is exchanged at
// the issuer's token endpoint (RFC 8693) for a token whose audience is the
// upstream. The caller's token itself never leaves the gateway.
//
// Exchanged tokens are cached per (user, upstream) until shortly before they
// expire, so a busy user costs one exchange per token lifetime, not one per
// call.
//
// Thread-safety: every method may be called from any thread. An exchange
// runs on the calling thread (blocking, bounded by its timeout); concurrent
// callers for the same (user, upstream) may both exchange, and the later
// result wins the cache.
#pragma once
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "config/config.h"
#include "core/result.h"
#include "identity/principal.h"

namespace portcullis::identity {

class UpstreamTokens {
 public:
  // The access token `who` presents to `upstream`. Fails with a sentence
  // for the caller when `who` has no token to exchange (an API key, no
  // auth) or the issuer refuses the exchange.
  struct Token {
    std::string value;
    long long expires_at = 0;  // unix seconds
  };
  Result<Token> token_for(const Principal& who, const config::UpstreamConfig& upstream);

  // Forgets a user's token for an upstream (the upstream refused it).
  void forget(const Principal& who, const std::string& upstream);

 private:
  std::mutex mu_;
  std::map<std::pair<std::string, std::string>, Token> cache_;  // (mu_) (user key, upstream)
};

}  // namespace portcullis::identity
