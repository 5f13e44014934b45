#include "policy/evaluator.h"

#include <algorithm>

#include "policy/extensions.h"

namespace portcullis::policy {

namespace {

struct EvalError {
  std::string message;
};

[[noreturn]] void type_error(const char* expected, const Value& got) {
  throw EvalError{std::string("type error: expected ") + expected + ", got " +
                  kind_name(got.kind())};
}

class Evaluator {
 public:
  Evaluator(const Value* vars, const Entities& e) : vars_(vars), ents_(e) {}

  // The value of e without a copy when it names a stored one (a literal, a
  // variable, an attribute of those); otherwise e is evaluated into scratch.
  const Value& ref(const Expr& e, Value& scratch) const {
    if (e.op == Op::Literal) return e.value;
    if (e.op == Op::Variable) return vars_[static_cast<int>(e.var)];
    if (e.op == Op::GetAttr) {
      Value inner;
      const Value& target = ref(e.args[0], inner);
      const Value& attr = attr_ref(target, e.name);
      if (&target != &inner) return attr;  // points into the request, a literal or the store
      scratch = attr;                      // copy it out before `inner` goes
      return scratch;
    }
    scratch = eval(e);
    return scratch;
  }

  Value eval(const Expr& e) const {
    switch (e.op) {
      case Op::Literal:
        return e.value;
      case Op::Variable:
        return vars_[static_cast<int>(e.var)];
      case Op::And: {
        if (!boolean(eval(e.args[0]))) return false;
        return boolean(eval(e.args[1]));
      }
      case Op::Or: {
        if (boolean(eval(e.args[0]))) return true;
        return boolean(eval(e.args[1]));
      }
      case Op::Not:
        return !boolean(eval(e.args[0]));
      case Op::Neg: {
        int64_t v = integer(eval(e.args[0])), out;
        if (__builtin_sub_overflow(int64_t{0}, v, &out))
          throw EvalError{"integer overflow while attempting to negate `" + std::to_string(v) +
                          "`"};
        return out;
      }
      case Op::If:
        return boolean(eval(e.args[0])) ? eval(e.args[1]) : eval(e.args[2]);
      case Op::Eq:
      case Op::Ne: {
        Value sa, sb;
        bool eq = ref(e.args[0], sa) == ref(e.args[1], sb);
        return e.op == Op::Eq ? eq : !eq;
      }
      case Op::Lt:
      case Op::Le:
      case Op::Gt:
      case Op::Ge:
        return compare(e);
      case Op::Add:
      case Op::Sub:
      case Op::Mul:
        return arithmetic(e);
      case Op::In: {
        Value sa, sb;
        const Value& a = ref(e.args[0], sa);
        return in(a, ref(e.args[1], sb));
      }
      case Op::Has: {
        Value sa;
        return has(ref(e.args[0], sa), e.name);
      }
      case Op::GetAttr: {
        Value sa;
        return ref(e, sa);
      }
      case Op::Like: {
        Value sv;
        const Value& v = ref(e.args[0], sv);
        if (!v.is(Value::Kind::String)) type_error("string", v);
        return like(v.as_string(), e.pattern);
      }
      case Op::Is: {
        Value sv, sb;
        const Value& v = ref(e.args[0], sv);
        if (!v.is(Value::Kind::Entity)) type_error("entity", v);
        bool type_ok = v.as_entity().type == e.name;
        if (e.args.size() == 1) return type_ok;
        if (!type_ok) return false;
        return in(v, ref(e.args[1], sb));
      }
      case Op::Contains: {
        Value ss, sx;
        const Value& s = ref(e.args[0], ss);
        if (!s.is(Value::Kind::Set)) type_error("set", s);
        const Value& x = ref(e.args[1], sx);
        return std::binary_search(s.as_set().begin(), s.as_set().end(), x);
      }
      case Op::ContainsAll:
      case Op::ContainsAny:
        return set_relation(e);
      case Op::IsEmpty: {
        Value ss;
        const Value& s = ref(e.args[0], ss);
        if (!s.is(Value::Kind::Set)) type_error("set", s);
        return s.as_set().empty();
      }
      case Op::GetTag:
      case Op::HasTag:
        return tag(e);
      case Op::SetLit: {
        ValueSet items;
        items.reserve(e.args.size());
        for (const auto& a : e.args) items.push_back(eval(a));
        return Value::set(std::move(items));
      }
      case Op::RecordLit: {
        ValueRecord r;
        for (size_t i = 0; i < e.args.size(); ++i) r.emplace(e.keys[i], eval(e.args[i]));
        return Value::record(std::move(r));
      }
      case Op::ArityError:
        throw EvalError{e.name};
      default:
        return extension(e);
    }
  }

 private:
  const Value* vars_;  // principal, action, resource, context
  const Entities& ents_;

  static bool boolean(const Value& v) {
    if (!v.is(Value::Kind::Bool)) type_error("bool", v);
    return v.as_bool();
  }
  static int64_t integer(const Value& v) {
    if (!v.is(Value::Kind::Long)) type_error("long", v);
    return v.as_long();
  }

  Value compare(const Expr& e) const {
    Value sa, sb;
    const Value& a = ref(e.args[0], sa);
    if (!a.is(Value::Kind::Long)) type_error("long", a);
    const Value& b = ref(e.args[1], sb);
    if (!b.is(Value::Kind::Long)) type_error("long", b);
    int64_t x = a.as_long(), y = b.as_long();
    switch (e.op) {
      case Op::Lt:
        return x < y;
      case Op::Le:
        return x <= y;
      case Op::Gt:
        return x > y;
      default:
        return x >= y;
    }
  }

  Value arithmetic(const Expr& e) const {
    Value sa, sb;
    int64_t x = integer(ref(e.args[0], sa));
    int64_t y = integer(ref(e.args[1], sb));
    int64_t out;
    bool overflow = e.op == Op::Add   ? __builtin_add_overflow(x, y, &out)
                    : e.op == Op::Sub ? __builtin_sub_overflow(x, y, &out)
                                      : __builtin_mul_overflow(x, y, &out);
    if (overflow) {
      const char* verb = e.op == Op::Add ? "add" : e.op == Op::Sub ? "subtract" : "multiply";
      throw EvalError{std::string("integer overflow while attempting to ") + verb +
                      " the values `" + std::to_string(x) + "` and `" + std::to_string(y) + "`"};
    }
    return out;
  }

  Value in(const Value& lhs, const Value& rhs) const {
    if (!lhs.is(Value::Kind::Entity)) type_error("entity", lhs);
    const EntityUid& child = lhs.as_entity();
    if (rhs.is(Value::Kind::Entity)) return ents_.in(child, rhs.as_entity());
    if (!rhs.is(Value::Kind::Set)) type_error("entity or set of entities", rhs);
    for (const auto& v : rhs.as_set())
      if (!v.is(Value::Kind::Entity)) type_error("entity", v);
    for (const auto& v : rhs.as_set())
      if (ents_.in(child, v.as_entity())) return true;
    return false;
  }

  Value has(const Value& v, const std::string& attr) const {
    if (v.is(Value::Kind::Record)) return v.as_record().count(attr) > 0;
    if (!v.is(Value::Kind::Entity)) type_error("entity or record", v);
    const auto* ent = ents_.find(v.as_entity());
    return ent && ent->attrs.as_record().count(attr) > 0;
  }

  // A reference into v's record, or into the entity store.
  const Value& attr_ref(const Value& v, const std::string& attr) const {
    const ValueRecord* rec = nullptr;
    if (v.is(Value::Kind::Record)) {
      rec = &v.as_record();
    } else if (v.is(Value::Kind::Entity)) {
      const auto* ent = ents_.find(v.as_entity());
      if (!ent) throw EvalError{"entity `" + v.as_entity().to_string() + "` does not exist"};
      rec = &ent->attrs.as_record();
      auto it = rec->find(attr);
      if (it == rec->end())
        throw EvalError{"`" + v.as_entity().to_string() + "` does not have the attribute `" + attr +
                        "`"};
      return it->second;
    } else {
      type_error("entity or record", v);
    }
    auto it = rec->find(attr);
    if (it == rec->end()) throw EvalError{"record does not have the attribute `" + attr + "`"};
    return it->second;
  }

  Value set_relation(const Expr& e) const {
    Value sa, sb;
    const Value& a = ref(e.args[0], sa);
    if (!a.is(Value::Kind::Set)) type_error("set", a);
    const Value& b = ref(e.args[1], sb);
    if (!b.is(Value::Kind::Set)) type_error("set", b);
    const ValueSet &x = a.as_set(), &y = b.as_set();
    if (e.op == Op::ContainsAll) {
      for (const auto& v : y)
        if (!std::binary_search(x.begin(), x.end(), v)) return false;
      return true;
    }
    for (const auto& v : y)
      if (std::binary_search(x.begin(), x.end(), v)) return true;
    return false;
  }

  Value tag(const Expr& e) const {
    Value target = eval(e.args[0]);
    if (!target.is(Value::Kind::Entity)) type_error("entity", target);
    Value key = eval(e.args[1]);
    if (!key.is(Value::Kind::String)) type_error("string", key);
    const auto* ent = ents_.find(target.as_entity());
    if (e.op == Op::HasTag) return ent && ent->tags.as_record().count(key.as_string()) > 0;
    if (!ent) throw EvalError{"entity `" + target.as_entity().to_string() + "` does not exist"};
    auto it = ent->tags.as_record().find(key.as_string());
    if (it == ent->tags.as_record().end())
      throw EvalError{"`" + target.as_entity().to_string() + "` does not have the tag `" +
                      key.as_string() + "`"};
    return it->second;
  }

  static std::vector<int32_t> code_points(const std::string& s) {
    std::vector<int32_t> out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size();) {
      unsigned char c = static_cast<unsigned char>(s[i]);
      int n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
      int32_t cp = n == 1 ? c : c & (0xFF >> (n + 1));
      for (int k = 1; k < n && i + k < s.size(); ++k) cp = (cp << 6) | (s[i + k] & 0x3F);
      out.push_back(cp);
      i += n;
    }
    return out;
  }

  // Glob match with one backtrack point (the last `*` seen).
  static bool like(const std::string& text, const std::vector<int32_t>& pat) {
    std::vector<int32_t> s = code_points(text);
    size_t i = 0, j = 0, star = SIZE_MAX, mark = 0;
    while (i < s.size()) {
      if (j < pat.size() && pat[j] == Expr::kWildcard) {
        star = j++;
        mark = i;
      } else if (j < pat.size() && pat[j] == s[i]) {
        ++i;
        ++j;
      } else if (star != SIZE_MAX) {
        j = star + 1;
        i = ++mark;
      } else {
        return false;
      }
    }
    while (j < pat.size() && pat[j] == Expr::kWildcard) ++j;
    return j == pat.size();
  }

  static const IpAddr& ip_arg(const Value& v) {
    if (!v.is(Value::Kind::Ip)) type_error("ipaddr", v);
    return v.as_ip();
  }
  static const Decimal& dec_arg(const Value& v) {
    if (!v.is(Value::Kind::Decimal)) type_error("decimal", v);
    return v.as_decimal();
  }

  Value extension(const Expr& e) const {
    Value a = eval(e.args[0]);
    switch (e.op) {
      case Op::IpFn: {
        if (!a.is(Value::Kind::String)) type_error("string", a);
        auto ip = parse_ip(a.as_string());
        if (!ip.ok())
          throw EvalError{"error while evaluating `ipaddr` extension function: " + ip.error()};
        return ip.value();
      }
      case Op::DecimalFn: {
        if (!a.is(Value::Kind::String)) type_error("string", a);
        auto d = parse_decimal(a.as_string());
        if (!d.ok())
          throw EvalError{"error while evaluating `decimal` extension function: " + d.error()};
        return d.value();
      }
      case Op::IsIpv4:
        return !ip_arg(a).v6;
      case Op::IsIpv6:
        return ip_arg(a).v6;
      case Op::IsLoopback:
        return ip_is_loopback(ip_arg(a));
      case Op::IsMulticast:
        return ip_is_multicast(ip_arg(a));
      case Op::IsInRange: {
        const IpAddr& x = ip_arg(a);
        Value b = eval(e.args[1]);
        return ip_in_range(x, ip_arg(b));
      }
      default:
        break;
    }
    int64_t x = dec_arg(a).scaled;
    Value b = eval(e.args[1]);
    int64_t y = dec_arg(b).scaled;
    switch (e.op) {
      case Op::LessThan:
        return x < y;
      case Op::LessThanOrEqual:
        return x <= y;
      case Op::GreaterThan:
        return x > y;
      default:
        return x >= y;
    }
  }
};

bool constraint_matches(const ScopeConstraint& c, const EntityUid& uid, const Entities& ents) {
  using K = ScopeConstraint::Kind;
  switch (c.kind) {
    case K::Any:
      return true;
    case K::Eq:
      return uid == c.entities[0];
    case K::Is:
      return uid.type == c.type;
    case K::IsIn:
      if (uid.type != c.type) return false;
      [[fallthrough]];
    case K::In:
      for (const auto& e : c.entities)
        if (ents.in(uid, e)) return true;
      return false;
  }
  return false;
}

}  // namespace

bool scope_matches(const Policy& p, const Request& r, const Entities& ents) {
  // Scope checks never error, so their order is free: comparisons first,
  // hierarchy lookups last.
  const std::pair<const ScopeConstraint*, const EntityUid*> parts[] = {
      {&p.action, &r.action}, {&p.resource, &r.resource}, {&p.principal, &r.principal}};
  for (bool lookups : {false, true}) {
    for (const auto& [c, uid] : parts) {
      bool is_lookup =
          c->kind == ScopeConstraint::Kind::In || c->kind == ScopeConstraint::Kind::IsIn;
      if (is_lookup == lookups && !constraint_matches(*c, *uid, ents)) return false;
    }
  }
  return true;
}

RequestEvaluator::RequestEvaluator(const Request& request, const Entities& entities)
    : vars_{Value(request.principal), Value(request.action), Value(request.resource),
            request.context},
      request_(request),
      entities_(entities) {}

EvalOutcome RequestEvaluator::evaluate(const Policy& p) const {
  if (!scope_matches(p, request_, entities_)) return {};
  Evaluator ev(vars_, entities_);
  try {
    for (const auto& c : p.conditions) {
      Value scratch;
      const Value& v = ev.ref(c.body, scratch);
      if (!v.is(Value::Kind::Bool)) type_error("bool", v);
      if (v.as_bool() != c.when) return {};
    }
  } catch (const EvalError& e) {
    return {false, e.message};
  }
  return {true, std::nullopt};
}

EvalOutcome evaluate(const Policy& p, const Request& r, const Entities& ents) {
  return RequestEvaluator(r, ents).evaluate(p);
}

}  // namespace portcullis::policy
