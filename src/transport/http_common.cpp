#include "transport/http_common.h"

#include <sys/socket.h>

#include <charconv>
#include <map>

#include "core/base64.h"
#include "core/text.h"

namespace portcullis::transport::detail {

std::string Url::origin() const { return scheme + "://" + host + ":" + std::to_string(port); }

Result<Url> parse_url(std::string_view in) {
  Url u;
  size_t sep = in.find("://");
  if (sep == std::string_view::npos) return fail("invalid URL \"" + std::string(in) + "\" (expected http://host[:port]/path)");
  u.scheme = text::to_lower(in.substr(0, sep));
  if (u.scheme != "http" && u.scheme != "https") {
    return fail("unsupported URL scheme \"" + u.scheme + "\" in \"" + std::string(in) + "\" (use http or https)");
  }
  std::string_view rest = in.substr(sep + 3);
  size_t path_start = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, path_start);
  std::string_view tail = path_start == std::string_view::npos ? std::string_view() : rest.substr(path_start);
  if (authority.find('@') != std::string_view::npos) {
    return fail("URL \"" + std::string(in) + "\" must not contain credentials (use headers)");
  }
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return fail("invalid IPv6 host in URL \"" + std::string(in) + "\"");
    u.host = std::string(authority.substr(0, close + 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return fail("invalid URL \"" + std::string(in) + "\"");
      port_text = after.substr(1);
    }
  } else {
    size_t colon = authority.rfind(':');
    u.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (u.host.empty()) return fail("URL \"" + std::string(in) + "\" has no host");
  if (!port_text.empty()) {
    int p = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), p);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || p <= 0 || p > 65535) {
      return fail("invalid port in URL \"" + std::string(in) + "\"");
    }
    u.port = p;
  } else {
    u.port = u.scheme == "https" ? 443 : 80;
  }
  size_t hash = tail.find('#');
  if (hash != std::string_view::npos) tail = tail.substr(0, hash);
  if (tail.empty() || tail.front() == '?') u.target.push_back('/');
  u.target.append(tail);
  return u;
}

Result<Url> resolve_url(const Url& base, std::string_view ref) {
  if (ref.empty()) return fail("empty URL reference");
  std::string lower = text::to_lower(ref.substr(0, 8));
  if (text::starts_with(lower, "http://") || text::starts_with(lower, "https://")) return parse_url(ref);
  if (text::starts_with(ref, "//")) return parse_url(base.scheme + ":" + std::string(ref));
  Url u = base;
  if (ref.front() == '/') {
    u.target = std::string(ref);
  } else if (ref.front() == '?') {
    u.target = base.target.substr(0, base.target.find('?')) + std::string(ref);
  } else {
    std::string path = base.target.substr(0, base.target.find('?'));
    path = path.substr(0, path.rfind('/') + 1);
    u.target = path + std::string(ref);
  }
  size_t hash = u.target.find('#');
  if (hash != std::string::npos) u.target.resize(hash);
  return u;
}

ElasticPool& http_pool() {
  // Never destroyed: workers may still be finishing exchanges at exit.
  static ElasticPool* pool = new ElasticPool(ElasticPool::Options{
      .min_idle = 4, .max_workers = 16384, .idle_timeout = std::chrono::milliseconds(30000),
      .stack_bytes = 512 * 1024});
  return *pool;
}

std::shared_ptr<ClientPool> ClientPool::for_origin(const std::string& origin) {
  static std::mutex mu;
  static auto* pools = new std::map<std::string, std::shared_ptr<ClientPool>>();
  std::lock_guard lock(mu);
  auto& p = (*pools)[origin];
  if (!p) p = std::make_shared<ClientPool>(origin);
  return p;
}

static void apply(httplib::Client& c, const ClientTimeouts& t) {
  c.set_connection_timeout(t.connect);
  c.set_read_timeout(t.read);
  c.set_write_timeout(t.write);
}

std::unique_ptr<httplib::Client> ClientPool::make(const ClientTimeouts& t) const {
  auto c = std::make_unique<httplib::Client>(origin_);
  c->set_keep_alive(true);
  c->set_tcp_nodelay(true);
  c->set_follow_location(false);
  apply(*c, t);
  return c;
}

std::unique_ptr<httplib::Client> ClientPool::checkout(const ClientTimeouts& t) {
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      auto c = std::move(idle_.back());
      idle_.pop_back();
      apply(*c, t);
      return c;
    }
  }
  return make(t);
}

void ClientPool::checkin(std::unique_ptr<httplib::Client> c, bool reusable) {
  if (!c || !reusable || !c->is_valid()) return;
  std::unique_ptr<httplib::Client> drop;
  std::lock_guard lock(mu_);
  if (idle_.size() < kMaxIdle) idle_.push_back(std::move(c));
  else drop = std::move(c);
}

ClientTimeouts timeouts_for(const config::UpstreamConfig& cfg) {
  ClientTimeouts t;
  t.connect = std::min(cfg.connect_timeout, std::chrono::milliseconds(10000));
  if (t.connect.count() <= 0) t.connect = std::chrono::milliseconds(10000);
  // A little longer than the per-request timeout, so that the link's own
  // timeout (which cancels upstream) fires first.
  t.read = cfg.timeout + std::chrono::milliseconds(5000);
  return t;
}

httplib::Headers base_headers(const config::UpstreamConfig& cfg) {
  httplib::Headers h;
  for (const auto& [k, v] : cfg.headers) h.emplace(k, v);
  if (cfg.authorization) {
    if (std::string value = cfg.authorization(); !value.empty()) {
      h.erase("Authorization");
      h.emplace("Authorization", std::move(value));
    }
  }
  // Streams must not sit in a compressor's buffer.
  if (h.find("Accept-Encoding") == h.end()) h.emplace("Accept-Encoding", "identity");
  return h;
}

std::string excerpt(std::string_view s, size_t max) {
  std::string out;
  for (char c : s.substr(0, max)) out += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
  while (!out.empty() && out.back() == ' ') out.pop_back();
  if (s.size() > max) out += "...";
  return out;
}

std::string describe_error(httplib::Error e) {
  switch (e) {
    case httplib::Error::Connection: return "connection refused or unreachable";
    case httplib::Error::Read: return "connection lost or timed out while reading";
    case httplib::Error::Write: return "connection lost while writing";
    case httplib::Error::ConnectionTimeout: return "connect timed out";
    case httplib::Error::SSLConnection: return "TLS connection failed";
    case httplib::Error::SSLServerVerification: return "TLS server certificate verification failed";
    case httplib::Error::Canceled: return "cancelled";
    default: return httplib::to_string(e);
  }
}

MsgKind kind_of(const Json& msg) {
  if (!msg.is_object()) return MsgKind::Other;
  bool has_method = msg.contains("method"), has_id = msg.contains("id");
  if (has_method) return has_id ? MsgKind::Request : MsgKind::Notification;
  if (has_id) return MsgKind::Response;
  return MsgKind::Other;
}

namespace {


constexpr std::string_view kSentinelPrefix = "=?base64?";
constexpr std::string_view kSentinelSuffix = "?=";

}  // namespace

std::string encode_header_value(std::string_view v) {
  auto is_ws = [](char c) { return c == ' ' || c == '\t'; };
  bool plain = !v.empty() && !is_ws(v.front()) && !is_ws(v.back()) &&
               !(text::starts_with(v, kSentinelPrefix) && v.size() >= kSentinelPrefix.size() + kSentinelSuffix.size() &&
                 v.substr(v.size() - kSentinelSuffix.size()) == kSentinelSuffix);
  for (char c : v) {
    const auto u = static_cast<unsigned char>(c);
    if (!(u == '\t' || (u >= 0x20 && u <= 0x7e))) plain = false;
  }
  if (plain) return std::string(v);
  return std::string(kSentinelPrefix) + base64_encode(v) + std::string(kSentinelSuffix);
}

std::vector<std::pair<std::string, std::string>> modern_request_headers(const Json& m) {
  std::vector<std::pair<std::string, std::string>> out;
  if (kind_of(m) != MsgKind::Request || !m["method"].is_string()) return out;
  const Json* params = m.contains("params") && m["params"].is_object() ? &m["params"] : nullptr;
  if (!params || !params->contains("_meta") || !(*params)["_meta"].is_object()) return out;
  const Json& meta = (*params)["_meta"];
  auto v = meta.find("io.modelcontextprotocol/protocolVersion");
  if (v == meta.end() || !v->is_string()) return out;
  const std::string method = m["method"].get<std::string>();
  out.emplace_back("MCP-Protocol-Version", v->get<std::string>());
  out.emplace_back("Mcp-Method", method);
  const char* field = method == "tools/call" || method == "prompts/get" ? "name"
                      : method == "resources/read"                        ? "uri"
                      : method == "tasks/get" || method == "tasks/update" || method == "tasks/cancel" ? "taskId"
                                                                          : nullptr;
  if (field && params->contains(field) && (*params)[field].is_string()) {
    out.emplace_back("Mcp-Name", encode_header_value((*params)[field].get<std::string>()));
  }
  return out;
}

Outgoing outgoing(const Json& message) {
  Outgoing o;
  o.kind = kind_of(message);
  if (o.kind == MsgKind::Request) o.id = message["id"];
  if (o.kind == MsgKind::Request || o.kind == MsgKind::Notification) {
    if (message["method"].is_string()) o.method = message["method"].get<std::string>();
  }
  o.modern_headers = modern_request_headers(message);
  o.body = rpc::dump(message);
  return o;
}

}  // namespace portcullis::transport::detail
