#include <doctest/doctest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "identity/jwks.h"
#include "identity_fixtures.h"

using namespace portcullis;
using namespace portcullis::identity;
using idtest::IssuerServer;
using idtest::TestClock;

namespace {

JwksOptions options(const TestClock& clock) {
  JwksOptions o;
  o.clock = clock.fn();
  o.connect_timeout = std::chrono::milliseconds(2000);
  o.read_timeout = std::chrono::milliseconds(5000);
  o.min_refetch_interval = std::chrono::seconds(10);
  o.kid_miss_wait = std::chrono::milliseconds(0);  // the test clock moves; real time does not
  return o;
}

}  // namespace

TEST_CASE(
    "discovery URLs follow RFC 8414 path insertion and OIDC discovery, in the MCP spec's order") {
  CHECK(discovery_urls("https://as.example.com") ==
        std::vector<std::string>{"https://as.example.com/.well-known/oauth-authorization-server",
                                 "https://as.example.com/.well-known/openid-configuration"});
  CHECK(discovery_urls("https://as.example.com/") ==
        std::vector<std::string>{"https://as.example.com/.well-known/oauth-authorization-server",
                                 "https://as.example.com/.well-known/openid-configuration"});
  CHECK(discovery_urls("https://as.example.com/realms/dev") ==
        std::vector<std::string>{
            "https://as.example.com/.well-known/oauth-authorization-server/realms/dev",
            "https://as.example.com/.well-known/openid-configuration/realms/dev",
            "https://as.example.com/realms/dev/.well-known/openid-configuration"});
}

TEST_CASE("Cache-Control max-age is read among other directives; no-store and no-cache mean zero") {
  CHECK(cache_control_max_age("public, max-age=600") == std::chrono::seconds(600));
  CHECK(cache_control_max_age("Max-Age=\"30\"") == std::chrono::seconds(30));
  CHECK(cache_control_max_age("no-store") == std::chrono::seconds(0));
  CHECK(cache_control_max_age("max-age=abc") == std::nullopt);
  CHECK(cache_control_max_age("") == std::nullopt);
}

TEST_CASE(
    "the JWKS URL is discovered from issuer metadata (with a path) and keys are fetched once and "
    "cached") {
  IssuerServer as("/tenant-a");
  as.set_keys({&idtest::rsa_key(), &idtest::ec_key()});
  TestClock clock;
  JwksCache cache(as.issuer(), "", options(clock));
  auto k = cache.key("ec-1");
  REQUIRE(k.ok());
  CHECK(k->kind() == Jwk::Kind::EcP256);
  CHECK(cache.jwks_uri() == as.jwks_uri());
  CHECK(cache.key("rsa-1").ok());
  CHECK(as.metadata_fetches() == 1);
  CHECK(as.jwks_fetches() == 1);
}

TEST_CASE("metadata naming another issuer is refused") {
  IssuerServer as;
  as.set_metadata_issuer("https://evil.example.com");
  TestClock clock;
  JwksCache cache(as.issuer(), "", options(clock));
  auto k = cache.key("rsa-1");
  REQUIRE_FALSE(k.ok());
  CHECK(k.error() == "authorization server metadata at " + as.base() +
                         "/.well-known/oauth-authorization-server names issuer "
                         "'https://evil.example.com', not the "
                         "configured '" +
                         as.issuer() + "'");
  CHECK(as.jwks_fetches() == 0);
}

TEST_CASE("an unknown kid triggers exactly one refetch, and a rotated key is accepted after it") {
  IssuerServer as;
  as.set_keys({&idtest::rsa_key()});
  TestClock clock;
  JwksCache cache(as.issuer(), as.jwks_uri(), options(clock));
  REQUIRE(cache.key("rsa-1").ok());
  CHECK(as.jwks_fetches() == 1);

  // The issuer rotates: it now publishes rsa-2 beside rsa-1.
  as.set_keys({&idtest::rsa_key(), &idtest::rsa_key2()});
  clock.advance(11);
  auto k = cache.key("rsa-2");
  REQUIRE(k.ok());
  CHECK(k->kid() == "rsa-2");
  CHECK(as.jwks_fetches() == 2);
  CHECK(cache.key("rsa-2").ok());
  CHECK(cache.key("rsa-1").ok());
  CHECK(as.jwks_fetches() == 2);
}

TEST_CASE("unknown kids refetch at most once per 10 s, and the error says when it was fetched") {
  IssuerServer as;
  as.set_keys({&idtest::rsa_key()});
  TestClock clock;
  JwksCache cache(as.issuer(), as.jwks_uri(), options(clock));
  REQUIRE(cache.key("rsa-1").ok());  // fetch 1
  clock.advance(3);
  auto k = cache.key("made-up-1");
  CHECK(k.error() ==
        "no key with kid 'made-up-1' in the issuer's key set (fetched 3 s ago; refetches are "
        "limited to "
        "one per 10 s)");
  for (int i = 0; i < 20; ++i) CHECK_FALSE(cache.key("made-up-" + std::to_string(i)).ok());
  CHECK(as.jwks_fetches() == 1);
  clock.advance(8);
  k = cache.key("made-up-2");
  CHECK(k.error() == "no key with kid 'made-up-2' in the issuer's key set");
  CHECK(as.jwks_fetches() == 2);
  CHECK_FALSE(cache.key("made-up-3").ok());
  CHECK(as.jwks_fetches() == 2);
}

TEST_CASE("a key rotated in right after a fetch is followed: the lookup waits for the refetch window") {
  IssuerServer as;
  as.set_keys({&idtest::rsa_key()});
  JwksOptions o;  // the real clock: this waits for real
  o.min_refetch_interval = std::chrono::seconds(1);
  o.kid_miss_wait = std::chrono::milliseconds(1500);
  JwksCache cache(as.issuer(), as.jwks_uri(), o);
  REQUIRE(cache.key("rsa-1").ok());
  as.set_keys({&idtest::rsa_key(), &idtest::rsa_key2()});
  auto k = cache.key("rsa-2");  // inside the window: waits for it, then refetches
  REQUIRE(k.ok());
  CHECK(k->kid() == "rsa-2");
  CHECK(as.jwks_fetches() == 2);
}

TEST_CASE("concurrent callers with an unknown kid share one fetch") {
  IssuerServer as;
  as.set_keys({&idtest::rsa_key()});
  TestClock clock;
  JwksCache cache(as.issuer(), as.jwks_uri(), options(clock));
  REQUIRE(cache.key("rsa-1").ok());
  as.set_keys({&idtest::rsa_key(), &idtest::rsa_key2()});
  as.set_delay_ms(200);
  clock.advance(11);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i)
    threads.emplace_back([&] {
      if (cache.key("rsa-2").ok()) ++ok;
    });
  for (auto& t : threads) t.join();
  CHECK(ok == 8);
  CHECK(as.jwks_fetches() == 2);
}

TEST_CASE("a stale set is refreshed after its max-age, clamped to the configured bounds") {
  IssuerServer as;
  as.set_keys({&idtest::rsa_key()});
  as.set_cache_control("max-age=120");
  TestClock clock;
  JwksCache cache(as.issuer(), as.jwks_uri(), options(clock));
  REQUIRE(cache.key("rsa-1").ok());
  clock.advance(119);
  REQUIRE(cache.key("rsa-1").ok());
  CHECK(as.jwks_fetches() == 1);
  clock.advance(1);
  REQUIRE(cache.key("rsa-1").ok());
  CHECK(as.jwks_fetches() == 2);

  // max-age=1 is raised to the 60 s floor.
  as.set_cache_control("max-age=1");
  clock.advance(120);
  cache.refresh_if_stale();
  CHECK(as.jwks_fetches() == 3);
  clock.advance(30);
  cache.refresh_if_stale();
  CHECK(as.jwks_fetches() == 3);
  clock.advance(30);
  cache.refresh_if_stale();
  CHECK(as.jwks_fetches() == 4);
}

TEST_CASE("a failed refetch keeps the previous keys; a first fetch failure is reported") {
  IssuerServer as;
  as.set_keys({&idtest::rsa_key()});
  TestClock clock;
  JwksCache cache(as.issuer(), as.jwks_uri(), options(clock));
  REQUIRE(cache.key("rsa-1").ok());
  as.set_jwks_status(503);
  clock.advance(3601);
  CHECK(cache.key("rsa-1").ok());  // stale, refetch failed, old key still used
  CHECK(as.jwks_fetches() == 2);
  clock.advance(11);
  CHECK(cache.key("rsa-9").error() ==
        "no key with kid 'rsa-9' in the issuer's key set (refetch failed: cannot fetch "
        "the issuer's keys: " +
            as.jwks_uri() + " answered HTTP 503)");

  JwksCache fresh(as.issuer(), as.jwks_uri(), options(clock));
  CHECK(fresh.key("rsa-1").error() ==
        "cannot fetch the issuer's keys: " + as.jwks_uri() + " answered HTTP 503");
}

TEST_CASE("a token without kid uses the only key, and is refused when the set has several") {
  IssuerServer as;
  as.set_keys({&idtest::rsa_key()});
  TestClock clock;
  JwksCache one(as.issuer(), as.jwks_uri(), options(clock));
  CHECK(one.key("").ok());
  as.set_keys({&idtest::rsa_key(), &idtest::ec_key()});
  JwksCache two(as.issuer(), as.jwks_uri(), options(clock));
  CHECK(two.key("").error() == "token has no kid and the issuer's key set has 2 keys");
}
