#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>

#include "compose/pinning.h"

using namespace portcullis;
using namespace portcullis::compose;

namespace {
Json tool(const std::string& name, const std::string& description) {
  return {{"name", name}, {"description", description}, {"inputSchema", {{"type", "object"}}}};
}
struct TempDb {
  TempDb() {
    char tmpl[] = "/tmp/portcullis-pins-test-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    dir = tmpl;
  }
  ~TempDb() { std::filesystem::remove_all(dir); }
  std::string path() const { return dir + "/pins.db"; }
  std::string dir;
};
}  // namespace

TEST_CASE("the pin hash covers description, schemas and annotations but not other fields") {
  Json t = tool("a", "x");
  std::string h = pin_hash(t);
  CHECK(h.size() == 64);
  Json extra = t;
  extra["_meta"] = {{"k", 1}};
  CHECK(pin_hash(extra) == h);
  Json annotated = t;
  annotated["annotations"] = {{"destructiveHint", true}};
  CHECK(pin_hash(annotated) != h);
  CHECK(pin_hash(tool("a", "y")) != h);
}

TEST_CASE("describe_change names every pinned field that changed") {
  Json a = tool("a", "x");
  Json b = tool("a", "y");
  CHECK(describe_change(a, b) == "description changed");
  b["inputSchema"]["properties"] = {{"p", {{"type", "string"}}}};
  b["annotations"] = {{"readOnlyHint", false}};
  CHECK(describe_change(a, b) == "description, inputSchema and annotations changed");
}

TEST_CASE("first sight approves, a change is pending until approved, and a revert clears it") {
  TempDb t;
  auto store = PinStore::open(t.path());
  REQUIRE(store.ok());
  auto& s = *store.value();

  auto first = s.check("up", {tool("a", "x"), tool("b", "y")});
  REQUIRE(first.ok());
  CHECK(first.value().changes.empty());

  auto changed = s.check("up", {tool("a", "EVIL"), tool("b", "y")});
  REQUIRE(changed.ok());
  CHECK(changed.value().changes == PinChanges{{{"up", "a"}, "description changed"}});
  REQUIRE(changed.value().newly_changed.size() == 1);
  CHECK(changed.value().newly_changed[0].tool == "a");

  // Seen again: still a change, but not newly noticed.
  auto again = s.check("up", {tool("a", "EVIL"), tool("b", "y")});
  CHECK(again.value().changes.size() == 1);
  CHECK(again.value().newly_changed.empty());

  auto pins = s.list();
  REQUIRE(pins.ok());
  REQUIRE(pins.value().size() == 2);
  CHECK(pins.value()[0].tool == "a");
  CHECK(pins.value()[0].change == "description changed");
  CHECK(pins.value()[1].pending_hash.empty());

  // The upstream reverts: nothing pending any more.
  CHECK(s.check("up", {tool("a", "x")}).value().changes.empty());
  CHECK(s.list().value()[0].pending_hash.empty());

  // Change again, approve: the new definition is the approved one.
  s.check("up", {tool("a", "v2")});
  CHECK(s.approve("up", "a").value() == 1);
  CHECK(s.approve("up", "a").value() == 0);
  CHECK(s.check("up", {tool("a", "v2")}).value().changes.empty());
  CHECK(s.list().value()[0].hash == pin_hash(tool("a", "v2")));
}

TEST_CASE("approvals made by another connection are noticed") {
  TempDb t;
  auto gateway = PinStore::open(t.path());
  auto cli = PinStore::open(t.path());
  REQUIRE(gateway.ok());
  REQUIRE(cli.ok());
  gateway.value()->check("up", {tool("a", "x")});
  gateway.value()->check("up", {tool("a", "y")});
  CHECK_FALSE(gateway.value()->changed_elsewhere());  // its own writes do not count
  CHECK(cli.value()->approve("up", "").value() == 1);
  CHECK(gateway.value()->changed_elsewhere());
  CHECK_FALSE(gateway.value()->changed_elsewhere());
  CHECK(gateway.value()->check("up", {tool("a", "y")}).value().changes.empty());
}
