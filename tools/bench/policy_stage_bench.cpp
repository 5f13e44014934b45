// bench-policy-stage: what the authorize stage adds to one tools/call inside
// the gateway, with 100 policies loaded from a policies/ directory: the
// Principal's User and Groups and the Tool in an overlay (merged with
// entities.json), the context built from the call's JSON arguments and the
// metadata, and the decision. Also one uncached tools/list filtering of 100
// tools. Prints p50/p99 in microseconds.
//
//   build/tools/bench/bench-policy-stage [iterations]
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "bench_policies.h"

#include "pipeline/policy_stage.h"

using namespace portcullis;
using namespace portcullis::pipeline;
using Clock = std::chrono::steady_clock;
namespace bench = portcullis::bench;

namespace {

}  // namespace

int main(int argc, char** argv) {
  int n = argc > 1 ? std::atoi(argv[1]) : 100000;
  char tmpl[] = "/tmp/pc-bench-policy-XXXXXX";
  if (!mkdtemp(tmpl)) return 1;
  std::string dir = tmpl;
  std::filesystem::create_directories(dir + "/policies");
  std::ofstream(dir + "/policies/bench.cedar") << bench::hundred_policies();
  std::ofstream(dir + "/policies/entities.json")
      << R"([{"uid": {"type": "Group", "id": "team3"}, "attrs": {}, "parents": [{"type": "Group", "id": "payments"}]}])";
  auto loaded = PolicyStage::load(dir);
  std::filesystem::remove_all(dir);
  if (!loaded.ok() || !loaded.value()) {
    std::fprintf(stderr, "%s\n", loaded.ok() ? "no policies" : loaded.error().c_str());
    return 1;
  }
  auto stage = loaded.value();

  std::vector<identity::Principal> users(1000);
  std::vector<Json> args(1000);
  std::vector<PolicyTarget> targets(1000);
  for (int i = 0; i < 1000; ++i) {
    auto& p = users[i];
    p.method = identity::AuthMethod::Bearer;
    p.subject = "user" + std::to_string(i);
    p.issuer = "https://issuer.example";
    p.groups = {"team" + std::to_string(i % 20), "everyone"};
    p.scopes = {"mcp"};
    p.metadata = {{"team", "team" + std::to_string(i % 20)},
                  {"surface", i % 7 == 0 ? "batch-pipeline" : "chat"},
                  {"environment", i % 2 ? "prod" : "dev"}};
    args[i] = {{"amount", 37 * i % 10000}, {"dry_run", i % 3 == 0}, {"query", "select 1"}};
    std::string srv = "srv" + std::to_string(i % 10);
    std::string tool = "tool" + std::to_string((i * 7) % 100);
    targets[i] = {"Tool", srv, tool, "fast", tool};
  }
  const std::string ip = "10.1.2.3";
  std::vector<double> call;
  call.reserve(n);
  size_t allowed = 0;
  for (int i = 0; i < n; ++i) {
    size_t k = size_t(i) % users.size();
    auto t0 = Clock::now();
    PolicyVerdict v = stage->authorize({users[k], ip}, PolicyAction::CallTool, targets[k], args[k]);
    auto t1 = Clock::now();
    allowed += v.allow;
    call.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  std::printf("100 policies, %zu of %d calls allowed\n", allowed, n);
  bench::report_us("authorize stage, tools/call", call);

  // One tools/list of 100 tools on one server, uncached (a new principal each time).
  config::VirtualServerConfig vs;
  vs.name = "srv3";
  config::SourceSelection sel;
  sel.upstream = "fast";
  vs.tools.push_back(sel);
  auto up = std::make_shared<compose::UpstreamCatalog>();
  for (int i = 0; i < 100; ++i)
    up->tools.push_back(
        {{"name", "tool" + std::to_string(i)}, {"inputSchema", {{"type", "object"}}}});
  std::vector<std::string> problems;
  auto cat = compose::VirtualCatalog::build(vs, {{"fast", up}}, &problems);
  std::vector<double> list;
  for (int i = 0; i < std::max(1, n / 100); ++i) {
    identity::Principal p = users[size_t(i) % users.size()];
    p.subject += "-" + std::to_string(i);
    auto t0 = Clock::now();
    auto items = stage->visible({p, ip}, "srv3", *cat, compose::ListKind::Tools);
    auto t1 = Clock::now();
    list.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    if (!items) return 1;
  }
  bench::report_us("tools/list of 100 tools, uncached", list);
  return 0;
}
