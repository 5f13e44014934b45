#include "compose/pinning.h"

#include <sqlite3.h>

#include <chrono>
#include <iostream>

#include "core/crypto.h"

namespace portcullis::compose {

namespace {

constexpr const char* kPinnedFields[] = {"name", "title", "description", "inputSchema", "outputSchema",
                                         "annotations"};

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A prepared statement that finalizes itself.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) { sqlite3_prepare_v2(db, sql, -1, &s_, nullptr); }
  ~Stmt() { sqlite3_finalize(s_); }
  bool ok() const { return s_ != nullptr; }
  Stmt& bind(int i, const std::string& v) {
    sqlite3_bind_text(s_, i, v.c_str(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& bind(int i, int64_t v) {
    sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  int step() { return sqlite3_step(s_); }
  std::string text(int i) const {
    auto* p = sqlite3_column_text(s_, i);
    return p ? reinterpret_cast<const char*>(p) : "";
  }
  int64_t integer(int i) const { return sqlite3_column_int64(s_, i); }

 private:
  sqlite3_stmt* s_ = nullptr;
};

Json parse_or_null(const std::string& s) {
  if (s.empty()) return nullptr;
  Json j = Json::parse(s, nullptr, false);
  return j.is_discarded() ? Json(nullptr) : j;
}

Pin row_to_pin(const Stmt& st) {
  Pin p;
  p.upstream = st.text(0);
  p.tool = st.text(1);
  p.hash = st.text(2);
  p.definition = parse_or_null(st.text(3));
  p.approved_ms = st.integer(4);
  p.pending_hash = st.text(5);
  p.pending_definition = parse_or_null(st.text(6));
  p.changed_ms = st.integer(7);
  if (!p.pending_hash.empty()) p.change = describe_change(p.definition, p.pending_definition);
  return p;
}

constexpr const char* kSelectPins =
    "SELECT upstream, tool, hash, definition, approved_ms, pending_hash, pending_definition, changed_ms "
    "FROM pins";

}  // namespace

Json pinned_definition(const Json& tool) {
  Json out = Json::object();
  if (!tool.is_object()) return out;
  for (const char* f : kPinnedFields) {
    if (tool.contains(f)) out[f] = tool[f];
  }
  return out;
}

std::string pin_hash(const Json& tool) {
  // nlohmann::json keeps object keys sorted, so dump() is canonical.
  return crypto::sha256_hex(pinned_definition(tool).dump());
}

std::string describe_change(const Json& approved, const Json& seen) {
  std::vector<std::string> changed;
  for (const char* f : kPinnedFields) {
    const Json a = approved.is_object() && approved.contains(f) ? approved[f] : Json(nullptr);
    const Json b = seen.is_object() && seen.contains(f) ? seen[f] : Json(nullptr);
    if (a != b) changed.push_back(f);
  }
  if (changed.empty()) return "its definition changed";
  std::string out;
  for (size_t i = 0; i < changed.size(); ++i) {
    out += (i == 0 ? "" : i + 1 == changed.size() ? " and " : ", ") + changed[i];
  }
  return out + " changed";
}

Result<std::unique_ptr<PinStore>> PinStore::open(const std::string& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string why = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return fail("cannot open " + path + ": " + why);
  }
  sqlite3_busy_timeout(db, 5000);
  std::unique_ptr<PinStore> store(new PinStore(db));
  for (const char* sql : {"PRAGMA journal_mode=WAL",
                          "CREATE TABLE IF NOT EXISTS pins ("
                          " upstream TEXT NOT NULL, tool TEXT NOT NULL,"
                          " hash TEXT NOT NULL, definition TEXT NOT NULL, approved_ms INTEGER NOT NULL,"
                          " pending_hash TEXT NOT NULL DEFAULT '', pending_definition TEXT NOT NULL DEFAULT '',"
                          " changed_ms INTEGER NOT NULL DEFAULT 0,"
                          " PRIMARY KEY (upstream, tool))"}) {
    if (auto r = store->exec(sql); !r.ok()) return fail("cannot prepare " + path + ": " + r.error());
  }
  store->changed_elsewhere();  // take the current version as the baseline
  return store;
}

PinStore::~PinStore() { sqlite3_close(db_); }

Result<void> PinStore::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string why = err ? err : "unknown error";
    sqlite3_free(err);
    return fail(why);
  }
  return {};
}

Result<PinStore::Checked> PinStore::check(const std::string& upstream, const std::vector<Json>& tools) {
  std::lock_guard lock(mu_);
  std::map<std::string, Pin> pins;
  {
    Stmt st(db_, (std::string(kSelectPins) + " WHERE upstream = ?1").c_str());
    if (!st.ok()) return fail(sqlite3_errmsg(db_));
    st.bind(1, upstream);
    while (st.step() == SQLITE_ROW) {
      Pin p = row_to_pin(st);
      pins.emplace(p.tool, std::move(p));
    }
  }
  Checked out;
  if (auto r = exec("BEGIN IMMEDIATE"); !r.ok()) return fail(r.error());
  const int64_t now = now_ms();
  for (const Json& tool : tools) {
    if (!tool.is_object() || !tool.contains("name") || !tool["name"].is_string()) continue;
    const std::string name = tool["name"].get<std::string>();
    const Json def = pinned_definition(tool);
    const std::string hash = pin_hash(tool);
    auto it = pins.find(name);
    if (it == pins.end()) {
      Stmt ins(db_, "INSERT INTO pins (upstream, tool, hash, definition, approved_ms) VALUES (?1, ?2, ?3, ?4, ?5)");
      ins.bind(1, upstream).bind(2, name).bind(3, hash).bind(4, def.dump()).bind(5, now).step();
      continue;
    }
    Pin& pin = it->second;
    if (pin.hash == hash) {
      if (!pin.pending_hash.empty()) {  // the change was reverted upstream
        Stmt clr(db_, "UPDATE pins SET pending_hash = '', pending_definition = '', changed_ms = 0 "
                      "WHERE upstream = ?1 AND tool = ?2");
        clr.bind(1, upstream).bind(2, name).step();
      }
      continue;
    }
    std::string change = describe_change(pin.definition, def);
    out.changes[{upstream, name}] = change;
    if (pin.pending_hash != hash) {
      Stmt upd(db_, "UPDATE pins SET pending_hash = ?3, pending_definition = ?4, changed_ms = ?5 "
                    "WHERE upstream = ?1 AND tool = ?2");
      upd.bind(1, upstream).bind(2, name).bind(3, hash).bind(4, def.dump()).bind(5, now).step();
      pin.pending_hash = hash;
      pin.pending_definition = def;
      pin.changed_ms = now;
      pin.change = change;
      out.newly_changed.push_back(pin);
    }
  }
  if (auto r = exec("COMMIT"); !r.ok()) {
    (void)exec("ROLLBACK");  // the COMMIT error is the one to report
    return fail(r.error());
  }
  // Our own writes must not look like the CLI's.
  Stmt v(db_, "PRAGMA data_version");
  if (v.step() == SQLITE_ROW) data_version_ = v.integer(0);
  return out;
}

Result<std::vector<Pin>> PinStore::list() {
  std::lock_guard lock(mu_);
  Stmt st(db_, (std::string(kSelectPins) + " ORDER BY upstream, tool").c_str());
  if (!st.ok()) return fail(sqlite3_errmsg(db_));
  std::vector<Pin> out;
  while (st.step() == SQLITE_ROW) out.push_back(row_to_pin(st));
  return out;
}

Result<int> PinStore::approve(const std::string& upstream, const std::string& tool) {
  std::lock_guard lock(mu_);
  Stmt st(db_,
          "UPDATE pins SET hash = pending_hash, definition = pending_definition, approved_ms = ?3, "
          "pending_hash = '', pending_definition = '', changed_ms = 0 "
          "WHERE pending_hash != '' AND (?1 = '' OR upstream = ?1) AND (?2 = '' OR tool = ?2)");
  if (!st.ok()) return fail(sqlite3_errmsg(db_));
  st.bind(1, upstream).bind(2, tool).bind(3, now_ms());
  if (st.step() != SQLITE_DONE) return fail(sqlite3_errmsg(db_));
  return sqlite3_changes(db_);
}

bool PinStore::changed_elsewhere() {
  std::lock_guard lock(mu_);
  Stmt v(db_, "PRAGMA data_version");
  if (v.step() != SQLITE_ROW) return false;
  int64_t now = v.integer(0);
  bool changed = data_version_ >= 0 && now != data_version_;
  data_version_ = now;
  return changed;
}

int run_pins_cli(const std::vector<std::string>& args, const std::string& pins_db) {
  auto usage = [] {
    std::cerr << "usage: portcullis pins list [--config DIR] [--json]\n"
                 "       portcullis pins approve [--config DIR] (UPSTREAM TOOL | UPSTREAM --all | --all)\n";
    return 2;
  };
  if (args.empty()) return usage();
  bool json = false, all = false;
  std::vector<std::string> pos;
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--json") json = true;
    else if (args[i] == "--all") all = true;
    else if (!args[i].empty() && args[i][0] == '-') return usage();
    else pos.push_back(args[i]);
  }
  auto store = PinStore::open(pins_db);
  if (!store.ok()) {
    std::cerr << "portcullis pins: " << store.error() << "\n";
    return 1;
  }
  if (args[0] == "list") {
    if (!pos.empty() || all) return usage();
    auto pins = store.value()->list();
    if (!pins.ok()) {
      std::cerr << "portcullis pins: " << pins.error() << "\n";
      return 1;
    }
    for (const Pin& p : pins.value()) {
      if (json) {
        Json j = {{"upstream", p.upstream}, {"tool", p.tool}, {"hash", p.hash}, {"approved_ms", p.approved_ms},
                  {"state", p.pending_hash.empty() ? "approved" : "changed"}};
        if (!p.pending_hash.empty()) {
          j["pending_hash"] = p.pending_hash;
          j["changed_ms"] = p.changed_ms;
          j["change"] = p.change;
        }
        std::cout << j.dump() << "\n";
      } else {
        std::cout << p.upstream << "  " << p.tool << "  " << p.hash.substr(0, 12) << "  "
                  << (p.pending_hash.empty() ? "approved" : "CHANGED: " + p.change + " (pending " +
                                                               p.pending_hash.substr(0, 12) + ")")
                  << "\n";
      }
    }
    return 0;
  }
  if (args[0] == "approve") {
    if (!((pos.size() == 2 && !all) || (pos.size() == 1 && all) || (pos.empty() && all))) return usage();
    auto n = store.value()->approve(pos.empty() ? "" : pos[0], pos.size() == 2 ? pos[1] : "");
    if (!n.ok()) {
      std::cerr << "portcullis pins: " << n.error() << "\n";
      return 1;
    }
    std::cout << "approved " << n.value() << " changed tool definition(s)\n";
    if (n.value() == 0 && pos.size() == 2) {
      std::cerr << "portcullis pins: no pending change for tool '" << pos[1] << "' of upstream '" << pos[0] << "'\n";
      return 1;
    }
    return 0;
  }
  return usage();
}

}  // namespace portcullis::compose
