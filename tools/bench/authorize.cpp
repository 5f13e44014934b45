// bench-authorize: the cost of one Cedar authorization with 100 realistic
// policies (principal/resource scoped, with when conditions on the context's
// arguments and metadata), as the pipeline will make it: the request's User
// and Groups in an overlay on the loaded entities, context built in C++.
// Prints p50/p99 in microseconds for the decision alone and for overlay +
// decision.
//
//   build/tools/bench/bench-authorize [iterations]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "bench_policies.h"

#include "policy/policy_set.h"

using namespace portcullis::policy;
using Clock = std::chrono::steady_clock;
namespace bench = portcullis::bench;

namespace {

Value context_for(int i) {
  ValueRecord args{
      {"amount", int64_t(37 * i % 10000)}, {"dry_run", (i % 3) == 0}, {"query", "select 1"}};
  ValueRecord meta{{"surface", i % 7 == 0 ? "batch-pipeline" : "chat"},
                   {"team", "team" + std::to_string(i % 20)},
                   {"environment", i % 2 ? "prod" : "dev"}};
  return Value::record({{"arguments", Value::record(std::move(args))},
                        {"metadata", Value::record(std::move(meta))},
                        {"time", int64_t(1763900000 + i)},
                        {"client_ip", IpAddr{}}});
}

}  // namespace

int main(int argc, char** argv) {
  int n = argc > 1 ? std::atoi(argv[1]) : 200000;
  auto set = CedarPolicySet::parse(bench::hundred_policies(), "bench.cedar");
  if (!set.ok()) {
    std::fprintf(stderr, "%s\n", set.error().c_str());
    return 1;
  }
  // Loaded entities: tools in their servers.
  std::vector<Entity> tools;
  for (int i = 0; i < 100; ++i) {
    std::string srv = "srv" + std::to_string(i % 10);
    tools.push_back({{"Tool", srv + "/tool" + std::to_string(i)}, {}, {{"Server", srv}}, {}});
  }
  auto base = std::make_shared<const Entities>(Entities::build(std::move(tools)).value());

  std::vector<Request> requests;
  std::vector<Entities> overlays;
  for (int i = 0; i < 1000; ++i) {
    std::string user = "user" + std::to_string(i);
    requests.push_back(
        {{"User", user},
         {"Action", "call_tool"},
         {"Tool", "srv" + std::to_string(i % 10) + "/tool" + std::to_string((i * 7) % 100)},
         context_for(i)});
    overlays.push_back(
        Entities::build({{{"User", user}, {}, {{"Group", "team" + std::to_string(i % 20)}}, {}}},
                        base)
            .value());
  }

  std::vector<double> decide, full;
  decide.reserve(n);
  full.reserve(n);
  size_t allowed = 0;
  for (int i = 0; i < n; ++i) {
    size_t k = size_t(i) % requests.size();
    auto t0 = Clock::now();
    Decision d = set->authorize(requests[k], overlays[k]);
    auto t1 = Clock::now();
    allowed += d.allow;
    decide.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  for (int i = 0; i < n / 4; ++i) {
    size_t k = size_t(i) % requests.size();
    auto t0 = Clock::now();
    const Request& r = requests[k];
    auto overlay = Entities::build(
        {{r.principal, {}, {{"Group", "team" + std::to_string(k % 20)}}, {}}}, base);
    Decision d = set->authorize(r, overlay.value());
    auto t1 = Clock::now();
    allowed += d.allow;
    full.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  std::printf("100 policies, %zu of %d decisions allowed\n", allowed, n + n / 4);
  bench::report_us("authorize", decide);
  bench::report_us("overlay + authorize", full);
  return 0;
}
