#include <doctest/doctest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "config/config.h"

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
using namespace portcullis::config;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// A fresh config directory under a mkdtemp directory, removed on destruction.
class TempConfig {
 public:
  TempConfig() {
    char tmpl[] = "/tmp/portcullis-config-test-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    base_ = tmpl;
    dir_ = (base_ / "cfg").string();
    fs::create_directories(fs::path(dir_) / "servers.d");
  }
  ~TempConfig() {
    std::error_code ec;
    fs::remove_all(base_, ec);
  }
  TempConfig(const TempConfig&) = delete;
  TempConfig& operator=(const TempConfig&) = delete;

  const std::string& dir() const { return dir_; }
  void write(const std::string& rel, const std::string& text) const {
    fs::path p = fs::path(dir_) / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
  }
  LoadResult load() const { return config::load(dir_); }

 private:
  fs::path base_;
  std::string dir_;
};

std::vector<std::string> formatted(const std::vector<Diagnostic>& ds) {
  std::vector<std::string> out;
  for (const auto& d : ds) out.push_back(d.format());
  return out;
}

// Loads a single servers.d/s.yaml and returns its formatted errors.
std::vector<std::string> errors_of(const std::string& yaml) {
  TempConfig t;
  t.write("servers.d/s.yaml", yaml);
  auto r = t.load();
  if (!r.errors.empty()) CHECK(r.config == nullptr);
  return formatted(r.errors);
}

using Lines = std::vector<std::string>;

const char* kEverything =
    "upstreams:\n"
    "  everything:\n"
    "    transport: stdio\n"
    "    command: npx\n";

}  // namespace

TEST_CASE("the issue's full example loads into the expected structs") {
  setenv("PCT_LOG_LEVEL", "info", 1);
  TempConfig t;
  t.write("servers.d/dev.yaml", R"(upstreams:
  everything:
    transport: stdio
    command: npx
    args: ["-y", "@modelcontextprotocol/server-everything"]
    env: { LOG_LEVEL: "${PCT_LOG_LEVEL}" }
    timeout: 30s
    cwd: /srv
    connect_timeout: 5s
    sessions: shared
    max_sessions: 8
  notes:
    transport: streamable-http
    url: http://127.0.0.1:3001/mcp
    headers: { X-Team: platform }
virtual_servers:
  dev:
    instructions: "Dev tools"
    page_size: 50
    tools:
      - upstream: everything
        include: ["echo", "get-*"]
        exclude: ["get-env"]
        prefix: ev
        rename: { get-sum: add }
        describe: { echo: "Repeat a message back" }
        fixed: { add: { a: 1 } }
      - upstream: notes
    resources: [ { upstream: everything } ]
    prompts:   [ { upstream: everything } ]
)");
  auto r = t.load();
  CHECK(formatted(r.errors) == Lines{});
  CHECK(formatted(r.warnings) == Lines{});
  REQUIRE(r.config);
  const GatewayConfig& c = *r.config;
  CHECK(c.dir == t.dir());
  CHECK(c.files == Lines{(fs::path(t.dir()) / "servers.d" / "dev.yaml").string()});
  REQUIRE(c.upstreams.size() == 2);

  const UpstreamConfig& ev = c.upstreams.at("everything");
  CHECK(ev.name == "everything");
  CHECK(ev.transport == Transport::Stdio);
  CHECK(ev.command == "npx");
  CHECK(ev.args == Lines{"-y", "@modelcontextprotocol/server-everything"});
  CHECK(ev.env == std::map<std::string, std::string>{{"LOG_LEVEL", "info"}});
  CHECK(ev.cwd == "/srv");
  CHECK(ev.url.empty());
  CHECK(ev.timeout == 30s);
  CHECK(ev.connect_timeout == 5s);
  CHECK(ev.sessions == SessionMode::Shared);
  CHECK(ev.max_sessions == 8);
  CHECK(ev.pos.file == "servers.d/dev.yaml");
  CHECK(ev.pos.line == 2);

  const UpstreamConfig& notes = c.upstreams.at("notes");
  CHECK(notes.transport == Transport::StreamableHttp);
  CHECK(notes.url == "http://127.0.0.1:3001/mcp");
  CHECK(notes.headers == std::map<std::string, std::string>{{"X-Team", "platform"}});
  CHECK(notes.command.empty());
  CHECK(notes.timeout == 30s);  // defaults
  CHECK(notes.connect_timeout == 30s);
  CHECK(notes.sessions == SessionMode::PerClient);
  CHECK(notes.max_sessions == 256);
  CHECK(notes.pos.line == 12);

  REQUIRE(c.virtual_servers.size() == 1);
  const VirtualServerConfig& dev = c.virtual_servers.at("dev");
  CHECK(dev.name == "dev");
  CHECK(dev.instructions == "Dev tools");
  CHECK(dev.page_size == 50);
  CHECK(dev.pos.line == 17);
  CHECK(dev.upstream_count() == 2);
  REQUIRE(dev.tools.size() == 2);
  const SourceSelection& s0 = dev.tools[0];
  CHECK(s0.upstream == "everything");
  CHECK(s0.include == Lines{"echo", "get-*"});
  CHECK(s0.exclude == Lines{"get-env"});
  CHECK(s0.prefix == std::optional<std::string>("ev"));
  CHECK(s0.rename == std::map<std::string, std::string>{{"get-sum", "add"}});
  CHECK(s0.describe == std::map<std::string, std::string>{{"echo", "Repeat a message back"}});
  REQUIRE(s0.fixed.size() == 1);
  CHECK(s0.fixed.at("get-sum") == Json{{"a", 1}});  // normalised from the rename target
  CHECK(s0.pos.line == 21);
  const SourceSelection& s1 = dev.tools[1];
  CHECK(s1.upstream == "notes");
  CHECK(s1.include.empty());
  CHECK(s1.exclude.empty());
  CHECK_FALSE(s1.prefix.has_value());
  CHECK(s1.rename.empty());
  CHECK(s1.pos.line == 28);
  REQUIRE(dev.resources.size() == 1);
  CHECK(dev.resources[0].upstream == "everything");
  REQUIRE(dev.prompts.size() == 1);
  CHECK(dev.prompts[0].upstream == "everything");

  // Settings are all defaults without portcullis.yaml.
  CHECK(c.settings.listen == "127.0.0.1:8080");
  CHECK(c.settings.max_body_bytes == 4u * 1024 * 1024);
  CHECK(c.settings.page_size == 100);
  CHECK(c.settings.audit_db == (fs::path(t.dir()) / "portcullis-audit.db").string());
  CHECK_FALSE(c.settings.auth_configured);
  unsetenv("PCT_LOG_LEVEL");
}

TEST_CASE("portcullis.yaml settings are parsed and a relative audit db is resolved against DIR") {
  TempConfig t;
  t.write("servers.d/s.yaml", std::string(kEverything) + "virtual_servers:\n  dev:\n    tools: [ { upstream: everything } ]\n");
  t.write("portcullis.yaml", R"(listen: "0.0.0.0:9090"
limits: { max_body: 1MiB, max_json_depth: 32 }
page_size: 25
session_idle_timeout: 10m
allowed_origins: ["https://app.example.com", "http://localhost:3000"]
audit: { db: data/audit.db }
auth: { mode: none }
metadata: { required: [team] }
)");
  auto r = t.load();
  CHECK(formatted(r.errors) == Lines{});
  REQUIRE(r.config);
  const Settings& s = r.config->settings;
  CHECK(s.listen == "0.0.0.0:9090");
  CHECK(s.max_body_bytes == 1024 * 1024);
  CHECK(s.max_json_depth == 32);
  CHECK(s.page_size == 25);
  CHECK(s.session_idle_timeout == 10min);
  CHECK(s.allowed_origins == Lines{"https://app.example.com", "http://localhost:3000"});
  CHECK(s.audit_db == t.dir() + "/data/audit.db");
  CHECK_FALSE(s.auth_configured);
  CHECK(s.auth.mode == AuthMode::None);
  CHECK(s.metadata.required == Lines{"team"});
  CHECK(s.pos.file == "portcullis.yaml");
  CHECK(r.config->files == Lines{t.dir() + "/portcullis.yaml", t.dir() + "/servers.d/s.yaml"});
}

TEST_CASE("an absolute audit db path is kept and an auth mode other than none marks auth as configured") {
  TempConfig t;
  t.write("servers.d/s.yaml", std::string(kEverything) + "virtual_servers:\n  dev:\n    tools: [ { upstream: everything } ]\n");
  t.write("portcullis.yaml",
          "audit:\n  db: /var/lib/portcullis/audit.db\nauth:\n  mode: oauth\n  resource: https://gw\n"
          "  oauth: { issuer: https://id }\n");
  auto r = t.load();
  CHECK(formatted(r.errors) == Lines{});
  REQUIRE(r.config);
  CHECK(r.config->settings.audit_db == "/var/lib/portcullis/audit.db");
  CHECK(r.config->settings.auth_configured);
}

TEST_CASE("portcullis.yaml rejects unknown keys, bad values and non-map auth/metadata") {
  TempConfig t;
  t.write("servers.d/s.yaml", std::string(kEverything) + "virtual_servers:\n  dev:\n    tools: [ { upstream: everything } ]\n");
  t.write("portcullis.yaml", R"(listen: 8080
limits:
  max_bdy: 1MiB
  max_json_depth: deep
page_size: 0
session_idle_timeout: soon
allowed_origins: "*"
audit: { database: x.db }
auth: oidc
metadata: [a]
tls: true
)");
  auto r = t.load();
  CHECK(formatted(r.errors) ==
        Lines{
            "portcullis.yaml:1: 'listen' must be HOST:PORT (got \"8080\")",
            "portcullis.yaml:3: limits: unknown key 'max_bdy' (did you mean 'max_body'?)",
            "portcullis.yaml:4: limits: 'max_json_depth' must be a positive integer (got \"deep\")",
            "portcullis.yaml:5: 'page_size' must be a positive integer (got \"0\")",
            "portcullis.yaml:6: session_idle_timeout: invalid duration \"soon\" (expected e.g. 500ms, 30s, 5m, 1h)",
            "portcullis.yaml:7: 'allowed_origins' must be a list of strings",
            "portcullis.yaml:8: audit: unknown key 'database' (expected one of: db, capture, queue_full, queue_capacity, "
            "synchronous, signing_key, sink, postgres, instance_id, retention)",
            "portcullis.yaml:9: 'auth' must be a map",
            "portcullis.yaml:10: 'metadata' must be a map",
            "portcullis.yaml:11: unknown key 'tls' (expected one of: listen, limits, page_size, session_idle_timeout, "
            "sessions, allowed_origins, audit, auth, metadata, admin, credentials)",
        });
  CHECK(r.config == nullptr);
}

TEST_CASE("an invalid max_body size is reported with its line") {
  TempConfig t;
  t.write("servers.d/s.yaml", std::string(kEverything) + "virtual_servers:\n  dev:\n    tools: [ { upstream: everything } ]\n");
  t.write("portcullis.yaml", "limits:\n  max_body: 4 parsecs\n");
  CHECK(formatted(t.load().errors) ==
        Lines{"portcullis.yaml:2: limits: max_body: invalid size unit in \"4 parsecs\" (use B, KiB, MiB or GiB)"});
}

TEST_CASE("YAML syntax errors report file and line") {
  CHECK(errors_of("upstreams:\n  everything:\n    transport: stdio\n    args: [a, b\n") ==
        Lines{"servers.d/s.yaml:5: YAML syntax error: end of sequence flow not found"});
  TempConfig t;
  t.write("servers.d/s.yaml", std::string(kEverything) + "virtual_servers:\n  dev:\n    tools: [ { upstream: everything } ]\n");
  t.write("portcullis.yaml", "page_size: 5\nlisten: [a\n");
  CHECK(formatted(t.load().errors) == Lines{"portcullis.yaml:3: YAML syntax error: end of sequence flow not found"});
}

TEST_CASE("unknown keys anywhere are errors with a did-you-mean suggestion") {
  CHECK(errors_of(R"(upstream:
  x: {}
upstreams:
  everything:
    transport: stdio
    comand: npx
    command: npx
    tiemout: 5s
virtual_servers:
  dev:
    tool: []
    tools:
      - upstream: everything
        prefx: ev
        colour: red
)") == Lines{
            "servers.d/s.yaml:1: unknown key 'upstream' (did you mean 'upstreams'?)",
            "servers.d/s.yaml:6: upstream 'everything': unknown key 'comand' (did you mean 'command'?)",
            "servers.d/s.yaml:8: upstream 'everything': unknown key 'tiemout' (did you mean 'timeout'?)",
            "servers.d/s.yaml:11: virtual server 'dev': unknown key 'tool' (did you mean 'tools'?)",
            "servers.d/s.yaml:14: virtual server 'dev' tools[0]: unknown key 'prefx' (did you mean 'prefix'?)",
            "servers.d/s.yaml:15: virtual server 'dev' tools[0]: unknown key 'colour' (expected one of: upstream, "
            "include, exclude, prefix, rename, describe, fixed)",
        });
}

TEST_CASE("resources selections support only upstream, include and exclude") {
  CHECK(errors_of(std::string(kEverything) + R"(virtual_servers:
  dev:
    resources:
      - upstream: everything
        include: ["file:///*"]
        prefix: ev
)") == Lines{"servers.d/s.yaml:10: virtual server 'dev' resources[0]: 'prefix' is not supported for resources"});
}

TEST_CASE("wrong types are reported: string, list, map and integer expected") {
  CHECK(errors_of(R"(upstreams:
  everything:
    transport: stdio
    command: [npx]
    args: -y
    env: [LOG_LEVEL]
    max_sessions: many
    cwd: { a: b }
  other: stdio
virtual_servers:
  dev:
    page_size: "50"
    instructions: [a]
    tools:
      upstream: everything
  ops:
    tools:
      - everything
      - upstream: everything
        include: "*"
        rename: [a]
        describe: { echo: [x] }
)") == Lines{
            "servers.d/s.yaml:4: upstream 'everything': 'command' must be a string",
            "servers.d/s.yaml:5: upstream 'everything': 'args' must be a list of strings",
            "servers.d/s.yaml:6: upstream 'everything': 'env' must be a map of strings",
            "servers.d/s.yaml:7: upstream 'everything': 'max_sessions' must be a positive integer (got \"many\")",
            "servers.d/s.yaml:8: upstream 'everything': 'cwd' must be a string",
            "servers.d/s.yaml:9: upstream 'other' must be a map",
            "servers.d/s.yaml:12: virtual server 'dev': 'page_size' must be a positive integer (got \"50\")",
            "servers.d/s.yaml:13: virtual server 'dev': 'instructions' must be a string",
            "servers.d/s.yaml:14: virtual server 'dev': 'tools' must be a list of selections (- upstream: NAME)",
            "servers.d/s.yaml:18: virtual server 'ops' tools[0] must be a map (e.g. { upstream: NAME })",
            "servers.d/s.yaml:20: virtual server 'ops' tools[1]: 'include' must be a list of strings",
            "servers.d/s.yaml:21: virtual server 'ops' tools[1]: 'rename' must be a map of original name to new name",
            "servers.d/s.yaml:22: virtual server 'ops' tools[1]: describe.echo must be a string",
        });
}

TEST_CASE("upstream and virtual server names must match [a-z0-9-]+") {
  CHECK(errors_of(R"(upstreams:
  Every_Thing:
    transport: stdio
    command: npx
virtual_servers:
  "dev tools":
    tools: [ { upstream: Every_Thing } ]
)") == Lines{
            "servers.d/s.yaml:2: invalid upstream name 'Every_Thing' (use lowercase letters, digits and '-')",
            "servers.d/s.yaml:6: invalid virtual server name 'dev tools' (use lowercase letters, digits and '-')",
        });
}

TEST_CASE("transport must be known and decides which of command and url are required or forbidden") {
  CHECK(errors_of(R"(upstreams:
  a:
    transport: streamable_http
    url: http://x/mcp
  b:
    transport: stdio
    url: http://x/mcp
    headers: { A: b }
  c:
    transport: sse
    command: npx
    env: { A: b }
  d:
    transport: streamable-http
    url: ftp://x/mcp
  e:
    command: npx
  f:
    transport: tcp
    command: x
)") == Lines{
            "servers.d/s.yaml:3: upstream 'a': unknown transport 'streamable_http' (did you mean 'streamable-http'?)",
            "servers.d/s.yaml:5: upstream 'b': transport stdio requires 'command'",
            "servers.d/s.yaml:7: upstream 'b': 'url' is not allowed with transport stdio",
            "servers.d/s.yaml:8: upstream 'b': 'headers' is not allowed with transport stdio",
            "servers.d/s.yaml:9: upstream 'c': transport sse requires 'url'",
            "servers.d/s.yaml:11: upstream 'c': 'command' is not allowed with transport sse",
            "servers.d/s.yaml:12: upstream 'c': 'env' is not allowed with transport sse",
            "servers.d/s.yaml:15: upstream 'd': 'url' must start with http:// or https:// (got \"ftp://x/mcp\")",
            "servers.d/s.yaml:16: upstream 'e': missing required key 'transport' (stdio, sse or streamable-http)",
            "servers.d/s.yaml:19: upstream 'f': unknown transport 'tcp' (expected one of: stdio, sse, streamable-http)",
        });
}

TEST_CASE("${VAR} expands in command, args, env, cwd, url and headers; unset variables are errors at their line") {
  setenv("PCT_BIN", "/opt/bin", 1);
  setenv("PCT_TOKEN", "s3cret", 1);
  unsetenv("PCT_UNSET");
  TempConfig t;
  t.write("servers.d/s.yaml", R"(upstreams:
  local:
    transport: stdio
    command: ${PCT_BIN}/server
    args: ["--token=${PCT_TOKEN}", "${PCT_UNSET:-fallback}", "$$HOME"]
    env: { TOKEN: "${PCT_TOKEN}" }
    cwd: ${PCT_BIN}
  remote:
    transport: sse
    url: https://${PCT_TOKEN}.example/sse
    headers: { Authorization: "Bearer ${PCT_TOKEN}" }
virtual_servers:
  dev:
    tools: [ { upstream: local }, { upstream: remote } ]
)");
  auto r = t.load();
  CHECK(formatted(r.errors) == Lines{});
  REQUIRE(r.config);
  const auto& local = r.config->upstreams.at("local");
  CHECK(local.command == "/opt/bin/server");
  CHECK(local.args == Lines{"--token=s3cret", "fallback", "$HOME"});
  CHECK(local.env.at("TOKEN") == "s3cret");
  CHECK(local.cwd == "/opt/bin");
  const auto& remote = r.config->upstreams.at("remote");
  CHECK(remote.url == "https://s3cret.example/sse");
  CHECK(remote.headers.at("Authorization") == "Bearer s3cret");

  CHECK(errors_of(R"(upstreams:
  local:
    transport: stdio
    command: ${PCT_UNSET}
    args:
      - ok
      - ${PCT_UNSET}
    env:
      TOKEN: ${PCT_UNSET}
    cwd: ${PCT_UNSET}
  remote:
    transport: sse
    url: ${PCT_UNSET}
    headers:
      X-Key: ${PCT_UNSET}
)") == Lines{
            "servers.d/s.yaml:4: upstream 'local': command: environment variable PCT_UNSET is not set",
            "servers.d/s.yaml:7: upstream 'local': args[1]: environment variable PCT_UNSET is not set",
            "servers.d/s.yaml:9: upstream 'local': env.TOKEN: environment variable PCT_UNSET is not set",
            "servers.d/s.yaml:10: upstream 'local': cwd: environment variable PCT_UNSET is not set",
            "servers.d/s.yaml:13: upstream 'remote': url: environment variable PCT_UNSET is not set",
            "servers.d/s.yaml:15: upstream 'remote': headers.X-Key: environment variable PCT_UNSET is not set",
        });
  unsetenv("PCT_BIN");
  unsetenv("PCT_TOKEN");
}

TEST_CASE("durations are parsed, must be positive, and sessions mode must be known") {
  CHECK(errors_of(R"(upstreams:
  everything:
    transport: stdio
    command: npx
    timeout: 0s
    connect_timeout: forever
    sessions: per-client
)") == Lines{
            "servers.d/s.yaml:5: upstream 'everything': 'timeout' must be greater than 0",
            "servers.d/s.yaml:6: upstream 'everything': connect_timeout: invalid duration \"forever\" (expected e.g. "
            "500ms, 30s, 5m, 1h)",
            "servers.d/s.yaml:7: upstream 'everything': unknown sessions mode 'per-client' (did you mean 'per_client'?)",
        });
  TempConfig t;
  t.write("servers.d/s.yaml", std::string(kEverything) + "    timeout: 250ms\n    connect_timeout: 2\n" +
                                  "virtual_servers:\n  dev:\n    tools: [ { upstream: everything } ]\n");
  auto r = t.load();
  REQUIRE(r.config);
  CHECK(r.config->upstreams.at("everything").timeout == 250ms);
  CHECK(r.config->upstreams.at("everything").connect_timeout == 2s);
}

TEST_CASE("a selection referencing an undefined upstream names the known ones") {
  CHECK(errors_of(R"(upstreams:
  everything: { transport: stdio, command: npx }
  notes: { transport: sse, url: "http://h/sse" }
virtual_servers:
  dev:
    tools:
      - upstream: notes
      - upstream: evrything
    prompts:
      - {}
)") == Lines{
            "servers.d/s.yaml:8: upstream 'evrything' is not defined (known: everything, notes)",
            "servers.d/s.yaml:10: virtual server 'dev' prompts[0]: missing required key 'upstream'",
        });
  CHECK(errors_of("virtual_servers:\n  dev:\n    tools: [ { upstream: x } ]\n") ==
        Lines{"servers.d/s.yaml:3: upstream 'x' is not defined (no upstreams are defined)"});
}

TEST_CASE("a virtual server exposing nothing is a warning, not an error") {
  TempConfig t;
  t.write("servers.d/s.yaml", std::string(kEverything) + "virtual_servers:\n  empty:\n    tools: []\n  dev:\n    tools: [ { upstream: everything } ]\n");
  auto r = t.load();
  CHECK(formatted(r.errors) == Lines{});
  CHECK(formatted(r.warnings) ==
        Lines{"servers.d/s.yaml:6: virtual server 'empty' exposes nothing: it has no tools, resources or prompts"});
  REQUIRE(r.config);
  CHECK(r.config->virtual_servers.count("empty") == 1);
}

TEST_CASE("fixed values must be maps and their scalars are converted with type inference") {
  TempConfig t;
  t.write("servers.d/s.yaml", std::string(kEverything) + R"(virtual_servers:
  dev:
    tools:
      - upstream: everything
        fixed:
          add:
            i: 42
            neg: -7
            f: 1.5
            e: 1e3
            yes: true
            no: False
            nothing: null
            tilde: ~
            empty:
            s: hello
            quoted_int: "42"
            quoted_bool: 'true'
            list: [1, "2", x]
            nested: { deep: { n: 0x10 } }
)");
  auto r = t.load();
  CHECK(formatted(r.errors) == Lines{});
  REQUIRE(r.config);
  Json got = r.config->virtual_servers.at("dev").tools.at(0).fixed.at("add");
  Json want = {{"i", 42},          {"neg", -7},          {"f", 1.5},           {"e", 1000.0},
               {"yes", true},      {"no", false},        {"nothing", nullptr}, {"tilde", nullptr},
               {"empty", nullptr}, {"s", "hello"},       {"quoted_int", "42"}, {"quoted_bool", "true"},
               {"list", Json::array({1, "2", "x"})},     {"nested", {{"deep", {{"n", 16}}}}}};
  CHECK(got == want);
  CHECK(got["i"].is_number_integer());
  CHECK(got["f"].is_number_float());

  CHECK(errors_of(std::string(kEverything) + R"(virtual_servers:
  dev:
    tools:
      - upstream: everything
        fixed:
          add: 1
          echo: [a]
      - upstream: everything
        fixed: [add]
)") == Lines{
            "servers.d/s.yaml:10: virtual server 'dev' tools[0]: fixed.add must be a map of argument name to value",
            "servers.d/s.yaml:11: virtual server 'dev' tools[0]: fixed.echo must be a map of argument name to value",
            "servers.d/s.yaml:13: virtual server 'dev' tools[1]: 'fixed' must be a map of name to arguments",
        });
}

TEST_CASE("prefix and rename targets must be legal exposed-name pieces") {
  CHECK(errors_of(std::string(kEverything) + R"(virtual_servers:
  dev:
    tools:
      - upstream: everything
        prefix: "ev tools"
        rename: { echo: "say hi", get-sum: add.numbers, ok: fine_Name-2 }
      - upstream: everything
        prefix: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
      - upstream: everything
        prefix: ""
        rename: { x: "" }
)") == Lines{
            "servers.d/s.yaml:9: virtual server 'dev' tools[0]: prefix 'ev tools' is not allowed (use at most 40 "
            "letters, digits, '_' or '-')",
            "servers.d/s.yaml:10: virtual server 'dev' tools[0]: rename target 'say hi' for 'echo' is not a valid name "
            "(use 1 to 64 letters, digits, '_' or '-')",
            "servers.d/s.yaml:10: virtual server 'dev' tools[0]: rename target 'add.numbers' for 'get-sum' is not a "
            "valid name (use 1 to 64 letters, digits, '_' or '-')",
            "servers.d/s.yaml:12: virtual server 'dev' tools[1]: prefix 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' is "
            "not allowed (use at most 40 letters, digits, '_' or '-')",
            "servers.d/s.yaml:15: virtual server 'dev' tools[2]: rename target '' for 'x' is not a valid name (use 1 "
            "to 64 letters, digits, '_' or '-')",
        });
  TempConfig t;
  t.write("servers.d/s.yaml", std::string(kEverything) +
                                  "virtual_servers:\n  dev:\n    tools:\n      - upstream: everything\n        prefix: \"\"\n");
  auto r = t.load();
  REQUIRE(r.config);
  CHECK(r.config->virtual_servers.at("dev").tools[0].prefix == std::optional<std::string>(""));
}

TEST_CASE("equal rename targets within one virtual server's tools or prompts are an error at the second") {
  CHECK(errors_of(std::string(kEverything) + R"(  other: { transport: stdio, command: x }
virtual_servers:
  dev:
    tools:
      - upstream: everything
        rename: { echo: say }
      - upstream: other
        rename:
          shout: say
    prompts:
      - upstream: everything
        rename: { greet: say, hello: say }
  ops:
    tools:
      - upstream: other
        rename: { shout: say }
)") == Lines{
            "servers.d/s.yaml:13: virtual server 'dev' tools[1]: rename target 'say' is already used for 'echo' at "
            "servers.d/s.yaml:10",
            "servers.d/s.yaml:16: virtual server 'dev' prompts[0]: rename target 'say' is already used for 'greet' at "
            "servers.d/s.yaml:16",
        });
}

TEST_CASE("fixed and describe keys written as a rename target are normalised to the original name") {
  TempConfig t;
  t.write("servers.d/s.yaml", std::string(kEverything) + R"(virtual_servers:
  dev:
    tools:
      - upstream: everything
        rename: { get-sum: add, echo: say }
        describe: { add: "Add numbers", echo: "Repeat" }
        fixed: { add: { a: 1 }, long-op: { ms: 5 } }
)");
  auto r = t.load();
  CHECK(formatted(r.errors) == Lines{});
  REQUIRE(r.config);
  const auto& sel = r.config->virtual_servers.at("dev").tools[0];
  CHECK(sel.describe == std::map<std::string, std::string>{{"get-sum", "Add numbers"}, {"echo", "Repeat"}});
  REQUIRE(sel.fixed.size() == 2);
  CHECK(sel.fixed.at("get-sum") == Json{{"a", 1}});
  CHECK(sel.fixed.at("long-op") == Json{{"ms", 5}});

  CHECK(errors_of(std::string(kEverything) + R"(virtual_servers:
  dev:
    tools:
      - upstream: everything
        rename: { get-sum: add }
        describe: { get-sum: "A", add: "B" }
        fixed:
          add: { a: 1 }
          get-sum: { a: 2 }
)") == Lines{
            "servers.d/s.yaml:10: virtual server 'dev' tools[0]: describe: 'get-sum' and 'add' both refer to 'get-sum'",
            "servers.d/s.yaml:13: virtual server 'dev' tools[0]: fixed: 'add' and 'get-sum' both refer to 'get-sum'",
        });
}

TEST_CASE("names defined twice across files are errors at the second definition naming the first") {
  TempConfig t;
  t.write("servers.d/a.yaml", std::string(kEverything) + "virtual_servers:\n  dev:\n    tools: [ { upstream: everything } ]\n");
  t.write("servers.d/b.yml", R"(upstreams:
  notes: { transport: sse, url: "http://h/sse" }
  everything:
    transport: stdio
    command: other
virtual_servers:
  dev:
    tools: [ { upstream: notes } ]
)");
  t.write("servers.d/README.md", "not yaml: [");
  t.write("servers.d/.#a.yaml", "not yaml: [");
  auto r = t.load();
  CHECK(formatted(r.errors) == Lines{
                                   "servers.d/b.yml:3: upstream 'everything' already defined at servers.d/a.yaml:2",
                                   "servers.d/b.yml:7: virtual server 'dev' already defined at servers.d/a.yaml:6",
                               });
  CHECK(r.config == nullptr);
}

TEST_CASE("files are read in sorted order, .yaml and .yml only, and all are recorded") {
  TempConfig t;
  t.write("servers.d/20-dev.yml", "virtual_servers:\n  dev:\n    tools: [ { upstream: everything } ]\n");
  t.write("servers.d/10-up.yaml", kEverything);
  t.write("servers.d/30-empty.yaml", "");
  t.write("servers.d/notes.txt", "ignored");
  auto r = t.load();
  CHECK(formatted(r.errors) == Lines{});
  REQUIRE(r.config);
  const std::string sd = t.dir() + "/servers.d/";
  CHECK(r.config->files == Lines{sd + "10-up.yaml", sd + "20-dev.yml", sd + "30-empty.yaml"});
  CHECK(r.config->virtual_servers.at("dev").pos.file == "servers.d/20-dev.yml");
}

TEST_CASE("errors in several files are all reported, in file order then line order") {
  TempConfig t;
  t.write("servers.d/a.yaml", "upstreams:\n  x:\n    transport: stdio\n");
  t.write("servers.d/b.yaml", "virtual_servers:\n  dev:\n    tools: [ { upstream: y } ]\n  bad: 1\n");
  t.write("portcullis.yaml", "page_size: -1\n");
  auto r = t.load();
  CHECK(formatted(r.errors) == Lines{
                                   "portcullis.yaml:1: 'page_size' must be a positive integer (got \"-1\")",
                                   "servers.d/a.yaml:2: upstream 'x': transport stdio requires 'command'",
                                   "servers.d/b.yaml:3: upstream 'y' is not defined (known: x)",
                                   "servers.d/b.yaml:4: virtual server 'bad' must be a map",
                               });
  CHECK(r.config == nullptr);
}

TEST_CASE("a missing servers.d directory or config directory is an error") {
  TempConfig t;
  fs::remove_all(fs::path(t.dir()) / "servers.d");
  auto r = t.load();
  CHECK(formatted(r.errors) == Lines{t.dir() + "/servers.d: no such directory"});
  CHECK(r.config == nullptr);

  auto r2 = config::load(t.dir() + "/nope");
  CHECK(formatted(r2.errors) == Lines{t.dir() + "/nope: no such directory"});
}

TEST_CASE("an empty servers.d loads with a warning") {
  TempConfig t;
  auto r = t.load();
  CHECK(formatted(r.errors) == Lines{});
  CHECK(formatted(r.warnings) == Lines{"servers.d: no virtual servers are defined"});
  REQUIRE(r.config);
  CHECK(r.config->upstreams.empty());
}

TEST_CASE("a servers.d file must be a map with only upstreams and virtual_servers") {
  CHECK(errors_of("- a\n- b\n") == Lines{"servers.d/s.yaml:1: expected a map with 'upstreams' and/or 'virtual_servers'"});
  CHECK(errors_of("upstreams: [a]\nvirtual_servers: x\n") ==
        Lines{"servers.d/s.yaml:1: 'upstreams' must be a map of upstream name to definition",
              "servers.d/s.yaml:2: 'virtual_servers' must be a map of virtual server name to definition"});
}

TEST_CASE("same_connection compares behaviour, not name or position") {
  UpstreamConfig a;
  a.name = "a";
  a.command = "npx";
  a.args = {"x"};
  a.pos = {"servers.d/a.yaml", 3};
  UpstreamConfig b = a;
  b.name = "b";
  b.pos = {"servers.d/b.yaml", 9};
  CHECK(a.same_connection(b));
  b.env["K"] = "v";
  CHECK_FALSE(a.same_connection(b));
  b = a;
  b.timeout = 1s;
  CHECK_FALSE(a.same_connection(b));
  b = a;
  b.sessions = SessionMode::Shared;
  CHECK_FALSE(a.same_connection(b));
  b = a;
  b.headers["X"] = "y";
  CHECK_FALSE(a.same_connection(b));
}

TEST_CASE("upstream_count counts distinct upstreams across tools, resources and prompts") {
  VirtualServerConfig vs;
  CHECK(vs.upstream_count() == 0);
  auto sel = [](const char* upstream) {
    SourceSelection s;
    s.upstream = upstream;
    return s;
  };
  vs.tools.push_back(sel("a"));
  vs.tools.push_back(sel("a"));
  vs.resources.push_back(sel("b"));
  vs.prompts.push_back(sel("a"));
  CHECK(vs.upstream_count() == 2);
}

TEST_CASE("to_string(Transport) and Diagnostic::format") {
  CHECK(std::string(to_string(Transport::Stdio)) == "stdio");
  CHECK(std::string(to_string(Transport::Sse)) == "sse");
  CHECK(std::string(to_string(Transport::StreamableHttp)) == "streamable-http");
  CHECK(Diagnostic{{"servers.d/a.yaml", 3}, "boom"}.format() == "servers.d/a.yaml:3: boom");
  CHECK(Diagnostic{{"/etc/p/servers.d", 0}, "no such directory"}.format() == "/etc/p/servers.d: no such directory");
  CHECK(Diagnostic{{"", 0}, "bare"}.format() == "bare");
}

TEST_CASE("stdio upstreams run in the config DIR by default, and a relative cwd resolves against it") {
  TempConfig t;
  t.write("servers.d/s.yaml",
          "upstreams:\n"
          "  a: { transport: stdio, command: node_modules/.bin/x }\n"
          "  b: { transport: stdio, command: x, cwd: sub/dir }\n"
          "  c: { transport: stdio, command: x, cwd: /abs }\n"
          "  d: { transport: streamable-http, url: 'http://127.0.0.1:1/mcp' }\n");
  auto r = t.load();
  REQUIRE(r.errors.empty());
  std::string dir = fs::absolute(t.dir()).lexically_normal().string();
  CHECK(r.config->upstreams.at("a").cwd == dir);
  CHECK(r.config->upstreams.at("b").cwd == dir + "/sub/dir");
  CHECK(r.config->upstreams.at("c").cwd == "/abs");
  CHECK(r.config->upstreams.at("d").cwd.empty());
}

TEST_CASE("pinning defaults to warn, accepts off and block, and rejects other modes at their line") {
  TempConfig t;
  t.write("servers.d/s.yaml",
          "upstreams:\n"
          "  a: { transport: stdio, command: x }\n"
          "virtual_servers:\n"
          "  plain: { tools: [ { upstream: a } ] }\n"
          "  strict: { pinning: block, tools: [ { upstream: a } ] }\n"
          "  loose: { pinning: off, tools: [ { upstream: a } ] }\n");
  auto r = t.load();
  REQUIRE(r.errors.empty());
  CHECK(r.config->virtual_servers.at("plain").pinning == config::PinningMode::Warn);
  CHECK(r.config->virtual_servers.at("strict").pinning == config::PinningMode::Block);
  CHECK(r.config->virtual_servers.at("loose").pinning == config::PinningMode::Off);
  std::string dir = fs::path(t.dir()).lexically_normal().string();
  CHECK(r.config->settings.pins_db == dir + "/portcullis-pins.db");

  CHECK(errors_of("upstreams:\n"
                  "  a: { transport: stdio, command: x }\n"
                  "virtual_servers:\n"
                  "  v:\n"
                  "    pinning: blok\n"
                  "    tools: [ { upstream: a } ]\n") ==
        Lines{"servers.d/s.yaml:5: virtual server 'v': unknown pinning mode 'blok' (did you mean 'block'?)"});
}

TEST_CASE("sessions.key is 32 bytes of hex, may come from the environment, and ttl is a duration") {
  {
    TempConfig t;
    setenv("PCT_SESSION_KEY", "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF", 1);
    t.write("portcullis.yaml", "sessions:\n  key: ${PCT_SESSION_KEY}\n  ttl: 2h\n");
    t.write("servers.d/s.yaml", "upstreams: {}\n");
    auto r = t.load();
    unsetenv("PCT_SESSION_KEY");
    REQUIRE(r.errors.empty());
    CHECK(r.config->settings.session_key.size() == 32);
    CHECK(static_cast<unsigned char>(r.config->settings.session_key[1]) == 0x11);
    CHECK(r.config->settings.session_ttl == std::chrono::hours(2));
  }
  {
    TempConfig t;
    t.write("portcullis.yaml", "sessions:\n  key: abc123\n");
    t.write("servers.d/s.yaml", "upstreams: {}\n");
    CHECK(formatted(t.load().errors) ==
          Lines{"portcullis.yaml:2: sessions: 'key' must be 64 hexadecimal characters (32 bytes), e.g. from: "
                "openssl rand -hex 32"});
  }
}

TEST_CASE("credentials: the vault sits beside the audit database, public_url follows auth.resource, bad keys are refused") {
  {
    TempConfig t;
    t.write("portcullis.yaml",
            "audit: {db: data/audit.db}\n"
            "auth: {mode: api_key, resource: https://gw.example.com/, api_keys_file: k.yaml}\n"
            "credentials:\n  key: 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n"
            "  consent_timeout: 5m\n");
    t.write("k.yaml", "[]\n");
    t.write("servers.d/s.yaml", "upstreams:\n  gh:\n    transport: streamable-http\n    url: https://x.test/mcp\n"
                                "    auth: {type: oauth_user, client_id: portcullis, scopes: [repo]}\n");
    auto r = t.load();
    REQUIRE(formatted(r.errors) == Lines{});
    const auto& c = r.config->settings.credentials;
    CHECK(c.key.size() == 32);
    CHECK(c.vault == (std::filesystem::path(t.dir()) / "data" / "portcullis-credentials.db").lexically_normal().string());
    CHECK(c.public_url == "https://gw.example.com");
    CHECK(c.consent_timeout == std::chrono::minutes(5));
    const auto& a = r.config->upstreams.at("gh").auth;
    CHECK(a.type == config::CredentialType::OAuthUser);
    CHECK(a.per_user());
    CHECK(a.client_id == "portcullis");
    CHECK(a.scopes == std::vector<std::string>{"repo"});
  }
  {
    TempConfig t;
    t.write("portcullis.yaml", "credentials:\n  key: short\n  public_url: ftp://x\n  colour: red\n");
    t.write("servers.d/s.yaml", "upstreams: {}\n");
    CHECK(formatted(t.load().errors) ==
          Lines{"portcullis.yaml:2: credentials: 'key' must be 64 hexadecimal characters (32 bytes), e.g. from: "
                "openssl rand -hex 32; keep it out of the config with key: ${PORTCULLIS_VAULT_KEY}",
                "portcullis.yaml:3: credentials: 'public_url' must start with http:// or https:// (got \"ftp://x\")",
                "portcullis.yaml:4: credentials: unknown key 'colour' (expected one of: vault, key, public_url, "
                "consent_timeout, confirm_user)"});
  }
}

TEST_CASE("revision defaults to auto, accepts 2025-11-25 and 2026-07-28, and rejects others at their line") {
  TempConfig t;
  t.write("servers.d/s.yaml", R"(upstreams:
  a:
    transport: stdio
    command: node
  b:
    transport: stdio
    command: node
    revision: 2025-11-25
  c:
    transport: streamable-http
    url: http://127.0.0.1:1/mcp
    revision: "2026-07-28"
  d:
    transport: sse
    url: http://127.0.0.1:1/sse
    revision: auto
)");
  auto r = t.load();
  REQUIRE(r.config);
  CHECK(r.config->upstreams.at("a").revision == Revision::Auto);
  CHECK(r.config->upstreams.at("b").revision == Revision::Legacy);
  CHECK(r.config->upstreams.at("c").revision == Revision::Modern);
  CHECK(r.config->upstreams.at("d").revision == Revision::Auto);
  CHECK(std::string(to_string(Revision::Modern)) == "2026-07-28");
  UpstreamConfig other = r.config->upstreams.at("a");
  other.revision = Revision::Modern;
  CHECK_FALSE(r.config->upstreams.at("a").same_connection(other));

  CHECK(errors_of(R"(upstreams:
  a:
    transport: stdio
    command: node
    revision: 2026
  b:
    transport: sse
    url: http://127.0.0.1:1/sse
    revision: 2026-07-28
)") == Lines{
            "servers.d/s.yaml:5: upstream 'a': unknown revision '2026' (auto, 2025-11-25 or 2026-07-28)",
            "servers.d/s.yaml:9: upstream 'b': revision 2026-07-28 is not possible with transport sse (HTTP+SSE is "
            "a 2024-11-05 transport)",
        });
}

// ---- auth and metadata ------------------------------------------------------

namespace {

const char* kOneServer = "upstreams:\n  everything:\n    transport: stdio\n    command: npx\n"
                         "virtual_servers:\n  dev:\n    tools: [ { upstream: everything } ]\n";

// Loads DIR with the given portcullis.yaml (and optional extra files).
LoadResult load_settings(const TempConfig& t, const std::string& yaml) {
  t.write("servers.d/s.yaml", kOneServer);
  t.write("portcullis.yaml", yaml);
  return t.load();
}

}  // namespace

TEST_CASE("the issue's auth and metadata example loads into AuthSettings and MetadataSettings") {
  setenv("PCT_HS_SECRET", "0123456789abcdef0123456789abcdef", 1);
  TempConfig t;
  t.write("keys/api_keys.yaml", "[]\n");
  auto r = load_settings(t, R"(auth:
  mode: oauth+api_key
  resource: http://127.0.0.1:8080/
  oauth:
    issuer: http://127.0.0.1:9000
    jwks_uri: http://127.0.0.1:9000/jwks
    audience: [api://portcullis]
    groups_claim: roles
    scopes: [mcp]
    algorithms: [RS256, HS256]
    hs256_secret: ${PCT_HS_SECRET}
    leeway: 30s
    metadata_claims: {team: team, project_id: project}
  api_keys_file: keys/api_keys.yaml
metadata:
  required: [team, project_id]
  untagged: reject
)");
  unsetenv("PCT_HS_SECRET");
  CHECK(formatted(r.errors) == Lines{});
  CHECK(formatted(r.warnings) == Lines{});
  REQUIRE(r.config);
  const Settings& s = r.config->settings;
  CHECK(s.auth_configured);
  CHECK(s.auth.mode == AuthMode::OAuthOrApiKey);
  CHECK(s.auth.uses_oauth());
  CHECK(s.auth.uses_api_keys());
  CHECK(s.auth.resource == "http://127.0.0.1:8080");  // trailing '/' dropped
  CHECK(s.auth.pos.line == 1);
  CHECK(s.auth.api_keys_file == t.dir() + "/keys/api_keys.yaml");
  const OAuthSettings& o = s.auth.oauth;
  CHECK(o.issuer == "http://127.0.0.1:9000");
  CHECK(o.jwks_uri == "http://127.0.0.1:9000/jwks");
  CHECK(o.audience == Lines{"api://portcullis"});
  CHECK(o.groups_claim == "roles");
  CHECK(o.scopes == Lines{"mcp"});
  CHECK(o.algorithms == Lines{"RS256", "HS256"});
  CHECK(o.hs256_secret == "0123456789abcdef0123456789abcdef");
  CHECK(o.leeway == 30s);
  CHECK(o.metadata_claims == std::map<std::string, std::string>{{"team", "team"}, {"project_id", "project"}});
  CHECK(s.metadata.required == Lines{"team", "project_id"});
  CHECK(s.metadata.untagged == UntaggedPolicy::Reject);
  CHECK(std::string(to_string(s.auth.mode)) == "oauth+api_key");
}

TEST_CASE("auth defaults: groups claim, algorithms (HS256 only with a secret), 60s leeway, tag untagged traffic") {
  TempConfig t;
  auto r = load_settings(t, "auth:\n  mode: oauth\n  resource: https://gw.example.com\n  oauth: { issuer: https://id.example.com/realms/a }\n");
  CHECK(formatted(r.errors) == Lines{});
  REQUIRE(r.config);
  const Settings& s = r.config->settings;
  CHECK(s.auth.mode == AuthMode::OAuth);
  CHECK_FALSE(s.auth.uses_api_keys());
  CHECK(s.auth.oauth.jwks_uri.empty());
  CHECK(s.auth.oauth.audience.empty());
  CHECK(s.auth.oauth.groups_claim == "groups");
  CHECK(s.auth.oauth.scopes.empty());
  CHECK(s.auth.oauth.algorithms == Lines{"RS256", "ES256"});
  CHECK(s.auth.oauth.leeway == 60s);
  CHECK(s.metadata.required.empty());
  CHECK(s.metadata.untagged == UntaggedPolicy::Tag);

  TempConfig t2;
  auto r2 = load_settings(t2, "auth:\n  mode: oauth\n  resource: https://gw\n  oauth:\n    issuer: https://id\n"
                              "    hs256_secret: 0123456789abcdef0123456789abcdef\n");
  REQUIRE(r2.config);
  CHECK(r2.config->settings.auth.oauth.algorithms == Lines{"RS256", "ES256", "HS256"});
}

TEST_CASE("without portcullis.yaml or an auth section, auth mode is none") {
  TempConfig t;
  auto r = load_settings(t, "listen: 127.0.0.1:8080\n");
  REQUIRE(r.config);
  CHECK(r.config->settings.auth.mode == AuthMode::None);
  CHECK_FALSE(r.config->settings.auth_configured);
}

TEST_CASE("auth mode must be given and known; oauth needs resource, oauth and issuer; api_key needs a keys file") {
  SUBCASE("missing and unknown modes") {
    TempConfig t;
    auto r = load_settings(t, "auth:\n  resource: https://gw\n");
    CHECK(formatted(r.errors) == Lines{"portcullis.yaml:1: auth: missing required key 'mode' (none, api_key, oauth or oauth+api_key)"});
    TempConfig t2;
    auto r2 = load_settings(t2, "auth:\n  mode: oauht\n");
    CHECK(formatted(r2.errors) == Lines{"portcullis.yaml:2: auth: unknown mode 'oauht' (did you mean 'oauth'?)"});
  }
  SUBCASE("oauth without resource or oauth section") {
    TempConfig t;
    auto r = load_settings(t, "auth:\n  mode: oauth\n");
    CHECK(formatted(r.errors) ==
          Lines{"portcullis.yaml:1: auth: mode oauth requires 'resource' (this gateway's URL, e.g. https://gateway.example.com)",
                "portcullis.yaml:1: auth: mode oauth requires 'oauth' with at least 'issuer'"});
  }
  SUBCASE("oauth without issuer") {
    TempConfig t;
    auto r = load_settings(t, "auth:\n  mode: oauth\n  resource: https://gw\n  oauth:\n    scopes: [mcp]\n");
    CHECK(formatted(r.errors) ==
          Lines{"portcullis.yaml:4: auth.oauth: missing required key 'issuer' (the authorization server's issuer URL)"});
  }
  SUBCASE("api_key without a keys file, or with a missing one") {
    TempConfig t;
    auto r = load_settings(t, "auth:\n  mode: api_key\n");
    CHECK(formatted(r.errors) == Lines{"portcullis.yaml:1: auth: mode api_key requires 'api_keys_file'"});
    TempConfig t2;
    auto r2 = load_settings(t2, "auth:\n  mode: api_key\n  api_keys_file: nope.yaml\n");
    CHECK(formatted(r2.errors) == Lines{"portcullis.yaml:3: auth: api_keys_file 'nope.yaml' does not exist (looked for " +
                                        t2.dir() + "/nope.yaml)"});
  }
  SUBCASE("api_key mode needs no resource") {
    TempConfig t;
    t.write("api_keys.yaml", "[]\n");
    auto r = load_settings(t, "auth:\n  mode: api_key\n  api_keys_file: api_keys.yaml\n");
    CHECK(formatted(r.errors) == Lines{});
    REQUIRE(r.config);
    CHECK(r.config->settings.auth_configured);
    CHECK(r.config->settings.auth.api_keys_file == t.dir() + "/api_keys.yaml");
  }
}

TEST_CASE("auth values are checked at their line: URLs, algorithms, leeway, scopes, claims and unknown keys") {
  TempConfig t;
  auto r = load_settings(t, R"(auth:
  mode: oauth
  resource: gw.example.com
  protected_paths: [/mcp]
  oauth:
    issuer: https://id/?x=1
    jwks_uri: ftp://id/jwks
    algorithms: [RS256, none, HS256, PS256]
    leeway: 1h
    scopes: ["a b"]
    groups_claim: ""
    metadata_claims: {tenant: tid}
    audiance: [x]
)");
  CHECK(formatted(r.errors) ==
        Lines{
            "portcullis.yaml:3: auth: 'resource' must start with http:// or https:// (got \"gw.example.com\")",
            "portcullis.yaml:4: auth: unknown key 'protected_paths' (expected one of: mode, resource, oauth, api_keys_file)",
            "portcullis.yaml:6: auth.oauth: 'issuer' must not contain a query or fragment (got \"https://id/?x=1\")",
            "portcullis.yaml:7: auth.oauth: 'jwks_uri' must start with http:// or https:// (got \"ftp://id/jwks\")",
            "portcullis.yaml:8: auth.oauth: algorithm 'none' is never accepted (unsigned tokens)",
            "portcullis.yaml:8: auth.oauth: algorithm HS256 requires 'hs256_secret'",
            "portcullis.yaml:8: auth.oauth: unsupported algorithm 'PS256' (supported: RS256, ES256, HS256)",
            "portcullis.yaml:9: auth.oauth: 'leeway' must be at most 10m",
            "portcullis.yaml:10: auth.oauth: scope 'a b' is not a valid scope token",
            "portcullis.yaml:11: auth.oauth: 'groups_claim' must not be empty",
            "portcullis.yaml:12: auth.oauth: metadata_claims: 'tenant' is not a metadata key (known: team, project_id, "
            "workflow, surface, environment, cost_center, ticket_id, session_id, policy_version)",
            "portcullis.yaml:13: auth.oauth: unknown key 'audiance' (did you mean 'audience'?)",
        });
  CHECK(r.config == nullptr);
}

TEST_CASE("an unset hs256_secret variable is an error and a short secret is a warning") {
  unsetenv("PCT_NO_SUCH_SECRET");
  TempConfig t;
  auto r = load_settings(t, "auth:\n  mode: oauth\n  resource: https://gw\n  oauth:\n    issuer: https://id\n"
                            "    hs256_secret: ${PCT_NO_SUCH_SECRET}\n");
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].pos.line == 6);
  CHECK(r.errors[0].message.find("PCT_NO_SUCH_SECRET") != std::string::npos);
  TempConfig t2;
  auto r2 = load_settings(t2, "auth:\n  mode: oauth\n  resource: https://gw\n  oauth:\n    issuer: https://id\n"
                              "    hs256_secret: short\n");
  CHECK(formatted(r2.errors) == Lines{});
  CHECK(formatted(r2.warnings) ==
        Lines{"portcullis.yaml:6: auth.oauth: 'hs256_secret' is shorter than 32 bytes; use a longer random secret"});
}

TEST_CASE("oauth settings with mode api_key or none are ignored with a warning") {
  TempConfig t;
  auto r = load_settings(t, "auth:\n  mode: none\n  oauth: { issuer: https://id }\n  api_keys_file: k.yaml\n");
  CHECK(formatted(r.errors) == Lines{});
  CHECK(formatted(r.warnings) == Lines{"portcullis.yaml:3: auth: 'oauth' is ignored with mode none",
                                       "portcullis.yaml:4: auth: 'api_keys_file' is ignored with mode none"});
}

TEST_CASE("metadata.required names contract keys once each and untagged is tag or reject") {
  TempConfig t;
  auto r = load_settings(t, "metadata:\n  required:\n    - team\n    - tenant\n    - team\n  untagged: warn\n  strict: true\n");
  CHECK(formatted(r.errors) ==
        Lines{"portcullis.yaml:4: metadata: required: 'tenant' is not a metadata key (known: team, project_id, workflow, "
              "surface, environment, cost_center, ticket_id, session_id, policy_version)",
              "portcullis.yaml:5: metadata: required: 'team' is listed twice",
              "portcullis.yaml:6: metadata: unknown untagged policy 'warn' (tag or reject)",
              "portcullis.yaml:7: metadata: unknown key 'strict' (expected one of: required, untagged)"});
}

TEST_CASE("an upstream's auth block: a static credential becomes a header or env, a token exchange is per user") {
  TempConfig t;
  t.write("servers.d/s.yaml", R"(upstreams:
  api:
    transport: streamable-http
    url: http://127.0.0.1:1/mcp
    auth: {type: static, header: X-Api-Token, value: s3cret}
  tool:
    transport: stdio
    command: node
    auth: {type: static, env: {GITHUB_TOKEN: ghp_x}}
  mine:
    transport: streamable-http
    url: http://127.0.0.1:2/mcp
    auth: {type: oauth_token_exchange, token_endpoint: http://127.0.0.1:9/token, client_id: gw, scopes: [mcp]}
)");
  auto r = t.load();
  REQUIRE(r.errors.empty());
  const auto& ups = r.config->upstreams;
  CHECK(ups.at("api").headers.at("X-Api-Token") == "s3cret");
  CHECK(ups.at("tool").env.at("GITHUB_TOKEN") == "ghp_x");
  CHECK_FALSE(ups.at("api").auth.per_user());
  const auto& mine = ups.at("mine").auth;
  CHECK(mine.type == portcullis::config::CredentialType::TokenExchange);
  CHECK(mine.per_user());
  CHECK(mine.resource == "http://127.0.0.1:2/mcp");  // defaults to the upstream's url
  CHECK(mine.scopes == std::vector<std::string>{"mcp"});
}

TEST_CASE("an upstream's auth block is refused with a reason when it cannot work") {
  CHECK(errors_of(R"(upstreams:
  a:
    transport: streamable-http
    url: http://127.0.0.1:1/mcp
    sessions: shared
    auth: {type: oauth_token_exchange, token_endpoint: http://127.0.0.1:9/token}
  b:
    transport: stdio
    command: node
    auth: {type: oauth_token_exchange, token_endpoint: http://127.0.0.1:9/token}
  c:
    transport: stdio
    command: node
    auth: {type: static, value: x}
  d:
    transport: streamable-http
    url: http://127.0.0.1:1/mcp
    auth: {type: oauth_user}
  e:
    transport: streamable-http
    url: http://127.0.0.1:1/mcp
    auth: {type: static, value: x, token_endpoint: http://x}
)") == Lines{
            "servers.d/s.yaml:6: upstream 'a' auth: per-user credentials need 'sessions: per_client' (each user gets "
            "their own upstream session)",
            "servers.d/s.yaml:10: upstream 'b' auth: a stdio upstream has no URL: give 'audience' or 'resource' for "
            "the exchanged token",
            "servers.d/s.yaml:14: upstream 'c' auth: stdio upstreams take a static credential as 'env'",
            "servers.d/s.yaml:14: upstream 'c' auth: type static needs 'env' for a stdio upstream",
            "servers.d/s.yaml:18: upstream 'd' auth: type oauth_user keeps each user's tokens in the credential "
            "vault, which needs 'credentials: {key: ...}' in portcullis.yaml (e.g. key: ${PORTCULLIS_VAULT_KEY})",
            "servers.d/s.yaml:22: upstream 'e' auth: 'token_endpoint' is not used by type static",
        });
}

// ---- audit: and admin: (portcullis.yaml) ----------------------------------

TEST_CASE(
    "the audit and admin blocks load into AuditSettings and AdminSettings, paths resolved against "
    "DIR") {
  TempConfig t;
  const std::string hash(64, 'A');
  auto r = load_settings(t, R"(audit:
  db: data/audit.db
  capture: redacted
  queue_full: drop
  queue_capacity: 128
  synchronous: full
  signing_key: { file: keys/audit.key }
  sink: postgres
  postgres: { dsn: "host=/run/postgresql dbname=audit" }
  instance_id: gw-1
  retention: { max_age: 7d, max_rows: 1000000, max_bytes: 2MiB }
admin:
  api_keys: ["sha256:)" + hash + R"(", ")" +
                                std::string(64, 'b') + R"("]
  groups: [auditors, sre]
  scopes: ["audit:read"]
)");
  REQUIRE(formatted(r.errors) == Lines{});
  const auto& s = r.config->settings;
  CHECK(s.audit_db == t.dir() + "/data/audit.db");
  CHECK(s.audit.capture == "redacted");
  CHECK(s.audit.queue_full == "drop");
  CHECK(s.audit.queue_capacity == 128);
  CHECK(s.audit.synchronous_full);
  CHECK(s.audit.signing_key_file == t.dir() + "/keys/audit.key");
  CHECK(s.audit.signing_key_env.empty());
  CHECK(s.audit.sink == "postgres");
  CHECK(s.audit.postgres_dsn == "host=/run/postgresql dbname=audit");
  CHECK(s.audit.instance_id == "gw-1");
  CHECK(s.audit.max_age == std::chrono::hours(7 * 24));
  CHECK(s.audit.max_rows == 1000000);
  CHECK(s.audit.max_bytes == 2 * 1024 * 1024);
  // Keys are stored lowercase without the "sha256:" prefix.
  CHECK(s.admin.api_key_sha256 == Lines{std::string(64, 'a'), std::string(64, 'b')});
  CHECK(s.admin.groups == Lines{"auditors", "sre"});
  CHECK(s.admin.scopes == Lines{"audit:read"});
}

TEST_CASE(
    "without audit and admin blocks the audit trail uses its defaults and nobody is an admin") {
  TempConfig t;
  auto r = load_settings(t, "listen: 127.0.0.1:9000\n");
  REQUIRE(formatted(r.errors) == Lines{});
  const auto& s = r.config->settings;
  CHECK(s.audit.capture == "hash");
  CHECK(s.audit.queue_full == "block");
  CHECK(s.audit.queue_capacity == 65536);
  CHECK_FALSE(s.audit.synchronous_full);
  CHECK(s.audit.sink == "sqlite");
  CHECK(s.audit.signing_key_file.empty());
  CHECK(s.audit.signing_key_env.empty());
  CHECK(s.audit.instance_id.empty());
  CHECK(s.audit.max_age == 0ms);
  CHECK(s.audit.max_rows == 0);
  CHECK(s.audit.max_bytes == 0);
  CHECK(s.admin.api_key_sha256.empty());
  CHECK(s.admin.groups.empty());
  CHECK(s.admin.scopes.empty());
}

TEST_CASE("a signing key from an environment variable is kept by name, not read at load time") {
  TempConfig t;
  auto r = load_settings(t, "audit:\n  signing_key: { env: PCT_AUDIT_KEY_NOT_SET }\n");
  REQUIRE(formatted(r.errors) == Lines{});
  CHECK(r.config->settings.audit.signing_key_env == "PCT_AUDIT_KEY_NOT_SET");
  CHECK(r.config->settings.audit.signing_key_file.empty());
}

TEST_CASE("invalid audit and admin settings are reported with their lines") {
  TempConfig t;
  auto r = load_settings(t, R"(audit:
  capture: everything
  queue_full: wait
  queue_capacity: -1
  synchronous: sometimes
  signing_key: { file: a.key, env: KEY }
  sink: postgres
  retention: { max_age: forever, max_rows: 0, max_bytes: 0, max_files: 3 }
admin:
  api_keys: [hunter2]
  roles: [root]
)");
  // Sorted by line; the missing dsn is reported at the audit block.
  CHECK(
      formatted(r.errors) ==
      Lines{
          "portcullis.yaml:2: audit: 'capture' must be one of hash, redacted, full, none (got "
          "\"everything\")",
          "portcullis.yaml:2: audit: 'sink: postgres' needs 'postgres: {dsn: ...}'",
          "portcullis.yaml:3: audit: 'queue_full' must be one of block, drop (got \"wait\")",
          "portcullis.yaml:4: audit: 'queue_capacity' must be a positive integer (got \"-1\")",
          "portcullis.yaml:5: audit: 'synchronous' must be one of normal, full (got \"sometimes\")",
          "portcullis.yaml:6: audit: 'signing_key' takes either 'file' or 'env', not both",
          "portcullis.yaml:8: audit.retention: unknown key 'max_files' (expected one of: max_age, "
          "max_rows, max_bytes)",
          "portcullis.yaml:8: audit.retention: max_age: invalid duration \"forever\" (expected "
          "e.g. 500ms, 30s, 5m, 1h)",
          "portcullis.yaml:8: audit.retention: 'max_rows' must be a positive integer (got \"0\")",
          "portcullis.yaml:8: audit.retention: 'max_bytes' must be greater than 0",
          "portcullis.yaml:10: admin: 'api_keys' entries must be SHA-256 hashes (64 hex digits, "
          "e.g. from: printf %s KEY | "
          "sha256sum)",
          "portcullis.yaml:11: admin: unknown key 'roles' (expected one of: api_keys, groups, "
          "scopes)",
      });
  CHECK(r.config == nullptr);
}
