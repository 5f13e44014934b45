#include <doctest/doctest.h>

#include "core/crypto.h"
#include "identity/api_keys.h"

namespace doctest {
template <>
struct StringMaker<std::vector<std::string>> {
  static String convert(const std::vector<std::string>& v) {
    std::string out = "{";
    for (const auto& s : v) out += "\n  \"" + s + "\"";
    return (out + (v.empty() ? "}" : "\n}")).c_str();
  }
};
}  // namespace doctest

using namespace portcullis;
using namespace portcullis::identity;

namespace {

std::vector<std::string> errors_of(std::string_view yaml) {
  std::vector<std::string> out;
  for (const auto& d : ApiKeyStore::parse(yaml, "api_keys.yaml").errors) out.push_back(d.format());
  return out;
}

}  // namespace

TEST_CASE(
    "a generated key is pk_ plus 43 base64url characters and its YAML entry finds it by hash") {
  auto g = generate_api_key("ci-bot", "ci@example.com", {"ci", "deploy"}, {{"team", "platform"}});
  REQUIRE(g.ok());
  CHECK(g->key.size() == 46);
  CHECK(looks_like_api_key(g->key));
  CHECK(g->yaml_entry.find(g->key) == std::string::npos);  // the key itself is never written
  CHECK(g->yaml_entry.find("sha256:" + crypto::sha256_hex(g->key)) != std::string::npos);

  auto loaded = ApiKeyStore::parse(g->yaml_entry, "api_keys.yaml");
  REQUIRE(loaded.errors.empty());
  REQUIRE(loaded.store);
  const ApiKeyEntry* e = loaded.store->find(g->key);
  REQUIRE(e != nullptr);
  CHECK(e->id == "ci-bot");
  CHECK(e->subject == "ci@example.com");
  CHECK(e->groups == std::vector<std::string>{"ci", "deploy"});
  CHECK(e->metadata == std::map<std::string, std::string>{{"team", "platform"}});
  CHECK_FALSE(e->scopes.has_value());
  CHECK(loaded.store->find(g->key + "x") == nullptr);
  CHECK(loaded.store->find("") == nullptr);

  auto other = generate_api_key("ci-bot", "ci@example.com");
  REQUIRE(other.ok());
  CHECK(other->key != g->key);
  CHECK(generate_api_key("bad id", "x").error() ==
        "key id 'bad id' must use letters, digits, '_', '.' or '-'");
  CHECK(generate_api_key("k", "x", {}, {{"tenant", "a"}})
            .error()
            .find("'tenant' is not a metadata contract key") != std::string::npos);
}

TEST_CASE(
    "api_keys.yaml entries are looked up by the SHA-256 of the presented key, hash "
    "case-insensitively") {
  std::string h1 = crypto::sha256_hex("pk_one");
  std::string h2 = crypto::sha256_hex("pk_two");
  for (auto& c : h2) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  auto loaded = ApiKeyStore::parse("- id: one\n  hash: sha256:" + h1 +
                                       "\n  subject: alice\n  scopes: [mcp]\n"
                                       "- id: two\n  hash: sha256:" +
                                       h2 + "\n  subject: bob\n",
                                   "api_keys.yaml");
  REQUIRE(loaded.store);
  CHECK(loaded.store->entries().size() == 2);
  CHECK(loaded.store->find("pk_one")->subject == "alice");
  CHECK(*loaded.store->find("pk_one")->scopes == std::vector<std::string>{"mcp"});
  CHECK(loaded.store->find("pk_two")->subject == "bob");
  CHECK(loaded.store->find("pk_three") == nullptr);
  CHECK(loaded.store->find(h1) == nullptr);  // the hash is not a key
}

TEST_CASE("an empty api_keys.yaml is a store with no keys") {
  auto loaded = ApiKeyStore::parse("", "api_keys.yaml");
  REQUIRE(loaded.store);
  CHECK(loaded.store->entries().empty());
}

TEST_CASE("api_keys.yaml problems are reported with file and line, all at once") {
  std::string h = crypto::sha256_hex("pk_x");
  CHECK(
      errors_of("keys: []\n") ==
      std::vector<std::string>{
          "api_keys.yaml:1: expected a list of keys (- id: ..., hash: sha256:..., subject: ...)"});
  CHECK(errors_of("- id: a\n  hash: [\n") ==
        std::vector<std::string>{
            "api_keys.yaml:3: YAML syntax error: end of sequence flow not found"});
  CHECK(errors_of("- id: a b\n"
                  "  hash: md5:abc\n"
                  "  subject: ''\n"
                  "  secret: pk_x\n"
                  "- id: c\n"
                  "  hash: sha256:" +
                  h +
                  "\n"
                  "  subject: s\n"
                  "  metadata: {tenant: x, team: [a]}\n"
                  "  groups: admin\n"
                  "- id: d\n"
                  "  hash: sha256:" +
                  h +
                  "\n"
                  "  subject: s\n"
                  "- id: d\n"
                  "  subject: s\n") ==
        std::vector<std::string>{
            "api_keys.yaml:1: key[0]: id 'a b' must use letters, digits, '_', '.' or '-'",
            "api_keys.yaml:2: key[0]: 'hash' must be sha256: followed by 64 hex digits",
            "api_keys.yaml:3: key[0]: 'subject' must not be empty",
            "api_keys.yaml:4: key[0]: unknown key 'secret' (expected one of: id, hash, subject, "
            "groups, metadata, scopes)",
            "api_keys.yaml:8: key[1]: metadata key 'tenant' is not a metadata contract key "
            "(allowed: team, project_id, "
            "workflow, surface, environment, cost_center, ticket_id, session_id, policy_version)",
            "api_keys.yaml:8: key[1]: metadata.team must be a non-empty string",
            "api_keys.yaml:9: key[1]: 'groups' must be a list of strings",
            "api_keys.yaml:13: key[3]: missing required key 'hash'",
            "api_keys.yaml:13: key 'd' is already defined at line 10",
        });
}

TEST_CASE("duplicate ids and duplicate hashes across entries are errors at the second entry") {
  std::string h = crypto::sha256_hex("pk_x");
  CHECK(errors_of("- {id: a, hash: 'sha256:" + h +
                  "', subject: s}\n"
                  "- {id: b, hash: 'sha256:" +
                  h +
                  "', subject: s}\n"
                  "- {id: a, hash: 'sha256:" +
                  crypto::sha256_hex("pk_y") + "', subject: s}\n") ==
        std::vector<std::string>{"api_keys.yaml:2: key 'b' has the same hash as key 'a'",
                                 "api_keys.yaml:3: key 'a' is already defined at line 1"});
}
