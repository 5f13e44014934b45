#include "guard/phone_numbers.h"

#include <phonenumbers/phonenumberutil.h>

#include "guard/number_patterns.h"
#include "guard/phone_validity.h"

namespace portcullis::guard {

namespace {

using i18n::phonenumbers::PhoneNumber;
using i18n::phonenumbers::PhoneNumberUtil;

bool digit(char c) { return c >= '0' && c <= '9'; }

// The "(0)" form ("+44 (0)20 ...") is left to libphonenumber's own parser
// (~35 us, rare); everything else is split here into calling code or
// region and national digits, and PhoneValidity answers as libphonenumber
// would, without its ICU regular expressions.
bool parsed_valid(std::string_view v, const std::vector<std::string>& regions, std::string* e164) {
  const PhoneNumberUtil& util = *PhoneNumberUtil::GetInstance();
  PhoneNumber n;
  std::string region = v[0] == '+' || regions.empty() ? "ZZ" : regions[0];
  if (util.Parse(std::string(v), region, &n) != PhoneNumberUtil::NO_PARSING_ERROR ||
      !util.IsValidNumber(n))
    return false;
  util.Format(n, PhoneNumberUtil::E164, e164);
  return true;
}

bool phone_valid(std::string_view v, std::string_view d, const std::vector<std::string>& regions,
                 std::string* e164) {
  if (v.find("(0)") != std::string_view::npos) return parsed_valid(v, regions, e164);
  const PhoneValidity& rules = PhoneValidity::instance();
  if (v[0] == '+') {
    int cc = 0;
    for (size_t len = 1; len <= 3 && len < d.size(); ++len) {
      cc = cc * 10 + (d[len - 1] - '0');
      if (!rules.has_calling_code(cc)) continue;  // calling codes are prefix-free
      if (!rules.valid(cc, PhoneValidity::national_significant_number(d.substr(len))))
        return false;
      e164->assign("+").append(d);
      return true;
    }
    return false;
  }
  for (const auto& code : regions) {
    const PhoneValidity::Region* region = rules.region(code);
    if (!region) continue;
    std::string_view nsn = d;
    const std::string& ndd = rules.national_prefix(*region);
    if (!ndd.empty() && nsn.substr(0, ndd.size()) == ndd) nsn.remove_prefix(ndd.size());
    if (nsn.size() < 4) continue;
    if (rules.valid_for_region(*region, PhoneValidity::national_significant_number(nsn))) {
      e164->assign("+").append(std::to_string(rules.calling_code(*region))).append(nsn);
      return true;
    }
  }
  return false;
}

// 2026-03-14, 14/03/2026, 3.14.2026: three digit groups, one separator.
bool date_run(std::string_view run) {
  size_t len[3] = {0, 0, 0}, g = 0;
  char sep = 0;
  for (char c : run) {
    if (digit(c)) {
      ++len[g];
      continue;
    }
    if ((c != '-' && c != '/' && c != '.') || (sep && c != sep) || ++g > 2) return false;
    sep = c;
  }
  if (g != 2) return false;
  bool ymd = len[0] == 4 && len[1] <= 2 && len[2] <= 2;
  bool dmy = len[0] <= 2 && len[1] <= 2 && (len[2] == 2 || len[2] == 4);
  return ymd || dmy;
}

bool phone_shaped_impl(std::string_view run) {
  if (run[0] == '+' || run[0] == '(') return true;
  size_t groups = 0;
  for (size_t i = 1; i < run.size(); ++i) groups += digit(run[i]) && !digit(run[i - 1]);
  return groups >= 2 || (groups == 1 && run[0] == '0');
}

// A maximal digit run from i (i moves past it) of 1 to `max` digits.
bool digit_group(std::string_view v, size_t& i, size_t max) {
  size_t n = 0;
  while (i < v.size() && digit(v[i])) ++i, ++n;
  return n >= 1 && n <= max;
}

// "2026-3-14", "14/03/2026", "3.14.26": 1-4, 1-2 and 1-4 digits, each
// pair split by one of "-/." (RE2::FullMatch of
// [0-9]{1,4}[-/.][0-9]{1,2}[-/.][0-9]{1,4}; digit groups never backtrack
// into a separator, so maximal groups decide).
bool date_shaped(std::string_view v) {
  auto sep = [&](size_t& i) {
    if (i >= v.size() || (v[i] != '-' && v[i] != '/' && v[i] != '.')) return false;
    ++i;
    return true;
  };
  size_t i = 0;
  return digit_group(v, i, 4) && sep(i) && digit_group(v, i, 2) && sep(i) &&
         digit_group(v, i, 4) && i == v.size();
}

}  // namespace

bool phone_shaped(std::string_view run) { return phone_shaped_impl(run) && !date_run(run); }

bool valid_phone(std::string_view v, const std::vector<std::string>& regions, std::string* e164) {
  std::string d;
  for (char c : v)
    if (digit(c)) d += c;
  // "421.108.1.1" is a malformed address, not a phone number.
  if (d.size() < 7 || d.size() > 15 || date_shaped(v) || dotted_quad_shape(v)) return false;
  return phone_valid(v, d, regions, e164);
}

bool known_phone_region(const std::string& region) {
  return PhoneValidity::instance().region(region) != nullptr;
}

}  // namespace portcullis::guard
