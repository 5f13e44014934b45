#include "policy/parser.h"

#include <set>

#include "policy/extensions.h"
#include "policy/lexer.h"

namespace portcullis::policy {

namespace {

struct ParseError {
  int line, col;
  std::string message;
};

struct Method {
  std::string_view name;
  Op op;
  size_t args;  // not counting the receiver
  bool extension() const { return op >= Op::IsIpv4; }
};
constexpr Method kMethods[] = {{"contains", Op::Contains, 1},
                               {"containsAll", Op::ContainsAll, 1},
                               {"containsAny", Op::ContainsAny, 1},
                               {"isEmpty", Op::IsEmpty, 0},
                               {"getTag", Op::GetTag, 1},
                               {"hasTag", Op::HasTag, 1},
                               {"isIpv4", Op::IsIpv4, 0},
                               {"isIpv6", Op::IsIpv6, 0},
                               {"isLoopback", Op::IsLoopback, 0},
                               {"isMulticast", Op::IsMulticast, 0},
                               {"isInRange", Op::IsInRange, 1},
                               {"lessThan", Op::LessThan, 1},
                               {"lessThanOrEqual", Op::LessThanOrEqual, 1},
                               {"greaterThan", Op::GreaterThan, 1},
                               {"greaterThanOrEqual", Op::GreaterThanOrEqual, 1}};

const std::set<std::string, std::less<>> kReserved = {"true", "false", "if",   "then", "else",
                                                      "in",   "is",    "like", "has",  "__cedar"};

class Parser {
 public:
  Parser(std::vector<Token> toks, std::string file) : t_(std::move(toks)), file_(std::move(file)) {}

  std::vector<Policy> policies(size_t first_index) {
    std::vector<Policy> out;
    while (peek().kind != Tok::End) {
      Policy p = policy();
      if (p.id.empty()) p.id = "policy" + std::to_string(first_index + out.size());
      out.push_back(std::move(p));
    }
    return out;
  }

 private:
  std::vector<Token> t_;
  size_t i_ = 0;
  std::string file_;

  const Token& peek(size_t ahead = 0) const { return t_[std::min(i_ + ahead, t_.size() - 1)]; }
  const Token& next() { return t_[i_ < t_.size() - 1 ? i_++ : i_]; }
  bool at(Tok k) const { return peek().kind == k; }
  bool at_word(std::string_view w) const { return peek().kind == Tok::Ident && peek().text == w; }
  [[noreturn]] void error(const Token& at, std::string msg) const {
    throw ParseError{at.line, at.col, std::move(msg)};
  }
  std::string shown(const Token& t) const {
    return t.kind == Tok::End ? "end of input" : "`" + t.text + "`";
  }
  const Token& expect(Tok k, std::string_view what) {
    if (!at(k)) error(peek(), "expected " + std::string(what) + ", found " + shown(peek()));
    return next();
  }
  void expect_word(std::string_view w) {
    if (!at_word(w)) error(peek(), "expected `" + std::string(w) + "`, found " + shown(peek()));
    next();
  }
  // An identifier used as an attribute, record key or type name.
  const std::string& name_ok(const Token& t) const {
    if (kReserved.count(t.text))
      error(t, "this identifier is reserved and cannot be used: " + t.text);
    if (t.text.find("__cedar") != std::string::npos)
      error(t, "The name `" + t.text + "` contains `__cedar`, which is reserved");
    return t.text;
  }
  SourcePos pos_of(const Token& t) const { return SourcePos{file_, t.line, t.col}; }
  std::string string_lit(const Token& t) const {
    auto s = unescape(t.text);
    if (!s.ok()) error(t, s.error());
    return s.value();
  }

  Policy policy() {
    Policy p;
    p.pos = pos_of(peek());
    while (at(Tok::At)) {
      next();
      const Token& key = expect(Tok::Ident, "an annotation name");
      std::string value;
      if (at(Tok::LParen)) {
        next();
        value = string_lit(expect(Tok::String, "a string"));
        expect(Tok::RParen, "`)`");
      }
      if (!p.annotations.emplace(key.text, value).second)
        error(key, "duplicate annotation: @" + key.text);
    }
    if (auto it = p.annotations.find("id"); it != p.annotations.end()) p.id = it->second;
    const Token& eff = peek();
    if (at_word("permit"))
      p.permit = true;
    else if (at_word("forbid"))
      p.permit = false;
    else
      error(eff, "expected `permit` or `forbid`, found " + shown(eff));
    next();
    expect(Tok::LParen, "`(`");
    p.principal = scope("principal", false);
    expect(Tok::Comma, "`,`");
    p.action = scope("action", true);
    expect(Tok::Comma, "`,`");
    p.resource = scope("resource", false);
    if (at(Tok::Comma)) next();  // Cedar allows a trailing comma here
    expect(Tok::RParen, "`)`");
    while (at_word("when") || at_word("unless")) {
      Condition c;
      c.when = next().text == "when";
      expect(Tok::LBrace, "`{`");
      if (at(Tok::RBrace)) error(peek(), "a condition must not be empty");
      c.body = expr();
      expect(Tok::RBrace, "`}`");
      p.conditions.push_back(std::move(c));
    }
    expect(Tok::Semi, "`;`");
    return p;
  }

  std::string path() {
    std::string s = name_ok(expect(Tok::Ident, "a name"));
    while (at(Tok::ColonColon) && peek(1).kind == Tok::Ident) {
      next();
      s += "::" + name_ok(next());
    }
    return s;
  }

  EntityUid entity_ref() {
    if (at(Tok::Question)) error(peek(), "templates (slots such as ?principal) are not supported");
    std::string type = path();
    expect(Tok::ColonColon, "`::` and an entity id");
    return EntityUid{type, string_lit(expect(Tok::String, "an entity id string"))};
  }

  void check_action_type(const Token& at_tok, const EntityUid& uid) {
    if (uid.type != "Action" && !(uid.type.size() > 8 && uid.type.ends_with("::Action")))
      error(at_tok, "expected an entity uid with type `Action` but got `" + uid.to_string() + "`");
  }

  ScopeConstraint scope(std::string_view var, bool is_action) {
    expect_word(var);
    ScopeConstraint s;
    if (at(Tok::Eq)) {
      next();
      const Token& tok = peek();
      s.kind = ScopeConstraint::Kind::Eq;
      s.entities.push_back(entity_ref());
      if (is_action) check_action_type(tok, s.entities.back());
    } else if (at_word("in")) {
      next();
      s.kind = ScopeConstraint::Kind::In;
      if (is_action && at(Tok::LBracket)) {
        next();
        while (!at(Tok::RBracket)) {
          const Token& tok = peek();
          s.entities.push_back(entity_ref());
          check_action_type(tok, s.entities.back());
          if (!at(Tok::Comma)) break;
          next();
        }
        expect(Tok::RBracket, "`]`");
      } else {
        const Token& tok = peek();
        s.entities.push_back(entity_ref());
        if (is_action) check_action_type(tok, s.entities.back());
      }
    } else if (at_word("is")) {
      if (is_action) error(peek(), "`is` is not allowed in the action scope");
      next();
      s.kind = ScopeConstraint::Kind::Is;
      s.type = path();
      if (at_word("in")) {
        next();
        s.kind = ScopeConstraint::Kind::IsIn;
        s.entities.push_back(entity_ref());
      }
    }
    return s;
  }

  static Expr node(Op op, SourcePos pos, std::vector<Expr> args = {}) {
    Expr e;
    e.op = op;
    e.pos = std::move(pos);
    e.args = std::move(args);
    return e;
  }

  Expr expr() {
    if (at_word("if")) {
      SourcePos pos = pos_of(next());
      Expr c = expr();
      expect_word("then");
      Expr a = expr();
      expect_word("else");
      Expr b = expr();
      return node(Op::If, pos, {std::move(c), std::move(a), std::move(b)});
    }
    return or_expr();
  }

  Expr or_expr() {
    Expr left = and_expr();
    while (at(Tok::OrOr)) {
      SourcePos pos = pos_of(next());
      Expr right = and_expr();
      left = node(Op::Or, pos, {std::move(left), std::move(right)});
    }
    return left;
  }

  Expr and_expr() {
    Expr left = relation();
    while (at(Tok::AndAnd)) {
      SourcePos pos = pos_of(next());
      Expr right = relation();
      left = node(Op::And, pos, {std::move(left), std::move(right)});
    }
    return left;
  }

  bool at_relop() const {
    switch (peek().kind) {
      case Tok::Eq:
      case Tok::Ne:
      case Tok::Lt:
      case Tok::Le:
      case Tok::Gt:
      case Tok::Ge:
        return true;
      default:
        return at_word("in") || at_word("has") || at_word("like") || at_word("is");
    }
  }

  Expr relation() {
    Expr left = add();
    if (!at_relop()) return left;
    const Token& op = next();
    SourcePos pos = pos_of(op);
    Expr out;
    if (op.kind == Tok::Ident && op.text == "has") {
      out = has_path(std::move(left), pos);
    } else if (op.kind == Tok::Ident && op.text == "like") {
      out = node(Op::Like, pos, {std::move(left)});
      out.pattern = like_pattern(expect(Tok::String, "a pattern string"));
    } else if (op.kind == Tok::Ident && op.text == "is") {
      out = node(Op::Is, pos, {std::move(left)});
      out.name = path();
      if (at_word("in")) {
        next();
        out.args.push_back(add());
      }
    } else {
      Op o = op.kind == Tok::Eq   ? Op::Eq
             : op.kind == Tok::Ne ? Op::Ne
             : op.kind == Tok::Lt ? Op::Lt
             : op.kind == Tok::Le ? Op::Le
             : op.kind == Tok::Gt ? Op::Gt
             : op.kind == Tok::Ge ? Op::Ge
                                  : Op::In;
      out = node(o, pos, {std::move(left), add()});
    }
    if (at_relop())
      error(peek(),
            "multiple relational operators (>, ==, in, etc.) must be used with parentheses to make "
            "ordering explicit");
    return out;
  }

  // `e has a.b.c` means `e has a && e.a has b && e.a.b has c`.
  Expr has_path(Expr target, const SourcePos& pos) {
    auto attr = [&] {
      const Token& t = peek();
      if (t.kind == Tok::String) return string_lit(next());
      if (t.kind == Tok::Ident) return name_ok(next());
      error(t, "expected an attribute name after `has`, found " + shown(t));
    };
    bool quoted = at(Tok::String);
    Expr result = node(Op::Has, pos, {target});
    result.name = attr();
    Expr reach = node(Op::GetAttr, pos, {std::move(target)});
    reach.name = result.name;
    while (!quoted && at(Tok::Dot) && peek(1).kind == Tok::Ident) {
      next();
      Expr h = node(Op::Has, pos, {reach});
      h.name = name_ok(next());
      Expr deeper = node(Op::GetAttr, pos, {std::move(reach)});
      deeper.name = h.name;
      reach = std::move(deeper);
      result = node(Op::And, pos, {std::move(result), std::move(h)});
    }
    return result;
  }

  // Works on the raw literal: `\*` is a literal star and a bare `*` the
  // wildcard, and no other escape can produce either.
  std::vector<int32_t> like_pattern(const Token& t) {
    const std::string& raw = t.text;
    std::vector<int32_t> out;
    auto push_utf8 = [&out](const std::string& s) {
      for (size_t i = 0; i < s.size();) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        int n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
        int32_t cp = n == 1 ? c : c & (0xFF >> (n + 1));
        for (int k = 1; k < n && i + k < s.size(); ++k) cp = (cp << 6) | (s[i + k] & 0x3F);
        out.push_back(cp);
        i += n;
      }
    };
    for (size_t i = 0; i < raw.size();) {
      if (raw[i] == '*') {
        out.push_back(Expr::kWildcard);
        ++i;
      } else if (raw[i] == '\\' && i + 1 < raw.size() && raw[i + 1] == '*') {
        out.push_back('*');
        i += 2;
      } else if (raw[i] == '\\') {
        size_t end = i + 2;
        if (i + 1 < raw.size() && raw[i + 1] == 'x') end = i + 4;
        if (i + 1 < raw.size() && raw[i + 1] == 'u')
          end = raw.find('}', i) == std::string::npos ? raw.size() : raw.find('}', i) + 1;
        auto decoded = unescape(raw.substr(i, std::min(end, raw.size()) - i));
        if (!decoded.ok()) error(t, decoded.error());
        push_utf8(decoded.value());
        i = std::min(end, raw.size());
      } else {
        size_t j = i;
        while (j < raw.size() && raw[j] != '*' && raw[j] != '\\') ++j;
        push_utf8(raw.substr(i, j - i));
        i = j;
      }
    }
    return out;
  }

  Expr add() {
    Expr left = mult();
    while (at(Tok::Plus) || at(Tok::Minus)) {
      const Token& op = next();
      Expr right = mult();
      left = node(op.kind == Tok::Plus ? Op::Add : Op::Sub, pos_of(op),
                  {std::move(left), std::move(right)});
    }
    return left;
  }

  Expr mult() {
    Expr left = unary();
    while (at(Tok::Star)) {
      SourcePos pos = pos_of(next());
      Expr right = unary();
      left = node(Op::Mul, pos, {std::move(left), std::move(right)});
    }
    return left;
  }

  // Up to four `!` or four `-` (not mixed) before a member expression; a
  // `-` right before an integer literal negates the literal itself, so that
  // -9223372036854775808 is representable.
  Expr unary() {
    if (!at(Tok::Bang) && !at(Tok::Minus)) return member(primary());
    Tok kind = peek().kind;
    std::vector<SourcePos> ops;
    while (at(kind)) ops.push_back(pos_of(next()));
    if (ops.size() > 4)
      error(peek(),
            std::string("too many occurrences of `") + (kind == Tok::Bang ? "!" : "-") + "`");
    if (at(Tok::Bang) || at(Tok::Minus)) error(peek(), "unexpected token " + shown(peek()));
    Expr e;
    if (kind == Tok::Minus && at(Tok::Int)) {
      Expr lit = node(Op::Literal, ops.back());
      lit.value = int_literal(next(), true);
      ops.pop_back();
      e = member(std::move(lit));
    } else {
      e = member(primary());
    }
    while (!ops.empty()) {
      e = node(kind == Tok::Bang ? Op::Not : Op::Neg, ops.back(), {std::move(e)});
      ops.pop_back();
    }
    return e;
  }

  int64_t int_literal(const Token& t, bool negative) const {
    uint64_t v = 0;
    for (char c : t.text) {
      if (v > (UINT64_MAX - 9) / 10) error(t, "integer literal `" + t.text + "` is too large");
      v = v * 10 + uint64_t(c - '0');
    }
    uint64_t limit = negative ? uint64_t(INT64_MAX) + 1 : uint64_t(INT64_MAX);
    if (v > limit)
      error(t, "integer literal `" + std::string(negative ? "-" : "") + t.text + "` is too large");
    return negative ? int64_t(0 - v) : int64_t(v);
  }

  std::vector<Expr> call_args() {
    expect(Tok::LParen, "`(`");
    std::vector<Expr> args;
    while (!at(Tok::RParen)) {
      args.push_back(expr());
      if (!at(Tok::Comma)) break;
      next();
    }
    expect(Tok::RParen, "`)`");
    return args;
  }

  Expr member(Expr e) {
    for (;;) {
      if (at(Tok::Dot)) {
        next();
        const Token& name = expect(Tok::Ident, "an attribute or method name");
        if (at(Tok::LParen)) {
          const Method* m = nullptr;
          for (const auto& k : kMethods)
            if (k.name == name.text) m = &k;
          if (!m) error(name, "`" + name.text + "` is not a valid method");
          std::vector<Expr> args = call_args();
          if (args.size() != m->args && !m->extension())
            error(name, "call to `" + name.text + "` requires exactly " + std::to_string(m->args) +
                            " argument(s)");
          std::string arity = arity_message(name.text, m->args + 1, args.size() + 1);
          Op op = args.size() == m->args ? m->op : Op::ArityError;
          args.insert(args.begin(), std::move(e));
          e = node(op, pos_of(name), std::move(args));
          if (op == Op::ArityError) e.name = arity;
        } else {
          Expr g = node(Op::GetAttr, pos_of(name), {std::move(e)});
          g.name = name_ok(name);
          e = std::move(g);
        }
      } else if (at(Tok::LBracket)) {
        SourcePos pos = pos_of(next());
        Expr g = node(Op::GetAttr, pos, {std::move(e)});
        g.name = string_lit(expect(Tok::String, "a string attribute name"));
        expect(Tok::RBracket, "`]`");
        e = std::move(g);
      } else {
        return e;
      }
    }
  }

  Expr primary() {
    const Token& t = peek();
    SourcePos pos = pos_of(t);
    switch (t.kind) {
      case Tok::Int: {
        Expr e = node(Op::Literal, pos);
        e.value = int_literal(next(), false);
        return e;
      }
      case Tok::String: {
        Expr e = node(Op::Literal, pos);
        e.value = string_lit(next());
        return e;
      }
      case Tok::LParen: {
        next();
        Expr e = expr();
        expect(Tok::RParen, "`)`");
        return e;
      }
      case Tok::LBracket: {
        next();
        Expr e = node(Op::SetLit, pos);
        while (!at(Tok::RBracket)) {
          e.args.push_back(expr());
          if (!at(Tok::Comma)) break;
          next();
        }
        expect(Tok::RBracket, "`]`");
        return e;
      }
      case Tok::LBrace:
        return record_literal();
      case Tok::Ident:
        break;
      case Tok::Question:
        error(t, "templates (slots such as ?principal) are not supported");
      default:
        error(t, "unexpected token " + shown(t));
    }
    if (t.text == "true" || t.text == "false") {
      Expr e = node(Op::Literal, pos);
      e.value = next().text == "true";
      return e;
    }
    static const std::pair<std::string_view, Var> kVars[] = {{"principal", Var::Principal},
                                                             {"action", Var::Action},
                                                             {"resource", Var::Resource},
                                                             {"context", Var::Context}};
    for (const auto& [name, var] : kVars) {
      if (t.text == name) {
        next();
        Expr e = node(Op::Variable, pos);
        e.var = var;
        return e;
      }
    }
    if (kReserved.count(t.text)) error(t, "unexpected reserved word `" + t.text + "`");
    std::string name = path();
    if (at(Tok::ColonColon)) {
      next();
      Expr e = node(Op::Literal, pos);
      e.value = EntityUid{name, string_lit(expect(Tok::String, "an entity id string"))};
      return e;
    }
    if (at(Tok::LParen)) return function_call(name, t, pos);
    error(t, "unexpected identifier `" + name + "`");
  }

  static std::string arity_message(const std::string& fn, size_t want, size_t got) {
    return "wrong number of arguments provided to extension function `" + fn + "`: expected " +
           std::to_string(want) + ", got " + std::to_string(got);
  }

  Expr function_call(const std::string& name, const Token& t, const SourcePos& pos) {
    Op op;
    if (name == "ip")
      op = Op::IpFn;
    else if (name == "decimal")
      op = Op::DecimalFn;
    else
      error(t, "`" + name + "` is not a valid function");
    Expr e = node(op, pos, call_args());
    if (e.args.size() != 1) {
      e.op = Op::ArityError;
      e.name = arity_message(name, 1, e.args.size());
      return e;
    }
    // Fold a valid literal now; an invalid one stays a call and errors when
    // evaluated, as in Cedar.
    if (e.args[0].op == Op::Literal && e.args[0].value.is(Value::Kind::String)) {
      const std::string& s = e.args[0].value.as_string();
      if (op == Op::IpFn) {
        if (auto ip = parse_ip(s); ip.ok()) {
          Expr lit = node(Op::Literal, pos);
          lit.value = ip.value();
          return lit;
        }
      } else if (auto d = parse_decimal(s); d.ok()) {
        Expr lit = node(Op::Literal, pos);
        lit.value = d.value();
        return lit;
      }
    }
    return e;
  }

  Expr record_literal() {
    Expr e = node(Op::RecordLit, pos_of(next()));
    std::set<std::string> seen;
    while (!at(Tok::RBrace)) {
      const Token& k = peek();
      std::string key;
      if (k.kind == Tok::String)
        key = string_lit(next());
      else if (k.kind == Tok::Ident)
        key = name_ok(next());
      else
        error(k, "expected a record key, found " + shown(k));
      if (!seen.insert(key).second) error(k, "duplicate key `" + key + "` in record literal");
      expect(Tok::Colon, "`:`");
      e.keys.push_back(key);
      e.args.push_back(expr());
      if (!at(Tok::Comma)) break;
      next();
    }
    expect(Tok::RBrace, "`}`");
    return e;
  }
};

}  // namespace

Result<std::vector<Policy>> parse_policies(std::string_view text, const std::string& file,
                                           size_t first_index) {
  auto toks = lex(text);
  if (!toks.ok()) return fail(file + ":" + toks.error());
  try {
    return Parser(std::move(toks.value()), file).policies(first_index);
  } catch (const ParseError& e) {
    return fail(file + ":" + std::to_string(e.line) + ":" + std::to_string(e.col) + ": " +
                e.message);
  }
}

}  // namespace portcullis::policy
