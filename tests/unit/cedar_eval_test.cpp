// Cedar expression semantics, one operator at a time, each checked through a
// one-policy set: `permit(...) when { EXPR };` is allowed exactly when EXPR
// is true, and reports an error when EXPR errors.
#include <doctest/doctest.h>

#include "policy/json_format.h"
#include "policy/policy_set.h"

using namespace portcullis;
using namespace portcullis::policy;

namespace {

enum class Outcome { True, False, Error };

const Entities& fixture_entities() {
  static const Entities ents = [] {
    auto list = entities_from_json(Json::parse(R"([
      {"uid": {"type": "User", "id": "alice"},
       "attrs": {"dept": "payments", "level": 3, "roles": ["admin", "dev"],
                 "ip": {"__extn": {"fn": "ip", "arg": "10.1.2.3"}},
                 "boss": {"__entity": {"type": "User", "id": "bob"}}},
       "parents": [{"type": "Group", "id": "payments"}], "tags": {"env": "prod"}},
      {"uid": {"type": "Group", "id": "payments"}, "attrs": {}, "parents": [{"type": "Group", "id": "all"}]},
      {"uid": {"type": "Group", "id": "all"}, "attrs": {}, "parents": []},
      {"uid": {"type": "Tool", "id": "billing/refund"}, "attrs": {"owner": "payments"}, "parents": [{"type": "Server", "id": "billing"}]}
    ])"));
    return Entities::build(std::move(list.value())).value();
  }();
  return ents;
}

Request fixture_request() {
  auto r = request_from_json(Json::parse(R"({
    "principal": {"type": "User", "id": "alice"}, "action": {"type": "Action", "id": "call_tool"},
    "resource": {"type": "Tool", "id": "billing/refund"},
    "context": {"amount": 420, "name": "refund", "flags": ["a", "b"], "nested": {"x": {"y": 1}},
                "price": {"__extn": {"fn": "decimal", "arg": "12.50"}}, "max": 9223372036854775807}})"));
  return r.value();
}

Outcome eval(const std::string& expr) {
  auto set = CedarPolicySet::parse("permit(principal, action, resource) when { " + expr + " };");
  REQUIRE_MESSAGE(set.ok(), expr << ": " << (set.ok() ? "" : set.error()));
  Decision d = set->authorize(fixture_request(), fixture_entities());
  if (!d.errors.empty()) return Outcome::Error;
  return d.allow ? Outcome::True : Outcome::False;
}

#define IS_TRUE(e) CHECK_MESSAGE(eval(e) == Outcome::True, e)
#define IS_FALSE(e) CHECK_MESSAGE(eval(e) == Outcome::False, e)
#define ERRORS(e) CHECK_MESSAGE(eval(e) == Outcome::Error, e)

}  // namespace

TEST_CASE("boolean operators short-circuit and demand booleans") {
  IS_TRUE("true && !false");
  IS_FALSE("false && (1 + true)");  // right side never evaluated
  IS_TRUE("true || context.missing");
  ERRORS("false || 1");
  ERRORS("1 && true");
  ERRORS("!1");
  IS_TRUE("if context.amount > 400 then true else 1");
  ERRORS("if 1 then true else false");
}

TEST_CASE("arithmetic is 64-bit and overflow is an error") {
  IS_TRUE("1 + 2 * 3 == 7");
  IS_TRUE("context.amount - 500 == -80");
  IS_TRUE("-9223372036854775808 == -9223372036854775807 - 1");
  ERRORS("context.max + 1 > 0");
  ERRORS("context.max * 2 > 0");
  ERRORS("-(-9223372036854775807 - 1) > 0");
  ERRORS("\"a\" + 1 == 1");
}

TEST_CASE("comparisons order longs only; == is false across types") {
  IS_TRUE("1 < 2 && 2 <= 2 && 3 > 2 && 3 >= 3");
  ERRORS("\"a\" < \"b\"");
  IS_FALSE("1 == \"1\"");
  IS_TRUE("1 != true");
  IS_TRUE("[1, 2, 2] == [2, 1]");
  IS_TRUE("{a: 1, b: [true]} == {b: [true], a: 1}");
  IS_FALSE("User::\"alice\" == \"alice\"");
}

TEST_CASE("has and attribute access on records and entities") {
  IS_TRUE("context has amount && context.amount == 420");
  IS_FALSE("context has missing");
  ERRORS("context.missing == 1");
  IS_TRUE("principal.dept == \"payments\" && principal[\"level\"] == 3");
  ERRORS("principal.nope == 1");
  IS_FALSE("User::\"ghost\" has dept");
  ERRORS("User::\"ghost\".dept == \"x\"");  // entity does not exist
  IS_TRUE("context has nested.x.y");
  IS_FALSE("context has nested.x.z");
  ERRORS("1 has a");
  IS_TRUE("principal.boss == User::\"bob\"");
}

TEST_CASE("like matches whole strings with * wildcards and \\* literals") {
  IS_TRUE("context.name like \"re*\"");
  IS_TRUE("context.name like \"*f*d\"");
  IS_FALSE("context.name like \"re\"");
  IS_TRUE("\"a*b\" like \"a\\*b\"");
  IS_FALSE("\"axb\" like \"a\\*b\"");
  IS_TRUE("\"\" like \"*\"");
  ERRORS("1 like \"*\"");
}

TEST_CASE("in walks the entity hierarchy transitively") {
  IS_TRUE("principal in Group::\"all\"");
  IS_TRUE("principal in principal");
  IS_FALSE("principal in Group::\"other\"");
  IS_TRUE("principal in [Group::\"x\", Group::\"payments\"]");
  ERRORS("principal in [Group::\"payments\", 1]");
  ERRORS("1 in Group::\"all\"");
  IS_TRUE("resource in Server::\"billing\"");
  IS_FALSE("User::\"ghost\" in Group::\"all\"");
}

TEST_CASE("is tests the entity type, optionally with in") {
  IS_TRUE("principal is User");
  IS_FALSE("principal is Group");
  IS_TRUE("principal is User in Group::\"all\"");
  IS_FALSE("resource is Tool in Server::\"docs\"");
  ERRORS("1 is User");
}

TEST_CASE("sets: contains, containsAll, containsAny, isEmpty") {
  IS_TRUE("principal.roles.contains(\"admin\")");
  IS_FALSE("principal.roles.contains(\"root\")");
  IS_TRUE("principal.roles.containsAll([\"dev\"])");
  IS_FALSE("principal.roles.containsAll([\"dev\", \"root\"])");
  IS_TRUE("context.flags.containsAny([\"z\", \"b\"])");
  IS_TRUE("[].isEmpty() && ![1].isEmpty()");
  ERRORS("context.name.contains(\"r\")");
  ERRORS("[1].containsAll(1)");
}

TEST_CASE("ipaddr: parsing, family, loopback, multicast, ranges") {
  IS_TRUE("ip(\"10.0.0.1\").isIpv4() && ip(\"::1\").isIpv6()");
  IS_TRUE("ip(\"127.0.0.1/8\").isLoopback() && ip(\"::1\").isLoopback()");
  IS_FALSE("ip(\"127.0.0.0/7\").isLoopback()");
  IS_TRUE("ip(\"224.1.2.3\").isMulticast() && ip(\"ff02::1\").isMulticast()");
  IS_TRUE("principal.ip.isInRange(ip(\"10.0.0.0/8\"))");
  IS_FALSE("ip(\"10.0.0.0/7\").isInRange(ip(\"10.0.0.0/8\"))");
  IS_FALSE("ip(\"10.0.0.1\").isInRange(ip(\"::/0\"))");
  IS_FALSE("ip(\"10.0.0.1/24\") == ip(\"10.0.0.0/24\")");
  ERRORS("ip(\"01.2.3.4\").isIpv4()");
  ERRORS("ip(\"::ffff:1.2.3.4\").isIpv6()");
  ERRORS("ip(\"10.0.0.1/33\").isIpv4()");
  ERRORS("decimal(\"1.0\").isIpv4()");
}

TEST_CASE("decimal: four places, comparisons by method only") {
  IS_TRUE("context.price.greaterThan(decimal(\"12.4999\"))");
  IS_TRUE("decimal(\"1.23\") == decimal(\"1.2300\")");
  IS_TRUE(
      "decimal(\"-0.5\").lessThan(decimal(\"0.0\")) && "
      "decimal(\"2.0\").lessThanOrEqual(decimal(\"2.0\"))");
  IS_TRUE("decimal(\"2.0\").greaterThanOrEqual(decimal(\"2.0\"))");
  ERRORS("decimal(\"1.12345\") == decimal(\"1.0\")");
  ERRORS("decimal(\"1\") == decimal(\"1.0\")");
  ERRORS("decimal(\"922337203685477.5808\") == decimal(\"1.0\")");
  ERRORS("decimal(\"1.0\") < decimal(\"2.0\")");
  ERRORS("ip(\"1.2.3.4\").lessThan(decimal(\"1.0\"))");
}

TEST_CASE("tags: hasTag is false for missing entities, getTag errors on a missing tag") {
  IS_TRUE("principal.hasTag(\"env\") && principal.getTag(\"env\") == \"prod\"");
  IS_FALSE("User::\"ghost\".hasTag(\"env\")");
  ERRORS("principal.getTag(\"nope\") == 1");
  ERRORS("context.getTag(\"x\") == 1");
}

TEST_CASE("records and sets are built from expressions") {
  IS_TRUE("{a: context.amount, \"b c\": [principal]}[\"b c\"].contains(User::\"alice\")");
  IS_TRUE("[context.amount, 420].contains(420)");
}

TEST_CASE("like: an escaped backslash before * leaves the * a wildcard") {
  IS_FALSE("\"x*y\" like \"x\\\\*y\"");  // pattern: `\` then wildcard then y
  IS_TRUE("\"x\\\\abcy\" like \"x\\\\*y\"");
  IS_TRUE("\"tab\\there\" like \"tab\\t*\"");
}

TEST_CASE("an extension call with the wrong number of arguments parses and errors when evaluated") {
  ERRORS("ip() == 1");
  ERRORS("decimal(\"1.0\", \"2.0\") == 1");
  ERRORS("ip(\"1.2.3.4\").isInRange()");
  ERRORS("ip(\"1.2.3.4\").isIpv4(1)");
  IS_FALSE("false && ip(\"1.2.3.4\").isIpv4(1)");
}
