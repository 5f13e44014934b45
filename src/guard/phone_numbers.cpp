#include "guard/phone_numbers.h"

#include <phonenumbers/phonenumberutil.h>
#include <re2/re2.h>

namespace portcullis::guard {

namespace {

using i18n::phonenumbers::PhoneNumber;
using i18n::phonenumbers::PhoneNumberUtil;

bool digit(char c) { return c >= '0' && c <= '9'; }

PhoneNumber number_of(int cc, const std::string& nsn) {
  PhoneNumber n;
  n.set_country_code(cc);
  n.set_national_number(std::stoull(nsn));
  if (nsn.size() > 1 && nsn[0] == '0') {  // Italian-style leading zeros are part of the number
    n.set_italian_leading_zero(true);
    n.set_number_of_leading_zeros(int(nsn.find_first_not_of('0')));
  }
  return n;
}

// libphonenumber decides. PhoneNumberUtil::Parse costs ~35 us (ICU regular
// expressions), so the country code and national number are split here and
// only IsValidNumber(ForRegion) runs (~10-20 us); Parse stays for the forms
// this split does not handle ("+44 (0)20 ...").
bool phone_valid(const PhoneNumberUtil& util, std::string_view v, const std::string& d,
                 const std::vector<std::string>& regions, std::string* e164) {
  if (v.find("(0)") != std::string_view::npos) {
    PhoneNumber n;
    if (util.Parse(std::string(v),
                   v[0] == '+'       ? "ZZ"
                   : regions.empty() ? "ZZ"
                                     : regions[0],
                   &n) != PhoneNumberUtil::NO_PARSING_ERROR ||
        !util.IsValidNumber(n))
      return false;
    util.Format(n, PhoneNumberUtil::E164, e164);
    return true;
  }
  if (v[0] == '+') {
    for (size_t len = 1; len <= 3 && len < d.size(); ++len) {
      int cc = std::stoi(d.substr(0, len));
      std::string region;
      util.GetRegionCodeForCountryCode(cc, &region);
      if (region == "ZZ") continue;  // country codes are prefix-free: at most one length fits
      if (!util.IsValidNumber(number_of(cc, d.substr(len)))) return false;
      *e164 = "+" + d;
      return true;
    }
    return false;
  }
  for (const auto& region : regions) {
    std::string ndd, nsn = d;
    util.GetNddPrefixForRegion(region, true, &ndd);
    if (!ndd.empty() && nsn.compare(0, ndd.size(), ndd) == 0) nsn = nsn.substr(ndd.size());
    if (nsn.size() < 4) continue;
    int cc = util.GetCountryCodeForRegion(region);
    if (util.IsValidNumberForRegion(number_of(cc, nsn), region)) {
      *e164 = "+" + std::to_string(cc) + nsn;
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

// "421.108.1.1" is a malformed address, not a phone number.
bool dotted_quad(std::string_view v) {
  static const RE2 re(R"([0-9]{1,3}(?:\.[0-9]{1,3}){3})");
  return RE2::FullMatch(v, re);
}

bool date_shaped(std::string_view v) {
  static const RE2 re(R"([0-9]{1,4}[-/.][0-9]{1,2}[-/.][0-9]{1,4})");
  return RE2::FullMatch(v, re);
}

}  // namespace

bool phone_shaped(std::string_view run) { return phone_shaped_impl(run) && !date_run(run); }

bool valid_phone(std::string_view v, const std::vector<std::string>& regions, std::string* e164) {
  std::string d;
  for (char c : v)
    if (digit(c)) d += c;
  if (d.size() < 7 || d.size() > 15 || date_shaped(v) || dotted_quad(v)) return false;
  return phone_valid(*PhoneNumberUtil::GetInstance(), v, d, regions, e164);
}

bool known_phone_region(const std::string& region) {
  return PhoneNumberUtil::GetInstance()->GetCountryCodeForRegion(region) != 0;
}

}  // namespace portcullis::guard
