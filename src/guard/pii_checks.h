// Validation for PII candidates: the arithmetic that separates a card number,
// an SSN, an IBAN or an IP address from a number that merely looks like one.
// Pure functions; any thread.
#pragma once
#include <string>
#include <string_view>

namespace portcullis::guard {

// Luhn mod-10 over a string of digits.
bool luhn_ok(std::string_view digits);
// 13-19 digits, Luhn, and a length the issuer (IIN range) uses: Visa, Mastercard,
// Amex, Discover, Diners, JCB, UnionPay, Maestro.
bool payment_card_ok(std::string_view digits);
// ddd-dd-dddd: area not 000, 666 or 9xx; group not 00; serial not 0000.
bool us_ssn_ok(std::string_view area, std::string_view group, std::string_view serial);
// Expected IBAN length for a country code (0: not an IBAN country).
size_t iban_length(std::string_view country);
// Uppercase letters and digits, no spaces: country length and mod-97 == 1.
bool iban_ok(std::string_view compact);
bool ipv4_ok(std::string_view s);  // dotted quad, octets <= 255, no leading zeros
bool ipv6_ok(std::string_view s);  // inet_pton, at least one hex digit

}  // namespace portcullis::guard
