#include "guard/sql_condition.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <string>

namespace portcullis::guard::sql {
namespace {

constexpr size_t kMaxConditionTokens = 64;

bool is_or(const Token& t) {
  return t.word("OR") || (t.is(TokenKind::kOperator) && t.text == "||");
}

// A literal or column operand. Columns compare equal to themselves only.
struct Operand {
  enum Kind { kNumber, kString, kBool, kNull, kColumn } kind;
  double number = 0;
  std::string text;  // string value, or the column's dotted name
};

// MySQL's string-to-number conversion: the numeric prefix, or 0.
double to_number(const Operand& o) {
  if (o.kind == Operand::kNumber || o.kind == Operand::kBool) return o.number;
  return std::strtod(o.text.c_str(), nullptr);
}

std::optional<Operand> literal(const Token& tok) {
  if (tok.is(TokenKind::kNumber))
    return Operand{Operand::kNumber, std::strtod(tok.text.c_str(), nullptr), {}};
  if (tok.is(TokenKind::kString)) return Operand{Operand::kString, 0, tok.text};
  if (tok.word("TRUE")) return Operand{Operand::kBool, 1, {}};
  if (tok.word("FALSE")) return Operand{Operand::kBool, 0, {}};
  if (tok.word("NULL")) return Operand{Operand::kNull, 0, {}};
  return std::nullopt;
}

// An operand spanning exactly [b, e): a literal, a signed or two-term
// arithmetic literal (2-1), or a dotted column name.
std::optional<Operand> operand(const std::vector<Token>& t, size_t b, size_t e) {
  while (e - b >= 3 && t[b].is(TokenKind::kLParen) && t[e - 1].is(TokenKind::kRParen)) ++b, --e;
  if (b >= e) return std::nullopt;
  if (e - b == 1) {
    if (auto l = literal(t[b])) return l;
    if (t[b].is(TokenKind::kWord) || t[b].is(TokenKind::kIdentifier))
      return Operand{Operand::kColumn, 0, t[b].text};
    return std::nullopt;
  }
  if (e - b == 2 && t[b].is(TokenKind::kOperator) && (t[b].text == "-" || t[b].text == "+") &&
      t[b + 1].is(TokenKind::kNumber)) {
    double v = std::strtod(t[b + 1].text.c_str(), nullptr);
    return Operand{Operand::kNumber, t[b].text == "-" ? -v : v, {}};
  }
  if (e - b == 3 && t[b + 1].is(TokenKind::kOperator)) {
    auto l = literal(t[b]), r = literal(t[b + 2]);
    const std::string& op = t[b + 1].text;
    if (l && r && l->kind != Operand::kNull && r->kind != Operand::kNull) {
      double x = to_number(*l), y = to_number(*r);
      if (op == "+") return Operand{Operand::kNumber, x + y, {}};
      if (op == "-") return Operand{Operand::kNumber, x - y, {}};
      if (op == "*") return Operand{Operand::kNumber, x * y, {}};
    }
  }
  // schema.table.column
  std::string name;
  for (size_t k = b; k < e; ++k) {
    bool part = t[k].is(TokenKind::kWord) || t[k].is(TokenKind::kIdentifier);
    if ((k - b) % 2 == 0 ? !part : !t[k].is(TokenKind::kDot)) return std::nullopt;
    name += t[k].text;
  }
  if ((e - b) % 2 == 0) return std::nullopt;
  return Operand{Operand::kColumn, 0, name};
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// -1, 0, 1, or nullopt when the comparison depends on the row or is NULL.
std::optional<int> compare(const Operand& a, const Operand& b) {
  if (a.kind == Operand::kNull || b.kind == Operand::kNull) return std::nullopt;
  if (a.kind == Operand::kColumn || b.kind == Operand::kColumn) {
    if (a.kind == b.kind && lower(a.text) == lower(b.text)) return 0;
    return std::nullopt;
  }
  if (a.kind == Operand::kString && b.kind == Operand::kString) {
    int c = lower(a.text).compare(lower(b.text));  // MySQL's default collation ignores case
    return (c > 0) - (c < 0);
  }
  double x = to_number(a), y = to_number(b);
  return (x > y) - (x < y);
}

bool truthy(const Operand& o) {
  if (o.kind == Operand::kNull) return false;
  return to_number(o) != 0;
}

// Index of the first depth-0 token in [b, e) satisfying `pred`, or e.
template <typename Pred>
size_t find_top(const std::vector<Token>& t, size_t b, size_t e, Pred pred) {
  int depth = 0;
  for (size_t k = b; k < e; ++k) {
    if (t[k].is(TokenKind::kLParen))
      ++depth;
    else if (t[k].is(TokenKind::kRParen))
      --depth;
    else if (depth == 0 && pred(k))
      return k;
  }
  return e;
}

bool wrapped(const std::vector<Token>& t, size_t b, size_t e) {
  if (e - b < 2 || !t[b].is(TokenKind::kLParen) || !t[e - 1].is(TokenKind::kRParen)) return false;
  int depth = 0;
  for (size_t k = b; k < e; ++k) {
    if (t[k].is(TokenKind::kLParen))
      ++depth;
    else if (t[k].is(TokenKind::kRParen) && --depth == 0)
      return k == e - 1;
  }
  return false;
}

std::optional<bool> predicate(const std::vector<Token>& t, size_t b, size_t e);

std::optional<bool> conjunction(const std::vector<Token>& t, size_t b, size_t e) {
  bool all_true = true;
  size_t start = b;
  while (true) {
    bool in_between = false;  // the AND of "BETWEEN x AND y" splits nothing
    size_t split = find_top(t, start, e, [&](size_t i) {
      if (t[i].word("BETWEEN")) in_between = true;
      bool is_and = t[i].word("AND") || (t[i].is(TokenKind::kOperator) && t[i].text == "&&");
      if (is_and && in_between) {
        in_between = false;
        return false;
      }
      return is_and;
    });
    auto v = predicate(t, start, split);
    if (v == false) return false;
    if (v != true) all_true = false;
    if (split == e) break;
    start = split + 1;
  }
  if (all_true) return true;
  return std::nullopt;
}

std::optional<bool> predicate(const std::vector<Token>& t, size_t b, size_t e) {
  if (b >= e) return std::nullopt;
  if (t[b].word("NOT") || (t[b].is(TokenKind::kOperator) && t[b].text == "!")) {
    auto v = predicate(t, b + 1, e);
    if (v) return !*v;
    return std::nullopt;
  }
  if (wrapped(t, b, e)) return constant_value(t, b + 1, e - 1);
  size_t op = find_top(t, b, e, [&](size_t i) {
    const Token& x = t[i];
    if (x.is(TokenKind::kOperator))
      return x.text == "=" || x.text == "==" || x.text == "<>" || x.text == "!=" || x.text == "<" ||
             x.text == ">" || x.text == "<=" || x.text == ">=";
    return x.word("LIKE") || x.word("IS") || x.word("IN") || x.word("BETWEEN") ||
           x.word("REGEXP") || x.word("RLIKE") || x.word("GLOB");
  });
  if (op == e) {
    auto o = operand(t, b, e);
    if (!o || o->kind == Operand::kColumn) return std::nullopt;
    return truthy(*o);
  }
  bool negated = op > b && t[op - 1].word("NOT");
  auto left = operand(t, b, negated ? op - 1 : op);
  if (!left) return std::nullopt;
  const Token& o = t[op];
  std::optional<bool> v;
  if (o.word("IS")) {
    size_t k = op + 1;
    bool is_not = k < e && t[k].word("NOT");
    if (is_not) ++k;
    if (k + 1 != e) return std::nullopt;
    std::optional<bool> is_value;
    if (t[k].word("NULL") && left->kind != Operand::kColumn)
      is_value = left->kind == Operand::kNull;
    else if ((t[k].word("TRUE") || t[k].word("FALSE")) && left->kind != Operand::kColumn)
      is_value = truthy(*left) == t[k].word("TRUE");
    if (!is_value) return std::nullopt;
    return is_not ? !*is_value : *is_value;
  } else if (o.word("IN")) {
    if (op + 1 >= e || !wrapped(t, op + 1, e)) return std::nullopt;
    bool found = false;
    size_t s = op + 2;
    while (s < e - 1) {
      size_t c = find_top(t, s, e - 1, [&](size_t i) { return t[i].is(TokenKind::kComma); });
      auto item = operand(t, s, c);
      if (item && compare(*left, *item) == 0) found = true;
      s = c + 1;
    }
    if (!found) return std::nullopt;
    v = true;
  } else if (o.word("BETWEEN")) {
    size_t a = find_top(t, op + 1, e, [&](size_t i) { return t[i].word("AND"); });
    auto lo = operand(t, op + 1, a);
    auto hi = a < e ? operand(t, a + 1, e) : std::nullopt;
    if (!lo || !hi) return std::nullopt;
    auto c1 = compare(*left, *lo), c2 = compare(*left, *hi);
    if (!c1 || !c2) return std::nullopt;
    v = *c1 >= 0 && *c2 <= 0;
  } else {
    auto right = operand(t, op + 1, e);
    if (!right) return std::nullopt;
    if (o.word("LIKE") || o.word("GLOB")) {
      if (right->kind == Operand::kString && (right->text == "%" || right->text == "*") &&
          left->kind != Operand::kNull)
        v = true;
      else if (auto c = compare(*left, *right);
               c == 0 && right->text.find_first_of("%_") == std::string::npos)
        v = true;
      else
        return std::nullopt;
    } else if (o.word("REGEXP") || o.word("RLIKE")) {
      if (right->kind == Operand::kString && (right->text.empty() || right->text == ".*"))
        v = true;
      else
        return std::nullopt;
    } else {
      auto c = compare(*left, *right);
      if (!c) return std::nullopt;
      const std::string& s = o.text;
      if (s == "=" || s == "==")
        v = *c == 0;
      else if (s == "<>" || s == "!=")
        v = *c != 0;
      else if (s == "<")
        v = *c < 0;
      else if (s == ">")
        v = *c > 0;
      else if (s == "<=")
        v = *c <= 0;
      else
        v = *c >= 0;
    }
  }
  if (v && negated) return !*v;
  return v;
}

}  // namespace

bool ends_condition(const Token& t) {
  static constexpr const char* kEnds[] = {
      "ORDER", "GROUP", "LIMIT",  "HAVING", "UNION",  "INTERSECT", "EXCEPT", "RETURNING", "OFFSET",
      "FETCH", "FOR",   "WINDOW", "INTO",   "FROM",   "WHERE",     "THEN",   "WHEN",      "ELSE",
      "END",   "ON",    "JOIN",   "SET",    "VALUES", "SELECT",    "USING"};
  if (!t.is(TokenKind::kWord)) return t.is(TokenKind::kComma);
  for (const char* w : kEnds)
    if (t.text == w) return true;
  return false;
}

std::optional<bool> constant_value(const std::vector<Token>& t, size_t b, size_t e) {
  // Tautologies are short; a long condition is unknown, which also bounds
  // the work on hostile input (nested parentheses would otherwise be quadratic).
  if (e - b > kMaxConditionTokens) return std::nullopt;
  bool any_unknown = false;
  size_t start = b;
  while (true) {
    size_t split = find_top(t, start, e, [&](size_t i) { return is_or(t[i]); });
    auto v = conjunction(t, start, split);
    if (v == true) return true;
    if (v != false) any_unknown = true;
    if (split == e) break;
    start = split + 1;
  }
  if (any_unknown) return std::nullopt;
  return false;
}

std::vector<std::pair<size_t, size_t>> tautological_disjuncts(const std::vector<Token>& t,
                                                              size_t begin, size_t end) {
  std::vector<std::pair<size_t, size_t>> out;
  for (size_t k = begin; k < end; ++k) {
    if (!is_or(t[k])) continue;
    // The disjunct runs to the next OR at the same depth, the ')' closing
    // this depth, or a word that ends the condition.
    int depth = 0;
    size_t e = k + 1;
    const size_t limit = std::min(end, k + 1 + kMaxConditionTokens + 1);
    for (; e < limit; ++e) {
      if (t[e].is(TokenKind::kLParen))
        ++depth;
      else if (t[e].is(TokenKind::kRParen) && --depth < 0)
        break;
      else if (depth == 0 && (is_or(t[e]) || ends_condition(t[e])))
        break;
    }
    if (constant_value(t, k + 1, e) == true) out.push_back({k, e});
  }
  return out;
}

}  // namespace portcullis::guard::sql
