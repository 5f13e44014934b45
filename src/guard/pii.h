// PiiDetector ("pii"): personal data in text: emails, phone numbers (E.164
// and national formats, validated by libphonenumber), payment cards (Luhn and
// issuer ranges), US SSNs, IBANs (length table and mod-97), IPv4/IPv6
// addresses, and dates of birth next to "DOB"/"date of birth"/"born".
//
// Candidates come from one read of the text for digit runs (numeric_runs.h,
// matched by number_patterns.h) and the hand scanners for emails and IPv6
// (email_spans.h, ipv6_spans.h), all in pii_blocks.h, and Hyperscan + RE2
// for the "date of birth" keywords; the checks in pii_checks.h and
// libphonenumber's rules (phone_validity.h) decide. Each finding's
// replacement is a per-request placeholder ([EMAIL_1], [PHONE_2], [CARD_1],
// [SSN_1], [IBAN_1], [IP_1], [DOB_1]), the same value getting the same one
// within a ScanContext.
//
// Threads: immutable after create(); scan() from any thread (libphonenumber's
// PhoneNumberUtil singleton is thread-safe for parsing and validation).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "guard/anchored_rules.h"
#include "guard/detector.h"
#include "guard/numeric_runs.h"

namespace portcullis::guard {

struct PiiOptions {
  // Which kinds to look for: email, phone, card, ssn, iban, ip, dob. Empty: all.
  std::vector<std::string> kinds;
  // Regions whose national formats count (a number with a leading '+' is
  // read as international whatever this says).
  std::vector<std::string> phone_regions = {"US", "GB", "DE", "FR", "IN", "AU"};
};

class PiiDetector : public Detector {
 public:
  static Result<std::shared_ptr<const PiiDetector>> create(const PiiOptions& options = {});
  std::string_view name() const override { return "pii"; }
  Result<std::vector<Finding>> scan(std::string_view text, ScanContext& ctx) const override;
  static std::vector<std::string> kind_names();

 private:
  PiiDetector() = default;
  PiiOptions options_;
  std::shared_ptr<const AnchoredRules> rules_;
  std::vector<int> kind_;  // per anchored rule: its index in the rule table (pii.cpp)
  std::vector<int> scanned_;  // kinds found by a hand scanner (email, IPv6): rule table index
  std::vector<int> run_kinds_;  // number-shaped kinds, found in numeric runs: rule table index
  struct Span;
  void runs_to_candidates(std::string_view text, const std::vector<NumericRun>& runs,
                          std::vector<Span>& out) const;
};

}  // namespace portcullis::guard
