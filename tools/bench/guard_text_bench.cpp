// bench-guard-text: single-thread throughput of the text guardrails of the
// guardsql branch (MB/s per core).
//
//   bench-guard-text [--seconds S] [--chunk BYTES] [FILE...]
//
// Injection: ordinary mixed text, scanned in chunks the size of a tool result
// (default 16 KiB). Without FILEs the text is the repository's README.md and
// package-lock.json (JSON), the C++ sources of src/core and src/identity, and
// the licence texts in /usr/share/common-licenses: prose, code and JSON.
// SQL: the ordinary queries of tests/corpus/sql/negatives.sql, one scan each.
// Poisoning: the legitimate tool definitions of
// tests/corpus/poisoning/negatives.json, one check_tool() each.
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "cpu_time.h"
#include "guard/injection_detector.h"
#include "guard/poisoning_detector.h"
#include "guard/sql_sanitizer.h"

using namespace portcullis;
using namespace portcullis::guard;
namespace fs = std::filesystem;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<fs::path> default_files(const fs::path& root) {
  std::vector<fs::path> out = {root / "README.md", root / "package-lock.json"};
  for (const char* dir : {"src/core", "src/identity"})
    for (const auto& e : fs::directory_iterator(root / dir))
      if (e.path().extension() == ".cpp" || e.path().extension() == ".h") out.push_back(e.path());
  if (fs::exists("/usr/share/common-licenses"))
    for (const auto& e : fs::directory_iterator("/usr/share/common-licenses"))
      if (e.is_regular_file()) out.push_back(e.path());
  return out;
}

// MB/s per second of this thread's CPU time (one core, even on a shared
// machine); `body` processes `bytes` bytes per call.
template <typename F>
double mb_per_s(double seconds, size_t bytes, F body, size_t* sink) {
  double calls = bench::calls_per_cpu_second(seconds, [&] { *sink += body(); });
  return static_cast<double>(bytes) * calls / 1e6;
}

std::vector<std::string> sql_queries(const fs::path& root) {
  std::istringstream in(slurp(root / "tests/corpus/sql/negatives.sql"));
  std::vector<std::string> out;
  std::string line;
  bool started = false;
  while (std::getline(in, line)) {
    if (line.rfind("-- @case", 0) == 0) {
      started = true;
      out.emplace_back();
    } else if (started) {
      out.back() += line + "\n";
    }
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 2.0;
  size_t chunk = 16 * 1024;
  std::vector<fs::path> files;
  std::string only;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--only") && i + 1 < argc) {
      only = argv[++i];
      continue;
    }
    if (!std::strcmp(argv[i], "--seconds") && i + 1 < argc)
      seconds = std::atof(argv[++i]);
    else if (!std::strcmp(argv[i], "--chunk") && i + 1 < argc)
      chunk = std::strtoul(argv[++i], nullptr, 10);
    else
      files.emplace_back(argv[i]);
  }
  const fs::path root = PORTCULLIS_SOURCE_ROOT;
  if (files.empty()) files = default_files(root);
  std::string text;
  for (const auto& f : files) text += slurp(f) + "\n\n";
  size_t sink = 0;

  InjectionDetector injection;
  ScanContext ctx;
  {
    auto a = injection.assess(text);
    std::printf(
        "injection: %zu bytes of mixed text from %zu files; combined score %.2f, %zu raw "
        "findings\n",
        text.size(), files.size(), a.score, a.findings.size());
  }
  std::vector<std::string_view> chunks;
  for (size_t off = 0; off < text.size(); off += chunk)
    chunks.push_back(std::string_view(text).substr(off, chunk));
  double inj_chunked = mb_per_s(
      seconds, text.size(),
      [&] {
        size_t n = 0;
        for (auto c : chunks) n += injection.scan(c, ctx)->size();
        return n;
      },
      &sink);
  double inj_whole = mb_per_s(
      seconds, text.size(), [&] { return injection.scan(text, ctx)->size(); }, &sink);
  std::printf("injection: %.0f MB/s in %zu-byte chunks, %.0f MB/s on the whole text\n", inj_chunked,
              chunk, inj_whole);
  if (only == "injection") return 0;

  SqlSanitizer sql{SqlSettings{}};
  auto queries = sql_queries(root);
  size_t qbytes = 0;
  for (const auto& q : queries) qbytes += q.size();
  double sql_mb = mb_per_s(
      seconds, qbytes,
      [&] {
        size_t n = 0;
        for (const auto& q : queries) n += sql.check(q).size();
        return n;
      },
      &sink);
  std::printf("sql: %.1f MB/s, %.0f queries/s (%zu ordinary queries, %.0f bytes each on average)\n",
              sql_mb,
              sql_mb * 1e6 / (static_cast<double>(qbytes) / static_cast<double>(queries.size())),
              queries.size(), static_cast<double>(qbytes) / static_cast<double>(queries.size()));

  PoisoningDetector poisoning;
  auto tools = Json::parse(slurp(root / "tests/corpus/poisoning/negatives.json"));
  size_t tbytes = 0;
  for (const auto& t : tools) tbytes += t.dump().size();
  double tool_mb = mb_per_s(
      seconds, tbytes,
      [&] {
        size_t n = 0;
        for (const auto& t : tools) n += poisoning.check_tool(t)->size();
        return n;
      },
      &sink);
  std::printf("poisoning: %.1f MB/s of tool JSON, %.0f tools/s (%zu definitions)\n", tool_mb,
              tool_mb * 1e6 / (static_cast<double>(tbytes) / static_cast<double>(tools.size())),
              tools.size());
  double pois_text = mb_per_s(
      seconds, text.size(),
      [&] {
        size_t n = 0;
        for (auto c : chunks) n += poisoning.scan(c, ctx)->size();
        return n;
      },
      &sink);
  std::printf("poisoning: %.0f MB/s as a text detector in %zu-byte chunks\n", pois_text, chunk);
  return sink == 0xFFFFFFFF ? 1 : 0;
}
