// bench-upstream: a minimal, spec-correct MCP Streamable HTTP server with one
// tool (`echo`), used as the fast upstream in benchmarks. It does as little
// work per call as a conforming server can, so that a benchmark through the
// gateway measures the gateway.
//
//   bench-upstream --listen 127.0.0.1:PORT     (PORT 0 picks a free port)
//
// Prints "listening on HOST:PORT" on stdout once the socket is bound.
//
// POST /mcp    JSON-RPC: initialize, notifications/initialized, ping,
//              tools/list, tools/call echo. Responses are application/json.
// DELETE /mcp  ends the session (200; 404 for an unknown session).
// GET /mcp     405: this server never sends server-initiated messages.
#include <httplib.h>
#include <sys/socket.h>

#include <cstdio>
#include <iostream>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_set>

#include "core/crypto.h"
#include "core/jsonrpc.h"

using portcullis::Json;
namespace rpc = portcullis::rpc;

namespace {

constexpr const char* kLatestVersion = "2025-11-25";
constexpr const char* kSupportedVersions[] = {"2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"};

bool supported(const std::string& v) {
  for (const char* s : kSupportedVersions) {
    if (v == s) return true;
  }
  return false;
}

class Sessions {
 public:
  std::string create() {
    std::string id = portcullis::crypto::random_hex(16);
    std::unique_lock lk(mu_);
    ids_.insert(id);
    return id;
  }
  bool contains(const std::string& id) const {
    std::shared_lock lk(mu_);
    return ids_.count(id) != 0;
  }
  bool erase(const std::string& id) {
    std::unique_lock lk(mu_);
    return ids_.erase(id) != 0;
  }

 private:
  mutable std::shared_mutex mu_;
  std::unordered_set<std::string> ids_;
};

const Json& tool_list() {
  static const Json tools = {
      {"tools",
       Json::array({{{"name", "echo"},
                     {"description", "Returns the message it is given."},
                     {"inputSchema",
                      {{"type", "object"},
                       {"properties", {{"message", {{"type", "string"}}}}},
                       {"required", Json::array({"message"})}}}}})}};
  return tools;
}

void reply_json(httplib::Response& res, const Json& msg, int status = 200) {
  res.status = status;
  res.set_content(rpc::dump(msg), "application/json");
}

void reply_http_error(httplib::Response& res, int status, int code, const std::string& message) {
  reply_json(res, rpc::make_error(nullptr, code, message), status);
}

Json call_tool(const Json& id, const Json& params) {
  if (!params.is_object() || !params.contains("name") || !params["name"].is_string()) {
    return rpc::make_error(id, rpc::kInvalidParams, "tools/call needs a string \"name\"");
  }
  if (params["name"] != "echo") {
    return rpc::make_error(id, rpc::kInvalidParams, "Unknown tool: " + params["name"].get<std::string>());
  }
  auto args = params.find("arguments");
  if (args == params.end() || !args->is_object() || !args->contains("message") || !(*args)["message"].is_string()) {
    // Input validation failures are tool execution errors (isError), so the
    // model can see and correct them.
    return rpc::make_result(
        id, {{"content", Json::array({{{"type", "text"}, {"text", "echo: \"message\" must be a string"}}})},
             {"isError", true}});
  }
  return rpc::make_result(id, {{"content", Json::array({{{"type", "text"}, {"text", (*args)["message"]}}})}});
}

void handle_post(Sessions& sessions, const httplib::Request& req, httplib::Response& res) {
  auto parsed = rpc::parse(req.body, rpc::Limits{});
  if (!parsed) return reply_http_error(res, 400, rpc::kParseError, "Parse error: " + parsed.error());
  Json& msg = parsed.value();
  std::string why;
  auto kind = rpc::classify(msg, &why);
  if (kind == rpc::Kind::Invalid) return reply_http_error(res, 400, rpc::kInvalidRequest, "Invalid Request: " + why);

  const std::string method = msg.value("method", std::string());
  const bool is_initialize = kind == rpc::Kind::Request && method == "initialize";
  if (!is_initialize) {
    std::string sid = req.get_header_value("Mcp-Session-Id");
    if (sid.empty()) return reply_http_error(res, 400, rpc::kInvalidRequest, "Bad Request: missing Mcp-Session-Id");
    if (!sessions.contains(sid)) return reply_http_error(res, 404, rpc::kInvalidRequest, "Session not found");
    std::string version = req.get_header_value("MCP-Protocol-Version");
    if (!version.empty() && !supported(version)) {
      return reply_http_error(res, 400, rpc::kInvalidRequest, "Unsupported MCP-Protocol-Version: " + version);
    }
  }
  if (kind != rpc::Kind::Request) {  // notifications (incl. initialized) and responses
    res.status = 202;
    return;
  }

  const Json& id = msg["id"];
  const Json params = msg.value("params", Json::object());
  if (method == "initialize") {
    std::string requested = params.is_object() ? params.value("protocolVersion", std::string()) : std::string();
    Json result = {{"protocolVersion", supported(requested) ? requested : kLatestVersion},
                   {"capabilities", {{"tools", Json::object()}}},
                   {"serverInfo", {{"name", "bench-upstream"}, {"version", "0.1.0"}}}};
    res.set_header("Mcp-Session-Id", sessions.create());
    return reply_json(res, rpc::make_result(id, std::move(result)));
  }
  if (method == "tools/call") return reply_json(res, call_tool(id, params));
  if (method == "tools/list") return reply_json(res, rpc::make_result(id, tool_list()));
  if (method == "ping") return reply_json(res, rpc::make_result(id, Json::object()));
  reply_json(res, rpc::make_error(id, rpc::kMethodNotFound, "Method not found: " + method));
}

int usage() {
  std::cerr << "usage: bench-upstream --listen HOST:PORT\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string listen;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--listen" && i + 1 < argc) listen = argv[++i];
    else if (a.rfind("--listen=", 0) == 0) listen = a.substr(9);
    else return usage();
  }
  auto colon = listen.rfind(':');
  if (listen.empty() || colon == std::string::npos) return usage();
  std::string host = listen.substr(0, colon);
  int port = 0;
  try {
    port = std::stoi(listen.substr(colon + 1));
  } catch (...) {
    return usage();
  }

  Sessions sessions;
  httplib::Server svr;
  svr.new_task_queue = [] { return new httplib::ThreadPool(64); };
  svr.set_tcp_nodelay(true);
  svr.set_keep_alive_max_count(1u << 30);  // httplib's default (5) would reconnect every 5 calls
  svr.set_keep_alive_timeout(60);
  svr.set_payload_max_length(4 * 1024 * 1024);

  svr.Post("/mcp", [&](const httplib::Request& req, httplib::Response& res) { handle_post(sessions, req, res); });
  svr.Delete("/mcp", [&](const httplib::Request& req, httplib::Response& res) {
    std::string sid = req.get_header_value("Mcp-Session-Id");
    if (sid.empty()) return reply_http_error(res, 400, rpc::kInvalidRequest, "Bad Request: missing Mcp-Session-Id");
    res.status = sessions.erase(sid) ? 200 : 404;
  });
  svr.Get("/mcp", [](const httplib::Request&, httplib::Response& res) {
    res.status = 405;
    res.set_header("Allow", "POST, DELETE");
  });

  // The packaged (compiled) httplib listens with a backlog of 5; a burst of
  // connects then overflows the accept queue and some clients see resets.
  // Capture the listening socket and raise its backlog after bind.
  socket_t listen_fd = -1;
  svr.set_socket_options([&](socket_t sock) {
    httplib::default_socket_options(sock);
    listen_fd = sock;
  });
  int bound = port == 0 ? svr.bind_to_any_port(host) : (svr.bind_to_port(host, port) ? port : -1);
  if (bound <= 0) {
    std::cerr << "bench-upstream: cannot listen on " << listen << "\n";
    return 1;
  }
  if (listen_fd >= 0) ::listen(listen_fd, 1024);
  std::cout << "listening on " << host << ":" << bound << std::endl;
  return svr.listen_after_bind() ? 0 : 1;
}
