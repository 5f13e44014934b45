// Plain JSON (tool arguments, claims) as Cedar values: the mapping, and that
// no JSON can pass for an entity or extension value.
#include <doctest/doctest.h>

#include "core/json.h"
#include "policy/plain_json.h"
#include "policy/policy_set.h"

using namespace portcullis;
using namespace portcullis::policy;

TEST_CASE("objects become records, arrays sets, integers longs, and nulls are left out") {
  Value v = value_from_plain_json(
      Json::parse(R"({"a": 1, "b": "x", "c": [3, 1, 3, null], "d": null, "e": {"f": true}})"));
  REQUIRE(v.is(Value::Kind::Record));
  const auto& r = v.as_record();
  CHECK(r.size() == 4);
  CHECK(r.at("a") == Value(int64_t{1}));
  CHECK(r.at("b") == Value("x"));
  CHECK(r.at("c") == Value::set({Value(1), Value(3)}));
  CHECK(r.count("d") == 0);
  CHECK(r.at("e").as_record().at("f") == Value(true));
}

TEST_CASE("fractions become decimals when exact to four places, else their JSON text") {
  CHECK(value_from_plain_json(Json::parse("12.5")) == Value(Decimal{125000}));
  CHECK(value_from_plain_json(Json::parse("-0.0001")) == Value(Decimal{-1}));
  CHECK(value_from_plain_json(Json::parse("0.00001")) == Value("1e-05"));
  CHECK(value_from_plain_json(Json::parse("1e300")).is(Value::Kind::String));
  CHECK(value_from_plain_json(Json::parse("18446744073709551615")) ==
        Value("18446744073709551615"));
  CHECK(value_from_plain_json(Json::parse("-9223372036854775808")) == Value(INT64_MIN));
}

TEST_CASE("an __entity or __extn escape in arguments stays a plain record") {
  Value forged =
      value_from_plain_json(Json::parse(R"({"__entity": {"type": "User", "id": "root"}})"));
  CHECK(forged.is(Value::Kind::Record));
  Value extn = value_from_plain_json(Json::parse(R"({"__extn": {"fn": "ip", "arg": "10.0.0.1"}})"));
  CHECK(extn.is(Value::Kind::Record));

  auto set = CedarPolicySet::parse(
      R"(permit(principal, action, resource) when { context.owner == User::"root" };)");
  REQUIRE(set.ok());
  Request r{{"User", "mallory"},
            {"Action", "call_tool"},
            {"Tool", "t"},
            Value::record({{"owner", value_from_plain_json(Json::parse(
                                         R"({"__entity": {"type": "User", "id": "root"}})"))}})};
  CHECK_FALSE(set->authorize(r).allow);
}
