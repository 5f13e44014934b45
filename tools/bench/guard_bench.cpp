// bench-guard: guardrail detector throughput (MB/s on one core) on ordinary
// mixed text and on secret/PII-dense text, and the cost of a whole chain
// (secrets validate + PII mutate, enforce) on a 1 KB and a 100 KB JSON tool
// argument. Inputs are generated deterministically; nothing is read from disk.
//
// "all text detectors" is secrets + pii + injection, one after the other on
// the same text: the detectors that read free text. (The SQL sanitizer reads
// only the arguments that hold SQL, and the poisoning check only tool
// definitions; bench-guard-text measures both.)
//
//   bench-guard [--seconds S] [--per-kind] [--only SUBSTRING]
// (default 1 s of CPU per measurement; --only runs the rows whose label
// contains SUBSTRING, for perf). Rates are per second of this thread's CPU
// time (one core).
#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>

#include "cpu_time.h"
#include "guard/chain.h"
#include "guard/injection_detector.h"
#include "guard/pii.h"
#include "guard/secrets.h"

using namespace portcullis;
using namespace portcullis::guard;

namespace {

double g_seconds = 1.0;
std::string g_only;
std::mt19937_64 rng(42);

std::string pick(const std::vector<std::string>& v) { return v[rng() % v.size()]; }
std::string rand_str(const char* alphabet, size_t n) {
  std::string s;
  size_t k = strlen(alphabet);
  for (size_t i = 0; i < n; ++i) s += alphabet[rng() % k];
  return s;
}

// Prose, code, log lines, URLs and numbers: what tool arguments and results
// usually hold. No secrets, little PII.
std::string ordinary(size_t bytes) {
  const std::vector<std::string> lines = {
      "The deployment pipeline reads its configuration and then calls the tool with a short "
      "summary.\n",
      "for (size_t i = 0; i < items.size(); ++i) { total += items[i].price * items[i].quantity; "
      "}\n",
      "2026-03-14T09:26:53Z INFO request finished status=200 duration_ms=42 route=/api/v1/orders\n",
      "See https://docs.example.org/guide/getting-started#install for the installation steps.\n",
      "| region | requests | p50 ms | p99 ms |\n| eu-west | 18234 | 12 | 97 |\n",
      "{\"id\": 12345, \"name\": \"widget\", \"tags\": [\"blue\", \"small\"], \"price\": 9.99}\n",
      "Meeting notes: we agreed to ship the migration next week and to keep the old path for a "
      "month.\n",
      "commit 3f2a9c1 fixed the retry loop; version 2.14.3 is tagged and the changelog is "
      "updated.\n"};
  std::string out;
  while (out.size() < bytes) out += pick(lines);
  out.resize(bytes);
  return out;
}

// Every ~150 bytes a secret or a piece of PII.
std::string dense(size_t bytes) {
  std::string out;
  const char* b62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  while (out.size() < bytes) {
    switch (rng() % 8) {
      case 0:
        out += "aws key AKIA" + rand_str("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16);
        break;
      case 1:
        out += "api_key = " + rand_str(b62, 32);
        break;
      case 2:
        out += "mail " + rand_str("abcdefghij", 6) + "@example.com";
        break;
      case 3:
        out += "call +1 650 253 " + rand_str("0123456789", 4);
        break;
      case 4:
        out += "card 4111 1111 1111 1111";
        break;
      case 5:
        out += "postgres://app:" + rand_str(b62, 14) + "@db.internal/prod";
        break;
      case 6:
        out += "token ghp_" + rand_str(b62, 36);
        break;
      case 7:
        out += "from 10.0." + std::to_string(rng() % 250) + "." + std::to_string(rng() % 250);
        break;
    }
    out +=
        " and then the service continued with the next item of the batch, as planned earlier "
        "today.\n";
  }
  out.resize(bytes);
  return out;
}

template <typename F>
double per_second(F&& f) {
  return bench::calls_per_cpu_second(g_seconds, f);
}

void throughput(const char* label, const std::vector<const Detector*>& dets,
                const std::string& text) {
  if (std::string_view(label).find(g_only) == std::string_view::npos) return;
  size_t findings = 0;
  double rate = per_second([&] {
    ScanContext ctx;
    findings = 0;
    for (const auto* d : dets) {
      auto r = d->scan(text, ctx);
      if (!r) {
        std::fprintf(stderr, "scan failed: %s\n", r.error().c_str());
        std::exit(1);
      }
      findings += r->size();
    }
  });
  std::printf("%-44s %9.0f MB/s   (%zu KB per scan, %zu findings)\n", label,
              rate * double(text.size()) / 1e6, text.size() / 1024, findings);
}

Json tool_argument(size_t bytes) {
  Json j = {
      {"query", "select id, name from customers where region = 'eu-west' order by created desc"},
      {"options", {{"limit", 50}, {"format", "table"}, {"include_deleted", false}}},
      {"items", Json::array()}};
  std::string text = ordinary(bytes);
  for (size_t at = 0; at < text.size(); at += 120)
    j["items"].push_back({{"note", text.substr(at, 120)}, {"id", at}});
  return j;
}

void chain_cost(const char* label, const GuardrailChain& chain, const Json& arg) {
  if (std::string_view(label).find(g_only) == std::string_view::npos) return;
  double rate = per_second([&] {
    Json copy = arg;
    ScanContext ctx;
    Verdict v = chain.run(copy, ctx);
    if (v.blocked) std::exit(1);
  });
  double copy_rate = per_second([&] {
    Json copy = arg;
    (void)copy;
  });
  double us = 1e6 / rate - 1e6 / copy_rate;  // minus the copy of the argument
  std::printf("%-44s %9.2f us per call (%zu B of JSON)\n", label, us, arg.dump().size());
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == "--seconds") g_seconds = std::atof(argv[i + 1]);
    if (std::string(argv[i]) == "--only") g_only = argv[i + 1];
  }
  auto secrets = SecretsDetector::create().value();
  auto pii = PiiDetector::create().value();
  InjectionDetector injection;
  std::string plain = ordinary(1 << 20), busy = dense(1 << 20), plain64 = ordinary(64 << 10);

  bool per_kind = false;
  for (int i = 1; i < argc; ++i) per_kind |= std::string(argv[i]) == "--per-kind";
  if (per_kind) {
    for (const auto& k : PiiDetector::kind_names()) {
      auto d = PiiDetector::create({{k}, {"US"}}).value();
      throughput(("pii[" + k + "], ordinary").c_str(), {d.get()}, plain);
      throughput(("pii[" + k + "], dense").c_str(), {d.get()}, busy);
    }
    return 0;
  }
  std::printf("detector throughput, one core\n");
  throughput("secrets, ordinary text (1 MB)", {secrets.get()}, plain);
  throughput("pii, ordinary text (1 MB)", {pii.get()}, plain);
  throughput("secrets+pii, ordinary text (1 MB)", {secrets.get(), pii.get()}, plain);
  throughput("secrets+pii, ordinary text (64 KB)", {secrets.get(), pii.get()}, plain64);
  throughput("secrets, secret-dense text (1 MB)", {secrets.get()}, busy);
  throughput("pii, secret-dense text (1 MB)", {pii.get()}, busy);
  throughput("secrets+pii, secret-dense text (1 MB)", {secrets.get(), pii.get()}, busy);
  throughput("injection, ordinary text (1 MB)", {&injection}, plain);
  throughput("injection, secret-dense text (1 MB)", {&injection}, busy);
  throughput("all text detectors, ordinary text (1 MB)", {secrets.get(), pii.get(), &injection},
             plain);
  throughput("all text detectors, secret-dense text (1 MB)",
             {secrets.get(), pii.get(), &injection}, busy);
  // What one small string costs each detector (the fixed cost per scan).
  std::string plain1k = ordinary(1 << 10);
  throughput("secrets, ordinary text (1 KB)", {secrets.get()}, plain1k);
  throughput("pii, ordinary text (1 KB)", {pii.get()}, plain1k);
  throughput("injection, ordinary text (1 KB)", {&injection}, plain1k);
  // Tool payloads are scanned string by string: 64 KB is a large one.
  std::string busy64 = dense(64 << 10);
  throughput("all text detectors, ordinary text (64 KB)", {secrets.get(), pii.get(), &injection},
             plain64);
  throughput("all text detectors, secret-dense text (64 KB)",
             {secrets.get(), pii.get(), &injection}, busy64);

  auto rail = [](std::string n, std::shared_ptr<const Detector> d, Action a) {
    return std::make_shared<const Guardrail>(
        Guardrail{std::move(n), std::move(d), Mode::Enforce, a, {Hook::McpPreTool}});
  };
  GuardrailChain chain(Hook::McpPreTool, {rail("no-secrets", secrets, Action::Validate),
                                          rail("pii", pii, Action::Mutate)});
  std::printf("\nchain cost (secrets validate + pii mutate, enforce), one core\n");
  chain_cost("1 KB JSON tool argument", chain, tool_argument(700));
  chain_cost("100 KB JSON tool argument", chain, tool_argument(80 << 10));
  return 0;
}
