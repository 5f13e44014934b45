// The decimal and ipaddr extension types: parsing their string forms and
// their predicates, with Cedar's rules (decimal needs 1-4 digits after the
// point; no IPv4 embedded in IPv6; no leading zeros in IPv4 octets). Pure
// functions, callable from any thread.
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"
#include "policy/value.h"

namespace portcullis::policy {

Result<Decimal> parse_decimal(std::string_view text);
Result<IpAddr> parse_ip(std::string_view text);

bool ip_in_range(const IpAddr& ip, const IpAddr& range);  // every address of ip is in range
bool ip_is_loopback(const IpAddr& ip);                    // the whole range is loopback
bool ip_is_multicast(const IpAddr& ip);

}  // namespace portcullis::policy
