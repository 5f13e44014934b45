// Compact JSON serialization, byte for byte what nlohmann's
// `j.dump(-1, ' ', false, error_handler_t::replace)` writes, without its
// per-character escaping loop: keys in the object's (sorted) order, the
// escapes \" \\ \b \f \n \r \t, \u00xx (lowercase hex) for the other control
// characters, valid UTF-8 copied as is, each invalid UTF-8 sequence replaced
// by U+FFFD exactly as the serializer's `replace` handler does, floats in the
// serializer's own shortest round-trip form ("null" if not finite).
// rpc::dump and the audit trail's canonical_json are this function.
// All functions are pure and thread-safe.
#pragma once
#include <string>
#include <string_view>

#include "core/json.h"

namespace portcullis {

// Appends the compact serialization of `j` to `out`. Never throws.
void append_json(std::string& out, const Json& j);

// Appends `s` as the serialization of the JSON string `s`, quotes included.
void append_json_string(std::string& out, std::string_view s);

}  // namespace portcullis
