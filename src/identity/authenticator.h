// Authenticator: the identity stage's single entry point. For each request
// it turns the credential (a bearer token or an API key) and the
// X-Portcullis-Metadata header into a Principal, or into an AuthFailure that
// the HTTP layer sends as is: status, WWW-Authenticate (RFC 6750 / RFC 9728)
// and a JSON body. It also produces the gateway's Protected Resource
// Metadata documents (RFC 9728).
//
//   auth.mode none          -> anonymous principal (loopback-only is main's rule)
//   api_key                 -> "Authorization: Bearer pk_..." or "X-API-Key: pk_..."
//   oauth                   -> "Authorization: Bearer <JWT>"
//   oauth+api_key           -> either; a bearer starting with "pk_" is an API key
// The metadata contract applies in every mode.
//
// Thread-safety: authenticate() and the metadata functions are const and may
// be called concurrently from any number of HTTP threads. The hot path is a
// token-hash lookup under a shared lock (TokenVerifier) or a scan of an
// immutable key list; JWKS fetches happen only on cache misses and are
// rate-limited. An Authenticator is built from one config snapshot; on
// reload, build a new one and swap it in.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "config/config.h"
#include "core/json.h"
#include "core/result.h"
#include "identity/api_keys.h"
#include "identity/clock.h"
#include "identity/jwks.h"
#include "identity/principal.h"
#include "identity/token_verifier.h"

namespace portcullis::identity {

// The parts of an HTTP request the identity stage reads. Empty = absent.
struct RequestView {
  std::string_view authorization;  // Authorization header value
  std::string_view api_key;        // X-API-Key header value
  std::string_view metadata;       // X-Portcullis-Metadata header value
  std::string_view path;           // virtual-server path ("/mcp/dev"); "" for gateway-wide routes
};

struct AuthFailure {
  int status = 401;   // 400 (bad request), 401 (unauthenticated), 403 (insufficient scope)
  std::string error;  // OAuth error code: invalid_token, insufficient_scope, invalid_request; "" =
                      // none sent
  std::string message;           // what was wrong; never contains a credential
  std::string www_authenticate;  // header value; empty for 400
  // {"error": error (or "unauthorized"), "error_description": message}
  Json body() const;
};

class AuthOutcome {
 public:
  AuthOutcome(Principal p) : v_(std::move(p)) {}
  AuthOutcome(AuthFailure f) : v_(std::move(f)) {}
  bool ok() const { return v_.index() == 0; }
  const Principal& principal() const { return std::get<0>(v_); }
  Principal& principal() { return std::get<0>(v_); }
  const AuthFailure& failure() const { return std::get<1>(v_); }

 private:
  std::variant<Principal, AuthFailure> v_;
};

struct AuthenticatorOptions {
  WallClock clock = system_clock();
  JwksOptions jwks;  // its clock is replaced by `clock`
  size_t token_cache_capacity = 10000;
  std::string resource_name = "Portcullis";  // RFC 9728 resource_name
};

class Authenticator {
 public:
  // Loads auth.api_keys_file when the mode uses API keys; its problems are
  // returned as "file:line: message" lines. Never contacts the issuer.
  static Result<std::shared_ptr<const Authenticator>> create(const config::Settings& settings,
                                                             AuthenticatorOptions options = {});

  AuthOutcome authenticate(const RequestView& request) const;
  // The Principal::key() of whoever a bearer token for the gateway itself
  // (aud = auth.resource) was issued to, or why it is not valid. Only the
  // token is checked: no scopes, no metadata (for the consent sign-in).
  Result<std::string> who_holds(std::string_view token) const;

  // RFC 9728 metadata for the gateway (path "") or a virtual server path;
  // nullopt when auth.resource is not configured.
  std::optional<Json> protected_resource_metadata(std::string_view path) const;
  // Where that document is served: RFC 9728 path insertion,
  // <origin>/.well-known/oauth-protected-resource<resource path><path>.
  // Empty when auth.resource is not configured.
  std::string resource_metadata_url(std::string_view path) const;

  // For a periodic timer: refetch the issuer's keys if their max-age passed.
  void refresh_keys_if_stale() const;

  config::AuthMode mode() const { return auth_.mode; }

 private:
  Authenticator(const config::Settings& s, AuthenticatorOptions o);
  AuthOutcome with_bearer(std::string_view token, const RequestView& r) const;
  AuthOutcome with_api_key(std::string_view key, const RequestView& r) const;
  AuthOutcome finish(Principal p, const std::map<std::string, std::string>& identity,
                     const RequestView& r) const;
  AuthFailure unauthorized(const RequestView& r, std::string error, std::string message) const;
  AuthFailure insufficient_scope(const RequestView& r, std::string message) const;
  static AuthFailure bad_request(std::string message);
  std::optional<std::string> missing_scopes(const std::vector<std::string>& granted) const;

  const config::AuthSettings auth_;
  const config::MetadataSettings metadata_;
  const AuthenticatorOptions opt_;
  std::shared_ptr<JwksCache> keys_;              // oauth modes only
  std::unique_ptr<TokenVerifier> verifier_;      // oauth modes only
  std::shared_ptr<const ApiKeyStore> api_keys_;  // api_key modes only
};

}  // namespace portcullis::identity
