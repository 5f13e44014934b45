// Decisions over policy sets: default deny, forbid overrides permit, errors
// skip a policy and are reported, scope matching, and per-request entities
// in an overlay on the loaded ones.
#include <doctest/doctest.h>

#include <atomic>
#include <thread>

#include "policy/policy_set.h"

using namespace portcullis;
using namespace portcullis::policy;

namespace {

Request call(const std::string& user, const std::string& tool, ValueRecord ctx = {}) {
  return Request{
      {"User", user}, {"Action", "call_tool"}, {"Tool", tool}, Value::record(std::move(ctx))};
}

CedarPolicySet parse(const std::string& text) {
  auto s = CedarPolicySet::parse(text);
  REQUIRE_MESSAGE(s.ok(), (s.ok() ? "" : s.error()));
  return std::move(s.value());
}

}  // namespace

TEST_CASE("no policy matching means deny with no reasons") {
  auto set = parse(R"(permit(principal == User::"bob", action, resource);)");
  Decision d = set.authorize(call("alice", "t"), Entities{});
  CHECK_FALSE(d.allow);
  CHECK(d.reasons.empty());
  CHECK(d.errors.empty());
}

TEST_CASE("forbid overrides permit and only forbids are the reasons") {
  auto set = parse(R"(@id("p") permit(principal, action, resource);
                      @id("f") forbid(principal, action, resource) when { context.amount > 10 };)");
  Decision allowed = set.authorize(call("a", "t", {{"amount", 5}}), Entities{});
  CHECK(allowed.allow);
  CHECK(allowed.reasons == std::vector<std::string>{"p"});
  Decision denied = set.authorize(call("a", "t", {{"amount", 50}}), Entities{});
  CHECK_FALSE(denied.allow);
  CHECK(denied.reasons == std::vector<std::string>{"f"});
}

TEST_CASE("an erroring forbid is skipped and reported, so the permit still allows") {
  auto set = parse(R"(@id("p") permit(principal, action, resource);
                      @id("f") forbid(principal, action, resource) when { context.amount > 10 };)");
  Decision d = set.authorize(call("a", "t"), Entities{});
  CHECK(d.allow);
  REQUIRE(d.errors.size() == 1);
  CHECK(d.errors[0].policy_id == "f");
  CHECK(d.errors[0].message.find("amount") != std::string::npos);
}

TEST_CASE("unless inverts its condition; all conditions must hold") {
  auto set =
      parse(R"(permit(principal, action, resource) when { context.a } unless { context.b };)");
  CHECK(set.authorize(call("u", "t", {{"a", true}, {"b", false}}), Entities{}).allow);
  CHECK_FALSE(set.authorize(call("u", "t", {{"a", true}, {"b", true}}), Entities{}).allow);
  CHECK_FALSE(set.authorize(call("u", "t", {{"a", false}, {"b", false}}), Entities{}).allow);
}

TEST_CASE("a scope that does not match never evaluates the condition") {
  auto set =
      parse(R"(permit(principal == User::"bob", action, resource) when { context.missing };)");
  Decision d = set.authorize(call("alice", "t"), Entities{});
  CHECK(d.errors.empty());
}

TEST_CASE("per-request entities in an overlay reach groups of the loaded entities") {
  auto base = std::make_shared<const Entities>(
      Entities::build({{{"Group", "payments"}, {}, {{"Group", "staff"}}, {}},
                       {{"Tool", "billing/refund"}, {}, {{"Server", "billing"}}, {}}})
          .value());
  auto overlay = Entities::build(
      {{{"User", "pat"}, {{"team", "payments"}}, {{"Group", "payments"}}, {}}}, base);
  REQUIRE(overlay.ok());
  auto set = parse(
      R"(permit(principal in Group::"staff", action == Action::"call_tool", resource in Server::"billing")
                      when { principal.team == "payments" };)");
  CHECK(set.authorize(call("pat", "billing/refund"), overlay.value()).allow);
  CHECK_FALSE(set.authorize(call("pat", "docs/read"), overlay.value()).allow);
  CHECK_FALSE(set.authorize(call("pat", "billing/refund"), *base).allow);
}

TEST_CASE("duplicate entities are refused") {
  auto e = Entities::build({{{"User", "a"}, {}, {}, {}}, {{"User", "a"}, {}, {}, {}}});
  CHECK_FALSE(e.ok());
}

TEST_CASE("a policy set answers from many threads at once with the same decisions") {
  auto set2 = parse(R"(permit(principal, action, resource) when { context.n < 500 };)");
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        int n = (i * 7 + t) % 1000;
        if (set2.authorize(call("u", "x", {{"n", n}}), Entities{}).allow != (n < 500)) ++wrong;
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(wrong == 0);
}

TEST_CASE("a cycle in the entity hierarchy is refused, as Cedar does") {
  auto e = Entities::build({{{"G", "a"}, {}, {{"G", "b"}}, {}},
                            {{"G", "b"}, {}, {{"G", "c"}}, {}},
                            {{"G", "c"}, {}, {{"G", "a"}}, {}}});
  REQUIRE_FALSE(e.ok());
  CHECK(e.error().find("cycle") != std::string::npos);
}

TEST_CASE("ancestors are transitive through several levels") {
  auto e = Entities::build({{{"U", "u"}, {}, {{"G", "a"}}, {}},
                            {{"G", "a"}, {}, {{"G", "b"}}, {}},
                            {{"G", "b"}, {}, {{"G", "c"}}, {}}});
  REQUIRE(e.ok());
  CHECK(e->in({"U", "u"}, {"G", "c"}));
  CHECK(e->in({"G", "a"}, {"G", "c"}));
  CHECK_FALSE(e->in({"G", "c"}, {"U", "u"}));
}

TEST_CASE("policies filed by their == scopes still all count, reported in policy order") {
  auto set = parse(R"(@id("by-resource") permit(principal, action, resource == Tool::"t");
                      @id("general") permit(principal, action, resource);
                      @id("by-principal") permit(principal == User::"u", action, resource);
                      @id("by-action") permit(principal, action == Action::"call_tool", resource);
                      @id("other-resource") permit(principal, action, resource == Tool::"x");
                      @id("err") forbid(principal == User::"u", action, resource) when { context.nope };)");
  Decision d = set.authorize(call("u", "t"), Entities{});
  CHECK(d.allow);
  CHECK(d.reasons ==
        std::vector<std::string>{"by-resource", "general", "by-principal", "by-action"});
  REQUIRE(d.errors.size() == 1);
  CHECK(d.errors[0].policy_id == "err");
}
