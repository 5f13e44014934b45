#include "policy/plain_json.h"

#include <cmath>
#include <limits>

namespace portcullis::policy {

namespace {

Value number(const Json& j) {
  if (j.is_number_integer()) {
    if (j.is_number_unsigned()) {
      uint64_t u = j.get<uint64_t>();
      if (u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        return Value(static_cast<int64_t>(u));
      return Value(j.dump());
    }
    return Value(j.get<int64_t>());
  }
  // A decimal keeps four digits after the point, as an int64 count of 1/10000.
  double d = j.get<double>();
  double scaled = d * 10000.0;
  if (std::isfinite(scaled) && std::fabs(scaled) < 9.2e18 && scaled == std::nearbyint(scaled)) {
    return Value(Decimal{static_cast<int64_t>(scaled)});
  }
  return Value(j.dump());
}

Value convert(const Json& j) {
  switch (j.type()) {
    case Json::value_t::object: {
      ValueRecord fields;
      for (auto it = j.begin(); it != j.end(); ++it) {
        if (!it.value().is_null()) fields.emplace(it.key(), convert(it.value()));
      }
      return Value::record(std::move(fields));
    }
    case Json::value_t::array: {
      ValueSet elements;
      elements.reserve(j.size());
      for (const auto& e : j) {
        if (!e.is_null()) elements.push_back(convert(e));
      }
      return Value::set(std::move(elements));
    }
    case Json::value_t::boolean:
      return Value(j.get<bool>());
    case Json::value_t::string:
      return Value(j.get<std::string>());
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
    case Json::value_t::number_float:
      return number(j);
    default:
      return Value::record({});
  }
}

}  // namespace

Value value_from_plain_json(const Json& j) { return convert(j); }

}  // namespace portcullis::policy
