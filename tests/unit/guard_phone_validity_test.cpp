// PhoneValidity against libphonenumber itself: the same valid/invalid answer
// for example numbers of every region and type (and near misses made from
// them) and for random digit strings under every calling code.
#include <doctest/doctest.h>
#include <phonenumbers/phonenumberutil.h>

#include <random>
#include <set>

#include "guard/phone_validity.h"

using namespace portcullis::guard;
using i18n::phonenumbers::PhoneNumber;
using i18n::phonenumbers::PhoneNumberUtil;

namespace {

// The PhoneNumber libphonenumber would hold for +cc, then national digits.
PhoneNumber number_of(int cc, const std::string& nsn) {
  PhoneNumber n;
  n.set_country_code(cc);
  n.set_national_number(std::stoull(nsn));
  if (nsn.size() > 1 && nsn[0] == '0') {
    n.set_italian_leading_zero(true);
    n.set_number_of_leading_zeros(int(nsn.find_first_not_of('0')));
  }
  return n;
}

struct Tally {
  size_t valid = 0, invalid = 0, disagree = 0;
};

const PhoneNumberUtil& util() { return *PhoneNumberUtil::GetInstance(); }

// Both answers for one number; `region` empty: IsValidNumber only.
void compare(int cc, const std::string& digits, const std::string& region, Tally& t) {
  if (digits.empty() || digits.size() > 17) return;
  const auto& v = PhoneValidity::instance();
  std::string nsn(PhoneValidity::national_significant_number(digits));
  PhoneNumber n = number_of(cc, digits);
  bool theirs = util().IsValidNumber(n), ours = v.valid(cc, nsn);
  (theirs ? t.valid : t.invalid) += 1;
  if (theirs != ours) {
    ++t.disagree;
    MESSAGE("IsValidNumber +", cc, " ", digits, ": libphonenumber ", theirs);
  }
  if (region.empty()) return;
  const auto* r = v.region(region);
  REQUIRE(r != nullptr);
  bool theirs_r = util().IsValidNumberForRegion(n, region);
  bool ours_r = v.calling_code(*r) == cc && v.valid_for_region(*r, nsn);
  if (theirs_r != ours_r) {
    ++t.disagree;
    MESSAGE("IsValidNumberForRegion ", region, " ", digits, ": libphonenumber ", theirs_r);
  }
}

// The example itself, each last digit, one digit fewer and one more, and
// the leading half kept with random digits after it.
void near_misses(int cc, const std::string& nsn, const std::string& region, std::mt19937& rng,
                 Tally& t) {
  compare(cc, nsn, region, t);
  for (char d = '0'; d <= '9'; ++d) compare(cc, nsn.substr(0, nsn.size() - 1) + d, region, t);
  compare(cc, nsn.substr(0, nsn.size() - 1), region, t);
  compare(cc, nsn + std::to_string(rng() % 10), region, t);
  for (int k = 0; k < 4; ++k) {
    std::string s = nsn.substr(0, nsn.size() / 2);
    while (s.size() < nsn.size()) s += char('0' + rng() % 10);
    compare(cc, s, region, t);
  }
}

const PhoneNumberUtil::PhoneNumberType kTypes[] = {
    PhoneNumberUtil::FIXED_LINE,   PhoneNumberUtil::MOBILE,          PhoneNumberUtil::TOLL_FREE,
    PhoneNumberUtil::PREMIUM_RATE, PhoneNumberUtil::SHARED_COST,     PhoneNumberUtil::VOIP,
    PhoneNumberUtil::PAGER,        PhoneNumberUtil::PERSONAL_NUMBER, PhoneNumberUtil::UAN,
    PhoneNumberUtil::VOICEMAIL};

}  // namespace

TEST_CASE("phone validity agrees with libphonenumber on examples of every region and type") {
  std::mt19937 rng(7);
  std::set<std::string> regions;
  util().GetSupportedRegions(&regions);
  REQUIRE(regions.size() > 200);
  Tally t;
  for (const auto& region : regions) {
    for (auto type : kTypes) {
      PhoneNumber n;
      if (!util().GetExampleNumberForType(region, type, &n)) continue;
      std::string nsn;
      util().GetNationalSignificantNumber(n, &nsn);
      near_misses(n.country_code(), nsn, region, rng, t);
    }
  }
  std::set<int> global;
  util().GetSupportedGlobalNetworkCallingCodes(&global);
  REQUIRE(global.size() > 5);
  for (int cc : global) {
    PhoneNumber n;
    REQUIRE(util().GetExampleNumberForNonGeoEntity(cc, &n));
    std::string nsn;
    util().GetNationalSignificantNumber(n, &nsn);
    near_misses(cc, nsn, "", rng, t);
  }
  MESSAGE(t.valid, " valid, ", t.invalid, " invalid per libphonenumber");
  CHECK(t.disagree == 0);
  CHECK(t.valid > 3000);  // the examples themselves and many last-digit variants
  CHECK(t.invalid > 1500);
}

TEST_CASE("phone validity agrees with libphonenumber on random digits under every calling code") {
  std::mt19937 rng(11);
  std::set<int> codes;
  util().GetSupportedCallingCodes(&codes);
  REQUIRE(codes.size() > 200);
  Tally t;
  for (int cc : codes) {
    std::string region;
    util().GetRegionCodeForCountryCode(cc, &region);
    if (region == "001") region.clear();
    for (int k = 0; k < 80; ++k) {
      std::string digits;
      size_t len = 4 + rng() % 11;
      for (size_t i = 0; i < len; ++i) digits += char('0' + rng() % 10);
      compare(cc, digits, region, t);
    }
  }
  MESSAGE(t.valid, " valid, ", t.invalid, " invalid per libphonenumber");
  CHECK(t.disagree == 0);
  CHECK(t.valid > 500);
  CHECK(t.invalid > 5000);
  // Calling codes and regions that do not exist.
  const auto& v = PhoneValidity::instance();
  CHECK_FALSE(v.has_calling_code(0));
  CHECK_FALSE(v.has_calling_code(999));
  CHECK_FALSE(v.valid(999, "2025550123"));
  for (std::string code : {"XX", "us", "ZZ", "001", "", "USA", "GB", "US"})
    CHECK((v.region(code) != nullptr) == (util().GetCountryCodeForRegion(code) != 0));
  CHECK(v.region("001") == nullptr);
  CHECK(v.national_prefix(*v.region("GB")) == "0");
  std::set<std::string> regions;
  util().GetSupportedRegions(&regions);
  for (const auto& code : regions) {
    std::string ndd;
    util().GetNddPrefixForRegion(code, true, &ndd);
    REQUIRE(v.region(code) != nullptr);
    CHECK(v.national_prefix(*v.region(code)) == ndd);
    CHECK(v.calling_code(*v.region(code)) == util().GetCountryCodeForRegion(code));
  }
}

TEST_CASE("the NSN is spelled as libphonenumber spells it") {
  CHECK(PhoneValidity::national_significant_number("0236618300") == "0236618300");
  CHECK(PhoneValidity::national_significant_number("000") == "0");
  CHECK(PhoneValidity::national_significant_number("0") == "0");
  CHECK(PhoneValidity::national_significant_number("6502530000") == "6502530000");
}
