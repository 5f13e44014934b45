#include "record/audit_cli.h"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <sstream>

#include "core/jsonrpc.h"
#include "core/text.h"
#include "record/audit_backend.h"

namespace portcullis::record {
namespace {

constexpr const char* kUsage =
    "usage: portcullis audit [query] [FILTERS] [--limit N] [--json]\n"
    "       portcullis audit export --format jsonl|csv [FILTERS] [--out FILE]\n"
    "       portcullis audit verify [--key-file FILE] [--chain ID]\n"
    "       portcullis audit keygen FILE\n"
    "  every command also takes --config DIR and --db PATH (a SQLite file instead of the configured sink)\n"
    "FILTERS:\n"
    "  --since T / --until T   T is a duration back from now (90s, 15m, 1h, 7d) or a time\n"
    "                          (2025-01-02T03:04:05Z, or epoch milliseconds)\n"
    "  --user SUB (alias --subject)  --team T  --project P  --ticket T  --session ID\n"
    "  --server VS  --tool NAME  --method M  --decision allowed|denied  --guardrail RULE\n"
    "  --outcome ok|tool_error|error|timeout|cancelled|input_required|pin_changed|pin_blocked\n"
    "  --limit N   at most N rows, newest first (query: default 1000; export: default all; 0 = all)\n"
    "  --json      one JSON object per line instead of a table\n"
    "verify walks every chain from its anchor and names the first altered, deleted or\n"
    "inserted record; exit status 1 when a chain is broken. keygen writes a new signing\n"
    "key (mode 0600) for audit.signing_key.file.\n";

struct Usage {
  std::string message;
};

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Result<int64_t> parse_time_bound(const std::string& s, int64_t now) {
  if (s.empty()) return fail("empty time");
  bool digits = std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (digits && s.size() >= 10) return static_cast<int64_t>(std::stoll(s));
  if (s.find('-') != std::string::npos && s.find('T') != std::string::npos) {
    std::tm tm{};
    int ms = 0;
    std::istringstream in(s);
    in >> std::get_time(&tm, "%Y-%m-%dT%H:%M:%S");
    if (in.fail()) return fail("\"" + s + "\" is not a time like 2025-01-02T03:04:05Z");
    if (in.peek() == '.') {
      in.get();
      std::string frac;
      while (std::isdigit(in.peek())) frac += static_cast<char>(in.get());
      frac = (frac + "000").substr(0, 3);
      ms = std::stoi(frac);
    }
    return static_cast<int64_t>(timegm(&tm)) * 1000 + ms;
  }
  auto d = text::parse_duration(s);
  if (!d) return fail("\"" + s + "\" is neither a duration (1h, 7d) nor a time (2025-01-02T03:04:05Z)");
  return now - d->count();
}

Result<AuditQuery> parse_query_params(const std::map<std::string, std::string>& params, int64_t now) {
  AuditQuery q;
  for (const auto& [k, v] : params) {
    if (k == "since" || k == "until") {
      auto t = parse_time_bound(v, now);
      if (!t) return fail(k + ": " + t.error());
      (k == "since" ? q.since_ms : q.until_ms) = *t;
    } else if (k == "user" || k == "subject") q.subject = v;
    else if (k == "team") q.team = v;
    else if (k == "project") q.project = v;
    else if (k == "ticket") q.ticket = v;
    else if (k == "session") q.session_id = v;
    else if (k == "server") q.virtual_server = v;
    else if (k == "tool") q.tool = v;
    else if (k == "method") q.method = v;
    else if (k == "outcome") q.outcome = v;
    else if (k == "chain") q.chain = v;
    else if (k == "guardrail") q.guardrail = v;
    else if (k == "decision") {
      if (v != "allowed" && v != "denied") return fail("decision must be allowed or denied (got \"" + v + "\")");
      q.decision = v;
    } else if (k == "limit") {
      unsigned long long n = 0;
      auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (ec != std::errc() || end != v.data() + v.size()) {
        return fail("limit expects a non-negative integer, got \"" + v + "\"");
      }
      q.limit = static_cast<size_t>(n);
    } else {
      return fail("unknown filter \"" + k + "\"");
    }
  }
  return q;
}

std::string format_table(const std::vector<AuditRecord>& rows) {
  const std::vector<std::string> headers = {"TIME", "WHO", "SERVER", "METHOD", "TOOL", "DECISION", "OUTCOME", "LATENCY"};
  std::vector<std::vector<std::string>> cells;
  for (const auto& r : rows) {
    std::string outcome = r.outcome;
    if (r.error_code != 0) outcome += " (" + std::to_string(r.error_code) + ")";
    std::ostringstream lat;
    lat << std::fixed << std::setprecision(1) << static_cast<double>(r.phases.total_us) / 1000.0 << " ms";
    cells.push_back({format_iso8601_utc(r.ts_ms), r.subject.empty() ? "-" : r.subject, r.virtual_server, r.method,
                     r.tool.empty() ? "-" : r.tool, r.decision, outcome, lat.str()});
  }
  std::vector<size_t> width(headers.size());
  for (size_t c = 0; c < headers.size(); ++c) {
    width[c] = headers[c].size();
    for (const auto& row : cells) width[c] = std::max(width[c], row[c].size());
  }
  std::string out;
  auto line = [&](const std::vector<std::string>& row) {
    for (size_t c = 0; c < row.size(); ++c) {
      if (c + 1 == row.size()) out += std::string(width[c] - row[c].size(), ' ') + row[c];  // latency: right-aligned
      else out += row[c] + std::string(width[c] - row[c].size() + 2, ' ');
    }
    out += '\n';
  };
  line(headers);
  for (const auto& row : cells) line(row);
  return out;
}

namespace {

std::string csv_field(const std::string& v) {
  if (v.find_first_of(",\"\n\r") == std::string::npos) return v;
  std::string out = "\"";
  for (char c : v) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

// Flat columns of the CSV export, in order.
std::vector<std::string> csv_row(const Json& j) {
  std::vector<std::string> out;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() == "phases_us") {
      for (const char* p : {"identity", "authorize", "guard", "upstream", "total"}) out.push_back(std::to_string((*it)[p].get<int64_t>()));
    } else if (it->is_string()) {
      out.push_back(it->get<std::string>());
    } else {
      out.push_back(rpc::dump(*it));
    }
  }
  return out;
}

std::vector<std::string> csv_header(const Json& j) {
  std::vector<std::string> out;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() == "phases_us") {
      for (const char* p : {"identity", "authorize", "guard", "upstream", "total"}) out.push_back(std::string(p) + "_us");
    } else {
      out.push_back(it.key());
    }
  }
  return out;
}

void write_csv_line(std::ostream& out, const std::vector<std::string>& cells) {
  for (size_t i = 0; i < cells.size(); ++i) out << (i ? "," : "") << csv_field(cells[i]);
  out << "\r\n";
}

}  // namespace

int run_audit_cli(const std::string& config_dir, const std::vector<std::string>& args) {
  return run_audit_cli(config_dir, args, std::cout, std::cerr);
}

int run_audit_cli(const std::string& config_dir, const std::vector<std::string>& args_in, std::ostream& out,
                  std::ostream& err) {
  std::vector<std::string> args = args_in;
  if (!args.empty() && args.front() == "audit") args.erase(args.begin());
  std::string command = "query";
  if (!args.empty() && (args[0] == "query" || args[0] == "export" || args[0] == "verify" || args[0] == "keygen")) {
    command = args[0];
    args.erase(args.begin());
  }
  auto usage_error = [&](const std::string& message) {
    err << "portcullis audit: " << message << "\n" << kUsage;
    return 2;
  };

  std::map<std::string, std::string> filters;
  std::string dir = config_dir, db, format, out_file, key_file, chain;
  std::vector<std::string> positional;
  bool json = false;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string flag = args[i];
    std::optional<std::string> inline_value;
    if (auto eq = flag.find('='); text::starts_with(flag, "--") && eq != std::string::npos) {
      inline_value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
    }
    if (flag == "-h" || flag == "--help") {
      out << kUsage;
      return 0;
    }
    if (flag == "--json") {
      json = true;
      continue;
    }
    if (!text::starts_with(flag, "--")) {
      positional.push_back(flag);
      continue;
    }
    std::string value;
    if (inline_value) {
      value = *inline_value;
    } else {
      if (i + 1 >= args.size()) return usage_error(flag + " needs a value");
      value = args[++i];
    }
    std::string name = flag.substr(2);
    if (name == "config") dir = value;
    else if (name == "db") db = value;
    else if (name == "format") format = value;
    else if (name == "out") out_file = value;
    else if (name == "key-file") key_file = value;
    else if (name == "chain") chain = value, filters["chain"] = value;
    else filters[name] = value;
  }

  if (command == "keygen") {
    if (positional.size() != 1) return usage_error("keygen needs exactly one FILE");
    if (auto r = SigningKey::generate_file(positional[0]); !r) {
      err << "portcullis audit keygen: " << r.error() << "\n";
      return 1;
    }
    out << "wrote a new audit signing key to " << positional[0]
        << "\nuse it with (portcullis.yaml):\n  audit:\n    signing_key: {file: " << positional[0]
        << "}\nkeep it out of version control; anyone holding it can re-sign a rewritten chain\n";
    return 0;
  }
  if (!positional.empty()) return usage_error("unexpected argument \"" + positional[0] + "\"");

  config::Settings settings;
  auto loaded = config::load(dir);
  if (loaded.config) {
    settings = loaded.config->settings;
  } else if (db.empty()) {
    for (const auto& d : loaded.errors) err << d.format() << "\n";
    err << "portcullis audit: configuration in " << dir << " is invalid\n";
    return 1;
  }

  if (command == "verify") {
    std::optional<SigningKey> key;
    auto k = key_file.empty() ? signing_key_of(settings.audit) : SigningKey::load(key_file, "");
    if (!k) {
      err << "portcullis audit verify: " << k.error() << "\n";
      return 1;
    }
    key = std::move(*k);
    auto store = open_audit_reader(settings, db);
    if (!store) {
      err << "portcullis audit verify: " << store.error() << "\n";
      return 1;
    }
    auto results = (*store)->verify(key ? &*key : nullptr, chain.empty() ? std::nullopt : std::optional(chain));
    if (!results) {
      err << "portcullis audit verify: " << results.error() << "\n";
      return 1;
    }
    if (results->empty()) {
      out << "no audit records to verify\n";
      return 0;
    }
    int rc = 0;
    for (const auto& r : *results) {
      if (json) {
        out << rpc::dump({{"chain", r.chain_id}, {"ok", r.ok}, {"message", r.message}, {"failed_record", r.failed_row},
                          {"records", r.records}, {"checkpoints", r.checkpoints}, {"first_seq", r.first_seq},
                          {"last_seq", r.last_seq}, {"head_hash", r.head_hash}, {"dropped_total", r.dropped_total},
                          {"signed", r.signed_checkpoints}, {"anchored", r.anchored}})
            << "\n";
      } else if (r.ok) {
        out << "OK " << r.message << "\n";
      } else {
        out << "FAILED chain '" << r.chain_id << "': " << r.message << "\n";
      }
      if (!r.ok) rc = 1;
    }
    if (!key) err << "warning: no signing key configured (audit.signing_key): checkpoint signatures not checked\n";
    return rc;
  }

  if (command == "export") {
    if (format != "jsonl" && format != "csv") return usage_error("export needs --format jsonl or --format csv");
    if (!filters.count("limit")) filters["limit"] = "0";
  } else if (!format.empty() || !out_file.empty()) {
    return usage_error("--format and --out belong to export");
  }
  auto q = parse_query_params(filters, now_ms());
  if (!q) return usage_error(q.error());
  auto store = open_audit_reader(settings, db);
  if (!store) {
    err << "portcullis audit: " << store.error() << "\n";
    return 1;
  }
  auto rows = (*store)->query(*q);
  if (!rows) {
    err << "portcullis audit: " << rows.error() << "\n";
    return 1;
  }
  std::ofstream file;
  std::ostream* sink = &out;
  if (!out_file.empty()) {
    file.open(out_file);
    if (!file) {
      err << "portcullis audit export: cannot write " << out_file << "\n";
      return 1;
    }
    sink = &file;
  }
  if (command == "export" && format == "csv") {
    write_csv_line(*sink, csv_header(to_json(AuditRecord{})));
    for (const auto& r : *rows) write_csv_line(*sink, csv_row(to_json(r)));
  } else if (json || command == "export") {
    for (const auto& r : *rows) *sink << rpc::dump(to_json(r)) << '\n';
  } else if (rows->empty()) {
    err << "no audit records match\n";
  } else {
    *sink << format_table(*rows);
  }
  sink->flush();
  return 0;
}

}  // namespace portcullis::record
