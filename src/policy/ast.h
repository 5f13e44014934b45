// The syntax tree of a parsed Cedar policy: expressions, scope constraints,
// conditions and annotations. Built by the parser, read by the evaluator;
// immutable once built.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "policy/value.h"

namespace portcullis::policy {

struct SourcePos {
  std::string file;
  int line = 1;
  int col = 1;
  std::string format() const {
    return file + ":" + std::to_string(line) + ":" + std::to_string(col);
  }
};

enum class Var : uint8_t { Principal, Action, Resource, Context };

enum class Op : uint8_t {
  Literal,   // value
  Variable,  // var
  And,
  Or,
  Not,
  Neg,
  If,
  Eq,
  Ne,
  Lt,
  Le,
  Gt,
  Ge,
  Add,
  Sub,
  Mul,
  In,
  Has,      // args[0] has name
  GetAttr,  // args[0].name
  Like,     // args[0] like pattern
  Is,       // args[0] is name [in args[1]]
  Contains,
  ContainsAll,
  ContainsAny,
  IsEmpty,
  GetTag,
  HasTag,
  SetLit,     // [args...]
  RecordLit,  // {keys[i]: args[i]}
  // Extension functions; methods take their receiver as args[0].
  IpFn,
  DecimalFn,
  IsIpv4,
  IsIpv6,
  IsLoopback,
  IsMulticast,
  IsInRange,
  LessThan,
  LessThanOrEqual,
  GreaterThan,
  GreaterThanOrEqual,
  // An extension call with the wrong number of arguments: Cedar parses it
  // and fails when it is evaluated. name holds the message.
  ArityError,
};

struct Expr {
  Op op = Op::Literal;
  Var var = Var::Context;
  Value value;       // Literal
  std::string name;  // attribute, entity type of `is`
  std::vector<Expr> args;
  std::vector<std::string> keys;  // RecordLit
  std::vector<int32_t> pattern;   // Like: code points, kWildcard for `*`
  SourcePos pos;

  static constexpr int32_t kWildcard = -1;
};

struct ScopeConstraint {
  enum class Kind : uint8_t { Any, Eq, In, Is, IsIn } kind = Kind::Any;
  std::string type;                 // Is, IsIn
  std::vector<EntityUid> entities;  // Eq: one; In/IsIn: one (action `in [...]`: any number)
};

struct Condition {
  bool when = true;  // false: unless
  Expr body;
};

struct Policy {
  std::string id;
  bool permit = true;  // false: forbid
  ScopeConstraint principal, action, resource;
  std::vector<Condition> conditions;
  std::map<std::string, std::string> annotations;
  SourcePos pos;
};

}  // namespace portcullis::policy
