// bench-audit: what the audit trail costs.
//
//   1. Request thread: one thread builds a record the way the record stage
//      does (strings, groups, metadata, raw arguments and result) and hands
//      it to AuditLog::record(), paced at --rate calls/s for --seconds; each
//      call is timed (build + record()). Goal: < 5 us per call at 5,000/s.
//   2. Sustained write rate: --records records handed over as fast as one
//      thread can (queue_full: block, so every record is written), then
//      flush(); records/s = committed records / elapsed wall time. Includes
//      capture (payload hashing), chaining, checkpoint signing and SQLite
//      commits (WAL, synchronous=NORMAL). Goal: >= 50,000 records/s.
// Both write to a SQLite file in a temp dir (--dir to choose where) with a
// signing key, as a gateway would.
//
//   bench-audit [--rate N] [--seconds S] [--records N] [--dir D] [--json]
#include <stdlib.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "core/crypto.h"
#include "cpu_time.h"
#include "record/audit.h"

using namespace portcullis;
using namespace portcullis::record;
using Clock = std::chrono::steady_clock;

namespace {

struct Args {
  double rate = 5000;
  double seconds = 5;
  size_t records = 300000;
  std::string dir;
  bool json = false;
};

// A typical tools/call: an authenticated user with metadata, small
// arguments, a result of a few hundred bytes.
// Payloads are moved in, as the record stage moves the request's arguments
// and the upstream's result.
AuditRecord make_record(uint64_t i, Json arguments, Json result) {
  AuditRecord r;
  r.ts_ms = 1760000000000 + static_cast<int64_t>(i);
  r.request_id = "0a1b2c3d-" + std::to_string(i);
  r.jsonrpc_id = std::to_string(i % 1000);
  r.session_id = "s-4f9a2c0e1b7d4e8f";
  r.subject = "alice@example.com";
  r.auth_method = "oauth";
  static const std::vector<std::string> groups = {"eng", "payments"};
  static const std::map<std::string, std::string> metadata = {
      {"team", "payments"}, {"project_id", "checkout"}, {"ticket_id", "PAY-1234"}};
  r.groups = Json(groups);  // as the record stage copies them from the Principal
  r.metadata = Json(metadata);
  r.method = "tools/call";
  r.virtual_server = "dev";
  r.upstream = "github";
  r.tool = "search_issues";
  r.original_tool = "search_issues";
  r.phases = {120, 35, 80, 4200, 4600};
  r.request_bytes = 180;
  r.response_bytes = 620;
  r.outcome = "ok";
  r.raw_arguments = std::move(arguments);
  r.raw_result = std::move(result);
  return r;
}

double pct(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  size_t k = std::min(v.size() - 1, static_cast<size_t>(p / 100.0 * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
  return v[k];
}

std::unique_ptr<AuditLog> open_log(const std::string& path) {
  AuditLog::Options o;
  o.key = SigningKey::from_hex(crypto::random_hex(32)).value();
  o.chain_id = "bench";
  auto log = AuditLog::open(path, o);
  if (!log) {
    std::fprintf(stderr, "bench-audit: %s\n", log.error().c_str());
    std::exit(1);
  }
  return std::move(log.value());
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "bench-audit: %s needs a value\n", k.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (k == "--rate")
      a.rate = std::stod(next());
    else if (k == "--seconds")
      a.seconds = std::stod(next());
    else if (k == "--records")
      a.records = std::stoull(next());
    else if (k == "--dir")
      a.dir = next();
    else if (k == "--json")
      a.json = true;
    else {
      std::fprintf(
          stderr, "usage: bench-audit [--rate N] [--seconds S] [--records N] [--dir D] [--json]\n");
      return 2;
    }
  }
  namespace fs = std::filesystem;
  fs::path dir = a.dir.empty() ? fs::temp_directory_path() /
                                     ("portcullis-bench-audit-" + crypto::random_hex(6))
                               : fs::path(a.dir);
  fs::create_directories(dir);
  const Json arguments = {
      {"query", "is:open label:bug checkout timeout"}, {"repo", "acme/payments"}, {"limit", 20}};
  Json result = {{"content", Json::array({{{"type", "text"}, {"text", std::string(400, 'r')}}})},
                 {"isError", false}};

  // ---- 1. request-thread cost at a steady rate
  std::vector<double> us, record_us;  // build + record(), record() alone
  double cpu_per_call_us = 0;
  uint64_t paced_written = 0;
  {
    auto log = open_log((dir / "paced.db").string());
    const auto total = static_cast<uint64_t>(a.rate * a.seconds);
    us.reserve(total);
    record_us.reserve(total);
    const auto period = std::chrono::duration<double>(1.0 / a.rate);
    const auto start = Clock::now();
    double cpu = 0;
    for (uint64_t i = 0; i < total; ++i) {
      auto due =
          start + std::chrono::duration_cast<Clock::duration>(period * static_cast<double>(i));
      std::this_thread::sleep_until(due);
      Json args_copy = arguments, result_copy = result;  // the request's own payloads
      double c0 = bench::thread_cpu_seconds();
      auto t0 = Clock::now();
      AuditRecord r = make_record(i, std::move(args_copy), std::move(result_copy));
      auto t1 = Clock::now();
      log->record(std::move(r));
      auto t2 = Clock::now();
      cpu += bench::thread_cpu_seconds() - c0;
      us.push_back(std::chrono::duration<double, std::micro>(t2 - t0).count());
      record_us.push_back(std::chrono::duration<double, std::micro>(t2 - t1).count());
    }
    log->flush();
    paced_written = log->written();
    cpu_per_call_us = cpu / static_cast<double>(total) * 1e6;
  }
  double mean = 0;
  for (double v : us) mean += v;
  mean /= static_cast<double>(std::max<size_t>(1, us.size()));
  const size_t paced_calls = us.size();
  double p50 = pct(us, 50), p99 = pct(us, 99), p999 = pct(us, 99.9);
  double mx = us.empty() ? 0 : *std::max_element(us.begin(), us.end());
  double rec_p50 = pct(record_us, 50), rec_p99 = pct(record_us, 99);

  // ---- 2. sustained write rate
  double elapsed = 0, cpu_s = 0, writer_cpu_s = 0;
  uint64_t written = 0;
  {
    auto log = open_log((dir / "sustained.db").string());
    const auto t0 = Clock::now();
    const double p0 = bench::process_cpu_seconds(), m0 = bench::thread_cpu_seconds();
    for (uint64_t i = 0; i < a.records; ++i) log->record(make_record(i, arguments, result));
    log->flush();
    elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
    cpu_s = bench::process_cpu_seconds() - p0;
    writer_cpu_s = cpu_s - (bench::thread_cpu_seconds() - m0);  // everything but this (the producer) thread
    written = log->written();
  }
  const double rate = static_cast<double>(written) / elapsed;
  const double cpu_rate = static_cast<double>(written) / cpu_s;
  const double writer_rate = static_cast<double>(written) / writer_cpu_s;
  double load[1] = {0};
  getloadavg(load, 1);
  const auto db_bytes = fs::file_size(dir / "sustained.db");
  if (a.dir.empty()) fs::remove_all(dir);

  if (a.json) {
    std::printf(
        "{\"request_thread\":{\"rate\":%.0f,\"calls\":%zu,\"written\":%llu,\"mean_us\":%.2f,\"p50_"
        "us\":%.2f,"
        "\"p99_us\":%.2f,\"p999_us\":%.2f,\"max_us\":%.1f,\"cpu_us\":%.2f,\"record_p50_us\":%.2f,"
        "\"record_p99_us\":%.2f},"
        "\"sustained\":{\"records\":%llu,\"seconds\":%.3f,\"records_per_s\":%.0f,\"records_per_cpu_"
        "s\":%.0f,\"records_per_writer_cpu_s\":%.0f,"
        "\"db_bytes\":%llu,\"load_average\":%.2f}}\n",
        a.rate, paced_calls, static_cast<unsigned long long>(paced_written), mean, p50, p99, p999,
        mx, cpu_per_call_us, rec_p50, rec_p99, static_cast<unsigned long long>(written), elapsed,
        rate, cpu_rate, writer_rate, static_cast<unsigned long long>(db_bytes), load[0]);
  } else {
    std::printf(
        "audit cost on the request thread (build record + AuditLog::record), %.0f calls/s for %.0f "
        "s, %zu calls:\n",
        a.rate, a.seconds, paced_calls);
    std::printf(
        "  mean %.2f us  p50 %.2f us  p99 %.2f us  p99.9 %.2f us  max %.1f us  (CPU %.2f us/call)  "
        "goal < 5 us\n",
        mean, p50, p99, p999, mx, cpu_per_call_us);
    std::printf("  of which AuditLog::record(): p50 %.2f us  p99 %.2f us\n", rec_p50, rec_p99);
    std::printf(
        "sustained write rate to SQLite: %llu records in %.2f s = %.0f records/s  (%.1f MB file)  "
        "goal >= 50000\n",
        static_cast<unsigned long long>(written), elapsed, rate,
        static_cast<double>(db_bytes) / 1e6);
    std::printf(
        "  CPU: %.0f records per second of the writer thread's CPU (%.0f counting the producer "
        "too)\n",
        writer_rate, cpu_rate);
    std::printf("  (wall-clock figures depend on the cores free: load average %.2f on %u cores)\n",
                load[0], std::thread::hardware_concurrency());
  }
  bool ok = paced_written == paced_calls && written == a.records;
  if (!ok) std::fprintf(stderr, "bench-audit: records were lost\n");
  return ok ? 0 : 1;
}
