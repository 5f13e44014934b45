// Value: a Cedar runtime value (bool, Long, String, entity uid, Set, Record,
// and the decimal and ipaddr extension types), plus EntityUid.
//
// Values are immutable once built. Sets and Records share their contents
// through shared_ptr, so copying a Value is cheap (a refcount, or a short
// string), and a Value may be read from any number of threads at once.
// Sets are kept sorted and free of duplicates, so equality is structural.
#pragma once
#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace portcullis::policy {

struct EntityUid {
  std::string type;  // "User", "ns::Group", "Action"
  std::string id;

  bool operator==(const EntityUid&) const = default;
  auto operator<=>(const EntityUid&) const = default;
  std::string to_string() const;  // User::"alice", with the id escaped
};

struct EntityUidHash {
  size_t operator()(const EntityUid& u) const noexcept {
    return std::hash<std::string>{}(u.type) * 31 ^ std::hash<std::string>{}(u.id);
  }
};

// decimal: a fixed-point number with four digits after the point, stored as
// an integer count of 1/10000.
struct Decimal {
  int64_t scaled = 0;
  bool operator==(const Decimal&) const = default;
  auto operator<=>(const Decimal&) const = default;
};

// ipaddr: an IPv4 or IPv6 address with its prefix length as written
// ("10.0.0.1/24" keeps the host bits; equality compares both).
struct IpAddr {
  bool v6 = false;
  std::array<uint8_t, 16> bytes{};  // IPv4 uses the first 4
  uint8_t prefix = 32;
  bool operator==(const IpAddr&) const = default;
  auto operator<=>(const IpAddr&) const = default;
};

class Value;
using ValueSet = std::vector<Value>;  // sorted, unique
using ValueRecord = std::map<std::string, Value, std::less<>>;

class Value {
 public:
  enum class Kind : uint8_t { Bool, Long, String, Entity, Set, Record, Decimal, Ip };

  Value() : v_(false) {}
  Value(bool b) : v_(b) {}
  Value(int64_t n) : v_(n) {}
  Value(int n) : v_(int64_t{n}) {}
  Value(std::string s) : v_(std::move(s)) {}
  Value(const char* s) : v_(std::string(s)) {}
  Value(EntityUid e) : v_(std::move(e)) {}
  Value(Decimal d) : v_(d) {}
  Value(IpAddr ip) : v_(ip) {}
  // Sorts and removes duplicates.
  static Value set(ValueSet elements);
  static Value record(ValueRecord fields);

  Kind kind() const { return static_cast<Kind>(v_.index()); }
  bool is(Kind k) const { return kind() == k; }

  // Accessors; REQUIRES: the matching kind().
  bool as_bool() const { return std::get<bool>(v_); }
  int64_t as_long() const { return std::get<int64_t>(v_); }
  const std::string& as_string() const { return std::get<std::string>(v_); }
  const EntityUid& as_entity() const { return std::get<EntityUid>(v_); }
  const ValueSet& as_set() const { return *std::get<std::shared_ptr<const ValueSet>>(v_); }
  const ValueRecord& as_record() const { return *std::get<std::shared_ptr<const ValueRecord>>(v_); }
  const Decimal& as_decimal() const { return std::get<Decimal>(v_); }
  const IpAddr& as_ip() const { return std::get<IpAddr>(v_); }

  // Cedar's `==`: structural, and false across kinds.
  bool operator==(const Value& o) const;
  // A total order (kind first) used to keep sets canonical.
  bool operator<(const Value& o) const { return compare(*this, o) < 0; }
  static int compare(const Value& a, const Value& b);

 private:
  std::variant<bool, int64_t, std::string, EntityUid, std::shared_ptr<const ValueSet>,
               std::shared_ptr<const ValueRecord>, Decimal, IpAddr>
      v_;
};

// Cedar's name for a kind in type errors: "bool", "long", "set", ...
const char* kind_name(Value::Kind k);
// A short rendering for error messages, e.g. `User::"a"`, `[1, 2]`.
std::string describe(const Value& v);

}  // namespace portcullis::policy
