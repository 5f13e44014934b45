#include <doctest/doctest.h>

#include "compose/catalog.h"
#include "compose/naming.h"

using namespace portcullis;
using namespace portcullis::compose;

TEST_CASE("legal names pass through unchanged") {
  CHECK(legal_name("ev_echo") == "ev_echo");
  CHECK(legal_name("get-sum") == "get-sum");
}

TEST_CASE("illegal characters are replaced with underscores") {
  CHECK(legal_name("files.read file") == "files_read_file");
  CHECK(legal_name("a/b:c") == "a_b_c");
  CHECK(is_legal_name(legal_name("ümlaut")));
}

TEST_CASE("overlong names are shortened to 64 characters with a stable hash suffix") {
  std::string long_name(80, 'x');
  std::string a = legal_name(long_name);
  CHECK(a.size() == 64);
  CHECK(is_legal_name(a));
  CHECK(a == legal_name(long_name));  // stable
  CHECK(a.substr(0, 55) == std::string(55, 'x'));
  CHECK(a[55] == '_');
  // Two long names sharing the first 55 characters still differ.
  CHECK(legal_name(std::string(70, 'x') + "a") != legal_name(std::string(70, 'x') + "b"));
}

TEST_CASE("exposed_name applies rename first, then prefix with an underscore") {
  std::string rename = "add";
  CHECK(exposed_name("get-sum", "ev", &rename) == "add");
  CHECK(exposed_name("echo", "ev", nullptr) == "ev_echo");
  CHECK(exposed_name("echo", "", nullptr) == "echo");
}

namespace {
config::SourceSelection sel(std::string upstream) {
  config::SourceSelection s;
  s.upstream = std::move(upstream);
  return s;
}
Json tool(std::string name, Json props = Json::object(), Json required = Json::array()) {
  return {{"name", name},
          {"description", "d-" + name},
          {"inputSchema", {{"type", "object"}, {"properties", props}, {"required", required}}}};
}
UpstreamCatalogs two_upstreams() {
  auto a = std::make_shared<UpstreamCatalog>();
  a->tools = {tool("echo"), tool("get-sum", {{"a", {{"type", "number"}}}, {"b", {{"type", "number"}}}},
                                   {"a", "b"}),
              tool("get-env")};
  a->prompts = {{{"name", "simple-prompt"}}};
  a->resources = {{{"uri", "demo://resource/static/document/architecture.md"}, {"name", "architecture.md"}}};
  a->resource_templates = {{{"uriTemplate", "demo://resource/dynamic/text/{index}"}, {"name", "Dynamic Text"}}};
  auto b = std::make_shared<UpstreamCatalog>();
  b->tools = {tool("echo"), tool("read_file")};
  b->resources = {{{"uri", "file:///tmp/x"}, {"name", "x"}}};
  return {{"everything", a}, {"files", b}};
}
std::vector<std::string> names(const std::vector<Json>& items) {
  std::vector<std::string> out;
  for (const auto& j : items) out.push_back(j["name"]);
  return out;
}
}  // namespace

TEST_CASE("a virtual server applies include, exclude, prefix, rename, describe and fixed") {
  config::VirtualServerConfig vs;
  vs.name = "dev";
  auto s = sel("everything");
  s.include = {"echo", "get-*"};
  s.exclude = {"get-env"};
  s.prefix = "ev";
  s.rename = {{"get-sum", "add"}};
  s.describe = {{"echo", "Repeat a message back"}};
  s.fixed = {{"get-sum", {{"a", 1}}}};
  vs.tools = {s};
  std::vector<std::string> problems;
  auto cat = VirtualCatalog::build(vs, two_upstreams(), &problems);
  CHECK(problems.empty());
  CHECK(names(cat->list(ListKind::Tools)) == std::vector<std::string>{"ev_echo", "add"});
  const Json& echo = cat->list(ListKind::Tools)[0];
  CHECK(echo["description"] == "Repeat a message back");
  const Json& add = cat->list(ListKind::Tools)[1];
  CHECK_FALSE(add["inputSchema"]["properties"].contains("a"));
  CHECK(add["inputSchema"]["properties"].contains("b"));
  CHECK(add["inputSchema"]["required"] == Json::array({"b"}));
  const Route* r = cat->tool("add");
  REQUIRE(r != nullptr);
  CHECK(r->upstream == "everything");
  CHECK(r->original == "get-sum");
  CHECK(r->fixed == Json({{"a", 1}}));
  CHECK(cat->tool("get-env") == nullptr);
  CHECK(cat->tool("ev_get-env") == nullptr);
}

TEST_CASE("several upstreams without a prefix are prefixed with the upstream name") {
  config::VirtualServerConfig vs;
  vs.name = "dev";
  vs.tools = {sel("everything"), sel("files")};
  auto cat = VirtualCatalog::build(vs, two_upstreams(), nullptr);
  CHECK(names(cat->list(ListKind::Tools)) ==
        std::vector<std::string>{"everything_echo", "everything_get-sum", "everything_get-env",
                                 "files_echo", "files_read_file"});
}

TEST_CASE("an empty prefix turns prefixing off and remaining collisions are reported") {
  config::VirtualServerConfig vs;
  vs.name = "dev";
  auto a = sel("everything");
  a.prefix = "";
  auto b = sel("files");
  b.prefix = "";
  vs.tools = {a, b};
  std::vector<std::string> problems;
  auto cat = VirtualCatalog::build(vs, two_upstreams(), &problems);
  CHECK(names(cat->list(ListKind::Tools)) ==
        std::vector<std::string>{"echo", "get-sum", "get-env", "read_file"});
  REQUIRE(problems.size() == 1);
  CHECK(problems[0] ==
        "virtual server 'dev': tool name 'echo' from upstream 'files' (echo) collides with the one "
        "from upstream 'everything' (echo); set a prefix or rename one of them");
  CHECK(cat->tool("echo")->upstream == "everything");
}

TEST_CASE("resources keep their URIs and route by exact URI, then by template") {
  config::VirtualServerConfig vs;
  vs.name = "dev";
  vs.resources = {sel("everything"), sel("files")};
  auto cat = VirtualCatalog::build(vs, two_upstreams(), nullptr);
  REQUIRE(cat->list(ListKind::Resources).size() == 2);
  CHECK(cat->list(ListKind::Resources)[0]["uri"] == "demo://resource/static/document/architecture.md");
  CHECK(cat->list(ListKind::Resources)[0]["name"] == "everything_architecture_md");
  CHECK(cat->resource_upstream("file:///tmp/x") == "files");
  CHECK(cat->resource_upstream("demo://resource/dynamic/text/7") == "everything");
  CHECK_FALSE(cat->resource_upstream("other://nothing").has_value());
}

TEST_CASE("uri templates match simple and reserved expansions") {
  CHECK(uri_matches_template("demo://x/{id}", "demo://x/12"));
  CHECK_FALSE(uri_matches_template("demo://x/{id}", "demo://x/1/2"));
  CHECK(uri_matches_template("file://{+path}", "file:///a/b/c"));
  CHECK_FALSE(uri_matches_template("demo://x/{id}", "demo://x/"));
}

TEST_CASE("paginate returns pages with opaque cursors and rejects forged ones") {
  std::vector<Json> items = {1, 2, 3, 4, 5};
  auto p1 = paginate(items, "tools", "", 2);
  CHECK(p1.value()["tools"] == Json::array({1, 2}));
  std::string c = p1.value()["nextCursor"];
  auto p2 = paginate(items, "tools", c, 2);
  CHECK(p2.value()["tools"] == Json::array({3, 4}));
  auto p3 = paginate(items, "tools", p2.value()["nextCursor"], 2);
  CHECK(p3.value()["tools"] == Json::array({5}));
  CHECK_FALSE(p3.value().contains("nextCursor"));
  CHECK_FALSE(paginate(items, "tools", "o99", 2).ok());
  CHECK_FALSE(paginate(items, "tools", "garbage", 2).ok());
  CHECK(paginate(items, "tools", "", 0).value()["tools"].size() == 5);
}

TEST_CASE("fixed prompt arguments are hidden from the prompt's argument list") {
  auto up = std::make_shared<UpstreamCatalog>();
  up->prompts = {{{"name", "args-prompt"},
                  {"arguments", Json::array({{{"name", "city"}}, {{"name", "state"}}})}}};
  config::VirtualServerConfig vs;
  vs.name = "dev";
  auto s = sel("everything");
  s.fixed = {{"args-prompt", {{"state", "CA"}}}};
  vs.prompts = {s};
  auto cat = VirtualCatalog::build(vs, {{"everything", up}}, nullptr);
  CHECK(cat->list(ListKind::Prompts)[0]["arguments"] == Json::array({{{"name", "city"}}}));
  CHECK(cat->prompt("args-prompt")->fixed == Json({{"state", "CA"}}));
}

TEST_CASE("a tool's x-mcp-header arguments are found through nested properties only") {
  auto up = std::make_shared<UpstreamCatalog>();
  up->tools = {tool("deploy",
                    {{"region", {{"type", "string"}, {"x-mcp-header", "Region"}}},
                     {"opts", {{"type", "object"},
                               {"properties", {{"dry", {{"type", "boolean"}, {"x-mcp-header", "Dry"}}}}}}},
                     {"list", {{"type", "array"}, {"items", {{"type", "string"}, {"x-mcp-header", "Item"}}}}},
                     {"plain", {{"type", "string"}}}})};
  config::VirtualServerConfig vs;
  vs.name = "ops";
  auto s = sel("ci");
  s.prefix = "ci";
  vs.tools = {s};
  auto cat = VirtualCatalog::build(vs, {{"ci", up}}, nullptr);
  const Route* r = cat->tool("ci_deploy");
  REQUIRE(r);
  using Params = std::vector<std::pair<std::vector<std::string>, std::string>>;
  CHECK(r->header_params == Params{{{"opts", "dry"}, "Dry"}, {{"region"}, "Region"}});
}
