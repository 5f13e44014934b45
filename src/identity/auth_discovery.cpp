#include "identity/auth_discovery.h"

#include <algorithm>

#include "core/text.h"
#include "identity/oauth_http.h"

namespace portcullis::identity {

namespace {

bool is_tchar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

std::vector<std::string> string_array(const Json& doc, const char* key) {
  std::vector<std::string> out;
  auto it = doc.find(key);
  if (it == doc.end() || !it->is_array()) return out;
  for (const auto& v : *it) {
    if (v.is_string()) out.push_back(v.get<std::string>());
  }
  return out;
}

std::string string_field(const Json& doc, const char* key) {
  auto it = doc.find(key);
  return it != doc.end() && it->is_string() ? it->get<std::string>() : std::string();
}

bool contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

std::string strip_trailing_slash(std::string path) {
  while (!path.empty() && path.back() == '/') path.pop_back();
  return path;
}

// scheme://host[:port] lower-cased, default port dropped: for comparing
// origins, never for building URLs.
std::string comparable_origin(const std::string& origin) {
  std::string o = text::to_lower(origin);
  if (text::starts_with(o, "http://") && o.size() > 3 && o.compare(o.size() - 3, 3, ":80") == 0) o.resize(o.size() - 3);
  if (text::starts_with(o, "https://") && o.size() > 4 && o.compare(o.size() - 4, 4, ":443") == 0) o.resize(o.size() - 4);
  return o;
}

// The body of a metadata fetch as a JSON object; nullopt when the URL has
// no document there (any non-200, or not JSON).
struct Fetched {
  std::optional<Json> doc;
  std::string note;  // why there was none, for the final error
};

Fetched fetch_json(const std::string& url) {
  HttpExchange x;
  x.url = url;
  x.headers.emplace_back("MCP-Protocol-Version", "2025-11-25");
  auto r = http_exchange(x);
  if (!r.ok()) return {std::nullopt, r.error()};
  if (r->status != 200) return {std::nullopt, url + " answered HTTP " + std::to_string(r->status)};
  auto j = r->json_object();
  if (!j) return {std::nullopt, url + " did not answer a JSON object"};
  return {std::move(j), ""};
}

Result<ProtectedResourceMetadata> parse_prm(const Json& doc, const std::string& url, std::string_view server_url) {
  ProtectedResourceMetadata m;
  m.url = url;
  m.resource = string_field(doc, "resource");
  m.authorization_servers = string_array(doc, "authorization_servers");
  m.scopes_supported = string_array(doc, "scopes_supported");
  if (m.resource.empty()) return fail("protected resource metadata at " + url + " has no \"resource\"");
  if (!resource_covers(m.resource, server_url)) {
    return fail("protected resource metadata at " + url + " is for resource \"" + m.resource +
                "\", not for this server (" + std::string(server_url) +
                "); refusing to authorize for it (RFC 9728 §3.3, RFC 8707)");
  }
  if (m.authorization_servers.empty()) {
    return fail("protected resource metadata at " + url + " lists no authorization_servers");
  }
  return m;
}

}  // namespace

std::optional<BearerChallenge> parse_bearer_challenge(std::string_view h) {
  BearerChallenge out;
  bool in_bearer = false, found = false;
  size_t i = 0;
  auto skip = [&] {
    while (i < h.size() && (h[i] == ' ' || h[i] == '\t' || h[i] == ',')) ++i;
  };
  while (true) {
    skip();
    if (i >= h.size()) break;
    size_t start = i;
    while (i < h.size() && is_tchar(h[i])) ++i;
    std::string token(h.substr(start, i - start));
    if (token.empty()) {  // stray character: skip it
      ++i;
      continue;
    }
    size_t j = i;
    while (j < h.size() && (h[j] == ' ' || h[j] == '\t')) ++j;
    if (j < h.size() && h[j] == '=' && !(j + 1 < h.size() && h[j + 1] == '=')) {
      // auth-param: token = token / quoted-string
      i = j + 1;
      while (i < h.size() && (h[i] == ' ' || h[i] == '\t')) ++i;
      std::string value;
      if (i < h.size() && h[i] == '"') {
        ++i;
        while (i < h.size() && h[i] != '"') {
          if (h[i] == '\\' && i + 1 < h.size()) ++i;
          value += h[i++];
        }
        ++i;
      } else {
        while (i < h.size() && h[i] != ',' && h[i] != ' ' && h[i] != '\t') value += h[i++];
      }
      if (!in_bearer) continue;
      std::string name = text::to_lower(token);
      if (name == "resource_metadata") out.resource_metadata = value;
      else if (name == "scope") out.scope = value;
      else if (name == "error") out.error = value;
      else if (name == "error_description") out.error_description = value;
      continue;
    }
    // A new challenge's scheme (possibly followed by a token68, skipped).
    if (found && in_bearer) break;
    in_bearer = text::to_lower(token) == "bearer";
    found = found || in_bearer;
  }
  if (!found) return std::nullopt;
  return out;
}

Result<UrlParts> split_url(std::string_view url) {
  if (!is_http_url(url)) return fail("not an http(s) URL: \"" + std::string(url) + "\"");
  size_t sep = url.find("://");
  size_t auth_end = url.find_first_of("/?#", sep + 3);
  UrlParts p;
  p.origin = std::string(url.substr(0, auth_end));
  if (auth_end == std::string_view::npos) return p;
  std::string_view rest = url.substr(auth_end);
  rest = rest.substr(0, rest.find('#'));
  size_t q = rest.find('?');
  p.path = std::string(rest.substr(0, q));
  if (q != std::string_view::npos) p.query = std::string(rest.substr(q));
  return p;
}

std::vector<std::string> protected_resource_metadata_urls(std::string_view server_url) {
  auto p = split_url(server_url);
  if (!p.ok()) return {};
  std::vector<std::string> out;
  std::string path = strip_trailing_slash(p->path);
  if (!path.empty()) out.push_back(p->origin + "/.well-known/oauth-protected-resource" + path);
  out.push_back(p->origin + "/.well-known/oauth-protected-resource");
  return out;
}

std::vector<std::string> authorization_server_metadata_urls(std::string_view issuer) {
  auto p = split_url(issuer);
  if (!p.ok()) return {};
  std::string path = strip_trailing_slash(p->path);
  if (path.empty()) {
    return {p->origin + "/.well-known/oauth-authorization-server", p->origin + "/.well-known/openid-configuration"};
  }
  return {p->origin + "/.well-known/oauth-authorization-server" + path,
          p->origin + "/.well-known/openid-configuration" + path,
          p->origin + path + "/.well-known/openid-configuration"};
}

std::string canonical_resource(std::string_view server_url) {
  auto p = split_url(server_url);
  if (!p.ok()) return std::string(server_url.substr(0, server_url.find('#')));
  if ((p->path.empty() || p->path == "/") && p->query.empty()) return p->origin;
  return p->origin + p->path + p->query;
}

bool resource_covers(std::string_view resource, std::string_view server_url) {
  auto r = split_url(resource);
  auto s = split_url(server_url);
  if (!r.ok() || !s.ok()) return false;
  if (comparable_origin(r->origin) != comparable_origin(s->origin)) return false;
  std::string rp = strip_trailing_slash(r->path), sp = strip_trailing_slash(s->path);
  return rp.empty() || sp == rp || text::starts_with(sp, rp + "/");
}

std::vector<std::string> split_scopes(std::string_view s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    size_t j = s.find_first_of(" \t", i);
    if (j == std::string_view::npos) j = s.size();
    if (j > i) {
      std::string scope(s.substr(i, j - i));
      if (!contains(out, scope)) out.push_back(std::move(scope));
    }
    i = j + 1;
  }
  return out;
}

std::string join_scopes(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out += ' ';
    out += s;
  }
  return out;
}

std::vector<std::string> select_scopes(std::string_view challenge_scope,
                                       const std::vector<std::string>& prm_scopes_supported,
                                       const std::vector<std::string>& previous,
                                       const std::vector<std::string>& as_scopes_supported) {
  std::vector<std::string> wanted = split_scopes(challenge_scope);
  if (wanted.empty()) wanted = prm_scopes_supported;
  std::vector<std::string> out;
  for (const auto& list : {previous, wanted}) {
    for (const auto& s : list) {
      if (!contains(out, s)) out.push_back(s);
    }
  }
  // A refresh token outlives the user's session; ask for one only where the
  // AS says the scope exists (SEP-2207: MUST NOT request it otherwise).
  if (contains(as_scopes_supported, "offline_access") && !contains(out, "offline_access")) {
    out.push_back("offline_access");
  }
  return out;
}

Result<AuthorizationServerMetadata> parse_authorization_server_metadata(const Json& doc,
                                                                        std::string_view expected_issuer) {
  AuthorizationServerMetadata m;
  m.issuer = string_field(doc, "issuer");
  if (m.issuer.empty()) return fail("authorization server metadata has no \"issuer\"");
  if (!expected_issuer.empty() && m.issuer != expected_issuer) {
    return fail("authorization server metadata names issuer \"" + m.issuer + "\" but was looked up for \"" +
                std::string(expected_issuer) + "\"; refusing to use it (RFC 8414 §3.3)");
  }
  m.authorization_endpoint = string_field(doc, "authorization_endpoint");
  m.token_endpoint = string_field(doc, "token_endpoint");
  m.registration_endpoint = string_field(doc, "registration_endpoint");
  for (auto [name, value] : {std::pair{"authorization_endpoint", &m.authorization_endpoint},
                             std::pair{"token_endpoint", &m.token_endpoint}}) {
    if (value->empty()) return fail("authorization server " + m.issuer + " publishes no " + name);
    if (!is_http_url(*value)) {
      return fail("authorization server " + m.issuer + ": " + name + " \"" + *value + "\" is not an http(s) URL");
    }
  }
  if (!m.registration_endpoint.empty() && !is_http_url(m.registration_endpoint)) {
    return fail("authorization server " + m.issuer + ": registration_endpoint \"" + m.registration_endpoint +
                "\" is not an http(s) URL");
  }
  for (const std::string* e : {&m.authorization_endpoint, &m.token_endpoint, &m.registration_endpoint}) {
    if (!e->empty() && !is_https_or_loopback(*e)) {
      return fail("authorization server " + m.issuer + ": endpoint \"" + *e +
                  "\" is not served over https (MCP requires HTTPS; plain http only on loopback)");
    }
  }
  m.scopes_supported = string_array(doc, "scopes_supported");
  m.code_challenge_methods_supported = string_array(doc, "code_challenge_methods_supported");
  m.token_endpoint_auth_methods_supported = string_array(doc, "token_endpoint_auth_methods_supported");
  m.grant_types_supported = string_array(doc, "grant_types_supported");
  m.client_id_metadata_document_supported = doc.value("client_id_metadata_document_supported", false) == true;
  m.authorization_response_iss_parameter_supported =
      doc.value("authorization_response_iss_parameter_supported", false) == true;
  if (!contains(m.code_challenge_methods_supported, "S256")) {
    return fail("authorization server " + m.issuer +
                " does not advertise PKCE S256 in code_challenge_methods_supported; MCP clients must not "
                "proceed without it");
  }
  return m;
}

Result<AuthorizationServerMetadata> discover_issuer(const std::string& issuer) {
  if (!is_http_url(issuer)) return fail("authorization server \"" + issuer + "\" is not an http(s) URL");
  std::vector<std::string> notes;
  for (const auto& url : authorization_server_metadata_urls(issuer)) {
    auto f = fetch_json(url);
    if (!f.doc) {
      notes.push_back(f.note);
      continue;
    }
    auto as = parse_authorization_server_metadata(*f.doc, issuer);
    if (!as.ok()) return fail(as.error() + " (from " + url + ")");
    as->url = url;
    return as;
  }
  std::string why;
  for (const auto& n : notes) why += (why.empty() ? "" : "; ") + n;
  return fail("no authorization server metadata found for issuer " + issuer + " (" + why + ")");
}

Result<AuthDiscovery> discover_authorization(std::string_view server_url, const BearerChallenge* challenge) {
  if (!is_http_url(server_url)) return fail("not an http(s) MCP server URL: \"" + std::string(server_url) + "\"");
  std::vector<std::string> prm_urls;
  if (challenge && !challenge->resource_metadata.empty()) {
    if (!is_http_url(challenge->resource_metadata)) {
      return fail("the server's challenge names resource_metadata \"" + challenge->resource_metadata +
                  "\", which is not an http(s) URL");
    }
    prm_urls.push_back(challenge->resource_metadata);
  }
  for (auto& u : protected_resource_metadata_urls(server_url)) {
    if (!contains(prm_urls, u)) prm_urls.push_back(std::move(u));
  }

  AuthDiscovery d;
  std::vector<std::string> notes;
  for (const auto& url : prm_urls) {
    auto f = fetch_json(url);
    if (!f.doc) {
      notes.push_back(f.note);
      continue;
    }
    auto prm = parse_prm(*f.doc, url, server_url);
    if (!prm.ok()) return fail(prm.error());
    d.prm = std::move(prm).value();
    break;
  }

  if (d.prm) {
    d.resource = d.prm->resource;
    auto as = discover_issuer(d.prm->authorization_servers.front());
    if (!as.ok()) return fail(as.error());
    d.as = std::move(as).value();
    return d;
  }

  // 2025-03-26: no PRM. The MCP server's origin is the authorization server;
  // its metadata (RFC 8414) sits at the origin, else the default endpoints.
  auto parts = split_url(server_url);
  if (!parts.ok()) return fail(parts.error());
  d.resource = canonical_resource(server_url);
  std::string meta_url = parts->origin + "/.well-known/oauth-authorization-server";
  auto f = fetch_json(meta_url);
  if (f.doc) {
    auto as = parse_authorization_server_metadata(*f.doc, "");
    if (!as.ok()) return fail(as.error() + " (from " + meta_url + ")");
    d.as = std::move(as).value();
    d.as.url = meta_url;
    return d;
  }
  d.as.issuer = parts->origin;
  d.as.authorization_endpoint = parts->origin + "/authorize";
  d.as.token_endpoint = parts->origin + "/token";
  d.as.registration_endpoint = parts->origin + "/register";
  d.as.code_challenge_methods_supported = {"S256"};
  return d;
}

}  // namespace portcullis::identity
