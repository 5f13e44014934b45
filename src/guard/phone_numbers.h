// Phone numbers: which digit runs can be one, and whether libphonenumber
// says a candidate is a valid number (E.164, or national for one of the
// configured regions). Validation is libphonenumber's rule evaluated by
// PhoneValidity (phone_validity.h, a few hundred ns); the "+44 (0)20" form
// still goes through libphonenumber's parser. The shape checks run first and
// keep dates, dotted quads and bare digit strings out.
// Any thread (PhoneValidity and PhoneNumberUtil are thread-safe here).
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace portcullis::guard {

// A numeric run (numeric_runs.h) shaped like a phone number: starts with
// '+' or '(', or has two digit groups (one when it starts with a trunk '0'),
// and is not a date ("2026-03-14", "14/03/2026").
bool phone_shaped(std::string_view run);

// 7-15 digits, not a date or dotted quad, and valid per libphonenumber;
// `e164` receives the canonical form (for placeholders).
bool valid_phone(std::string_view candidate, const std::vector<std::string>& regions,
                 std::string* e164);

// A region code libphonenumber knows ("US", "GB").
bool known_phone_region(const std::string& region);

}  // namespace portcullis::guard
