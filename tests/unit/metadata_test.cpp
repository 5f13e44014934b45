#include <doctest/doctest.h>

#include "identity/metadata.h"

using namespace portcullis;
using namespace portcullis::identity;
using Map = std::map<std::string, std::string>;

namespace {

config::MetadataSettings settings(std::vector<std::string> required, config::UntaggedPolicy p) {
  config::MetadataSettings s;
  s.required = std::move(required);
  s.untagged = p;
  return s;
}

std::string header_error(std::string_view h) {
  auto r = parse_metadata_header(h);
  return r ? "" : r.error();
}

}  // namespace

TEST_CASE("the metadata header is a JSON object of non-empty strings under contract keys") {
  CHECK(parse_metadata_header(R"({"team":"infra","workflow":"triage"})").value() ==
        Map{{"team", "infra"}, {"workflow", "triage"}});
  CHECK(parse_metadata_header("").value().empty());
  CHECK(header_error("[\"team\"]") ==
        "X-Portcullis-Metadata must be a JSON object of string values");
  CHECK(header_error("{team: infra}") == "X-Portcullis-Metadata is not valid JSON");
  CHECK(header_error(R"({"team": 7})") ==
        "X-Portcullis-Metadata: the value of 'team' must be a string");
  CHECK(header_error(R"({"team": ""})") ==
        "X-Portcullis-Metadata: the value of 'team' must not be empty");
  CHECK(header_error(R"({"tenant":"a","team":"b","user":"c"})") ==
        "X-Portcullis-Metadata: unknown keys 'tenant', 'user' (allowed: team, project_id, "
        "workflow, surface, "
        "environment, cost_center, ticket_id, session_id, policy_version)");
  std::string big = R"({"ticket_id":")" + std::string(8200, 'x') + "\"}";
  CHECK(header_error(big) ==
        "X-Portcullis-Metadata is " + std::to_string(big.size()) + " bytes; the limit is 8192");
}

TEST_CASE("identity fields from claims or the key entry win over the header") {
  auto m = build_metadata(R"({"team":"spoofed","workflow":"triage"})", {{"team", "infra"}},
                          settings({}, config::UntaggedPolicy::Reject));
  REQUIRE(m.ok());
  CHECK(m->values == Map{{"team", "infra"}, {"workflow", "triage"}});
  CHECK(m->untagged.empty());
}

TEST_CASE("missing required keys are tagged UNTAGGED or refused with their names, as configured") {
  auto tagged =
      build_metadata(R"({"team":"infra"})", {},
                     settings({"team", "project_id", "environment"}, config::UntaggedPolicy::Tag));
  REQUIRE(tagged.ok());
  CHECK(tagged->values ==
        Map{{"team", "infra"}, {"project_id", "UNTAGGED"}, {"environment", "UNTAGGED"}});
  CHECK(tagged->untagged == std::vector<std::string>{"project_id", "environment"});

  auto refused = build_metadata(
      R"({"team":"infra"})", {},
      settings({"team", "project_id", "environment"}, config::UntaggedPolicy::Reject));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error() ==
        "missing required metadata: project_id, environment (send them in X-Portcullis-Metadata)");

  // A required key supplied by a claim needs no header.
  CHECK(build_metadata("", {{"project_id", "p1"}},
                       settings({"project_id"}, config::UntaggedPolicy::Reject))
            .ok());
  // An invalid header is refused even when nothing is required.
  CHECK(build_metadata("nope", {}, settings({}, config::UntaggedPolicy::Tag)).error() ==
        "X-Portcullis-Metadata is not valid JSON");
}
