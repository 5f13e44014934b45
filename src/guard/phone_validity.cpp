#include "guard/phone_validity.h"

#include <phonenumbers/phonemetadata.pb.h>
#include <phonenumbers/phonenumberutil.h>
#include <re2/re2.h>

#include <cstdint>
#include <cstdlib>

// libphonenumber's serialized PhoneMetadataCollection (the metadata its
// PhoneNumberUtil loads), exported by libphonenumber.so from its generated
// metadata.cc; the header declaring them (metadata.h) is not installed.
namespace i18n::phonenumbers {
int metadata_size();
const void* metadata_get();
}  // namespace i18n::phonenumbers

namespace portcullis::guard {

namespace {

using i18n::phonenumbers::PhoneMetadata;
using i18n::phonenumbers::PhoneMetadataCollection;
using i18n::phonenumbers::PhoneNumberDesc;

constexpr int kMaxCallingCode = 999;

// One PhoneNumberDesc: its possible NSN lengths and national number pattern.
struct Desc {
  bool any_length = true;   // no possible_length listed: the general one applies
  uint64_t lengths = 0;     // bit n: length n is possible
  std::unique_ptr<RE2> re;  // nullptr: empty pattern, which matches nothing

  bool matches(std::string_view nsn) const {
    if (!any_length && (nsn.size() >= 64 || !(lengths >> nsn.size() & 1))) return false;
    re2::StringPiece in(nsn.data(), nsn.size());
    return re && re->Match(in, 0, in.size(), RE2::ANCHOR_BOTH, nullptr, 0);
  }
};

std::unique_ptr<RE2> compile(const std::string& pattern) {
  if (pattern.empty()) return nullptr;
  RE2::Options o;
  o.set_log_errors(false);
  auto re = std::make_unique<RE2>(pattern, o);
  // libphonenumber ships an RE2 build: every pattern of its metadata is RE2
  // syntax. A failure here means a broken installation; refuse to guess.
  if (!re->ok()) std::abort();
  return re;
}

Desc desc_of(const PhoneNumberDesc& d) {
  Desc out;
  out.any_length = d.possible_length_size() == 0;
  for (int len : d.possible_length())
    if (len >= 0 && len < 64) out.lengths |= uint64_t(1) << len;
  out.re = compile(d.national_number_pattern());
  return out;
}

}  // namespace

struct PhoneValidity::Region {
  std::string id;  // "US"; "001" for a non-geographic calling code
  int calling_code = 0;
  bool main_country = false;
  std::string national_prefix;
  std::unique_ptr<RE2> leading_digits;  // nullptr: none in the metadata
  bool same_mobile_and_fixed_line = false;
  Desc general, fixed_line, mobile;
  std::vector<Desc> other_types;  // premium, toll free, shared cost, VoIP, ...
};

const PhoneValidity& PhoneValidity::instance() {
  static const PhoneValidity validity;
  return validity;
}

PhoneValidity::~PhoneValidity() = default;

PhoneValidity::PhoneValidity() : by_code_(kMaxCallingCode + 1) {
  PhoneMetadataCollection collection;
  if (!collection.ParseFromArray(i18n::phonenumbers::metadata_get(),
                                 i18n::phonenumbers::metadata_size()))
    std::abort();
  for (const PhoneMetadata& m : collection.metadata()) {
    // libphonenumber skips an "ZZ" entry and keys calling codes to regions
    // in metadata order, the main country of a shared code first.
    if (m.id() == "ZZ" || m.country_code() <= 0 || m.country_code() > kMaxCallingCode) continue;
    auto r = std::make_unique<Region>();
    r->id = m.id();
    r->calling_code = m.country_code();
    r->main_country = m.main_country_for_code();
    for (char c : m.national_prefix())
      if (c != '~') r->national_prefix += c;  // as GetNddPrefixForRegion(strip_non_digits)
    if (m.has_leading_digits()) r->leading_digits = compile(m.leading_digits());
    r->same_mobile_and_fixed_line = m.same_mobile_and_fixed_line_pattern();
    r->general = desc_of(m.general_desc());
    r->fixed_line = desc_of(m.fixed_line());
    r->mobile = desc_of(m.mobile());
    for (const PhoneNumberDesc* d : {&m.premium_rate(), &m.toll_free(), &m.shared_cost(), &m.voip(),
                                     &m.personal_number(), &m.pager(), &m.uan(), &m.voicemail()})
      r->other_types.push_back(desc_of(*d));
    auto& list = by_code_[size_t(r->calling_code)];
    if (r->main_country)
      list.insert(list.begin(), r.get());
    else
      list.push_back(r.get());
    // "001" is not a region: GetCountryCodeForRegion("001") is 0.
    if (r->id != "001") by_id_.emplace(r->id, r.get());
    regions_.push_back(std::move(r));
  }
}

bool PhoneValidity::has_calling_code(int cc) const {
  return cc > 0 && cc <= kMaxCallingCode && !by_code_[size_t(cc)].empty();
}

const PhoneValidity::Region* PhoneValidity::region(std::string_view code) const {
  auto it = by_id_.find(code);
  return it == by_id_.end() ? nullptr : it->second;
}

int PhoneValidity::calling_code(const Region& region) const { return region.calling_code; }

const std::string& PhoneValidity::national_prefix(const Region& region) const {
  return region.national_prefix;
}

// GetNumberTypeHelper(nsn) != UNKNOWN. The order of the checks does not
// matter for that answer, so the common types go first.
bool PhoneValidity::known_type(const Region& r, std::string_view nsn) const {
  if (!r.general.matches(nsn)) return false;
  if (r.fixed_line.matches(nsn)) return true;
  if (!r.same_mobile_and_fixed_line && r.mobile.matches(nsn)) return true;
  for (const Desc& d : r.other_types)
    if (d.matches(nsn)) return true;
  return false;
}

bool PhoneValidity::valid(int cc, std::string_view nsn) const {
  if (!has_calling_code(cc)) return false;
  const auto& regions = by_code_[size_t(cc)];
  if (regions.size() == 1) return known_type(*regions.front(), nsn);
  for (const Region* r : regions) {
    if (r->leading_digits) {
      re2::StringPiece in(nsn.data(), nsn.size());
      if (r->leading_digits->Match(in, 0, in.size(), RE2::ANCHOR_START, nullptr, 0))
        return known_type(*r, nsn);
    } else if (known_type(*r, nsn)) {
      return true;
    }
  }
  return false;
}

bool PhoneValidity::valid_for_region(const Region& region, std::string_view nsn) const {
  return known_type(region, nsn);
}

std::string_view PhoneValidity::national_significant_number(std::string_view digits) {
  // PhoneNumber keeps the national number as an integer plus a count of
  // leading zeros; a count of -1 (all zeros) is read as none, leaving "0".
  if (digits.size() > 1 && digits.find_first_not_of('0') == std::string_view::npos) return "0";
  return digits;
}

}  // namespace portcullis::guard
