#include "guard/sql_tables.h"

#include <algorithm>
#include <cctype>

#include "core/text.h"

namespace portcullis::guard::sql {
namespace {

bool is_name(const Token& t) { return t.is(TokenKind::kWord) || t.is(TokenKind::kIdentifier); }

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Words that may follow FROM/INTO/TABLE without being a table name.
bool is_modifier(const Token& t) {
  static constexpr const char* kSkip[] = {
      "ONLY",     "LATERAL", "IF",           "NOT",   "EXISTS",  "TEMP",          "TEMPORARY",
      "UNLOGGED", "IGNORE",  "LOW_PRIORITY", "QUICK", "DELAYED", "HIGH_PRIORITY", "TABLE"};
  if (!t.is(TokenKind::kWord)) return false;
  for (const char* w : kSkip)
    if (t.text == w) return true;
  return false;
}

// Words after which a name is certainly not a table (INTO OUTFILE, FROM DUAL).
bool is_not_table(const Token& t) {
  if (!t.is(TokenKind::kWord)) return false;
  for (const char* w : {"OUTFILE", "DUMPFILE", "DUAL", "STDIN", "STDOUT", "PROGRAM", "SELECT",
                        "VALUES", "WITH", "CURRENT", "UNNEST"})
    if (t.text == w) return true;
  return false;
}

std::vector<std::string> cte_names(const std::vector<Token>& t) {
  std::vector<std::string> out;
  for (size_t k = 0; k + 2 < t.size(); ++k) {
    if (!is_name(t[k])) continue;
    size_t a = k + 1;
    if (t[a].is(TokenKind::kLParen)) {  // name (col, ...) AS (
      const size_t limit = std::min(t.size(), a + 256);
      while (a < limit && !t[a].is(TokenKind::kRParen)) ++a;
      ++a;
    }
    if (a + 1 < t.size() && t[a].word("AS")) {
      size_t p = a + 1;
      while (p < t.size() && (t[p].word("NOT") || t[p].word("MATERIALIZED"))) ++p;
      if (p < t.size() && t[p].is(TokenKind::kLParen)) out.push_back(lower(t[k].text));
    }
  }
  return out;
}

// Parses one dotted name at k; returns the index after it (k when none).
size_t dotted_name(const std::vector<Token>& t, size_t k, std::string& name) {
  name.clear();
  size_t i = k;
  while (i < t.size() && is_name(t[i])) {
    if (!name.empty()) name += '.';
    name += lower(t[i].text);
    if (i + 1 < t.size() && t[i + 1].is(TokenKind::kDot)) {
      i += 2;
    } else {
      ++i;
      break;
    }
  }
  return name.empty() ? k : i;
}

// Words that end a FROM item, so are not its alias.
bool ends_from_item(const Token& t) {
  for (const char* w :
       {"WHERE",   "JOIN",   "INNER",     "LEFT",  "RIGHT",  "FULL",          "CROSS",
        "NATURAL", "OUTER",  "ON",        "USING", "GROUP",  "ORDER",         "LIMIT",
        "UNION",   "EXCEPT", "INTERSECT", "SET",   "VALUES", "SELECT",        "RETURNING",
        "HAVING",  "WINDOW", "OFFSET",    "FETCH", "FOR",    "STRAIGHT_JOIN", "LATERAL",
        "DEFAULT", "TO",     "PARTITION", "INTO",  "WITH"})
    if (t.text == w) return true;
  return false;
}

}  // namespace

std::vector<TableRef> table_refs(const std::vector<Token>& t) {
  std::vector<TableRef> out;
  const auto ctes = cte_names(t);
  // For each open parenthesis: the function name before it, if any.
  std::vector<std::string> parens;
  for (size_t k = 0; k < t.size(); ++k) {
    if (t[k].is(TokenKind::kLParen)) {
      parens.push_back(k > 0 && t[k - 1].is(TokenKind::kWord) ? t[k - 1].text : "");
      continue;
    }
    if (t[k].is(TokenKind::kRParen)) {
      if (!parens.empty()) parens.pop_back();
      continue;
    }
    if (!t[k].is(TokenKind::kWord)) continue;
    const std::string& w = t[k].text;
    bool list = w == "FROM";  // FROM a, b
    bool introducer = list || w == "JOIN" || w == "INTO" || w == "UPDATE" || w == "TABLE" ||
                      w == "TRUNCATE" || w == "COPY";
    if (!introducer) continue;
    if (w == "FROM") {
      const std::string fn = parens.empty() ? "" : parens.back();
      if (fn == "EXTRACT" || fn == "SUBSTRING" || fn == "TRIM" || fn == "POSITION" ||
          fn == "OVERLAY" || fn == "SUBSTR")
        continue;
      if (k > 0 && t[k - 1].word("DISTINCT")) continue;  // IS [NOT] DISTINCT FROM
    }
    if (w == "UPDATE" && k > 0 &&
        (t[k - 1].word("FOR") || t[k - 1].word("DELETE") || t[k - 1].word("KEY") ||
         t[k - 1].word("ON")))
      continue;  // FOR UPDATE, ON UPDATE, FOR NO KEY UPDATE
    size_t i = k + 1;
    while (true) {
      while (i < t.size() && is_modifier(t[i])) ++i;
      if (i >= t.size() || is_not_table(t[i])) break;
      std::string name;
      size_t after = dotted_name(t, i, name);
      if (after == i) break;
      bool function = after < t.size() && t[after].is(TokenKind::kLParen) && w != "INTO" &&
                      w != "TABLE" && w != "COPY";
      bool cte = false;
      for (const auto& c : ctes) cte = cte || c == name;
      if (!function && !cte) out.push_back(TableRef{name, t[i].start, t[after - 1].end});
      i = after;
      if (!list) break;
      // Skip an alias ([AS] name) and continue after a comma.
      if (i < t.size() && t[i].word("AS")) ++i;
      if (i < t.size() && is_name(t[i]) && !t[i].is(TokenKind::kWord))
        ++i;
      else if (i < t.size() && t[i].is(TokenKind::kWord) && !ends_from_item(t[i]))
        ++i;
      if (i < t.size() && t[i].is(TokenKind::kComma)) {
        ++i;
        continue;
      }
      break;
    }
  }
  return out;
}

bool table_matches(std::string_view table, std::string_view entry) {
  auto dot = [](std::string_view s) { return s.rfind('.'); };
  auto last = [&](std::string_view s) {
    size_t d = dot(s);
    return d == std::string_view::npos ? s : s.substr(d + 1);
  };
  if (text::glob_match(entry, table)) return true;
  if (dot(entry) == std::string_view::npos) return text::glob_match(entry, last(table));
  // An unqualified reference matches "schema.table", not "schema.*": only a
  // named table can be assumed to be the one the search path finds.
  if (dot(table) == std::string_view::npos &&
      last(entry).find_first_of("*?") == std::string_view::npos)
    return last(entry) == table;
  return false;
}

}  // namespace portcullis::guard::sql
