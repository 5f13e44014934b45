// JwksCache: the issuer's signing keys, fetched over HTTP(S) and cached.
//
// The JWKS URL is configured, or discovered from the issuer's metadata
// (RFC 8414 / OpenID Connect Discovery, with the path-insertion rules for
// issuers that have a path); the metadata's `issuer` must equal the
// configured issuer exactly. The set is refetched
//  - when it is older than its Cache-Control max-age (clamped to
//    [min_max_age, max_max_age]; default_max_age without one), and
//  - when a token names a kid the set does not have (key rotation),
// but never more often than once per min_refetch_interval, whatever the
// reason, so that tokens with made-up kids cannot make the gateway hammer the
// issuer. A token whose kid is unknown while that window is closed waits up
// to kid_miss_wait for it to open, so a rotation right after a fetch is
// still followed. A failed refetch keeps the previous set.
//
// Thread-safety: key() may be called from any number of threads. Reading the
// current set takes a short mutex hold; at most one fetch runs at a time and
// callers that need a fetch while one is in flight wait for it and share its
// result. Fetches run on the calling thread, with the configured timeouts.
#pragma once
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "core/result.h"
#include "identity/clock.h"
#include "identity/jwk.h"

namespace portcullis::identity {

struct JwksOptions {
  std::chrono::seconds min_refetch_interval{2};
  // Real time an unknown-kid lookup may wait for the refetch window (0: it
  // fails at once instead).
  std::chrono::milliseconds kid_miss_wait{2000};
  std::chrono::seconds default_max_age{3600};
  std::chrono::seconds min_max_age{60};
  std::chrono::seconds max_max_age{24 * 3600};
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds read_timeout{10000};
  size_t max_document_bytes = 1024 * 1024;
  WallClock clock = system_clock();
};

// The well-known metadata URLs to try for `issuer`, in order (MCP
// authorization spec): for "https://as" -> oauth-authorization-server then
// openid-configuration; for "https://as/t" -> RFC 8414 path insertion, OIDC
// path insertion, then OIDC path appending.
std::vector<std::string> discovery_urls(std::string_view issuer);

// max-age from a Cache-Control value, if present and valid.
std::optional<std::chrono::seconds> cache_control_max_age(std::string_view value);

class JwksCache {
 public:
  // `jwks_uri` empty: discovered from the issuer on first use.
  JwksCache(std::string issuer, std::string jwks_uri, JwksOptions options = {});
  JwksCache(const JwksCache&) = delete;
  JwksCache& operator=(const JwksCache&) = delete;

  // The key named `kid`; with an empty kid, the only key of the set (it is an
  // error when the set holds several). Fetches first when there is no set
  // yet, when the set is stale, or when `kid` is unknown (rate limits apply).
  Result<Jwk> key(std::string_view kid);

  // Refetches now if the set is stale and the rate limit allows. For a
  // periodic timer; key() does the same on demand.
  void refresh_if_stale();

  // The JWKS URL in use (configured or discovered); empty before discovery.
  std::string jwks_uri() const;

 private:
  struct Snapshot {
    KeySet set;
    std::chrono::system_clock::time_point fetched_at;
    std::chrono::system_clock::time_point expires_at;
  };

  std::shared_ptr<const Snapshot> snapshot() const;
  // Runs or joins one fetch. False when the rate limit refused it.
  // `wait`: an unknown-kid lookup, which may wait kid_miss_wait for the
  // refetch window to open. False when the window stayed closed.
  bool refetch(const std::shared_ptr<const Snapshot>& seen, bool wait = false);
  Result<Snapshot> fetch();  // discovery (if needed) + JWKS; no locks held
  Result<std::string> discover();

  const std::string issuer_;
  const JwksOptions opt_;

  mutable std::mutex mu_;
  std::condition_variable fetched_;
  std::string jwks_uri_;
  std::shared_ptr<const Snapshot> snap_;
  std::string last_error_;
  bool fetching_ = false;
  bool attempted_ = false;
  std::chrono::system_clock::time_point last_attempt_;
};

}  // namespace portcullis::identity
