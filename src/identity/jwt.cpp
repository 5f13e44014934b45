#include "identity/jwt.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cmath>
#include <optional>

#include "core/base64.h"
#include "core/text.h"

namespace portcullis::identity {

using text::quote;

namespace {

Result<Json> decode_json_segment(std::string_view seg, const char* what) {
  auto bytes = base64url_decode(seg);
  if (!bytes) return fail(std::string("token ") + what + " is not valid base64url");
  Json j = Json::parse(*bytes, nullptr, false);
  if (j.is_discarded()) return fail(std::string("token ") + what + " is not valid JSON");
  if (!j.is_object()) return fail(std::string("token ") + what + " is not a JSON object");
  return j;
}

// A NumericDate claim: absent (nullopt), or a number; anything else fails.
Result<std::optional<long long>> numeric_date(const Json& claims, const char* name) {
  auto it = claims.find(name);
  if (it == claims.end()) return std::optional<long long>();
  if (!it->is_number()) return fail(std::string("token claim '") + name + "' must be a number");
  double v = it->get<double>();
  if (!std::isfinite(v) || std::abs(v) > 1e15)
    return fail(std::string("token claim '") + name + "' is out of range");
  return std::optional<long long>(static_cast<long long>(std::floor(v)));
}

// Audience values compare exactly, except that one trailing '/' is ignored
// ("https://gw" and "https://gw/" name the same resource).
bool same_audience(std::string_view a, std::string_view b) {
  if (!a.empty() && a.back() == '/') a.remove_suffix(1);
  if (!b.empty() && b.back() == '/') b.remove_suffix(1);
  return a == b;
}

std::string seconds(long long s) { return std::to_string(s) + " s"; }

}  // namespace

Result<Jwt> parse_jwt(std::string_view compact) {
  if (compact.empty()) return fail("empty bearer token");
  if (compact.size() > kMaxTokenBytes)
    return fail("token is " + std::to_string(compact.size()) + " bytes; the limit is " +
                std::to_string(kMaxTokenBytes));
  size_t d1 = compact.find('.');
  size_t d2 = d1 == std::string_view::npos ? d1 : compact.find('.', d1 + 1);
  if (d2 == std::string_view::npos || compact.find('.', d2 + 1) != std::string_view::npos)
    return fail("token is not a compact JWS (expected three base64url segments separated by '.')");
  Jwt t;
  auto header = decode_json_segment(compact.substr(0, d1), "header");
  if (!header) return fail(header.error());
  auto claims = decode_json_segment(compact.substr(d1 + 1, d2 - d1 - 1), "payload");
  if (!claims) return fail(claims.error());
  auto sig = base64url_decode(compact.substr(d2 + 1));
  if (!sig) return fail("token signature is not valid base64url");
  t.header = std::move(header).value();
  t.claims = std::move(claims).value();
  t.signature = std::move(*sig);
  auto alg = t.header.find("alg");
  if (alg == t.header.end() || !alg->is_string()) return fail("token header has no 'alg'");
  t.alg = alg->get<std::string>();
  if (auto kid = t.header.find("kid"); kid != t.header.end()) {
    if (!kid->is_string()) return fail("token header 'kid' must be a string");
    t.kid = kid->get<std::string>();
  }
  if (t.header.contains("crit"))
    return fail("token header has 'crit' extensions, which this gateway does not understand");
  if (t.signature.empty()) {
    // Unsecured JWS (alg none) carries an empty signature; say so plainly.
    return fail(t.alg == "none" ? "unsigned token (alg 'none') refused"
                                : "token has an empty signature");
  }
  t.signing_input = std::string(compact.substr(0, d2));
  return t;
}

Result<void> verify_signature(const Jwt& jwt, const Jwk& key) {
  if (jwt.alg != key.jws_alg())
    return fail("token alg " + quote(jwt.alg) + " cannot be verified with " + key.kind_name() +
                " key " + quote(key.kid()) + " (expects " + key.jws_alg() + ")");
  if (!key.verify(jwt.signing_input, jwt.signature)) return fail("token signature is invalid");
  return {};
}

Result<void> verify_hs256(const Jwt& jwt, std::string_view secret) {
  if (jwt.alg != "HS256") return fail("token alg " + quote(jwt.alg) + " is not HS256");
  if (secret.empty()) return fail("HS256 is not enabled");
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
            reinterpret_cast<const unsigned char*>(jwt.signing_input.data()),
            jwt.signing_input.size(), mac, &len))
    return fail("HS256 computation failed");
  if (jwt.signature.size() != len || CRYPTO_memcmp(mac, jwt.signature.data(), len) != 0)
    return fail("token signature is invalid");
  return {};
}

Result<void> check_claims(const Json& c, const ClaimRules& rules, long long now) {
  const long long leeway = rules.leeway.count();
  auto iss = c.find("iss");
  if (iss == c.end() || !iss->is_string()) return fail("token has no 'iss' claim");
  if (*iss != rules.issuer)
    return fail("token issuer '" + iss->get<std::string>() + "' is not the configured issuer '" +
                rules.issuer + "'");
  auto sub = c.find("sub");
  if (sub == c.end() || !sub->is_string() || sub->get_ref<const std::string&>().empty())
    return fail("token has no 'sub' claim");

  auto exp = numeric_date(c, "exp");
  if (!exp) return fail(exp.error());
  if (!*exp) return fail("token has no 'exp' claim");
  if (now > **exp + leeway) return fail("token expired " + seconds(now - **exp) + " ago");
  auto nbf = numeric_date(c, "nbf");
  if (!nbf) return fail(nbf.error());
  if (*nbf && now + leeway < **nbf)
    return fail("token is not valid for another " + seconds(**nbf - now));
  auto iat = numeric_date(c, "iat");
  if (!iat) return fail(iat.error());
  if (*iat && now + leeway < **iat)
    return fail("token was issued " + seconds(**iat - now) + " in the future");

  auto aud = c.find("aud");
  if (aud == c.end()) return fail("token has no 'aud' claim");
  std::vector<std::string> presented;
  if (aud->is_string()) {
    presented.push_back(aud->get<std::string>());
  } else if (aud->is_array()) {
    for (const Json& a : *aud)
      if (a.is_string()) presented.push_back(a.get<std::string>());
  } else {
    return fail("token claim 'aud' must be a string or an array of strings");
  }
  for (const auto& p : presented)
    for (const auto& want : rules.audiences)
      if (same_audience(p, want)) return {};
  std::string got;
  for (const auto& p : presented) got += (got.empty() ? "'" : ", '") + p + "'";
  return fail("audience " + (got.empty() ? std::string("(empty)") : got) +
              " does not name this resource ('" +
              (rules.audiences.empty() ? std::string() : rules.audiences.front()) + "')");
}

std::vector<std::string> scopes_of(const Json& c) {
  std::vector<std::string> out;
  if (auto it = c.find("scope"); it != c.end() && it->is_string()) {
    out = text::split_words(it->get_ref<const std::string&>());
  } else if (auto scp = c.find("scp"); scp != c.end()) {
    if (scp->is_string())
      out = text::split_words(scp->get_ref<const std::string&>());
    else if (scp->is_array())
      for (const Json& s : *scp)
        if (s.is_string()) out.push_back(s.get<std::string>());
  }
  return out;
}

const Json* find_claim(const Json& claims, std::string_view name) {
  if (auto it = claims.find(std::string(name)); it != claims.end()) return &*it;
  const Json* cur = &claims;
  size_t i = 0;
  while (i <= name.size()) {
    size_t j = name.find('.', i);
    if (j == std::string_view::npos) j = name.size();
    if (!cur->is_object()) return nullptr;
    auto it = cur->find(std::string(name.substr(i, j - i)));
    if (it == cur->end()) return nullptr;
    cur = &*it;
    i = j + 1;
  }
  return cur == &claims ? nullptr : cur;
}

}  // namespace portcullis::identity
