#include "identity/oauth_client.h"

#include <algorithm>

#include "core/text.h"
#include "identity/oauth_http.h"
#include "identity/oauth_wire.h"
#include "identity/pkce.h"

namespace portcullis::identity {

namespace {

constexpr size_t kMaxPending = 10000;

long long now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// Text from an authorization server shown in an error: printable ASCII,
// bounded (it is attacker-influenced).
std::string shown(std::string_view s, size_t max = 300) {
  std::string out;
  for (char c : s.substr(0, max)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (s.size() > max) out += "...";
  return out;
}

bool is_loopback_uri(std::string_view uri) {
  auto p = split_url(uri);
  if (!p.ok()) return false;
  std::string o = text::to_lower(p->origin);
  for (std::string_view host : {"://127.0.0.1", "://localhost", "://[::1]"}) {
    size_t at = o.find(host);
    if (at != std::string::npos) {
      size_t end = at + host.size();
      if (end == o.size() || o[end] == ':') return true;
    }
  }
  return false;
}

struct TokenCall {
  std::string endpoint;
  FormFields fields;
  ClientRegistration client;
  std::string auth_method;  // resolved
  std::string what;         // "authorization code", "refresh token", "token exchange"
  std::chrono::milliseconds timeout{10000};
  bool bearer_only = true;  // token_type must be Bearer
  int status = 0;           // out: HTTP status (0 = no answer)
};

Result<TokenResponse> token_request(TokenCall& c) {
  if (!is_http_url(c.endpoint)) return fail("token endpoint \"" + c.endpoint + "\" is not an http(s) URL");
  if (!is_https_or_loopback(c.endpoint)) {
    return fail("token endpoint \"" + c.endpoint + "\" is not https (plain http only on loopback)");
  }
  HttpExchange x;
  x.method = "POST";
  x.url = c.endpoint;
  x.timeout = c.timeout;
  x.content_type = "application/x-www-form-urlencoded";
  FormFields fields = c.fields;
  if (c.auth_method == "client_secret_basic") {
    // RFC 6749 §2.3.1: each part form-encoded before base64.
    x.headers.emplace_back("Authorization", "Basic " + base64_encode(percent_encode(c.client.client_id) + ":" +
                                                                     percent_encode(c.client.client_secret)));
  } else if (c.auth_method == "client_secret_post") {
    fields.emplace_back("client_id", c.client.client_id);
    fields.emplace_back("client_secret", c.client.client_secret);
  } else if (!c.client.client_id.empty()) {
    fields.emplace_back("client_id", c.client.client_id);
  }
  x.body = form_encode(fields);
  auto r = http_exchange(x);
  if (!r.ok()) return fail("token request (" + c.what + ") failed: " + r.error());
  c.status = r->status;
  auto j = r->json_object();
  if (r->status < 200 || r->status >= 300) {
    std::string why = "HTTP " + std::to_string(r->status);
    if (j && j->contains("error") && (*j)["error"].is_string()) {
      why += ": " + shown((*j)["error"].get<std::string>());
      if (j->contains("error_description") && (*j)["error_description"].is_string()) {
        why += ": " + shown((*j)["error_description"].get<std::string>());
      }
    }
    return fail("token endpoint " + c.endpoint + " refused the " + c.what + " (" + why + ")");
  }
  if (!j) return fail("token endpoint " + c.endpoint + " answered the " + c.what + " without a JSON object");
  TokenResponse t;
  if (!j->contains("access_token") || !(*j)["access_token"].is_string() ||
      (*j)["access_token"].get<std::string>().empty()) {
    return fail("token endpoint " + c.endpoint + " answered the " + c.what + " without an access_token");
  }
  t.access_token = (*j)["access_token"].get<std::string>();
  t.token_type = j->value("token_type", "");
  if (c.bearer_only && text::to_lower(t.token_type) != "bearer") {
    return fail("token endpoint " + c.endpoint + " issued a token of type \"" + shown(t.token_type) +
                "\"; only Bearer tokens are supported");
  }
  if (j->contains("refresh_token") && (*j)["refresh_token"].is_string()) {
    t.refresh_token = (*j)["refresh_token"].get<std::string>();
  }
  if (j->contains("scope") && (*j)["scope"].is_string()) t.scopes = split_scopes((*j)["scope"].get<std::string>());
  if (j->contains("expires_in") && (*j)["expires_in"].is_number() && (*j)["expires_in"].get<double>() > 0) {
    t.expires_at = now_s() + static_cast<long long>((*j)["expires_in"].get<double>());
  }
  t.issued_token_type = j->value("issued_token_type", "");
  return t;
}

}  // namespace

AuthorizationResponse AuthorizationResponse::from_query(std::string_view query) {
  auto q = parse_query(query);
  AuthorizationResponse r;
  r.code = q["code"];
  r.state = q["state"];
  r.error = q["error"];
  r.error_description = q["error_description"];
  if (auto it = q.find("iss"); it != q.end()) r.iss = it->second;
  return r;
}

Result<void> check_response_issuer(std::string_view expected, bool advertised, const std::optional<std::string>& iss) {
  if (iss) {
    if (*iss != expected) {
      return fail("the authorization response names issuer \"" + shown(*iss, 200) + "\", not \"" +
                  std::string(expected) + "\" (RFC 9207); the code was not redeemed");
    }
    return {};
  }
  if (advertised) {
    return fail("authorization server " + std::string(expected) +
                " advertises authorization_response_iss_parameter_supported but its response has no iss "
                "(RFC 9207); the code was not redeemed");
  }
  return {};
}

std::string resolve_token_auth_method(const ClientRegistration& client, const std::vector<std::string>& supported) {
  if (!client.token_endpoint_auth_method.empty()) return client.token_endpoint_auth_method;
  if (client.client_secret.empty()) return "none";
  if (supported.empty() || contains(supported, "client_secret_basic")) return "client_secret_basic";
  if (contains(supported, "client_secret_post")) return "client_secret_post";
  return "client_secret_basic";
}

Result<TokenResponse> redeem_code(const CodeRedemption& r) {
  TokenCall c;
  c.endpoint = r.token_endpoint;
  c.what = "authorization code";
  c.timeout = r.timeout;
  c.client = r.client;
  c.auth_method = r.client.token_endpoint_auth_method;
  c.fields = {{"grant_type", "authorization_code"},
              {"code", r.code},
              {"redirect_uri", r.redirect_uri},
              {"code_verifier", r.code_verifier}};
  if (!r.resource.empty()) c.fields.emplace_back("resource", r.resource);
  return token_request(c);
}

Result<TokenResponse> exchange_token(const TokenExchangeRequest& r) {
  if (r.subject_token.empty()) return fail("token exchange: no subject token");
  if (r.audience.empty() && r.resource.empty()) return fail("token exchange: an audience or a resource is required");
  TokenCall c;
  c.endpoint = r.token_endpoint;
  c.what = "token exchange";
  c.timeout = r.timeout;
  c.bearer_only = false;  // RFC 8693 §2.2.1: "N_A" is allowed
  c.client = r.client;
  c.auth_method = r.client.client_id.empty() ? "none" : resolve_token_auth_method(r.client, {});
  c.fields = {{"grant_type", "urn:ietf:params:oauth:grant-type:token-exchange"},
              {"subject_token", r.subject_token},
              {"subject_token_type", r.subject_token_type}};
  if (!r.requested_token_type.empty()) c.fields.emplace_back("requested_token_type", r.requested_token_type);
  if (!r.audience.empty()) c.fields.emplace_back("audience", r.audience);
  if (!r.resource.empty()) c.fields.emplace_back("resource", r.resource);
  if (!r.scopes.empty()) c.fields.emplace_back("scope", join_scopes(r.scopes));
  auto t = token_request(c);
  if (!t.ok()) return t;
  if (t->issued_token_type.empty()) {
    return fail("token endpoint " + r.token_endpoint + " answered the token exchange without issued_token_type");
  }
  return t;
}

OAuthClient::OAuthClient(OAuthClientOptions options, std::shared_ptr<CredentialVault> vault)
    : opts_(std::move(options)), vault_(std::move(vault)) {}

size_t OAuthClient::pending_count() const {
  std::lock_guard lock(mu_);
  return pending_.size();
}

Json OAuthClient::client_metadata_document() const {
  return {{"client_id", opts_.client_metadata_url},
          {"client_name", opts_.client_name},
          {"redirect_uris", Json::array({opts_.redirect_uri})},
          {"grant_types", Json::array({"authorization_code", "refresh_token"})},
          {"response_types", Json::array({"code"})},
          {"token_endpoint_auth_method", "none"}};
}

std::optional<ClientRegistration> OAuthClient::preregistered_for(const std::string& issuer) const {
  const ClientRegistration* any = nullptr;
  for (const auto& r : opts_.preregistered) {
    if (r.issuer == issuer) {
      ClientRegistration out = r;
      out.source = "preregistered";
      return out;
    }
    if (r.issuer.empty() && !any) any = &r;
  }
  if (!any) return std::nullopt;
  ClientRegistration out = *any;
  out.issuer = issuer;
  out.source = "preregistered";
  return out;
}

Result<ClientRegistration> OAuthClient::registration_for(const AuthorizationServerMetadata& as) {
  if (auto pre = preregistered_for(as.issuer)) return *pre;
  if (as.client_id_metadata_document_supported && !opts_.client_metadata_url.empty()) {
    ClientRegistration r;
    r.issuer = as.issuer;
    r.client_id = opts_.client_metadata_url;
    r.token_endpoint_auth_method = "none";
    r.source = "cimd";
    r.redirect_uris = {opts_.redirect_uri};
    return r;
  }
  std::lock_guard lock(register_mu_);
  if (vault_) {
    auto stored = vault_->client(as.issuer);
    if (!stored.ok()) return fail(stored.error());
    if (stored->has_value()) {
      const auto& r = **stored;
      bool expired = r.client_secret_expires_at > 0 && r.client_secret_expires_at <= now_s();
      if (!expired && contains(r.redirect_uris, opts_.redirect_uri)) return r;
    }
  }
  if (as.registration_endpoint.empty()) {
    return fail("no way to register with authorization server " + as.issuer +
                ": no pre-registered client for it, " +
                (as.client_id_metadata_document_supported ? std::string("no client metadata document URL configured")
                                                          : std::string("it does not support client ID metadata documents")) +
                ", and it has no registration_endpoint");
  }
  return register_dynamically(as);
}

Result<ClientRegistration> OAuthClient::register_dynamically(const AuthorizationServerMetadata& as) {
  const auto& supported = as.token_endpoint_auth_methods_supported;
  std::string method = supported.empty() || contains(supported, "client_secret_basic") ? "client_secret_basic"
                       : contains(supported, "client_secret_post")                     ? "client_secret_post"
                       : contains(supported, "none")                                    ? "none"
                                                                                        : "client_secret_basic";
  std::string app_type =
      !opts_.application_type.empty() ? opts_.application_type : (is_loopback_uri(opts_.redirect_uri) ? "native" : "web");
  Json req = {{"client_name", opts_.client_name},
              {"redirect_uris", Json::array({opts_.redirect_uri})},
              {"grant_types", Json::array({"authorization_code", "refresh_token"})},
              {"response_types", Json::array({"code"})},
              {"token_endpoint_auth_method", method},
              {"application_type", app_type}};
  HttpExchange x;
  x.method = "POST";
  x.url = as.registration_endpoint;
  x.timeout = opts_.http_timeout;
  x.content_type = "application/json";
  x.body = req.dump();
  auto r = http_exchange(x);
  if (!r.ok()) return fail("dynamic client registration failed: " + r.error());
  auto j = r->json_object();
  if (r->status < 200 || r->status >= 300) {
    std::string why = "HTTP " + std::to_string(r->status);
    if (j && j->contains("error") && (*j)["error"].is_string()) why += ": " + shown((*j)["error"].get<std::string>());
    if (j && j->contains("error_description") && (*j)["error_description"].is_string()) {
      why += ": " + shown((*j)["error_description"].get<std::string>());
    }
    return fail("registration endpoint " + as.registration_endpoint + " refused to register the client (" + why + ")");
  }
  if (!j || !j->contains("client_id") || !(*j)["client_id"].is_string()) {
    return fail("registration endpoint " + as.registration_endpoint + " answered without a client_id");
  }
  ClientRegistration reg;
  reg.issuer = as.issuer;
  reg.client_id = (*j)["client_id"].get<std::string>();
  if (j->contains("client_secret") && (*j)["client_secret"].is_string()) {
    reg.client_secret = (*j)["client_secret"].get<std::string>();
  }
  reg.token_endpoint_auth_method = j->value("token_endpoint_auth_method", "");
  if (reg.token_endpoint_auth_method.empty()) reg.token_endpoint_auth_method = reg.client_secret.empty() ? "none" : method;
  if (j->contains("client_secret_expires_at") && (*j)["client_secret_expires_at"].is_number_integer()) {
    reg.client_secret_expires_at = (*j)["client_secret_expires_at"].get<long long>();
  }
  reg.source = "dcr";
  reg.redirect_uris = {opts_.redirect_uri};
  reg.registered_at = now_s();
  if (vault_) {
    if (auto put = vault_->put_client(reg); !put.ok()) return fail(put.error());
  }
  return reg;
}

Result<PendingAuthorization> OAuthClient::begin_authorization(const std::string& user_key, const std::string& upstream,
                                                              const std::string& server_url,
                                                              const BearerChallenge* challenge,
                                                              const std::vector<std::string>& previous_scopes) {
  if (!is_https_or_loopback(opts_.redirect_uri)) {
    return fail("redirect_uri \"" + opts_.redirect_uri + "\" must be an https URL or http on localhost");
  }
  auto d = discover_authorization(server_url, challenge);
  if (!d.ok()) return fail(d.error());
  auto reg = registration_for(d->as);
  if (!reg.ok()) return fail(reg.error());

  PendingAuthorization p;
  p.user_key = user_key;
  p.upstream = upstream;
  p.server_url = server_url;
  p.resource = d->resource;
  p.scopes = select_scopes(challenge ? challenge->scope : std::string(),
                           d->prm ? d->prm->scopes_supported : std::vector<std::string>{}, previous_scopes,
                           d->as.scopes_supported);
  p.issuer = d->as.issuer;
  p.iss_required = d->as.authorization_response_iss_parameter_supported;
  p.token_endpoint = d->as.token_endpoint;
  p.client = std::move(reg).value();
  p.client.token_endpoint_auth_method =
      resolve_token_auth_method(p.client, d->as.token_endpoint_auth_methods_supported);
  p.redirect_uri = opts_.redirect_uri;
  Pkce pkce = make_pkce();
  p.code_verifier = pkce.verifier;
  p.state = make_state();
  FormFields q = {{"response_type", "code"},
                  {"client_id", p.client.client_id},
                  {"redirect_uri", p.redirect_uri},
                  {"code_challenge", pkce.challenge},
                  {"code_challenge_method", Pkce::kMethod},
                  {"state", p.state}};
  if (!p.scopes.empty()) q.emplace_back("scope", join_scopes(p.scopes));
  q.emplace_back("resource", p.resource);
  p.url = append_query(d->as.authorization_endpoint, q);
  p.expires = std::chrono::steady_clock::now() + opts_.pending_lifetime;

  std::lock_guard lock(mu_);
  auto now = std::chrono::steady_clock::now();
  std::erase_if(pending_, [&](const auto& kv) { return kv.second.expires <= now; });
  if (pending_.size() >= kMaxPending) {
    return fail("too many authorizations in progress (" + std::to_string(kMaxPending) + "); try again later");
  }
  pending_[p.state] = p;
  return p;
}

Result<UpstreamCredential> OAuthClient::complete_authorization(const AuthorizationResponse& response) {
  PendingAuthorization p;
  {
    std::lock_guard lock(mu_);
    auto it = pending_.find(response.state);
    if (response.state.empty() || it == pending_.end()) {
      return fail("the authorization response's state matches no authorization in progress (unknown, already "
                  "used, or expired)");
    }
    p = std::move(it->second);
    pending_.erase(it);
  }
  if (p.expires <= std::chrono::steady_clock::now()) {
    return fail("the authorization for upstream '" + p.upstream + "' expired before it was completed");
  }
  // Mix-up defence first: with a wrong issuer nothing else in the response
  // is trusted, not even its error fields.
  if (auto iss = check_response_issuer(p.issuer, p.iss_required, response.iss); !iss.ok()) return fail(iss.error());
  if (!response.error.empty()) {
    std::string msg = "authorization server " + p.issuer + " answered error \"" + shown(response.error, 100) + "\"";
    if (!response.error_description.empty()) msg += ": " + shown(response.error_description);
    return fail(msg);
  }
  if (response.code.empty()) return fail("the authorization response from " + p.issuer + " has no code");
  CodeRedemption r{p.token_endpoint, response.code, p.code_verifier, p.redirect_uri, p.resource, p.client,
                   opts_.http_timeout};
  auto t = redeem_code(r);
  if (!t.ok()) {
    // A dynamically registered client the AS no longer knows: forget it, so
    // the next authorization registers afresh.
    if (p.client.source == "dcr" && vault_ && t.error().find("invalid_client") != std::string::npos) {
      (void)vault_->drop_client(p.issuer);
    }
    return fail(t.error());
  }
  return store(p, *t);
}

Result<UpstreamCredential> OAuthClient::store(const PendingAuthorization& p, const TokenResponse& t) {
  UpstreamCredential c;
  c.user_key = p.user_key;
  c.upstream = p.upstream;
  c.access_token = t.access_token;
  c.refresh_token = t.refresh_token;
  c.expires_at = t.expires_at;
  c.scopes = t.scopes.empty() ? p.scopes : t.scopes;
  c.issuer = p.issuer;
  c.resource = p.resource;
  c.token_endpoint = p.token_endpoint;
  c.client_id = p.client.client_id;
  if (vault_) {
    if (auto put = vault_->put(c); !put.ok()) return fail(put.error());
  }
  c.updated_at = now_s();
  return c;
}

Result<UpstreamCredential> OAuthClient::credential(const std::string& user_key, const std::string& upstream) {
  if (!vault_) return fail("no credential for upstream '" + upstream + "': no credential vault");
  auto got = vault_->get(user_key, upstream);
  if (!got.ok()) return fail(got.error());
  if (!got->has_value()) return fail("no credential for upstream '" + upstream + "'");
  UpstreamCredential c = std::move(**got);
  if (c.expires_at == 0 || now_s() + opts_.refresh_before_expiry.count() < c.expires_at) return c;
  if (c.refresh_token.empty()) {
    (void)vault_->drop(user_key, upstream);
    return fail("no credential for upstream '" + upstream + "': the stored token expired and there is no refresh token");
  }
  return refresh(user_key, upstream);
}

Result<UpstreamCredential> OAuthClient::refresh(const std::string& user_key, const std::string& upstream) {
  if (!vault_) return fail("no credential for upstream '" + upstream + "': no credential vault");
  auto got = vault_->get(user_key, upstream);
  if (!got.ok()) return fail(got.error());
  if (!got->has_value()) return fail("no credential for upstream '" + upstream + "'");
  UpstreamCredential c = std::move(**got);
  if (c.refresh_token.empty()) {
    (void)vault_->drop(user_key, upstream);
    return fail("no credential for upstream '" + upstream + "': the token was refused and there is no refresh token");
  }
  ClientRegistration client;
  if (auto pre = preregistered_for(c.issuer); pre && pre->client_id == c.client_id) {
    client = *pre;
  } else if (auto stored = vault_->client(c.issuer); stored.ok() && stored->has_value() &&
                                                     (*stored)->client_id == c.client_id) {
    client = **stored;
  } else {
    client.issuer = c.issuer;
    client.client_id = c.client_id;  // a public client (CIMD, or a forgotten registration)
  }
  TokenCall call;
  call.endpoint = c.token_endpoint;
  call.what = "refresh token";
  call.timeout = opts_.http_timeout;
  call.client = client;
  call.auth_method = resolve_token_auth_method(client, {});
  call.fields = {{"grant_type", "refresh_token"}, {"refresh_token", c.refresh_token}};
  if (!c.resource.empty()) call.fields.emplace_back("resource", c.resource);
  auto t = token_request(call);
  if (!t.ok()) {
    if (call.status >= 400 && call.status < 500) {
      (void)vault_->drop(user_key, upstream);
      return fail(t.error() + "; the stored credential was dropped, authorize again");
    }
    return fail(t.error());
  }
  c.access_token = t->access_token;
  if (!t->refresh_token.empty()) c.refresh_token = t->refresh_token;  // rotated
  c.expires_at = t->expires_at;
  if (!t->scopes.empty()) c.scopes = t->scopes;
  if (auto put = vault_->put(c); !put.ok()) return fail(put.error());
  c.updated_at = now_s();
  return c;
}

Result<bool> OAuthClient::revoke(const std::string& user_key, const std::string& upstream) {
  if (!vault_) return false;
  return vault_->drop(user_key, upstream);
}

}  // namespace portcullis::identity
