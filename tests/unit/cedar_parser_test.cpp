// Parsing Cedar policy text: scopes, annotations, ids, and file:line:col
// diagnostics for what Cedar rejects.
#include <doctest/doctest.h>

#include "policy/parser.h"
#include "policy/policy_set.h"

using namespace portcullis;
using namespace portcullis::policy;

namespace {

std::string parse_error(const std::string& text) {
  auto r = parse_policies(text, "p.cedar");
  return r.ok() ? "" : r.error();
}

}  // namespace

TEST_CASE("scopes parse into their constraint kinds") {
  auto r = parse_policies(R"(
    permit(principal == User::"a", action in [Action::"x", Action::"y"], resource is Tool in Server::"s");
    forbid(principal in Group::"g", action == Action::"z", resource is ns::Tool);
    permit(principal, action in Action::"grp", resource);
  )",
                          "p.cedar");
  REQUIRE(r.ok());
  const auto& ps = r.value();
  REQUIRE(ps.size() == 3);
  CHECK(ps[0].principal.kind == ScopeConstraint::Kind::Eq);
  CHECK(ps[0].principal.entities[0] == EntityUid{"User", "a"});
  CHECK(ps[0].action.kind == ScopeConstraint::Kind::In);
  CHECK(ps[0].action.entities.size() == 2);
  CHECK(ps[0].resource.kind == ScopeConstraint::Kind::IsIn);
  CHECK(ps[0].resource.type == "Tool");
  CHECK_FALSE(ps[1].permit);
  CHECK(ps[1].resource.kind == ScopeConstraint::Kind::Is);
  CHECK(ps[1].resource.type == "ns::Tool");
  CHECK(ps[2].principal.kind == ScopeConstraint::Kind::Any);
}

TEST_CASE("ids come from @id, else policyN by position") {
  auto r = parse_policies(R"(@id("first") permit(principal, action, resource);
    permit(principal, action, resource);
    @approval("lead") @id("third") forbid(principal, action, resource);)",
                          "p.cedar", 10);
  REQUIRE(r.ok());
  CHECK(r.value()[0].id == "first");
  CHECK(r.value()[1].id == "policy11");
  CHECK(r.value()[2].id == "third");
  CHECK(r.value()[2].annotations.at("approval") == "lead");
}

TEST_CASE("annotations are readable from the policy set") {
  auto set = CedarPolicySet::parse(
      R"(@id("refund") @approval("payments-lead") permit(principal, action, resource);)");
  REQUIRE(set.ok());
  CHECK(set->annotation("refund", "approval") == std::optional<std::string>("payments-lead"));
  CHECK_FALSE(set->annotation("refund", "nope").has_value());
  CHECK_FALSE(set->annotation("other", "approval").has_value());
}

TEST_CASE("errors carry file:line:col") {
  CHECK(parse_error("permit(principal, action, resource)\n  when { 1 < 2 < 3 };") ==
        "p.cedar:2:16: multiple relational operators (>, ==, in, etc.) must be used with "
        "parentheses to make ordering explicit");
  CHECK(parse_error("permit(principal, action, resource) when { foo(1) };")
            .starts_with("p.cedar:1:44: `foo` is not a valid function"));
  CHECK(parse_error("permit(principal, action, resource) when { \"a\".bar() };")
            .starts_with("p.cedar:1:48: `bar` is not a valid method"));
  CHECK(
      parse_error("permit(principal, action, resource)").starts_with("p.cedar:1:36: expected `;`"));
  CHECK(parse_error("allow(principal, action, resource);")
            .starts_with("p.cedar:1:1: expected `permit` or `forbid`"));
  CHECK(parse_error("permit(principal, action == User::\"x\", resource);").find("type `Action`") !=
        std::string::npos);
  CHECK(parse_error("permit(principal, action, resource) when { {a: 1, a: 2} == {} };")
            .find("duplicate key") != std::string::npos);
  CHECK(parse_error("permit(principal, action, resource) when { 9223372036854775808 == 1 };")
            .find("too large") != std::string::npos);
  CHECK(parse_error("@id(\"a\") @id(\"b\") permit(principal, action, resource);")
            .find("duplicate annotation") != std::string::npos);
  CHECK(parse_error("permit(principal, action, resource) when { \"\\q\" == 1 };")
            .find("invalid escape") != std::string::npos);
  CHECK(parse_error("permit(principal == ?principal, action, resource);").find("templates") !=
        std::string::npos);
}

TEST_CASE("two policies with the same id are refused") {
  auto set = CedarPolicySet::parse(
      "@id(\"x\") permit(principal, action, resource);\n@id(\"x\") forbid(principal, action, "
      "resource);");
  REQUIRE_FALSE(set.ok());
  CHECK(set.error().find("duplicate policy id `x`") != std::string::npos);
}

TEST_CASE("comments, string escapes and negative literals") {
  auto r = parse_policies(
      "// leading\npermit(principal, action, resource) // trailing\nwhen { \"\\u{48}\\x41\\n\" == "
      "\"HA\\n\" && -5 < --5 };",
      "p.cedar");
  CHECK(r.ok());
}

TEST_CASE("reserved words cannot name attributes, keys or types; unary operators stop at four") {
  CHECK(parse_error("permit(principal, action, resource) when { context.if == 1 };")
            .find("reserved") != std::string::npos);
  CHECK(parse_error("permit(principal, action, resource) when { context has then };")
            .find("reserved") != std::string::npos);
  CHECK(parse_error("permit(principal, action, resource) when { {true: 1} == {} };")
            .find("reserved") != std::string::npos);
  CHECK(parse_error("permit(principal, action, resource) when { context.__cedar };")
            .find("__cedar") != std::string::npos);
  CHECK(parse_error("permit(principal, action, resource) when { !!!!!true };")
            .find("too many occurrences of `!`") != std::string::npos);
  CHECK(parse_error("permit(principal, action, resource) when { !-1 == 1 };")
            .find("unexpected token") != std::string::npos);
  CHECK(
      parse_error("permit(principal, action, resource) when { !!!!true && ----1 == 1 };").empty());
  CHECK(
      parse_error("permit(principal, action, resource) when { {\"if\": 1} has \"if\" };").empty());
  CHECK(parse_error("permit(principal, action, resource) when { [1].contains() };")
            .find("requires exactly 1") != std::string::npos);
}

TEST_CASE("strings may span lines, and later tokens keep their line numbers") {
  CHECK(parse_error("permit(principal, action, resource,)\nwhen { \"a\nb\" == \"\" };").empty());
  CHECK(parse_error("permit(principal, action, resource) when { \"a\nb\" == };")
            .starts_with("p.cedar:2:7: "));
}
