// Loads and validates a gateway configuration directory (see config.h).
//
// Every problem becomes a Diagnostic with the file (relative to DIR) and the
// 1-based line of the offending YAML node; loading never stops at the first
// error, so one run shows the user everything that is wrong.
#include "config/config.h"
#include "core/crypto.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <set>
#include <sstream>
#include <string_view>

#include "core/text.h"

namespace portcullis::config {

std::string Diagnostic::format() const {
  std::string out;
  if (!pos.file.empty()) {
    out = pos.file;
    if (pos.line > 0) out += ":" + std::to_string(pos.line);
    out += ": ";
  }
  return out + message;
}

const char* to_string(PinningMode m) {
  switch (m) {
    case PinningMode::Off: return "off";
    case PinningMode::Warn: return "warn";
    case PinningMode::Block: return "block";
  }
  return "unknown";
}

const char* to_string(PoisoningMode m) {
  return m == PoisoningMode::Off ? "off" : m == PoisoningMode::Hide ? "hide" : "warn";
}

const char* to_string(AuthMode m) {
  switch (m) {
    case AuthMode::None: return "none";
    case AuthMode::ApiKey: return "api_key";
    case AuthMode::OAuth: return "oauth";
    case AuthMode::OAuthOrApiKey: return "oauth+api_key";
  }
  return "unknown";
}

const char* to_string(UntaggedPolicy p) { return p == UntaggedPolicy::Reject ? "reject" : "tag"; }

const char* to_string(Transport t) {
  switch (t) {
    case Transport::Stdio: return "stdio";
    case Transport::Sse: return "sse";
    case Transport::StreamableHttp: return "streamable-http";
  }
  return "unknown";
}

const char* to_string(CredentialType t) {
  switch (t) {
    case CredentialType::None: return "none";
    case CredentialType::Static: return "static";
    case CredentialType::TokenExchange: return "oauth_token_exchange";
    case CredentialType::OAuthUser: return "oauth_user";
  }
  return "none";
}

const char* to_string(Revision r) {
  switch (r) {
    case Revision::Auto: return "auto";
    case Revision::Legacy: return "2025-11-25";
    case Revision::Modern: return "2026-07-28";
  }
  return "unknown";
}

bool UpstreamConfig::same_connection(const UpstreamConfig& o) const {
  // name and pos are identity/bookkeeping, not behaviour.
  return transport == o.transport && command == o.command && args == o.args && env == o.env &&
         cwd == o.cwd && url == o.url && headers == o.headers && timeout == o.timeout &&
         connect_timeout == o.connect_timeout && sessions == o.sessions && max_sessions == o.max_sessions &&
         revision == o.revision && auth.type == o.auth.type && auth.token_endpoint == o.auth.token_endpoint &&
         auth.client_id == o.auth.client_id && auth.client_secret == o.auth.client_secret &&
         auth.audience == o.auth.audience && auth.resource == o.auth.resource && auth.scopes == o.auth.scopes &&
         auth.token_env == o.auth.token_env;
}

size_t VirtualServerConfig::upstream_count() const {
  std::set<std::string_view> names;
  for (const auto* list : {&tools, &resources, &prompts})
    for (const auto& s : *list) names.insert(s.upstream);
  return names.size();
}

namespace {

namespace fs = std::filesystem;
using Keys = std::initializer_list<std::string_view>;

int line_of(const YAML::Node& n) {
  if (!n.IsDefined()) return 0;
  const YAML::Mark m = n.Mark();
  return m.line >= 0 ? m.line + 1 : 0;
}

// Optimal string alignment distance (Levenshtein plus adjacent transposition).
size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.size()][b.size()];
}

using text::quote;

// " (did you mean 'x'?)" when a candidate is within edit distance 2,
// otherwise " (expected one of: a, b, c)".
std::string suggestion(std::string_view got, Keys candidates) {
  std::string_view best;
  size_t best_d = 3;
  for (auto c : candidates) {
    size_t d = edit_distance(got, c);
    if (d < best_d) best_d = d, best = c;
  }
  if (!best.empty()) return " (did you mean " + quote(best) + "?)";
  std::string out = " (expected one of: ";
  bool first = true;
  for (auto c : candidates) {
    if (!first) out += ", ";
    out += c;
    first = false;
  }
  return out + ")";
}

bool contains(Keys keys, std::string_view k) { return std::find(keys.begin(), keys.end(), k) != keys.end(); }

// [a-z0-9-]+ : upstream and virtual server names.
bool is_name(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

// [a-zA-Z0-9_-]{min,max} : pieces of exposed tool/prompt names.
bool is_name_piece(std::string_view s, size_t min, size_t max) {
  return s.size() >= min && s.size() <= max && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

// Quoted, block (| >) or !!str-tagged scalars are strings; plain ones are "?".
bool is_plain(const YAML::Node& n) { return n.Tag() == "?"; }

std::optional<std::string> getenv_lookup(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  if (!v) return std::nullopt;
  return std::string(v);
}

// Type inference for a plain YAML scalar (YAML 1.2 core schema, minus
// .inf/.nan which JSON cannot hold).
Json plain_scalar_to_json(const std::string& s) {
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  const char* b = s.data();
  const char* e = s.data() + s.size();
  auto parse_int = [&](const char* from, int base) -> std::optional<Json> {
    if (from == e) return std::nullopt;
    long long v = 0;
    auto [p, ec] = std::from_chars(from, e, v, base);
    if (ec == std::errc() && p == e) return Json(v);
    unsigned long long u = 0;
    auto [p2, ec2] = std::from_chars(from, e, u, base);
    if (ec2 == std::errc() && p2 == e) return Json(u);
    return std::nullopt;
  };
  if (s.size() > 2 && s[0] == '0' && s[1] == 'x') {
    if (auto v = parse_int(b + 2, 16)) return *v;
  } else if (s.size() > 2 && s[0] == '0' && s[1] == 'o') {
    if (auto v = parse_int(b + 2, 8)) return *v;
  } else {
    const char* digits = (s[0] == '+' || s[0] == '-') ? b + 1 : b;
    bool all_digits = digits != e && std::all_of(digits, e, [](char c) { return c >= '0' && c <= '9'; });
    if (all_digits) {
      if (s[0] == '+') {
        if (auto v = parse_int(b + 1, 10)) return *v;
      } else if (auto v = parse_int(b, 10)) {
        return *v;
      }
    }
  }
  // Float: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
  bool float_chars = std::all_of(b, e, [](char c) {
    return (c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-';
  });
  bool has_digit = std::any_of(b, e, [](char c) { return c >= '0' && c <= '9'; });
  if (float_chars && has_digit) {
    char* end = nullptr;
    double d = std::strtod(s.c_str(), &end);
    if (end == s.c_str() + s.size()) return d;
  }
  return s;
}

struct Entry {
  YAML::Node key;
  YAML::Node value;
  const std::string& name() const { return key.Scalar(); }
};
using Fields = std::map<std::string, Entry, std::less<>>;

const Entry* find(const Fields& f, std::string_view key) {
  auto it = f.find(key);
  return it == f.end() ? nullptr : &it->second;
}

class Loader {
 public:
  explicit Loader(std::string dir) : dir_(std::move(dir)), root_(dir_) {}

  LoadResult run() {
    cfg_.dir = dir_;
    std::error_code ec;
    if (!fs::is_directory(root_, ec)) {
      add(res_.errors, dir_, 0, "no such directory");
      return std::move(res_);
    }
    load_settings();
    // Approved tool definitions live beside the audit database.
    cfg_.settings.pins_db = (fs::path(cfg_.settings.audit_db).parent_path() / "portcullis-pins.db").string();
    load_servers_d();
    check_references();
    resolve_working_dirs();
    sort_by_position(res_.errors);
    sort_by_position(res_.warnings);
    if (res_.errors.empty()) res_.config = std::make_shared<const GatewayConfig>(std::move(cfg_));
    return std::move(res_);
  }

 private:
  struct Ref {
    SourcePos pos;
    std::string upstream;
  };
  struct RenameSeen {
    std::string original;
    SourcePos pos;
  };
  using RenameTargets = std::map<std::string, RenameSeen>;

  // stdio upstreams run in the config DIR unless told otherwise, so relative
  // commands and paths in a config mean the same wherever gateway starts.
  void resolve_working_dirs() {
    std::error_code ec;
    fs::path base = fs::absolute(root_, ec);
    if (ec) base = root_;
    for (auto& [name, u] : cfg_.upstreams) {
      if (u.transport != Transport::Stdio) continue;
      fs::path cwd = u.cwd.empty() ? base : fs::path(u.cwd);
      if (cwd.is_relative()) cwd = base / cwd;
      u.cwd = cwd.lexically_normal().string();
    }
  }

  std::string dir_;
  fs::path root_;
  std::string file_;  // display path (relative to DIR) of the file being read
  GatewayConfig cfg_;
  LoadResult res_;
  std::map<std::string, SourcePos> upstream_defs_;
  std::map<std::string, SourcePos> vs_defs_;
  std::vector<Ref> refs_;
  std::map<std::string, size_t> file_rank_;  // display path -> reading order

  // Diagnostics in reading order of files, then by line (stable otherwise).
  void sort_by_position(std::vector<Diagnostic>& ds) const {
    auto rank = [&](const Diagnostic& d) {
      auto it = file_rank_.find(d.pos.file);
      return std::pair(it == file_rank_.end() ? size_t(0) : it->second + 1, d.pos.line);
    };
    std::stable_sort(ds.begin(), ds.end(), [&](const Diagnostic& a, const Diagnostic& b) { return rank(a) < rank(b); });
  }

  // ---- diagnostics --------------------------------------------------------

  static std::string at(const SourcePos& p) { return p.file + ":" + std::to_string(p.line); }
  static std::string ctx(const std::string& where, const std::string& msg) {
    return where.empty() ? msg : where + ": " + msg;
  }
  // Built field by field: brace-initialising the aggregate trips a GCC 12
  // -Wmaybe-uninitialized false positive.
  static void add(std::vector<Diagnostic>& to, std::string file, int line, std::string msg) {
    Diagnostic d;
    d.pos.file = std::move(file);
    d.pos.line = line;
    d.message = std::move(msg);
    to.push_back(std::move(d));
  }
  void error_line(int line, std::string msg) { add(res_.errors, file_, line, std::move(msg)); }
  void error(const YAML::Node& n, const std::string& where, const std::string& msg) {
    error_line(line_of(n), ctx(where, msg));
  }
  void warn(const YAML::Node& n, std::string msg) { add(res_.warnings, file_, line_of(n), std::move(msg)); }

  // ---- files --------------------------------------------------------------

  std::optional<YAML::Node> read_yaml(const fs::path& path) {
    cfg_.files.push_back(path.string());
    file_rank_.emplace(file_, file_rank_.size());
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      error_line(0, std::string("cannot read file: ") + std::strerror(errno));
      return std::nullopt;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    try {
      std::vector<YAML::Node> docs = YAML::LoadAll(ss.str());
      if (docs.empty()) return YAML::Node();
      if (docs.size() > 1) {
        error(docs[1], "", "only one YAML document per file is supported");
        return std::nullopt;
      }
      return docs[0];
    } catch (const YAML::ParserException& e) {
      error_line(e.mark.line >= 0 ? e.mark.line + 1 : 0, "YAML syntax error: " + e.msg);
    } catch (const YAML::Exception& e) {
      error_line(0, std::string("cannot parse YAML: ") + e.what());
    }
    return std::nullopt;
  }

  // ---- generic typed access -----------------------------------------------

  // Collects the known keys of a map; unknown, duplicate and non-string keys
  // are errors. `unsupported` keys get "is not supported <why>" instead.
  Fields fields(const YAML::Node& map, Keys allowed, const std::string& where, Keys unsupported = {},
                std::string_view why = {}) {
    Fields out;
    for (const auto& kv : map) {
      const YAML::Node k = kv.first;
      if (!k.IsScalar()) {
        error(k, where, "keys must be strings");
        continue;
      }
      const std::string& name = k.Scalar();
      if (!contains(allowed, name)) {
        if (contains(unsupported, name))
          error(k, where, quote(name) + " is not supported " + std::string(why));
        else
          error(k, where, "unknown key " + quote(name) + suggestion(name, allowed));
        continue;
      }
      auto [it, inserted] = out.emplace(name, Entry{k, kv.second});
      if (!inserted) error(k, where, "duplicate key " + quote(name) + " (first at line " + std::to_string(line_of(it->second.key)) + ")");
    }
    return out;
  }

  std::optional<std::string> expand(const YAML::Node& n, const std::string& where, const std::string& label,
                                    const std::string& s) {
    auto r = text::expand_env(s, getenv_lookup);
    if (!r) {
      error(n, where, label + ": " + r.error());
      return std::nullopt;
    }
    return std::move(r).value();
  }

  std::optional<std::string> get_string(const Entry& e, const std::string& where, bool do_expand) {
    if (!e.value.IsScalar()) {
      error(e.key, where, quote(e.name()) + " must be a string");
      return std::nullopt;
    }
    if (!do_expand) return e.value.Scalar();
    return expand(e.value, where, e.name(), e.value.Scalar());
  }

  std::optional<std::vector<std::string>> get_strings(const Entry& e, const std::string& where, bool do_expand) {
    if (!e.value.IsSequence()) {
      error(e.key, where, quote(e.name()) + " must be a list of strings");
      return std::nullopt;
    }
    std::vector<std::string> out;
    bool ok = true;
    size_t i = 0;
    for (const YAML::Node& item : e.value) {
      std::string label = e.name() + "[" + std::to_string(i++) + "]";
      if (!item.IsScalar()) {
        error(item, where, label + " must be a string");
        ok = false;
      } else if (!do_expand) {
        out.push_back(item.Scalar());
      } else if (auto s = expand(item, where, label, item.Scalar())) {
        out.push_back(std::move(*s));
      } else {
        ok = false;
      }
    }
    if (!ok) return std::nullopt;
    return out;
  }

  // Calls fn(key node, value node) for each entry of a map whose keys must be
  // strings. False when the value is not a map.
  template <class F>
  bool each_entry(const Entry& e, const std::string& where, const std::string& what, F&& fn) {
    if (!e.value.IsMap()) {
      error(e.key, where, quote(e.name()) + " must be a map of " + what);
      return false;
    }
    for (const auto& kv : e.value) {
      const YAML::Node k = kv.first;
      if (!k.IsScalar()) {
        error(k, where, "keys of " + quote(e.name()) + " must be strings");
        continue;
      }
      fn(k, YAML::Node(kv.second));
    }
    return true;
  }

  std::map<std::string, std::string> get_string_map(const Entry& e, const std::string& where, bool do_expand) {
    std::map<std::string, std::string> out;
    each_entry(e, where, "strings", [&](const YAML::Node& k, const YAML::Node& v) {
      std::string label = e.name() + "." + k.Scalar();
      if (!v.IsScalar()) {
        error(k, where, label + " must be a string");
        return;
      }
      std::optional<std::string> s = do_expand ? expand(v, where, label, v.Scalar()) : v.Scalar();
      if (!s) return;
      if (!out.emplace(k.Scalar(), std::move(*s)).second)
        error(k, where, e.name() + ": duplicate key " + quote(k.Scalar()));
    });
    return out;
  }

  std::optional<std::chrono::milliseconds> get_duration(const Entry& e, const std::string& where) {
    if (!e.value.IsScalar()) {
      error(e.key, where, quote(e.name()) + " must be a duration (e.g. 30s)");
      return std::nullopt;
    }
    auto r = text::parse_duration(e.value.Scalar());
    if (!r) {
      error(e.value, where, e.name() + ": " + r.error());
      return std::nullopt;
    }
    if (r->count() <= 0) {
      error(e.value, where, quote(e.name()) + " must be greater than 0");
      return std::nullopt;
    }
    return *r;
  }

  std::optional<size_t> get_size(const Entry& e, const std::string& where) {
    if (!e.value.IsScalar()) {
      error(e.key, where, quote(e.name()) + " must be a size (e.g. 4MiB)");
      return std::nullopt;
    }
    auto r = text::parse_size(e.value.Scalar());
    if (!r) {
      error(e.value, where, e.name() + ": " + r.error());
      return std::nullopt;
    }
    if (*r == 0) {
      error(e.value, where, quote(e.name()) + " must be greater than 0");
      return std::nullopt;
    }
    return *r;
  }

  std::optional<size_t> get_count(const Entry& e, const std::string& where) {
    if (e.value.IsScalar() && is_plain(e.value)) {
      const std::string& s = e.value.Scalar();
      unsigned long long v = 0;
      auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
      if (ec == std::errc() && p == s.data() + s.size() && v > 0) return static_cast<size_t>(v);
    }
    std::string got = e.value.IsScalar() ? " (got \"" + e.value.Scalar() + "\")" : "";
    error(e.value.IsScalar() ? e.value : e.key, where, quote(e.name()) + " must be a positive integer" + got);
    return std::nullopt;
  }

  bool expect_map(const Entry& e, const std::string& where) {
    if (e.value.IsMap()) return true;
    error(e.key, where, quote(e.name()) + " must be a map");
    return false;
  }

  std::optional<Json> to_json(const YAML::Node& n, const std::string& where, const std::string& label) {
    switch (n.Type()) {
      case YAML::NodeType::Scalar:
        return is_plain(n) ? plain_scalar_to_json(n.Scalar()) : Json(n.Scalar());
      case YAML::NodeType::Sequence: {
        Json a = Json::array();
        size_t i = 0;
        for (const YAML::Node& item : n) {
          auto j = to_json(item, where, label + "[" + std::to_string(i++) + "]");
          if (!j) return std::nullopt;
          a.push_back(std::move(*j));
        }
        return a;
      }
      case YAML::NodeType::Map: {
        Json o = Json::object();
        for (const auto& kv : n) {
          const YAML::Node k = kv.first;
          if (!k.IsScalar()) {
            error(k, where, label + ": keys must be strings");
            return std::nullopt;
          }
          auto j = to_json(kv.second, where, label + "." + k.Scalar());
          if (!j) return std::nullopt;
          o[k.Scalar()] = std::move(*j);
        }
        return o;
      }
      default:
        return Json(nullptr);
    }
  }

  // Registers a name; reports a duplicate and returns false if already defined.
  bool define(std::map<std::string, SourcePos>& defs, const char* what, const std::string& name,
              const YAML::Node& key) {
    auto [it, inserted] = defs.emplace(name, SourcePos{file_, line_of(key)});
    if (!inserted) error(key, "", std::string(what) + " " + quote(name) + " already defined at " + at(it->second));
    return inserted;
  }

  // ---- portcullis.yaml ----------------------------------------------------

  void load_settings() {
    Settings& s = cfg_.settings;
    s.audit_db = (root_ / s.audit_db).lexically_normal().string();
    fs::path path = root_ / "portcullis.yaml";
    std::error_code ec;
    if (!fs::exists(path, ec)) return;
    file_ = "portcullis.yaml";
    s.pos = {file_, 1};
    auto doc = read_yaml(path);
    if (!doc || doc->IsNull()) return;
    if (!doc->IsMap()) {
      error(*doc, "", "portcullis.yaml must be a map of settings");
      return;
    }
    Fields f = fields(*doc, {"listen", "limits", "page_size", "session_idle_timeout", "sessions", "allowed_origins", "audit", "auth",
                             "metadata", "admin", "credentials"},
                      "");
    if (auto* e = find(f, "listen")) {
      if (auto v = get_string(*e, "", false)) {
        if (valid_listen(*v))
          s.listen = *v;
        else
          error(e->value, "", "'listen' must be HOST:PORT (got \"" + *v + "\")");
      }
    }
    if (auto* e = find(f, "limits"); e && expect_map(*e, "")) {
      Fields l = fields(e->value, {"max_body", "max_json_depth"}, "limits");
      if (auto* m = find(l, "max_body"))
        if (auto v = get_size(*m, "limits")) s.max_body_bytes = *v;
      if (auto* m = find(l, "max_json_depth"))
        if (auto v = get_count(*m, "limits")) s.max_json_depth = *v;
    }
    if (auto* e = find(f, "page_size"))
      if (auto v = get_count(*e, "")) s.page_size = *v;
    if (auto* e = find(f, "session_idle_timeout"))
      if (auto v = get_duration(*e, "")) s.session_idle_timeout = *v;
    if (auto* e = find(f, "sessions"); e && expect_map(*e, "")) {
      Fields ss = fields(e->value, {"key", "ttl"}, "sessions");
      if (auto* k = find(ss, "key")) {
        if (auto v = get_string(*k, "sessions", true)) {
          auto raw = crypto::from_hex(*v);
          if (!raw || raw->size() != 32) {
            error(k->value, "sessions",
                  "'key' must be 64 hexadecimal characters (32 bytes), e.g. from: openssl rand -hex 32");
          } else {
            s.session_key = std::move(*raw);
          }
        }
      }
      if (auto* t = find(ss, "ttl"))
        if (auto v = get_duration(*t, "sessions")) s.session_ttl = *v;
    }
    if (auto* e = find(f, "allowed_origins"))
      if (auto v = get_strings(*e, "", false)) s.allowed_origins = std::move(*v);
    if (auto* e = find(f, "audit"); e && expect_map(*e, "")) load_audit(*e);
    if (auto* e = find(f, "admin"); e && expect_map(*e, "")) load_admin(*e);
    if (auto* e = find(f, "auth"); e && expect_map(*e, "")) load_auth(*e);
    s.auth_configured = s.auth.mode != AuthMode::None;
    if (auto* e = find(f, "metadata"); e && expect_map(*e, "")) load_metadata(*e);
    if (auto* e = find(f, "credentials"); e && expect_map(*e, "")) load_credentials(*e);
    CredentialSettings& c = s.credentials;
    if (c.vault.empty()) c.vault = (fs::path(s.audit_db).parent_path() / "portcullis-credentials.db").string();
    if (c.public_url.empty()) c.public_url = !s.auth.resource.empty() ? s.auth.resource : "http://" + s.listen;
  }

  // ---- audit and admin (portcullis.yaml) ----------------------------------

  void load_audit(const Entry& e) {
    Settings& s = cfg_.settings;
    AuditSettings& a = s.audit;
    Fields f = fields(e.value, {"db", "capture", "queue_full", "queue_capacity", "synchronous", "signing_key", "sink",
                                "postgres", "instance_id", "retention"},
                      "audit");
    if (auto* d = find(f, "db")) {
      if (auto v = get_string(*d, "audit", false)) {
        if (v->empty()) {
          error(d->value, "audit", "'db' must not be empty");
        } else {
          fs::path db(*v);
          s.audit_db = (db.is_absolute() ? db : root_ / db).lexically_normal().string();
        }
      }
    }
    auto one_of = [&](const char* key, std::initializer_list<const char*> allowed, std::string& out) {
      auto* x = find(f, key);
      if (!x) return;
      auto v = get_string(*x, "audit", false);
      if (!v) return;
      std::string list;
      for (const char* a : allowed) {
        if (*v == a) return void(out = *v);
        list += (list.empty() ? "" : ", ") + std::string(a);
      }
      error(x->value, "audit", std::string("'") + key + "' must be one of " + list + " (got \"" + *v + "\")");
    };
    one_of("capture", {"hash", "redacted", "full", "none"}, a.capture);
    one_of("queue_full", {"block", "drop"}, a.queue_full);
    one_of("sink", {"sqlite", "postgres"}, a.sink);
    std::string sync = "normal";
    one_of("synchronous", {"normal", "full"}, sync);
    a.synchronous_full = sync == "full";
    if (auto* x = find(f, "queue_capacity"))
      if (auto v = get_count(*x, "audit")) a.queue_capacity = std::max<size_t>(1, *v);
    if (auto* x = find(f, "instance_id"))
      if (auto v = get_string(*x, "audit", true)) a.instance_id = *v;
    if (auto* x = find(f, "signing_key"); x && expect_map(*x, "audit")) {
      Fields k = fields(x->value, {"file", "env"}, "audit.signing_key");
      if (auto* file = find(k, "file")) {
        if (auto v = get_string(*file, "audit.signing_key", false)) {
          fs::path p(*v);
          a.signing_key_file = (p.is_absolute() ? p : root_ / p).lexically_normal().string();
        }
      }
      if (auto* env = find(k, "env"))
        if (auto v = get_string(*env, "audit.signing_key", false)) a.signing_key_env = *v;
      if (!a.signing_key_file.empty() && !a.signing_key_env.empty()) {
        error(x->value, "audit", "'signing_key' takes either 'file' or 'env', not both");
      }
    }
    if (auto* x = find(f, "postgres"); x && expect_map(*x, "audit")) {
      Fields p = fields(x->value, {"dsn"}, "audit.postgres");
      if (auto* d = find(p, "dsn"))
        if (auto v = get_string(*d, "audit.postgres", true)) a.postgres_dsn = *v;
    }
    if (a.sink == "postgres" && a.postgres_dsn.empty()) {
      error(e.value, "audit", "'sink: postgres' needs 'postgres: {dsn: ...}'");
    }
    if (auto* x = find(f, "retention"); x && expect_map(*x, "audit")) {
      Fields r = fields(x->value, {"max_age", "max_rows", "max_bytes"}, "audit.retention");
      if (auto* m = find(r, "max_age"))
        if (auto v = get_duration(*m, "audit.retention")) a.max_age = *v;
      if (auto* m = find(r, "max_rows"))
        if (auto v = get_count(*m, "audit.retention")) a.max_rows = *v;
      if (auto* m = find(r, "max_bytes"))
        if (auto v = get_size(*m, "audit.retention")) a.max_bytes = *v;
    }
  }

  void load_admin(const Entry& e) {
    AdminSettings& a = cfg_.settings.admin;
    Fields f = fields(e.value, {"api_keys", "groups", "scopes"}, "admin");
    if (auto* x = find(f, "api_keys")) {
      if (auto v = get_strings(*x, "admin", false)) {
        for (auto& h : *v) {
          std::string lower = text::to_lower(h);
          if (text::starts_with(lower, "sha256:")) lower = lower.substr(7);
          auto raw = crypto::from_hex(lower);
          if (!raw || raw->size() != 32) {
            error(x->value, "admin", "'api_keys' entries must be SHA-256 hashes (64 hex digits, e.g. from: printf %s KEY | sha256sum)");
          } else {
            a.api_key_sha256.push_back(lower);
          }
        }
      }
    }
    if (auto* x = find(f, "groups"))
      if (auto v = get_strings(*x, "admin", false)) a.groups = std::move(*v);
    if (auto* x = find(f, "scopes"))
      if (auto v = get_strings(*x, "admin", false)) a.scopes = std::move(*v);
  }

  // ---- credentials (portcullis.yaml): the per-user upstream token vault ---

  void load_credentials(const Entry& section) {
    CredentialSettings& c = cfg_.settings.credentials;
    c.pos = {file_, line_of(section.key)};
    Fields f = fields(section.value, {"vault", "key", "public_url", "consent_timeout", "confirm_user"}, "credentials");
    if (auto* e = find(f, "vault")) {
      if (auto v = get_string(*e, "credentials", false)) {
        if (v->empty()) error(e->value, "credentials", "'vault' must not be empty");
        else c.vault = (fs::path(*v).is_absolute() ? fs::path(*v) : root_ / *v).lexically_normal().string();
      }
    }
    if (auto* e = find(f, "key")) {
      if (auto v = get_string(*e, "credentials", true)) {
        auto raw = crypto::from_hex(*v);
        if (!raw || raw->size() != 32)
          error(e->value, "credentials",
                "'key' must be 64 hexadecimal characters (32 bytes), e.g. from: openssl rand -hex 32; "
                "keep it out of the config with key: ${PORTCULLIS_VAULT_KEY}");
        else c.key = std::move(*raw);
      }
    }
    if (auto* e = find(f, "public_url")) {
      if (auto v = get_string(*e, "credentials", true)) {
        while (!v->empty() && v->back() == '/') v->pop_back();
        if (check_identifier_url(*e, "credentials", *v)) c.public_url = *v;
      }
    }
    if (auto* e = find(f, "consent_timeout"))
      if (auto v = get_duration(*e, "credentials")) c.consent_timeout = *v;
    if (auto* e = find(f, "confirm_user"); e && expect_map(*e, "credentials")) {
      Fields cu = fields(e->value, {"client_id", "client_secret"}, "credentials.confirm_user");
      if (auto* x = find(cu, "client_id"))
        if (auto v = get_string(*x, "credentials.confirm_user", true)) c.confirm_client_id = *v;
      if (auto* x = find(cu, "client_secret"))
        if (auto v = get_string(*x, "credentials.confirm_user", true)) c.confirm_client_secret = *v;
      if (c.confirm_client_id.empty()) error(e->key, "credentials", "'confirm_user' needs 'client_id'");
      else if (!cfg_.settings.auth.uses_oauth())
        error(e->key, "credentials", "'confirm_user' signs users in at auth.oauth.issuer, so auth.mode must use oauth");
    }
  }

  // ---- auth and metadata (portcullis.yaml) --------------------------------

  static std::string metadata_key_list() {
    std::string out;
    for (auto k : kMetadataKeys) out += (out.empty() ? "" : ", ") + std::string(k);
    return out;
  }

  // An absolute http(s) URL without query or fragment (RFC 8707 resource and
  // RFC 8414 issuer identifiers).
  bool check_identifier_url(const Entry& e, const std::string& where, const std::string& v) {
    std::string lower = text::to_lower(v);
    std::string msg;
    if (!text::starts_with(lower, "http://") && !text::starts_with(lower, "https://"))
      msg = "must start with http:// or https://";
    else if (v.find_first_of("?#") != std::string::npos)
      msg = "must not contain a query or fragment";
    else if (size_t host = v.find("://") + 3; host >= v.size() || v[host] == '/')
      msg = "has no host";
    if (msg.empty()) return true;
    error(e.value, where, quote(e.name()) + " " + msg + " (got \"" + v + "\")");
    return false;
  }

  void load_auth(const Entry& section) {
    AuthSettings& a = cfg_.settings.auth;
    a.pos = {file_, line_of(section.key)};
    Fields f = fields(section.value, {"mode", "resource", "oauth", "api_keys_file"}, "auth");
    if (auto* e = find(f, "mode")) {
      if (auto v = get_string(*e, "auth", false)) {
        if (*v == "none") a.mode = AuthMode::None;
        else if (*v == "api_key") a.mode = AuthMode::ApiKey;
        else if (*v == "oauth") a.mode = AuthMode::OAuth;
        else if (*v == "oauth+api_key") a.mode = AuthMode::OAuthOrApiKey;
        else error(e->value, "auth", "unknown mode " + quote(*v) + suggestion(*v, {"none", "api_key", "oauth", "oauth+api_key"}));
      }
    } else {
      error(section.key, "auth", "missing required key 'mode' (none, api_key, oauth or oauth+api_key)");
    }
    if (auto* e = find(f, "resource")) {
      if (auto v = get_string(*e, "auth", true); v && check_identifier_url(*e, "auth", *v)) {
        while (v->back() == '/') v->pop_back();  // the host is non-empty, so this stops there
        a.resource = std::move(*v);
      }
    } else if (a.uses_oauth()) {
      error(section.key, "auth", std::string("mode ") + to_string(a.mode) +
                                     " requires 'resource' (this gateway's URL, e.g. https://gateway.example.com)");
    }
    if (auto* e = find(f, "oauth"); e && expect_map(*e, "auth")) {
      if (!a.uses_oauth()) warn(e->key, std::string("auth: 'oauth' is ignored with mode ") + to_string(a.mode));
      load_oauth(*e, a);
    } else if (!e && a.uses_oauth()) {
      error(section.key, "auth", std::string("mode ") + to_string(a.mode) + " requires 'oauth' with at least 'issuer'");
    }
    if (auto* e = find(f, "api_keys_file")) {
      if (!a.uses_api_keys()) warn(e->key, std::string("auth: 'api_keys_file' is ignored with mode ") + to_string(a.mode));
      if (auto v = get_string(*e, "auth", false)) {
        fs::path p(*v);
        p = (p.is_absolute() ? p : root_ / p).lexically_normal();
        std::error_code ec;
        if (v->empty())
          error(e->value, "auth", "'api_keys_file' must not be empty");
        else if (a.uses_api_keys() && !fs::is_regular_file(p, ec))
          error(e->value, "auth", "api_keys_file " + quote(*v) + " does not exist (looked for " + p.string() + ")");
        else
          a.api_keys_file = p.string();
      }
    } else if (a.uses_api_keys()) {
      error(section.key, "auth", std::string("mode ") + to_string(a.mode) + " requires 'api_keys_file'");
    }
  }

  void load_oauth(const Entry& section, AuthSettings& a) {
    OAuthSettings& o = a.oauth;
    const std::string where = "auth.oauth";
    o.pos = {file_, line_of(section.key)};
    Fields f = fields(section.value, {"issuer", "jwks_uri", "audience", "groups_claim", "scopes", "algorithms",
                                      "hs256_secret", "leeway", "metadata_claims"},
                      where);
    if (auto* e = find(f, "issuer")) {
      if (auto v = get_string(*e, where, true); v && check_identifier_url(*e, where, *v)) o.issuer = std::move(*v);
    } else if (a.uses_oauth()) {
      error(section.key, where, "missing required key 'issuer' (the authorization server's issuer URL)");
    }
    if (auto* e = find(f, "jwks_uri")) {
      if (auto v = get_string(*e, where, true); v && check_identifier_url(*e, where, *v)) o.jwks_uri = std::move(*v);
    }
    if (auto* e = find(f, "audience")) {
      if (auto v = get_strings(*e, where, true)) {
        for (const auto& s : *v)
          if (s.empty()) error(e->value, where, "'audience' entries must not be empty");
        o.audience = std::move(*v);
      }
    }
    if (auto* e = find(f, "groups_claim")) {
      if (auto v = get_string(*e, where, false)) {
        if (v->empty()) error(e->value, where, "'groups_claim' must not be empty");
        else o.groups_claim = std::move(*v);
      }
    }
    if (auto* e = find(f, "scopes")) {
      if (auto v = get_strings(*e, where, false)) {
        for (const auto& s : *v)
          if (s.empty() || s.find_first_of(" \t\"\\") != std::string::npos)
            error(e->value, where, "scope " + quote(s) + " is not a valid scope token");
        o.scopes = std::move(*v);
      }
    }
    if (auto* e = find(f, "hs256_secret")) {
      if (auto v = get_string(*e, where, true)) {
        if (v->empty()) error(e->value, where, "'hs256_secret' must not be empty");
        else if (v->size() < 32) warn(e->value, where + ": 'hs256_secret' is shorter than 32 bytes; use a longer random secret");
        o.hs256_secret = std::move(*v);
      }
    }
    if (auto* e = find(f, "algorithms")) {
      if (auto v = get_strings(*e, where, false)) {
        if (v->empty()) error(e->value, where, "'algorithms' must not be empty");
        for (const auto& alg : *v) {
          if (alg == "RS256" || alg == "ES256") {
          } else if (alg == "HS256") {
            if (o.hs256_secret.empty()) error(e->value, where, "algorithm HS256 requires 'hs256_secret'");
          } else if (text::to_lower(alg) == "none") {
            error(e->value, where, "algorithm 'none' is never accepted (unsigned tokens)");
          } else {
            error(e->value, where, "unsupported algorithm " + quote(alg) + " (supported: RS256, ES256, HS256)");
          }
        }
        o.algorithms = std::move(*v);
      }
    } else {
      o.algorithms = {"RS256", "ES256"};
      if (!o.hs256_secret.empty()) o.algorithms.push_back("HS256");
    }
    if (auto* e = find(f, "leeway")) {
      auto r = e->value.IsScalar() ? text::parse_duration(e->value.Scalar())
                                   : Result<std::chrono::milliseconds>(fail("must be a duration (e.g. 60s)"));
      if (!r) error(e->value, where, "leeway: " + r.error());
      else if (*r > std::chrono::minutes(10)) error(e->value, where, "'leeway' must be at most 10m");
      else o.leeway = *r;
    }
    if (auto* e = find(f, "metadata_claims")) {
      auto claims = get_string_map(*e, where, false);
      for (auto& [key, claim] : claims) {
        if (std::find(kMetadataKeys.begin(), kMetadataKeys.end(), key) == kMetadataKeys.end()) {
          error(e->value, where, "metadata_claims: " + quote(key) + " is not a metadata key (known: " +
                                     metadata_key_list() + ")");
        } else if (claim.empty()) {
          error(e->value, where, "metadata_claims." + key + " must name a claim");
        } else {
          o.metadata_claims.emplace(key, claim);
        }
      }
    }
  }

  void load_metadata(const Entry& section) {
    MetadataSettings& m = cfg_.settings.metadata;
    m.pos = {file_, line_of(section.key)};
    Fields f = fields(section.value, {"required", "untagged"}, "metadata");
    if (auto* e = find(f, "required")) {
      if (auto v = get_strings(*e, "metadata", false)) {
        size_t i = 0;
        for (const auto& key : *v) {
          const YAML::Node item = e->value[i++];
          if (std::find(kMetadataKeys.begin(), kMetadataKeys.end(), key) == kMetadataKeys.end())
            error(item, "metadata", "required: " + quote(key) + " is not a metadata key (known: " + metadata_key_list() + ")");
          else if (std::find(m.required.begin(), m.required.end(), key) != m.required.end())
            error(item, "metadata", "required: " + quote(key) + " is listed twice");
          else
            m.required.push_back(key);
        }
      }
    }
    if (auto* e = find(f, "untagged")) {
      if (auto v = get_string(*e, "metadata", false)) {
        if (*v == "tag") m.untagged = UntaggedPolicy::Tag;
        else if (*v == "reject") m.untagged = UntaggedPolicy::Reject;
        else error(e->value, "metadata", "unknown untagged policy " + quote(*v) + " (tag or reject)");
      }
    }
  }

  static bool valid_listen(const std::string& v) {
    auto colon = v.rfind(':');
    if (colon == std::string::npos || colon == 0) return false;
    std::string_view port(v.data() + colon + 1, v.size() - colon - 1);
    unsigned p = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    return ec == std::errc() && end == port.data() + port.size() && !port.empty() && p <= 65535;
  }

  // ---- servers.d ----------------------------------------------------------

  void load_servers_d() {
    fs::path sd = root_ / "servers.d";
    std::error_code ec;
    if (!fs::exists(sd, ec)) {
      add(res_.errors, sd.string(), 0, "no such directory");
      return;
    }
    if (!fs::is_directory(sd, ec)) {
      add(res_.errors, sd.string(), 0, "not a directory");
      return;
    }
    std::vector<std::string> names;
    for (fs::directory_iterator it(sd, ec), end; !ec && it != end; it.increment(ec)) {
      std::string name = it->path().filename().string();
      std::string ext = it->path().extension().string();
      if (name.empty() || name[0] == '.' || (ext != ".yaml" && ext != ".yml")) continue;
      std::error_code ec2;
      if (!fs::is_regular_file(it->path(), ec2)) continue;
      names.push_back(name);
    }
    if (ec) {
      add(res_.errors, sd.string(), 0, "cannot list directory: " + ec.message());
      return;
    }
    std::sort(names.begin(), names.end());
    for (const auto& name : names) {
      file_ = "servers.d/" + name;
      auto doc = read_yaml(sd / name);
      if (!doc || doc->IsNull()) continue;
      if (!doc->IsMap()) {
        error(*doc, "", "expected a map with 'upstreams' and/or 'virtual_servers'");
        continue;
      }
      Fields f = fields(*doc, {"upstreams", "virtual_servers"}, "");
      if (auto* e = find(f, "upstreams")) {
        if (!e->value.IsMap())
          error(e->key, "", "'upstreams' must be a map of upstream name to definition");
        else
          for (const auto& kv : e->value) parse_upstream(kv.first, kv.second);
      }
      if (auto* e = find(f, "virtual_servers")) {
        if (!e->value.IsMap())
          error(e->key, "", "'virtual_servers' must be a map of virtual server name to definition");
        else
          for (const auto& kv : e->value) parse_virtual_server(kv.first, kv.second);
      }
    }
    if (cfg_.virtual_servers.empty() && res_.errors.empty()) {
      add(res_.warnings, "servers.d", 0, "no virtual servers are defined");
    }
  }

  void parse_upstream(const YAML::Node& key, const YAML::Node& val) {
    if (!key.IsScalar()) {
      error(key, "", "upstream names must be strings");
      return;
    }
    const std::string name = key.Scalar();
    const std::string where = "upstream " + quote(name);
    UpstreamConfig u;
    u.name = name;
    u.pos = {file_, line_of(key)};
    if (!is_name(name)) error(key, "", "invalid upstream name " + quote(name) + " (use lowercase letters, digits and '-')");
    bool first = define(upstream_defs_, "upstream", name, key);
    if (!val.IsMap()) {
      error(key, "", where + " must be a map");
      return;
    }
    Fields f = fields(val, {"transport", "command", "args", "env", "cwd", "url", "headers", "timeout", "connect_timeout",
                            "sessions", "max_sessions", "revision", "auth"},
                      where);

    std::optional<Transport> transport;
    if (auto* e = find(f, "transport")) {
      if (auto s = get_string(*e, where, false)) {
        if (*s == "stdio") transport = Transport::Stdio;
        else if (*s == "sse") transport = Transport::Sse;
        else if (*s == "streamable-http") transport = Transport::StreamableHttp;
        else error(e->value, where, "unknown transport " + quote(*s) + suggestion(*s, {"stdio", "sse", "streamable-http"}));
      }
    } else {
      error(key, where, "missing required key 'transport' (stdio, sse or streamable-http)");
    }
    if (transport) u.transport = *transport;

    if (auto* e = find(f, "command")) {
      if (auto v = get_string(*e, where, true)) {
        if (v->empty()) error(e->value, where, "'command' must not be empty");
        u.command = std::move(*v);
      }
    }
    if (auto* e = find(f, "args"))
      if (auto v = get_strings(*e, where, true)) u.args = std::move(*v);
    if (auto* e = find(f, "env")) u.env = get_string_map(*e, where, true);
    if (auto* e = find(f, "cwd"))
      if (auto v = get_string(*e, where, true)) u.cwd = std::move(*v);
    bool url_ok = false;
    if (auto* e = find(f, "url")) {
      if (auto v = get_string(*e, where, true)) {
        u.url = std::move(*v);
        url_ok = true;
      }
    }
    if (auto* e = find(f, "headers")) u.headers = get_string_map(*e, where, true);
    if (auto* e = find(f, "timeout"))
      if (auto v = get_duration(*e, where)) u.timeout = *v;
    if (auto* e = find(f, "connect_timeout"))
      if (auto v = get_duration(*e, where)) u.connect_timeout = *v;
    if (auto* e = find(f, "sessions")) {
      if (auto s = get_string(*e, where, false)) {
        if (*s == "per_client") u.sessions = SessionMode::PerClient;
        else if (*s == "shared") u.sessions = SessionMode::Shared;
        else error(e->value, where, "unknown sessions mode " + quote(*s) + suggestion(*s, {"per_client", "shared"}));
      }
    }
    if (auto* e = find(f, "max_sessions"))
      if (auto v = get_count(*e, where)) u.max_sessions = *v;
    if (auto* e = find(f, "revision")) {
      if (auto s = get_string(*e, where, false)) {
        if (*s == "auto") u.revision = Revision::Auto;
        else if (*s == "2025-11-25") u.revision = Revision::Legacy;
        else if (*s == "2026-07-28") u.revision = Revision::Modern;
        else error(e->value, where, "unknown revision " + quote(*s) + " (auto, 2025-11-25 or 2026-07-28)");
        if (u.revision == Revision::Modern && transport == Transport::Sse)
          error(e->value, where, "revision 2026-07-28 is not possible with transport sse (HTTP+SSE is a 2024-11-05 transport)");
      }
    }

    if (auto* e = find(f, "auth")) parse_upstream_auth(*e, where, transport, u);

    if (transport == Transport::Stdio) {
      if (!find(f, "command")) error(key, where, "transport stdio requires 'command'");
      for (std::string_view k : {"url", "headers"})
        if (auto* e = find(f, k)) error(e->key, where, quote(k) + " is not allowed with transport stdio");
    } else if (transport) {
      const std::string t = to_string(*transport);
      if (!find(f, "url")) error(key, where, "transport " + t + " requires 'url'");
      for (std::string_view k : {"command", "args", "env", "cwd"})
        if (auto* e = find(f, k)) error(e->key, where, quote(k) + " is not allowed with transport " + t);
      if (url_ok) {
        std::string lower = text::to_lower(u.url);
        if (!text::starts_with(lower, "http://") && !text::starts_with(lower, "https://"))
          error(find(f, "url")->value, where, "'url' must start with http:// or https:// (got \"" + u.url + "\")");
      }
    }
    if (first) cfg_.upstreams.emplace(name, std::move(u));
  }

  void parse_upstream_auth(const Entry& e, const std::string& upstream, std::optional<Transport> transport,
                           UpstreamConfig& u) {
    const std::string where = upstream + " auth";
    if (!expect_map(e, upstream)) return;
    UpstreamAuth& a = u.auth;
    a.pos = {file_, line_of(e.key)};
    Fields f = fields(e.value, {"type", "header", "value", "env", "token_endpoint", "client_id", "client_secret",
                                "audience", "resource", "scopes", "token_env"},
                      where);
    auto* t = find(f, "type");
    if (!t) {
      error(e.key, where, "missing required key 'type' (none, static or oauth_token_exchange)");
      return;
    }
    auto type = get_string(*t, where, false);
    if (!type) return;
    if (*type == "none") a.type = CredentialType::None;
    else if (*type == "static") a.type = CredentialType::Static;
    else if (*type == "oauth_token_exchange") a.type = CredentialType::TokenExchange;
    else if (*type == "oauth_user") a.type = CredentialType::OAuthUser;
    else
      return error(t->value, where, "unknown type " + quote(*type) +
                                        suggestion(*type, {"none", "static", "oauth_token_exchange", "oauth_user"}));
    auto str = [&](std::string_view k, std::string& out) {
      if (auto* x = find(f, k))
        if (auto v = get_string(*x, where, true)) out = std::move(*v);
    };
    str("header", a.header);
    str("value", a.value);
    if (auto* x = find(f, "env")) a.env = get_string_map(*x, where, true);
    str("token_endpoint", a.token_endpoint);
    str("client_id", a.client_id);
    str("client_secret", a.client_secret);
    str("audience", a.audience);
    str("resource", a.resource);
    str("token_env", a.token_env);
    if (auto* x = find(f, "scopes"))
      if (auto v = get_strings(*x, where, false)) a.scopes = std::move(*v);
    // Which keys belong to which type.
    std::vector<std::string_view> allowed;
    if (a.type == CredentialType::Static) allowed = {"type", "header", "value", "env"};
    else if (a.type == CredentialType::TokenExchange)
      allowed = {"type", "token_endpoint", "client_id", "client_secret", "audience", "resource", "scopes", "token_env"};
    else if (a.type == CredentialType::OAuthUser) allowed = {"type", "client_id", "client_secret", "scopes"};
    else allowed = {"type"};
    for (const auto& [k, field] : f) {
      if (std::find(allowed.begin(), allowed.end(), k) == allowed.end())
        error(field.key, where, quote(k) + " is not used by type " + *type);
    }
    const bool stdio = transport == Transport::Stdio;
    if (a.type == CredentialType::Static) {
      if (stdio && find(f, "value")) error(find(f, "value")->key, where, "stdio upstreams take a static credential as 'env'");
      if (!stdio && find(f, "env")) error(find(f, "env")->key, where, "HTTP upstreams take a static credential as 'header' and 'value'");
      if (stdio && !find(f, "env")) error(e.key, where, "type static needs 'env' for a stdio upstream");
      if (!stdio && !find(f, "value")) error(e.key, where, "type static needs 'value'");
      if (!stdio) u.headers[a.header] = a.value;
      else for (const auto& [k, v] : a.env) u.env[k] = v;
    }
    if (a.type == CredentialType::TokenExchange) {
      if (a.token_endpoint.empty()) error(e.key, where, "type oauth_token_exchange needs 'token_endpoint'");
      else if (!text::starts_with(text::to_lower(a.token_endpoint), "http://") &&
               !text::starts_with(text::to_lower(a.token_endpoint), "https://"))
        error(find(f, "token_endpoint")->value, where, "'token_endpoint' must be an http(s) URL");
      if (a.resource.empty() && !stdio) a.resource = u.url;
      if (stdio && a.audience.empty() && a.resource.empty())
        error(e.key, where, "a stdio upstream has no URL: give 'audience' or 'resource' for the exchanged token");
    }
    if (a.type == CredentialType::OAuthUser) {
      if (stdio)
        error(t->value, where, "type oauth_user needs an HTTP upstream: the user authorizes at the authorization "
                               "server its protected resource metadata names; a stdio upstream has none "
                               "(use oauth_token_exchange or static)");
      if (cfg_.settings.credentials.key.empty())
        error(t->value, where, "type oauth_user keeps each user's tokens in the credential vault, which needs "
                               "'credentials: {key: ...}' in portcullis.yaml (e.g. key: ${PORTCULLIS_VAULT_KEY})");
      if (find(f, "client_secret") && !find(f, "client_id"))
        error(find(f, "client_secret")->key, where, "'client_secret' needs 'client_id'");
      if (cfg_.settings.auth.uses_oauth() && cfg_.settings.credentials.confirm_client_id.empty())
        add(res_.warnings, file_, line_of(t->value),
            where + ": consent links are not bound to a sign-in: whoever opens one first can connect their own '" +
                upstream + "' account to the user who asked; set credentials.confirm_user");
    }
    if (a.per_user() && u.sessions != SessionMode::PerClient)
      error(e.key, where, "per-user credentials need 'sessions: per_client' (each user gets their own upstream session)");
  }

  void parse_virtual_server(const YAML::Node& key, const YAML::Node& val) {
    if (!key.IsScalar()) {
      error(key, "", "virtual server names must be strings");
      return;
    }
    const std::string name = key.Scalar();
    const std::string where = "virtual server " + quote(name);
    VirtualServerConfig vs;
    vs.name = name;
    vs.pos = {file_, line_of(key)};
    if (!is_name(name))
      error(key, "", "invalid virtual server name " + quote(name) + " (use lowercase letters, digits and '-')");
    bool first = define(vs_defs_, "virtual server", name, key);
    if (!val.IsMap()) {
      error(key, "", where + " must be a map");
      return;
    }
    Fields f = fields(val, {"instructions", "page_size", "pinning", "poisoning", "guardrails", "tools", "resources",
                            "prompts"},
                      where);
    if (auto* e = find(f, "instructions"))
      if (auto v = get_string(*e, where, false)) vs.instructions = std::move(*v);
    if (auto* e = find(f, "page_size"))
      if (auto v = get_count(*e, where)) vs.page_size = *v;
    if (auto* e = find(f, "pinning")) {
      if (auto s = get_string(*e, where, false)) {
        if (*s == "off") vs.pinning = PinningMode::Off;
        else if (*s == "warn") vs.pinning = PinningMode::Warn;
        else if (*s == "block") vs.pinning = PinningMode::Block;
        else error(e->value, where, "unknown pinning mode " + quote(*s) + suggestion(*s, {"off", "warn", "block"}));
      }
    }
    parse_guard_keys(f, where, vs);
    RenameTargets tool_targets, prompt_targets;
    if (auto* e = find(f, "tools")) vs.tools = parse_selections(*e, where, &tool_targets);
    if (auto* e = find(f, "resources")) vs.resources = parse_selections(*e, where, nullptr);
    if (auto* e = find(f, "prompts")) vs.prompts = parse_selections(*e, where, &prompt_targets);
    if (vs.tools.empty() && vs.resources.empty() && vs.prompts.empty())
      warn(key, where + " exposes nothing: it has no tools, resources or prompts");
    if (first) cfg_.virtual_servers.emplace(name, std::move(vs));
  }

  // `poisoning:` and `guardrails:` of a virtual server. The guardrails block
  // is kept as YAML for the guard layer, which checks it with file:line.
  void parse_guard_keys(const Fields& f, const std::string& where, VirtualServerConfig& vs) {
    if (auto* e = find(f, "poisoning")) {
      if (auto s = get_string(*e, where, false)) {
        if (*s == "off") vs.poisoning = PoisoningMode::Off;
        else if (*s == "warn") vs.poisoning = PoisoningMode::Warn;
        else if (*s == "hide") vs.poisoning = PoisoningMode::Hide;
        else error(e->value, where, "unknown poisoning mode " + quote(*s) + suggestion(*s, {"off", "warn", "hide"}));
      }
    }
    if (auto* e = find(f, "guardrails")) {
      vs.guardrails_pos = {file_, line_of(e->key)};
      if (e->value.IsNull()) return;
      if (!e->value.IsMap())
        error(e->key, where, "'guardrails' must be a map (guardrails, global, tools)");
      else
        vs.guardrails = e->value;
    }
  }

  // `targets` is null for resources, which support only upstream/include/exclude.
  std::vector<SourceSelection> parse_selections(const Entry& e, const std::string& vs_where, RenameTargets* targets) {
    std::vector<SourceSelection> out;
    const std::string& kind = e.name();
    if (!e.value.IsSequence()) {
      error(e.key, vs_where, quote(kind) + " must be a list of selections (- upstream: NAME)");
      return out;
    }
    size_t i = 0;
    for (const YAML::Node& item : e.value) {
      const std::string where = vs_where + " " + kind + "[" + std::to_string(i++) + "]";
      if (!item.IsMap()) {
        error(item, "", where + " must be a map (e.g. { upstream: NAME })");
        continue;
      }
      SourceSelection sel;
      sel.pos = {file_, line_of(item)};
      Fields f = targets ? fields(item, {"upstream", "include", "exclude", "prefix", "rename", "describe", "fixed"}, where)
                         : fields(item, {"upstream", "include", "exclude"}, where, {"prefix", "rename", "describe", "fixed"},
                                  "for resources");
      if (auto* u = find(f, "upstream")) {
        if (auto s = get_string(*u, where, false)) {
          sel.upstream = *s;
          refs_.push_back({{file_, line_of(u->value)}, *s});
        }
      } else {
        error(item, where, "missing required key 'upstream'");
      }
      if (auto* x = find(f, "include"))
        if (auto v = get_strings(*x, where, false)) sel.include = std::move(*v);
      if (auto* x = find(f, "exclude"))
        if (auto v = get_strings(*x, where, false)) sel.exclude = std::move(*v);
      if (auto* x = find(f, "prefix")) {
        if (auto v = get_string(*x, where, false)) {
          if (is_name_piece(*v, 0, 40))
            sel.prefix = std::move(*v);
          else
            error(x->value, where,
                  "prefix " + quote(*v) + " is not allowed (use at most 40 letters, digits, '_' or '-')");
        }
      }
      if (auto* x = find(f, "rename")) parse_rename(*x, where, sel, *targets);
      // Keys of describe/fixed name the original upstream name; a key equal to
      // a rename target is taken to mean the tool it renames.
      auto original = [&](const std::string& k) {
        for (const auto& [orig, target] : sel.rename)
          if (target == k) return orig;
        return k;
      };
      std::map<std::string, std::string> describe_key, fixed_key;  // original -> key as written
      auto claim = [&](std::map<std::string, std::string>& seen, const char* what, const YAML::Node& k) {
        const std::string orig = original(k.Scalar());
        auto [it, inserted] = seen.emplace(orig, k.Scalar());
        if (!inserted)
          error(k, where, std::string(what) + ": " + quote(it->second) + " and " + quote(k.Scalar()) +
                              " both refer to " + quote(orig));
        return inserted ? std::optional<std::string>(orig) : std::nullopt;
      };
      if (auto* x = find(f, "describe")) {
        each_entry(*x, where, "name to description", [&](const YAML::Node& k, const YAML::Node& v) {
          if (!v.IsScalar()) {
            error(k, where, "describe." + k.Scalar() + " must be a string");
            return;
          }
          if (auto orig = claim(describe_key, "describe", k)) sel.describe[*orig] = v.Scalar();
        });
      }
      if (auto* x = find(f, "fixed")) {
        each_entry(*x, where, "name to arguments", [&](const YAML::Node& k, const YAML::Node& v) {
          const std::string label = "fixed." + k.Scalar();
          if (!v.IsMap()) {
            error(k, where, label + " must be a map of argument name to value");
            return;
          }
          auto j = to_json(v, where, label);
          if (!j) return;
          if (auto orig = claim(fixed_key, "fixed", k)) sel.fixed[*orig] = std::move(*j);
        });
      }
      out.push_back(std::move(sel));
    }
    return out;
  }

  void parse_rename(const Entry& e, const std::string& where, SourceSelection& sel, RenameTargets& targets) {
    each_entry(e, where, "original name to new name", [&](const YAML::Node& k, const YAML::Node& v) {
      const std::string& orig = k.Scalar();
      if (!v.IsScalar()) {
        error(k, where, "rename." + orig + " must be a string");
        return;
      }
      const std::string& target = v.Scalar();
      if (!is_name_piece(target, 1, 64)) {
        error(v, where, "rename target " + quote(target) + " for " + quote(orig) +
                            " is not a valid name (use 1 to 64 letters, digits, '_' or '-')");
        return;
      }
      if (sel.rename.count(orig)) {
        error(k, where, "rename: duplicate key " + quote(orig));
        return;
      }
      auto [it, inserted] = targets.emplace(target, RenameSeen{orig, {file_, line_of(v)}});
      if (!inserted) {
        error(v, where, "rename target " + quote(target) + " is already used for " + quote(it->second.original) +
                            " at " + at(it->second.pos));
        return;
      }
      sel.rename[orig] = target;
    });
  }

  // ---- cross-file checks --------------------------------------------------

  void check_references() {
    std::string known;
    for (const auto& [name, pos] : upstream_defs_) known += (known.empty() ? "" : ", ") + name;
    for (const auto& r : refs_) {
      if (upstream_defs_.count(r.upstream)) continue;
      add(res_.errors, r.pos.file, r.pos.line,
          "upstream " + quote(r.upstream) + " is not defined" +
              (known.empty() ? std::string(" (no upstreams are defined)") : " (known: " + known + ")"));
    }
  }
};

}  // namespace

LoadResult load(const std::string& dir) { return Loader(dir).run(); }

}  // namespace portcullis::config
