// bench-json: the gateway's JSON parse and serialize on tools/call messages,
// old path against new in one run. "old" is what rpc::parse and rpc::dump
// did before (nesting_depth + nlohmann's parser; nlohmann's dump with the
// replace handler), "new" is rpc::parse and rpc::dump as they are.
//
// Messages, 1 KB and 100 KB each, generated deterministically:
//   - prose:  a tools/call request whose argument is plain English prose (the
//             bench-loadgen shape) and the echo result carrying it back;
//   - mixed:  the same with text that needs work: newlines, tabs, quotes,
//             backslashes, accented Latin, CJK and emoji;
//   - rows:   a result with structuredContent, an array of small records
//             (integers, floats, short strings, booleans, nulls).
//
//   bench-json [--seconds S] [--only SUBSTRING]
// (default 0.5 s of CPU per measurement). Rates are per second of this
// thread's CPU time (one core): MB/s of message text, and µs per message.
#include <time.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "core/jsonrpc.h"
#include "cpu_time.h"

using namespace portcullis;

namespace {

double g_seconds = 0.5;
std::string g_only;
std::mt19937_64 rng(42);

template <typename F>
double per_second(F&& f) {
  return bench::calls_per_cpu_second(g_seconds, f);
}

std::string pick(const std::vector<std::string>& v) { return v[rng() % v.size()]; }

std::string prose(size_t n) {
  const std::vector<std::string> words = {
      "the", "quarterly", "report", "covers", "shipping", "volumes", "customer", "feedback",
      "and", "plans", "for", "next", "year", "with", "a", "summary", "of", "open", "issues"};
  std::string out;
  while (out.size() < n) out += pick(words) + (rng() % 12 == 0 ? ". " : " ");
  out.resize(n);
  return out;
}

std::string mixed(size_t n) {
  const std::vector<std::string> pieces = {
      "Résumé of the café meeting: ", "naïve façade ", "数据库连接失败，请重试。", "🚀 deployed ",
      "\"quoted\" ", "C:\\Users\\build\\log.txt ", "line one\nline two\n", "col\tcol\tcol\n",
      "plain words in between ", "Grüße aus Köln ", "ок, принято ", "x < y && y > z "};
  std::string out;
  while (out.size() < n) out += pick(pieces);
  while (out.size() > n) out.pop_back();
  while (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xC0) == 0x80) out.pop_back();
  if (!out.empty() && static_cast<unsigned char>(out.back()) >= 0xC0) out.pop_back();
  return out;
}

Json request(const std::string& text) {
  return rpc::make_request(7, "tools/call",
                           {{"name", "echo"},
                            {"arguments", {{"message", text}, {"verbose", false}}},
                            {"_meta", {{"progressToken", "p-7"}}}});
}

Json echo_result(const std::string& text) {
  return rpc::make_result(
      7, {{"content", Json::array({{{"type", "text"}, {"text", text}}})}, {"isError", false}});
}

Json rows_result(size_t bytes) {
  Json rows = Json::array();
  Json msg = rpc::make_result(7, {{"content", Json::array()}, {"isError", false}});
  size_t size = 0;
  while (size < bytes) {
    Json row = {{"id", rng() % 1000000},
                {"delta", int64_t(rng() % 2000) - 1000},
                {"price", double(rng() % 100000) / 100.0},
                {"ratio", std::ldexp(double(rng() % (1u << 30)), -30)},
                {"name", prose(8 + rng() % 24)},
                {"active", rng() % 2 == 0},
                {"note", nullptr}};
    size += row.dump().size() + 1;
    rows.push_back(std::move(row));
  }
  msg["result"]["structuredContent"] = {{"rows", std::move(rows)}};
  return msg;
}

Result<Json> old_parse(std::string_view text, const rpc::Limits& limits) {
  if (text.size() > limits.max_bytes) return fail("too large");
  if (rpc::nesting_depth(text, limits.max_depth) > limits.max_depth) return fail("too deep");
  Json j = Json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded()) return fail("invalid JSON");
  return j;
}

std::string old_dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

struct Pair {
  double old_us, new_us;
};

Pair measure(const char* label, const Json& msg) {
  const std::string text = old_dump(msg);
  if (rpc::dump(msg) != text || !(rpc::parse(text, {}).value() == msg)) {
    std::fprintf(stderr, "%s: old and new disagree\n", label);
    std::exit(1);
  }
  const rpc::Limits limits;
  double mb = double(text.size()) / 1e6;
  double po = per_second([&] { if (!old_parse(text, limits).ok()) std::exit(1); });
  double pn = per_second([&] { if (!rpc::parse(text, limits).ok()) std::exit(1); });
  double dold = per_second([&] { if (old_dump(msg).size() != text.size()) std::exit(1); });
  double dnew = per_second([&] { if (rpc::dump(msg).size() != text.size()) std::exit(1); });
  std::printf("%-24s %7zu B  parse %8.1f -> %8.1f MB/s %9.2f -> %8.2f us (x%.1f)\n", label,
              text.size(), po * mb, pn * mb, 1e6 / po, 1e6 / pn, pn / po);
  std::printf("%-24s %7s    dump  %8.1f -> %8.1f MB/s %9.2f -> %8.2f us (x%.1f)\n", "", "",
              dold * mb, dnew * mb, 1e6 / dold, 1e6 / dnew, dnew / dold);
  return {1e6 / po + 1e6 / dold, 1e6 / pn + 1e6 / dnew};
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == "--seconds") g_seconds = std::atof(argv[i + 1]);
    if (std::string(argv[i]) == "--only") g_only = argv[i + 1];
  }
  std::printf("JSON parse and dump per message, one core, old -> new\n");
  for (size_t size : {size_t{1} << 10, size_t{100} << 10}) {
    const std::string kb = std::to_string(size >> 10) + " KB";
    std::string p = prose(size), m = mixed(size);
    struct Case {
      std::string label;
      Json msg;
    } cases[] = {{"prose request " + kb, request(p)}, {"prose result " + kb, echo_result(p)},
                 {"mixed request " + kb, request(m)}, {"mixed result " + kb, echo_result(m)},
                 {"rows result " + kb, rows_result(size)}};
    Pair call{0, 0};
    for (const auto& c : cases) {
      if (c.label.find(g_only) == std::string::npos) continue;
      Pair r = measure(c.label.c_str(), c.msg);
      if (c.label.rfind("prose", 0) == 0) call.old_us += r.old_us, call.new_us += r.new_us;
    }
    if (call.old_us > 0) {
      // A relayed call parses and serializes its request and its result once each.
      std::printf("%-24s prose call, parse+dump of request and result: %.2f -> %.2f us (x%.1f)\n",
                  kb.c_str(), call.old_us, call.new_us, call.old_us / call.new_us);
    }
  }
  return 0;
}
