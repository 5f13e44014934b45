// PhoneValidity: libphonenumber's answer to "is this a valid number?"
// (PhoneNumberUtil::IsValidNumber and IsValidNumberForRegion), computed from
// libphonenumber's own compiled-in metadata with RE2 instead of its ICU
// regular expressions: about 20x cheaper per number, same answers. The
// differential test in tests/unit/guard_phone_validity_test.cpp holds it to
// that against libphonenumber on generated numbers of every region and type.
//
// The rule, as libphonenumber 8.12 states it:
//  - a number's region is the only region of its calling code, else the first
//    region (main country first, then metadata order) whose leading_digits
//    match the start of the national significant number (NSN) or, for a
//    region without leading_digits, whose number type is known; none: invalid;
//  - its type is known when the NSN matches general_desc and one of the type
//    descriptions (premium rate, toll free, shared cost, VoIP, personal,
//    pager, UAN, voicemail, fixed line, mobile), each with its possible
//    lengths; non-geographic calling codes (+800, +882...) likewise.
//
// Threads: instance() builds the tables once (thread-safe static init, a few
// milliseconds); everything after is immutable and callable from any thread.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace portcullis::guard {

class PhoneValidity {
 public:
  struct Region;

  static const PhoneValidity& instance();
  ~PhoneValidity();

  // A calling code libphonenumber knows (geographic or not).
  bool has_calling_code(int calling_code) const;
  // A region code libphonenumber knows ("US", "GB"); nullptr otherwise.
  const Region* region(std::string_view code) const;
  int calling_code(const Region& region) const;
  // The region's national (trunk) prefix, digits only ("0" for GB, "1" for US).
  const std::string& national_prefix(const Region& region) const;

  // IsValidNumber for +calling_code, then `nsn` (the NSN's digits, as
  // national_significant_number() spells it).
  bool valid(int calling_code, std::string_view nsn) const;
  // IsValidNumberForRegion for a number of `region`'s own calling code.
  bool valid_for_region(const Region& region, std::string_view nsn) const;

  // How libphonenumber spells the NSN of a number whose national digits are
  // `digits` (leading zeros kept as Italian leading zeros; all zeros: "0").
  static std::string_view national_significant_number(std::string_view digits);

 private:
  PhoneValidity();
  bool known_type(const Region& region, std::string_view nsn) const;
  std::vector<std::unique_ptr<Region>> regions_;
  std::map<std::string, const Region*, std::less<>> by_id_;  // geographic regions only
  // Per calling code (0-999): its regions in libphonenumber's order.
  std::vector<std::vector<const Region*>> by_code_;
};

}  // namespace portcullis::guard
