#include "identity/authenticator.h"

#include <algorithm>
#include <filesystem>

#include "core/text.h"
#include "identity/jwt.h"
#include "identity/metadata.h"

namespace portcullis::identity {

namespace {

// RFC 6750 §3: error_description is %x20-21 / %x23-5B / %x5D-7E.
std::string header_safe(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 300)) {
    if (c == '"')
      out += '\'';
    else if (c == '\\')
      out += '/';
    else if (c < 0x20 || c > 0x7e)
      out += '?';
    else
      out += c;
  }
  return out;
}

std::string joined(const std::vector<std::string>& v, std::string_view sep) {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

// "Bearer <token>" (scheme case-insensitive) -> token; nullopt for other schemes.
std::optional<std::string_view> bearer_of(std::string_view authorization) {
  std::string_view v = text::trim(authorization);
  if (v.size() < 6 || text::to_lower(v.substr(0, 6)) != "bearer") return std::nullopt;
  if (v.size() > 6 && v[6] != ' ') return std::nullopt;
  return text::trim(v.substr(6));
}

std::optional<std::string> claim_string(const Json& claims, const std::string& name) {
  const Json* c = find_claim(claims, name);
  if (!c) return std::nullopt;
  if (c->is_string()) return c->get<std::string>();
  if (c->is_number()) return c->dump();
  return std::nullopt;
}

std::vector<std::string> claim_strings(const Json& claims, const std::string& name) {
  std::vector<std::string> out;
  const Json* c = find_claim(claims, name);
  if (!c) return out;
  if (c->is_string()) out.push_back(c->get<std::string>());
  if (c->is_array())
    for (const Json& g : *c)
      if (g.is_string()) out.push_back(g.get<std::string>());
  return out;
}

}  // namespace

Json AuthFailure::body() const {
  return {{"error", error.empty() ? std::string("unauthorized") : error},
          {"error_description", message}};
}

// The oauth section is ignored (config warns) unless the mode uses OAuth; in
// particular its scopes are then not required of API keys.
static config::AuthSettings effective(const config::AuthSettings& a) {
  config::AuthSettings out = a;
  if (!a.uses_oauth()) out.oauth = config::OAuthSettings{};
  return out;
}

Authenticator::Authenticator(const config::Settings& s, AuthenticatorOptions o)
    : auth_(effective(s.auth)), metadata_(s.metadata), opt_(std::move(o)) {}

Result<std::shared_ptr<const Authenticator>> Authenticator::create(const config::Settings& settings,
                                                                   AuthenticatorOptions options) {
  std::shared_ptr<Authenticator> a(new Authenticator(settings, std::move(options)));
  const config::AuthSettings& auth = a->auth_;
  if (auth.uses_oauth()) {
    JwksOptions jo = a->opt_.jwks;
    jo.clock = a->opt_.clock;
    a->keys_ = std::make_shared<JwksCache>(auth.oauth.issuer, auth.oauth.jwks_uri, jo);
    TokenVerifierOptions vo;
    vo.clock = a->opt_.clock;
    vo.cache_capacity = a->opt_.token_cache_capacity;
    a->verifier_ = std::make_unique<TokenVerifier>(auth.oauth, auth.resource, a->keys_, vo);
  }
  if (auth.uses_api_keys()) {
    auto loaded = ApiKeyStore::load(auth.api_keys_file,
                                    std::filesystem::path(auth.api_keys_file).filename().string());
    if (!loaded.store) {
      std::vector<std::string> lines;
      for (const auto& d : loaded.errors) lines.push_back(d.format());
      return fail(joined(lines, "\n"));
    }
    a->api_keys_ = std::move(loaded.store);
  }
  return std::shared_ptr<const Authenticator>(std::move(a));
}

AuthOutcome Authenticator::authenticate(const RequestView& r) const {
  if (auth_.mode == config::AuthMode::None) return finish(anonymous(), {}, r);
  if (!r.authorization.empty() && !r.api_key.empty())
    return bad_request("send one credential: either Authorization or X-API-Key, not both");
  if (!r.api_key.empty()) {
    if (!auth_.uses_api_keys())
      return unauthorized(r, "invalid_token",
                          "API keys are not accepted here (auth.mode is " +
                              std::string(config::to_string(auth_.mode)) + ")");
    return with_api_key(text::trim(r.api_key), r);
  }
  if (r.authorization.empty()) return unauthorized(r, "", "authentication required");
  auto token = bearer_of(r.authorization);
  if (!token) return unauthorized(r, "", "the Authorization header must use the Bearer scheme");
  if (token->empty()) return unauthorized(r, "invalid_token", "empty bearer token");
  if (looks_like_api_key(*token)) {
    if (auth_.uses_api_keys()) return with_api_key(*token, r);
    return unauthorized(r, "invalid_token",
                        "API keys are not accepted here (auth.mode is " +
                            std::string(config::to_string(auth_.mode)) + ")");
  }
  if (!auth_.uses_oauth())
    return unauthorized(r, "invalid_token", "this gateway accepts API keys only (pk_...)");
  return with_bearer(*token, r);
}

Result<std::string> Authenticator::who_holds(std::string_view token) const {
  if (!verifier_) return fail("this gateway does not accept OAuth tokens");
  auto v = verifier_->verify(token, "");
  if (!v) return fail(v.error());
  Principal p;
  p.method = AuthMethod::Bearer;
  p.subject = (*v)->subject;
  p.issuer = (*v)->issuer;
  return p.key();
}

AuthOutcome Authenticator::with_bearer(std::string_view token, const RequestView& r) const {
  auto v = verifier_->verify(token, r.path);
  if (!v) return unauthorized(r, "invalid_token", v.error());
  const VerifiedToken& t = **v;
  if (auto missing = missing_scopes(t.scopes)) return insufficient_scope(r, *missing);
  Principal p;
  p.method = AuthMethod::Bearer;
  p.subject = t.subject;
  p.issuer = t.issuer;
  p.groups = claim_strings(t.claims, auth_.oauth.groups_claim);
  p.scopes = t.scopes;
  p.bearer_token = std::string(token);
  p.expires_at = t.expires_at;
  std::map<std::string, std::string> identity;
  for (const auto& [key, claim] : auth_.oauth.metadata_claims)
    if (auto s = claim_string(t.claims, claim)) identity[key] = *s;
  return finish(std::move(p), identity, r);
}

AuthOutcome Authenticator::with_api_key(std::string_view key, const RequestView& r) const {
  const ApiKeyEntry* e = api_keys_->find(key);
  if (!e) return unauthorized(r, "invalid_token", "unknown API key");
  // An entry without scopes is granted the required ones: the operator
  // issued the key for this gateway.
  std::vector<std::string> scopes = e->scopes.value_or(auth_.oauth.scopes);
  if (auto missing = missing_scopes(scopes))
    return insufficient_scope(r, "API key '" + e->id + "' " + *missing);
  Principal p;
  p.method = AuthMethod::ApiKey;
  p.subject = e->subject;
  p.groups = e->groups;
  p.scopes = std::move(scopes);
  return finish(std::move(p), e->metadata, r);
}

AuthOutcome Authenticator::finish(Principal p, const std::map<std::string, std::string>& identity,
                                  const RequestView& r) const {
  auto m = build_metadata(r.metadata, identity, metadata_);
  if (!m) return bad_request(m.error());
  p.metadata = std::move(m->values);
  p.untagged = std::move(m->untagged);
  return p;
}

std::optional<std::string> Authenticator::missing_scopes(
    const std::vector<std::string>& granted) const {
  std::vector<std::string> missing;
  for (const auto& s : auth_.oauth.scopes)
    if (std::find(granted.begin(), granted.end(), s) == granted.end()) missing.push_back(s);
  if (missing.empty()) return std::nullopt;
  return std::string(missing.size() > 1 ? "lacks required scopes: " : "lacks required scope: ") +
         joined(missing, ", ");
}

AuthFailure Authenticator::unauthorized(const RequestView& r, std::string error,
                                        std::string message) const {
  AuthFailure f;
  f.status = 401;
  std::vector<std::string> params;
  if (!error.empty()) {
    params.push_back("error=\"" + error + "\"");
    params.push_back("error_description=\"" + header_safe(message) + "\"");
  }
  if (auto url = resource_metadata_url(r.path); !url.empty())
    params.push_back("resource_metadata=\"" + url + "\"");
  if (!auth_.oauth.scopes.empty())
    params.push_back("scope=\"" + joined(auth_.oauth.scopes, " ") + "\"");
  f.www_authenticate = params.empty() ? "Bearer" : "Bearer " + joined(params, ", ");
  f.error = std::move(error);
  f.message = std::move(message);
  return f;
}

AuthFailure Authenticator::insufficient_scope(const RequestView& r, std::string message) const {
  AuthFailure f;
  f.status = 403;
  f.error = "insufficient_scope";
  f.message = (text::starts_with(message, "API key") ? "" : "token ") + message;
  f.www_authenticate =
      "Bearer error=\"insufficient_scope\", scope=\"" + joined(auth_.oauth.scopes, " ") + "\"";
  if (auto url = resource_metadata_url(r.path); !url.empty())
    f.www_authenticate += ", resource_metadata=\"" + url + "\"";
  return f;
}

AuthFailure Authenticator::bad_request(std::string message) {
  AuthFailure f;
  f.status = 400;
  f.error = "invalid_request";
  f.message = std::move(message);
  return f;
}

std::string Authenticator::resource_metadata_url(std::string_view path) const {
  const std::string& res = auth_.resource;
  if (res.empty()) return {};
  size_t host = res.find("://");
  size_t path_start = host == std::string::npos ? std::string::npos : res.find('/', host + 3);
  std::string origin = res.substr(0, path_start);
  std::string rpath = path_start == std::string::npos ? "" : res.substr(path_start);
  return origin + "/.well-known/oauth-protected-resource" + rpath + std::string(path);
}

std::optional<Json> Authenticator::protected_resource_metadata(std::string_view path) const {
  if (auth_.resource.empty()) return std::nullopt;
  Json doc = {{"resource", auth_.resource + std::string(path)},
              {"bearer_methods_supported", {"header"}}};
  if (auth_.uses_oauth()) doc["authorization_servers"] = {auth_.oauth.issuer};
  if (!auth_.oauth.scopes.empty()) doc["scopes_supported"] = auth_.oauth.scopes;
  std::string name = opt_.resource_name;
  if (!path.empty()) name += ": " + std::string(path.substr(path.rfind('/') + 1));
  doc["resource_name"] = name;
  return doc;
}

void Authenticator::refresh_keys_if_stale() const {
  if (keys_) keys_->refresh_if_stale();
}

}  // namespace portcullis::identity
