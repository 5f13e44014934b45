#include "guard/sql_settings.h"

#include "core/text.h"

namespace portcullis::guard {
namespace {

Result<void> read_bool(const Json& j, const std::string& key, bool& out) {
  if (!j.is_boolean()) return fail("sql." + key + ": expected true or false");
  out = j.get<bool>();
  return {};
}

Result<void> read_list(const Json& j, const std::string& key, std::vector<std::string>& out) {
  if (!j.is_array()) return fail("sql." + key + ": expected a list of strings");
  out.clear();
  for (const auto& v : j) {
    if (!v.is_string() || v.get<std::string>().empty())
      return fail("sql." + key + ": expected a list of non-empty strings");
    out.push_back(text::to_lower(v.get<std::string>()));
  }
  return {};
}

}  // namespace

Result<SqlSettings> SqlSettings::from_json(const Json& j) {
  SqlSettings s;
  if (j.is_null()) return s;
  if (!j.is_object()) return fail("sql: expected a mapping");
  const std::pair<const char*, bool SqlSettings::*> flags[] = {
      {"multiple_statements", &SqlSettings::multiple_statements},
      {"ddl", &SqlSettings::ddl},
      {"unbounded_writes", &SqlSettings::unbounded_writes},
      {"tautologies", &SqlSettings::tautologies},
      {"time_functions", &SqlSettings::time_functions},
      {"file_access", &SqlSettings::file_access},
      {"command_execution", &SqlSettings::command_execution},
      {"obfuscation", &SqlSettings::obfuscation},
      {"malformed", &SqlSettings::malformed},
      {"read_only", &SqlSettings::read_only},
  };
  for (const auto& [key, value] : j.items()) {
    Result<void> r;
    bool known = false;
    for (const auto& [name, member] : flags) {
      if (key == name) {
        known = true;
        r = read_bool(value, key, s.*member);
      }
    }
    if (known) {
      // handled above
    } else if (key == "sql_args") {
      r = read_list(value, key, s.sql_args);
      if (r) {
        s.sql_args.clear();  // argument names are case-sensitive: keep them as written
        for (const auto& v : value) s.sql_args.push_back(v.get<std::string>());
      }
    } else if (key == "allow_tables") {
      r = read_list(value, key, s.allow_tables);
    } else if (key == "deny_tables") {
      r = read_list(value, key, s.deny_tables);
    } else if (key == "dialect") {
      const std::string d = value.is_string() ? value.get<std::string>() : "";
      if (d == "any")
        s.dialect = SqlDialect::kAny;
      else if (d == "postgres")
        s.dialect = SqlDialect::kPostgres;
      else if (d == "mysql")
        s.dialect = SqlDialect::kMysql;
      else if (d == "sqlite")
        s.dialect = SqlDialect::kSqlite;
      else if (d == "mssql")
        s.dialect = SqlDialect::kMssql;
      else
        r = fail("sql.dialect: expected any, postgres, mysql, sqlite or mssql");
    } else if (key == "union") {
      const std::string m = value.is_string() ? value.get<std::string>() : "";
      if (m == "off")
        s.union_mode = UnionMode::kOff;
      else if (m == "suspicious")
        s.union_mode = UnionMode::kSuspicious;
      else if (m == "any")
        s.union_mode = UnionMode::kAny;
      else
        r = fail("sql.union: expected off, suspicious or any");
    } else {
      r = fail("sql: unknown setting " + text::quote(key));
    }
    if (!r) return fail(r.error());
  }
  return s;
}

bool is_sql_argument(std::string_view name, const SqlSettings& settings) {
  if (!settings.sql_args.empty()) {
    for (const auto& a : settings.sql_args)
      if (a == name) return true;
    return false;
  }
  const std::string lower = text::to_lower(name);
  for (const char* hint : {"sql", "query", "statement", "stmt"})
    if (lower.find(hint) != std::string::npos) return true;
  return false;
}

}  // namespace portcullis::guard
