// Test fixtures for the identity tests: real keys generated with OpenSSL,
// tokens signed in-test, a movable clock, and a real HTTP server on
// 127.0.0.1 serving issuer metadata and a JWKS. Nothing here is a stand-in
// for gateway code: it plays the authorization server.
#pragma once
#include <httplib.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

#include "core/json.h"
#include "core/base64.h"
#include "identity/clock.h"

namespace idtest {

using portcullis::Json;
using portcullis::base64url_encode;

inline std::string bn_bytes(const EVP_PKEY* k, const char* name, int pad = 0) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(k, name, &bn) != 1) throw std::runtime_error("EVP_PKEY_get_bn_param");
  std::string out(pad ? pad : BN_num_bytes(bn), '\0');
  BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(out.size()));
  BN_free(bn);
  return out;
}

// A signing key pair, as an issuer holds it.
class TestKey {
 public:
  enum class Kind { Rsa, Ec };
  TestKey(Kind kind, std::string kid, int rsa_bits = 2048) : kind_(kind), kid_(std::move(kid)) {
    EVP_PKEY* k =
        kind == Kind::Rsa ? EVP_RSA_gen(static_cast<unsigned>(rsa_bits)) : EVP_EC_gen("P-256");
    if (!k) throw std::runtime_error("key generation failed");
    pkey_.reset(k, EVP_PKEY_free);
  }
  const std::string& kid() const { return kid_; }
  const char* alg() const { return kind_ == Kind::Rsa ? "RS256" : "ES256"; }

  // The public JWK, with kid (unless `with_kid` is false).
  Json jwk(bool with_kid = true) const {
    Json j;
    if (kind_ == Kind::Rsa) {
      j = {{"kty", "RSA"},
           {"n", base64url_encode(bn_bytes(pkey_.get(), OSSL_PKEY_PARAM_RSA_N))},
           {"e", base64url_encode(bn_bytes(pkey_.get(), OSSL_PKEY_PARAM_RSA_E))}};
    } else {
      j = {{"kty", "EC"},
           {"crv", "P-256"},
           {"x", base64url_encode(bn_bytes(pkey_.get(), OSSL_PKEY_PARAM_EC_PUB_X, 32))},
           {"y", base64url_encode(bn_bytes(pkey_.get(), OSSL_PKEY_PARAM_EC_PUB_Y, 32))}};
    }
    if (with_kid) j["kid"] = kid_;
    j["use"] = "sig";
    return j;
  }

  // SubjectPublicKeyInfo PEM: what an attacker would use as an HMAC secret.
  std::string public_pem() const {
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(bio, pkey_.get());
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    std::string out(data, static_cast<size_t>(n));
    BIO_free(bio);
    return out;
  }

  // A compact JWS with header {alg, kid} (plus `extra_header`) over `claims`.
  std::string sign(const Json& claims, Json header = Json::object()) const {
    if (!header.contains("alg")) header["alg"] = alg();
    if (!header.contains("kid") && !kid_.empty()) header["kid"] = kid_;
    std::string input = base64url_encode(header.dump()) + "." + base64url_encode(claims.dump());
    return input + "." + base64url_encode(raw_signature(input));
  }

  std::string raw_signature(const std::string& input) const {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    size_t len = 0;
    EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, pkey_.get());
    EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()),
                   input.size());
    std::string sig(len, '\0');
    EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                   reinterpret_cast<const unsigned char*>(input.data()), input.size());
    sig.resize(len);
    EVP_MD_CTX_free(ctx);
    if (kind_ == Kind::Rsa) return sig;
    // DER ECDSA-Sig-Value -> JOSE r||s.
    const unsigned char* p = reinterpret_cast<const unsigned char*>(sig.data());
    ECDSA_SIG* es = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
    std::string raw(64, '\0');
    BN_bn2binpad(ECDSA_SIG_get0_r(es), reinterpret_cast<unsigned char*>(raw.data()), 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(es), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
    ECDSA_SIG_free(es);
    return raw;
  }

 private:
  Kind kind_;
  std::string kid_;
  std::shared_ptr<EVP_PKEY> pkey_;
};

// Keys are slow to generate; each test binary makes these once.
inline const TestKey& rsa_key() {
  static TestKey k(TestKey::Kind::Rsa, "rsa-1");
  return k;
}
inline const TestKey& rsa_key2() {
  static TestKey k(TestKey::Kind::Rsa, "rsa-2");
  return k;
}
inline const TestKey& ec_key() {
  static TestKey k(TestKey::Kind::Ec, "ec-1");
  return k;
}

inline std::string hs256_token(const std::string& secret, const Json& claims,
                               Json header = Json::object()) {
  if (!header.contains("alg")) header["alg"] = "HS256";
  std::string input = base64url_encode(header.dump()) + "." + base64url_encode(claims.dump());
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
  return input + "." + base64url_encode(std::string(reinterpret_cast<char*>(mac), len));
}

inline std::string unsigned_token(const Json& claims) {
  return base64url_encode(Json{{"alg", "none"}}.dump()) + "." + base64url_encode(claims.dump()) +
         ".";
}

// A wall clock the test moves by hand. Copies share the time.
class TestClock {
 public:
  explicit TestClock(long long start = 1'800'000'000)
      : t_(std::make_shared<std::atomic<long long>>(start)) {}
  portcullis::identity::WallClock fn() const {
    auto t = t_;
    return [t] { return std::chrono::system_clock::time_point(std::chrono::seconds(t->load())); };
  }
  long long now() const { return t_->load(); }
  void advance(long long s) { *t_ += s; }

 private:
  std::shared_ptr<std::atomic<long long>> t_;
};

// An authorization server on 127.0.0.1 (port 0): RFC 8414 metadata at
// /.well-known/oauth-authorization-server{path} and the JWKS at /jwks.
// Counts JWKS fetches; the served key set can be replaced (rotation).
class IssuerServer {
 public:
  explicit IssuerServer(std::string issuer_path = "") : path_(std::move(issuer_path)) {
    svr_.Get("/jwks", [this](const httplib::Request&, httplib::Response& res) {
      std::lock_guard l(mu_);
      ++jwks_fetches_;
      if (!cache_control_.empty()) res.set_header("Cache-Control", cache_control_);
      if (delay_ms_) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms_));
      res.status = jwks_status_;
      res.set_content(jwks_.dump(), "application/json");
    });
    svr_.Get("/.well-known/oauth-authorization-server" + path_, [this](const httplib::Request&,
                                                                       httplib::Response& res) {
      std::lock_guard l(mu_);
      ++metadata_fetches_;
      res.set_content(Json{{"issuer", metadata_issuer_.empty() ? issuer() : metadata_issuer_},
                           {"jwks_uri", base() + "/jwks"}}
                          .dump(),
                      "application/json");
    });
    port_ = svr_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { svr_.listen_after_bind(); });
    // stop() is a no-op until the accept loop runs: wait for it.
    while (!svr_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~IssuerServer() {
    svr_.stop();
    thread_.join();
  }
  std::string base() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string issuer() const { return base() + path_; }
  std::string jwks_uri() const { return base() + "/jwks"; }

  void set_keys(const std::vector<const TestKey*>& keys) {
    Json arr = Json::array();
    for (auto* k : keys) arr.push_back(k->jwk());
    set_jwks(Json{{"keys", arr}});
  }
  void set_jwks(Json j) {
    std::lock_guard l(mu_);
    jwks_ = std::move(j);
  }
  void set_cache_control(std::string v) {
    std::lock_guard l(mu_);
    cache_control_ = std::move(v);
  }
  void set_metadata_issuer(std::string v) {
    std::lock_guard l(mu_);
    metadata_issuer_ = std::move(v);
  }
  void set_jwks_status(int s) {
    std::lock_guard l(mu_);
    jwks_status_ = s;
  }
  void set_delay_ms(int ms) {
    std::lock_guard l(mu_);
    delay_ms_ = ms;
  }
  int jwks_fetches() {
    std::lock_guard l(mu_);
    return jwks_fetches_;
  }
  int metadata_fetches() {
    std::lock_guard l(mu_);
    return metadata_fetches_;
  }

 private:
  std::string path_;
  httplib::Server svr_;
  std::thread thread_;
  int port_ = 0;
  std::mutex mu_;
  Json jwks_ = Json{{"keys", Json::array()}};
  std::string cache_control_;
  std::string metadata_issuer_;
  int jwks_status_ = 200;
  int delay_ms_ = 0;
  int jwks_fetches_ = 0;
  int metadata_fetches_ = 0;
};

}  // namespace idtest
