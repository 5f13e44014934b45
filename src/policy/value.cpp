#include "policy/value.h"

#include <algorithm>

namespace portcullis::policy {

namespace {

std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

template <typename T>
int cmp3(const T& a, const T& b) {
  return a < b ? -1 : (b < a ? 1 : 0);
}

}  // namespace

std::string EntityUid::to_string() const { return type + "::" + quoted(id); }

Value Value::set(ValueSet elements) {
  std::sort(elements.begin(), elements.end());
  elements.erase(std::unique(elements.begin(), elements.end(),
                             [](const Value& a, const Value& b) { return compare(a, b) == 0; }),
                 elements.end());
  Value v;
  v.v_ = std::make_shared<const ValueSet>(std::move(elements));
  return v;
}

Value Value::record(ValueRecord fields) {
  Value v;
  v.v_ = std::make_shared<const ValueRecord>(std::move(fields));
  return v;
}

bool Value::operator==(const Value& o) const { return compare(*this, o) == 0; }

int Value::compare(const Value& a, const Value& b) {
  if (a.kind() != b.kind()) return cmp3(a.v_.index(), b.v_.index());
  switch (a.kind()) {
    case Kind::Bool:
      return cmp3(a.as_bool(), b.as_bool());
    case Kind::Long:
      return cmp3(a.as_long(), b.as_long());
    case Kind::String:
      return a.as_string().compare(b.as_string()) < 0 ? -1
                                                      : (a.as_string() == b.as_string() ? 0 : 1);
    case Kind::Entity:
      return cmp3(a.as_entity(), b.as_entity());
    case Kind::Decimal:
      return cmp3(a.as_decimal(), b.as_decimal());
    case Kind::Ip:
      return cmp3(a.as_ip(), b.as_ip());
    case Kind::Set: {
      const auto &x = a.as_set(), &y = b.as_set();
      if (&x == &y) return 0;
      for (size_t i = 0; i < x.size() && i < y.size(); ++i)
        if (int c = compare(x[i], y[i])) return c;
      return cmp3(x.size(), y.size());
    }
    case Kind::Record: {
      const auto &x = a.as_record(), &y = b.as_record();
      if (&x == &y) return 0;
      auto i = x.begin(), j = y.begin();
      for (; i != x.end() && j != y.end(); ++i, ++j) {
        if (int c = i->first.compare(j->first)) return c < 0 ? -1 : 1;
        if (int c = compare(i->second, j->second)) return c;
      }
      return cmp3(x.size(), y.size());
    }
  }
  return 0;
}

const char* kind_name(Value::Kind k) {
  switch (k) {
    case Value::Kind::Bool:
      return "bool";
    case Value::Kind::Long:
      return "long";
    case Value::Kind::String:
      return "string";
    case Value::Kind::Entity:
      return "entity";
    case Value::Kind::Set:
      return "set";
    case Value::Kind::Record:
      return "record";
    case Value::Kind::Decimal:
      return "decimal";
    case Value::Kind::Ip:
      return "ipaddr";
  }
  return "?";
}

std::string describe(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::Bool:
      return v.as_bool() ? "true" : "false";
    case Value::Kind::Long:
      return std::to_string(v.as_long());
    case Value::Kind::String:
      return quoted(v.as_string());
    case Value::Kind::Entity:
      return v.as_entity().to_string();
    case Value::Kind::Set: {
      std::string s = "[";
      for (const auto& e : v.as_set()) s += (s.size() > 1 ? ", " : "") + describe(e);
      return s + "]";
    }
    case Value::Kind::Record: {
      std::string s = "{";
      for (const auto& [k, e] : v.as_record())
        s += (s.size() > 1 ? ", " : "") + quoted(k) + ": " + describe(e);
      return s + "}";
    }
    case Value::Kind::Decimal:
      return "decimal(...)";
    case Value::Kind::Ip:
      return "ip(...)";
  }
  return "?";
}

}  // namespace portcullis::policy
