// The authorize stage: what a Cedar request built from a principal, a target
// and a call looks like to policies, how entities.json merges with token
// claims, approvals, and which tools a principal gets listed.
#include <doctest/doctest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "pipeline/policy_stage.h"

using namespace portcullis;
using namespace portcullis::pipeline;
namespace fs = std::filesystem;

namespace {

using Files = std::map<std::string, std::string>;

// A config dir whose policies/ holds `files`; removed on destruction.
struct PolicyDir {
  std::string dir;
  explicit PolicyDir(std::map<std::string, std::string> files) {
    char tmpl[] = "/tmp/pc-policy-stage-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    dir = tmpl;
    fs::create_directories(dir + "/policies");
    for (const auto& [name, text] : files) std::ofstream(dir + "/policies/" + name) << text;
  }
  ~PolicyDir() { fs::remove_all(dir); }
  std::shared_ptr<const PolicyStage> load() const {
    auto s = PolicyStage::load(dir);
    REQUIRE_MESSAGE(s.ok(), (s.ok() ? "" : s.error()));
    return s.value();
  }
};

identity::Principal user(const std::string& sub, std::vector<std::string> groups,
                         std::map<std::string, std::string> metadata = {}) {
  identity::Principal p;
  p.method = identity::AuthMethod::Bearer;
  p.subject = sub;
  p.issuer = "https://issuer.example";
  p.groups = std::move(groups);
  p.metadata = std::move(metadata);
  return p;
}

PolicyTarget tool(const std::string& name) { return {"Tool", "main", name, "ev", "orig-" + name}; }

const std::string kNoIp;

}  // namespace

TEST_CASE("without .cedar files there is no stage, so everything is allowed") {
  PolicyDir d(Files{{"readme.txt", "not a policy"}});
  CHECK(d.load() == nullptr);
}

TEST_CASE("a broken policy file fails the load with file:line:col") {
  PolicyDir d(Files{{"a.cedar", "permit(principal, action, resource);\n"},
                    {"b.cedar", "\n\npermit(principal, action,);\n"}});
  auto s = PolicyStage::load(d.dir);
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().find("policies/b.cedar:3:") != std::string::npos);
}

TEST_CASE(
    "the principal is a User in its Groups, the resource a Tool in its Server, with attributes") {
  PolicyDir d(Files{{"p.cedar", R"(
@id("eng-main")
permit (principal in Group::"eng", action == Action::"call_tool", resource in Server::"main")
when { resource.upstream == "ev" && resource.original == "orig-echo" && resource.name == "echo" &&
       principal.issuer == "https://issuer.example" && principal.groups.contains("eng") };
)"}});
  auto stage = d.load();
  auto alice = user("alice", {"eng"});
  auto bob = user("bob", {"support"});
  PolicyVerdict yes =
      stage->authorize({alice, kNoIp}, PolicyAction::CallTool, tool("echo"), Json::object());
  CHECK(yes.allow);
  CHECK(yes.policy_ids == std::vector<std::string>{"eng-main"});
  CHECK(yes.approval.empty());
  PolicyVerdict no =
      stage->authorize({bob, kNoIp}, PolicyAction::CallTool, tool("echo"), Json::object());
  CHECK_FALSE(no.allow);
  CHECK(no.reason() == "no policy permits it (default deny)");
  CHECK_FALSE(
      stage->authorize({alice, kNoIp}, PolicyAction::ListTools, tool("echo"), Json::object())
          .allow);
}

TEST_CASE("context carries the arguments, the metadata, the time and the client IP") {
  PolicyDir d(Files{{"p.cedar", R"(
@id("small")
permit (principal, action, resource)
when { context.arguments.amount < 500 && context.metadata.team == "payments" && context.time > 1700000000 &&
       context.client_ip.isInRange(ip("10.0.0.0/8")) };
@id("no-batch")
forbid (principal, action, resource) when { context.arguments has mode && context.arguments.mode == "batch" };
)"}});
  auto stage = d.load();
  auto alice = user("alice", {}, {{"team", "payments"}});
  const std::string inside = "10.1.2.3", mapped = "::ffff:10.1.2.3", outside = "192.168.1.1";
  auto args = [](const char* text) { return Json::parse(text); };
  CHECK(stage
            ->authorize({alice, inside}, PolicyAction::CallTool, tool("pay"),
                        args(R"({"amount": 20})"))
            .allow);
  CHECK(stage
            ->authorize({alice, mapped}, PolicyAction::CallTool, tool("pay"),
                        args(R"({"amount": 20})"))
            .allow);
  CHECK_FALSE(stage
                  ->authorize({alice, outside}, PolicyAction::CallTool, tool("pay"),
                              args(R"({"amount": 20})"))
                  .allow);
  CHECK_FALSE(stage
                  ->authorize({alice, inside}, PolicyAction::CallTool, tool("pay"),
                              args(R"({"amount": 900})"))
                  .allow);
  PolicyVerdict batch = stage->authorize({alice, inside}, PolicyAction::CallTool, tool("pay"),
                                         args(R"({"amount": 20, "mode": "batch"})"));
  CHECK_FALSE(batch.allow);
  CHECK(batch.policy_ids == std::vector<std::string>{"no-batch"});
  CHECK(batch.reason() == "forbidden by policy no-batch");
  // No client IP: the permit errors, is skipped, and the error is reported.
  PolicyVerdict unknown = stage->authorize({alice, kNoIp}, PolicyAction::CallTool, tool("pay"),
                                           args(R"({"amount": 20})"));
  CHECK_FALSE(unknown.allow);
  REQUIRE(unknown.errors.size() == 1);
  CHECK(unknown.errors[0].rfind("small: ", 0) == 0);
}

TEST_CASE(
    "entities.json adds attributes and parents to the token's User, and the token wins on "
    "conflicts") {
  PolicyDir d(Files{{"p.cedar", R"(
@id("cleared-admins")
permit (principal in Group::"admins", action, resource in Server::"main")
when { principal.clearance >= 3 && principal.subject == "alice" };
@id("risky")
forbid (principal, action, resource) when { resource has risk && resource.risk == "high" };
)"},
                    {"entities.json", R"([
  {"uid": {"type": "User", "id": "alice"}, "attrs": {"clearance": 3, "subject": "forged"}, "parents": [{"type": "Group", "id": "ops"}]},
  {"uid": {"type": "Group", "id": "ops"}, "attrs": {}, "parents": [{"type": "Group", "id": "admins"}]},
  {"uid": {"type": "Tool", "id": "main/drop"}, "attrs": {"risk": "high"}, "parents": []}
])"}});
  auto stage = d.load();
  auto alice = user("alice", {});
  CHECK(
      stage->authorize({alice, kNoIp}, PolicyAction::CallTool, tool("echo"), Json::object()).allow);
  // The tool's file attributes count too.
  CHECK_FALSE(
      stage->authorize({alice, kNoIp}, PolicyAction::CallTool, tool("drop"), Json::object()).allow);
  // A group from the token reaches the file's hierarchy as well.
  auto carol = user("carol", {"ops"});
  CHECK_FALSE(stage->authorize({carol, kNoIp}, PolicyAction::CallTool, tool("echo"), Json::object())
                  .allow);  // no clearance
}

TEST_CASE("a deciding permit with @approval asks first; one without does not") {
  PolicyDir d(Files{{"p.cedar", R"(
@id("all")
permit (principal, action, resource);
@id("refunds-ask")
@approval("payments-lead")
permit (principal, action == Action::"call_tool", resource == Tool::"main/refund");
)"}});
  auto stage = d.load();
  auto alice = user("alice", {});
  PolicyVerdict refund =
      stage->authorize({alice, kNoIp}, PolicyAction::CallTool, tool("refund"), Json::object());
  CHECK(refund.allow);
  CHECK(refund.approval == "payments-lead");
  CHECK(refund.policy_ids == std::vector<std::string>{"all", "refunds-ask"});
  CHECK(stage->authorize({alice, kNoIp}, PolicyAction::CallTool, tool("echo"), Json::object())
            .approval.empty());
}

TEST_CASE("chat is decided on a Model") {
  PolicyDir d(Files{
      {"p.cedar",
       R"(permit (principal in Group::"eng", action == Action::"chat", resource == Model::"gpt-small");)"}});
  auto stage = d.load();
  CHECK(
      stage->authorize_chat({user("alice", {"eng"}), kNoIp}, "gpt-small", "openai", Json::object())
          .allow);
  CHECK_FALSE(
      stage->authorize_chat({user("alice", {"eng"}), kNoIp}, "gpt-large", "openai", Json::object())
          .allow);
}

TEST_CASE("tools/list shows a tool when some call to it could be allowed, and hides the rest") {
  PolicyDir d(Files{{"p.cedar", R"(
@id("small-sums")
permit (principal in Group::"eng", action == Action::"call_tool", resource == Tool::"main/sum")
when { context.arguments.a < 100 };
@id("echo")
permit (principal, action == Action::"call_tool", resource == Tool::"main/echo");
@id("no-echo-listing-for-bots")
forbid (principal in Group::"bots", action == Action::"list_tools", resource == Tool::"main/echo");
@id("never-big")
forbid (principal, action == Action::"call_tool", resource == Tool::"main/sum") when { context.arguments.a > 1000 };
@id("no-secrets")
forbid (principal, action, resource == Tool::"main/secret");
@id("all-secret")
permit (principal, action, resource == Tool::"main/secret");
)"}});
  auto stage = d.load();
  config::VirtualServerConfig vs;
  vs.name = "main";
  config::SourceSelection from_ev;
  from_ev.upstream = "ev";
  vs.tools.push_back(from_ev);
  auto up = std::make_shared<compose::UpstreamCatalog>();
  for (const char* n : {"echo", "secret", "sum", "other"})
    up->tools.push_back({{"name", n}, {"inputSchema", {{"type", "object"}}}});
  std::vector<std::string> problems;
  auto cat = compose::VirtualCatalog::build(vs, {{"ev", up}}, &problems);
  auto names = [&](const identity::Principal& p) {
    std::vector<std::string> out;
    for (const auto& t : stage->visible({p, kNoIp}, "main", *cat, compose::ListKind::Tools)->items)
      out.push_back(t["name"].get<std::string>());
    return out;
  };
  CHECK(names(user("alice", {"eng"})) == std::vector<std::string>{"echo", "sum"});
  CHECK(names(user("bob", {})) == std::vector<std::string>{"echo"});
  CHECK(names(user("robot", {"bots", "eng"})) == std::vector<std::string>{"sum"});
  // Cached per principal: the same answer again, and templates are not filtered.
  CHECK(names(user("alice", {"eng"})) == std::vector<std::string>{"echo", "sum"});
  // What was hidden, and which forbids did it (none for "other": no permit).
  auto robot = stage->visible({user("robot", {"bots", "eng"}), kNoIp}, "main", *cat,
                              compose::ListKind::Tools);
  CHECK(robot->hidden == std::vector<std::string>{"echo", "secret", "other"});
  CHECK(robot->policy_ids == std::vector<std::string>{"no-echo-listing-for-bots", "no-secrets"});
  auto bob = stage->visible({user("bob", {}), kNoIp}, "main", *cat, compose::ListKind::Tools);
  CHECK(bob->hidden == std::vector<std::string>{"secret", "sum", "other"});
  CHECK(bob->policy_ids == std::vector<std::string>{"no-secrets"});
  CHECK(stage->visible({user("alice", {}), kNoIp}, "main", *cat,
                       compose::ListKind::ResourceTemplates) == nullptr);
}
