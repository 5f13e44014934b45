// bench-loadgen: closed-loop load generator for MCP `tools/call`.
//
//   bench-loadgen --url http://HOST:PORT/PATH --calls N --concurrency C
//                 [--warmup W] [--tool echo] [--stateless] [--api-key KEY]
//                 [--arg-bytes B] [--json]
//
// --arg-bytes pads each call's message with ordinary English prose to B bytes
// (the echo upstream returns it, so the result is as large), for measuring
// what guardrails cost per call at a given payload size.
//
// Each of C workers opens its own MCP session (initialize, then
// notifications/initialized; with --stateless none: every request carries the
// protocol 2026-07-28 _meta envelope and headers) on its own keep-alive connection with
// TCP_NODELAY, and then issues `tools/call echo {message}` back to back. W
// warm-up calls (shared across workers) run first and are not measured; then
// all workers start the measured phase together and N calls are shared among
// them. Each call's latency is measured with steady_clock around the HTTP
// exchange (request written to response fully read and parsed).
//
// A call counts as a failure unless the response is a JSON-RPC result with the
// request's id whose content[0].text equals the message sent and isError is not
// true. Both application/json and text/event-stream responses are accepted.
// Exit code: 0 if every call succeeded, 1 otherwise, 2 on usage errors.
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <numeric>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/jsonrpc.h"
#include "core/text.h"

using portcullis::Json;
namespace rpc = portcullis::rpc;
namespace text = portcullis::text;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
  std::string url;
  long calls = 0;
  long concurrency = 1;
  long warmup = 0;
  std::string tool = "echo";
  bool json = false;
  bool stateless = false;  // protocol 2026-07-28: no session
  std::string api_key;     // sent as X-API-Key on every request (a gateway with auth)
  long arg_bytes = 0;      // pad each message to this many bytes
};

// `n` bytes of ordinary prose (no secrets, PII, SQL or instructions).
std::string prose(size_t n) {
  static const std::string line =
      "The quarterly report covers shipping volumes, customer feedback and the plans for next year. ";
  std::string out;
  out.reserve(n);
  while (out.size() < n) out += line;
  out.resize(n);
  return out;
}

struct Url {
  std::string origin;  // scheme://host:port
  std::string path;
};

std::optional<Url> parse_url(const std::string& u) {
  if (!text::starts_with(u, "http://")) return std::nullopt;
  auto slash = u.find('/', 7);
  if (slash == 7) return std::nullopt;
  if (slash == std::string::npos) return Url{u, "/"};
  return Url{u.substr(0, slash), u.substr(slash)};
}

// Finds the JSON-RPC response with `id` in an HTTP response body.
std::optional<Json> find_response(const httplib::Response& res, const Json& id, std::string* why) {
  std::string ct = text::to_lower(res.get_header_value("Content-Type"));
  if (text::starts_with(ct, "application/json")) {
    auto j = rpc::parse(res.body, rpc::Limits{});
    if (!j) {
      *why = "unparseable JSON body: " + j.error();
      return std::nullopt;
    }
    if (j->is_object() && j->value("id", Json()) == id) return std::move(j.value());
    *why = "JSON body is not the response to this request";
    return std::nullopt;
  }
  if (text::starts_with(ct, "text/event-stream")) {
    std::optional<Json> found;
    text::SseParser parser([&](text::SseParser::Event&& ev) {
      if (found || ev.event != "message" || ev.data.empty()) return;
      auto j = rpc::parse(ev.data, rpc::Limits{});
      if (!j || !j->is_object()) return;
      if (rpc::classify(*j) == rpc::Kind::Response && j->value("id", Json()) == id) found = std::move(j.value());
    });
    parser.feed(res.body);
    if (!found) *why = "SSE stream ended without the response";
    return found;
  }
  *why = "unexpected Content-Type \"" + ct + "\" (HTTP " + std::to_string(res.status) + ")";
  return std::nullopt;
}

class Worker {
 public:
  Worker(const Url& url, int index, bool stateless, const std::string& api_key, size_t arg_bytes = 0)
      : url_(url), index_(index), stateless_(stateless), cli_(url.origin), arg_bytes_(arg_bytes) {
    if (!api_key.empty()) cli_.set_default_headers({{"X-API-Key", api_key}});
    cli_.set_keep_alive(true);
    cli_.set_tcp_nodelay(true);
    cli_.set_connection_timeout(10, 0);
    cli_.set_read_timeout(30, 0);
    cli_.set_write_timeout(30, 0);
  }

  // initialize + notifications/initialized. Returns an error message or "".
  std::string open_session() {
    if (stateless_) return {};  // 2026-07-28: every request stands alone
    Json req = rpc::make_request(next_id_++, "initialize",
                                 {{"protocolVersion", "2025-11-25"},
                                  {"capabilities", Json::object()},
                                  {"clientInfo", {{"name", "bench-loadgen"}, {"version", "0.1.0"}}}});
    auto res = post(req);
    if (!res) return "initialize: " + httplib::to_string(res.error());
    if (res->status != 200) return "initialize: HTTP " + std::to_string(res->status) + ": " + res->body;
    std::string why;
    auto msg = find_response(*res, req["id"], &why);
    if (!msg) return "initialize: " + why;
    if (rpc::is_error(*msg)) return "initialize failed: " + rpc::dump((*msg)["error"]);
    session_id_ = res->get_header_value("Mcp-Session-Id");
    protocol_version_ = (*msg)["result"].value("protocolVersion", std::string("2025-11-25"));
    auto ack = post(rpc::make_notification("notifications/initialized", Json::object()));
    if (!ack) return "notifications/initialized: " + httplib::to_string(ack.error());
    if (ack->status != 202 && ack->status != 200) {
      return "notifications/initialized: HTTP " + std::to_string(ack->status) + ": " + ack->body;
    }
    return {};
  }

  // One tools/call; returns true if the result is correct.
  bool call(const std::string& tool, std::string* why) {
    const long id = next_id_++;
    std::string message = "w" + std::to_string(index_) + "-" + std::to_string(id);
    if (arg_bytes_ > message.size() + 1) message += " " + prose(arg_bytes_ - message.size() - 1);
    Json params = {{"name", tool}, {"arguments", {{"message", message}}}};
    httplib::Headers extra;
    if (stateless_) {
      params["_meta"] = {{"io.modelcontextprotocol/protocolVersion", "2026-07-28"},
                         {"io.modelcontextprotocol/clientCapabilities", Json::object()},
                         {"io.modelcontextprotocol/clientInfo", {{"name", "bench-loadgen"}, {"version", "0.1.0"}}}};
      extra = {{"MCP-Protocol-Version", "2026-07-28"}, {"Mcp-Method", "tools/call"}, {"Mcp-Name", tool}};
    }
    Json req = rpc::make_request(id, "tools/call", std::move(params));
    auto res = post(req, std::move(extra));
    if (!res) {
      *why = "transport: " + httplib::to_string(res.error());
      return false;
    }
    if (res->status != 200) {
      *why = "HTTP " + std::to_string(res->status) + ": " + res->body.substr(0, 200);
      return false;
    }
    auto msg = find_response(*res, id, why);
    if (!msg) return false;
    if (rpc::is_error(*msg)) {
      *why = "JSON-RPC error: " + rpc::dump((*msg)["error"]);
      return false;
    }
    const Json& result = (*msg)["result"];
    if (!result.is_object() || result.value("isError", false)) {
      *why = "tool error: " + rpc::dump(result);
      return false;
    }
    auto content = result.find("content");
    if (content == result.end() || !content->is_array() || content->empty() || !(*content)[0].is_object() ||
        (*content)[0].value("type", std::string()) != "text" ||
        (*content)[0].value("text", std::string()) != message) {
      *why = "wrong result: " + rpc::dump(result).substr(0, 200);
      return false;
    }
    return true;
  }

  void close_session() {
    if (session_id_.empty()) return;
    httplib::Headers h = {{"Mcp-Session-Id", session_id_}};
    cli_.Delete(url_.path, h);
  }

 private:
  httplib::Result post(const Json& body, httplib::Headers h = {}) {
    h.emplace("Accept", "application/json, text/event-stream");
    if (!session_id_.empty()) h.emplace("Mcp-Session-Id", session_id_);
    if (!protocol_version_.empty()) h.emplace("MCP-Protocol-Version", protocol_version_);
    return cli_.Post(url_.path, h, rpc::dump(body), "application/json");
  }

  Url url_;
  int index_;
  bool stateless_;
  httplib::Client cli_;
  size_t arg_bytes_ = 0;
  long next_id_ = 1;
  std::string session_id_;
  std::string protocol_version_;
};

double percentile(const std::vector<int64_t>& sorted_ns, double p) {
  if (sorted_ns.empty()) return 0;
  size_t rank = static_cast<size_t>(std::ceil(p * static_cast<double>(sorted_ns.size())));
  rank = std::clamp<size_t>(rank, 1, sorted_ns.size());
  return static_cast<double>(sorted_ns[rank - 1]) / 1000.0;
}

bool parse_long(const char* s, long* out) {
  try {
    size_t pos = 0;
    long v = std::stol(s, &pos);
    if (s[pos] != '\0' || v < 0) return false;
    *out = v;
    return true;
  } catch (...) {
    return false;
  }
}

int usage() {
  std::cerr << "usage: bench-loadgen --url http://HOST:PORT/PATH --calls N --concurrency C [--warmup W] "
               "[--tool NAME] [--stateless] [--api-key KEY] [--arg-bytes B] [--json]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* v = nullptr;
    if (a == "--json") opt.json = true;
    else if (a == "--stateless") opt.stateless = true;
    else if (a == "--url" && (v = value())) opt.url = v;
    else if (a == "--tool" && (v = value())) opt.tool = v;
    else if (a == "--api-key" && (v = value())) opt.api_key = v;
    else if (a == "--calls" && (v = value())) { if (!parse_long(v, &opt.calls)) return usage(); }
    else if (a == "--concurrency" && (v = value())) { if (!parse_long(v, &opt.concurrency)) return usage(); }
    else if (a == "--warmup" && (v = value())) { if (!parse_long(v, &opt.warmup)) return usage(); }
    else if (a == "--arg-bytes" && (v = value())) { if (!parse_long(v, &opt.arg_bytes)) return usage(); }
    else return usage();
  }
  auto url = parse_url(opt.url);
  if (!url || opt.calls <= 0 || opt.concurrency <= 0) return usage();
  const int workers_n = static_cast<int>(opt.concurrency);

  std::atomic<long> warmup_left{opt.warmup};
  std::atomic<long> calls_left{opt.calls};
  std::atomic<long> failures{0};
  std::atomic<long> setup_failures{0};
  std::atomic<long> warmup_failures{0};
  std::mutex mu;  // guards latencies, first_error
  std::vector<int64_t> latencies;
  latencies.reserve(static_cast<size_t>(opt.calls));
  std::string first_error;
  auto note_error = [&](const std::string& e) {
    std::lock_guard lk(mu);
    if (first_error.empty()) first_error = e;
  };

  // Sessions are opened one at a time: a burst of C simultaneous connects can
  // overflow a small listen backlog (the packaged httplib uses 5), which is a
  // setup artefact, not what is being measured.
  std::mutex setup_mu;
  Clock::time_point start, end;
  std::barrier sync(workers_n, [&]() noexcept { start = Clock::now(); });

  std::vector<std::thread> threads;
  for (int w = 0; w < workers_n; ++w) {
    threads.emplace_back([&, w] {
      Worker worker(*url, w, opt.stateless, opt.api_key, static_cast<size_t>(opt.arg_bytes));
      std::string err;
      {
        std::lock_guard lk(setup_mu);
        err = worker.open_session();
      }
      if (!err.empty()) {
        setup_failures.fetch_add(1);
        note_error(err);
      }
      std::string why;
      while (err.empty() && warmup_left.fetch_sub(1) > 0) {
        if (!worker.call(opt.tool, &why)) {
          warmup_failures.fetch_add(1);
          note_error("warmup: " + why);
        }
      }
      sync.arrive_and_wait();  // measured phase starts for everyone together
      // A run with a failed session is not measured at all: its figures would
      // describe fewer workers than asked for.
      const bool measure = setup_failures.load() == 0;
      std::vector<int64_t> mine;
      mine.reserve(static_cast<size_t>(opt.calls / workers_n + 1));
      while (measure && calls_left.fetch_sub(1) > 0) {
        auto t0 = Clock::now();
        bool ok = worker.call(opt.tool, &why);
        auto t1 = Clock::now();
        mine.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
        if (!ok) {
          failures.fetch_add(1);
          note_error(why);
        }
      }
      {
        std::lock_guard lk(mu);
        latencies.insert(latencies.end(), mine.begin(), mine.end());
        auto now = Clock::now();
        if (now > end) end = now;
      }
      worker.close_session();  // after the clock stopped for this worker
    });
  }
  for (auto& t : threads) t.join();

  std::sort(latencies.begin(), latencies.end());
  const long completed = static_cast<long>(latencies.size());
  const double wall_s = completed > 0 ? std::chrono::duration<double>(end - start).count() : 0;
  const double mean_us = latencies.empty() ? 0
                         : static_cast<double>(std::accumulate(latencies.begin(), latencies.end(), int64_t{0})) /
                               static_cast<double>(latencies.size()) / 1000.0;
  const double p50 = percentile(latencies, 0.50), p90 = percentile(latencies, 0.90),
               p99 = percentile(latencies, 0.99), max = percentile(latencies, 1.0);
  const double throughput = wall_s > 0 ? static_cast<double>(completed) / wall_s : 0;
  const long failed = failures.load();
  const bool ok = completed == opt.calls && failed == 0 && setup_failures.load() == 0 && warmup_failures.load() == 0;

  if (opt.json) {
    Json out = {{"url", opt.url},
                {"ok", ok},
                {"calls", opt.calls},
                {"completed", completed},
                {"concurrency", opt.concurrency},
                {"warmup", opt.warmup},
                {"failures", failed},
                {"session_failures", setup_failures.load()},
                {"warmup_failures", warmup_failures.load()},
                {"p50_us", p50},
                {"p90_us", p90},
                {"p99_us", p99},
                {"max_us", max},
                {"mean_us", mean_us},
                {"throughput_cps", throughput},
                {"wall_s", wall_s}};
    if (!first_error.empty()) out["first_error"] = first_error;
    std::cout << rpc::dump(out) << std::endl;
  } else {
    std::printf("%s  calls %ld/%ld  concurrency %ld  warmup %ld  failures %ld (warmup %ld, sessions %ld)\n",
                opt.url.c_str(), completed, opt.calls, opt.concurrency, opt.warmup, failed,
                warmup_failures.load(), setup_failures.load());
    std::printf("latency us: p50 %.1f  p90 %.1f  p99 %.1f  max %.1f  mean %.1f\n", p50, p90, p99, max, mean_us);
    std::printf("throughput: %.0f calls/s over %.3f s\n", throughput, wall_s);
  }
  if (!first_error.empty()) std::cerr << "bench-loadgen: first error: " << first_error << "\n";
  return ok ? 0 : 1;
}
