// Fast JSON reading: simdjson parses and validates, then the Json value is
// built from its DOM, strings constructed in one go. The result is exactly
// what nlohmann's parser would build from the same text: integers without a
// '-' are number_unsigned, negative ones number_integer (so "-0" is integer
// 0), anything with a fraction or an exponent a double; for a duplicate key
// the last value wins.
//
// Where the fast reader cannot be sure to agree it declines, and the caller
// parses with nlohmann instead: whatever simdjson rejects (invalid JSON, but
// also a UTF-8 byte order mark, text after a NUL byte, integers beyond 64
// bits, nesting beyond 1024), and an integer 0 in a text that holds a "-0"
// token. So acceptance, values and error messages are nlohmann's.
//
// Thread-safe: each thread keeps its own simdjson parser (buffers of more
// than 1 MiB of document are released after use).
#pragma once
#include <cstddef>
#include <string_view>

#include "core/json.h"

namespace portcullis {

enum class FastRead {
  Parsed,    // `out` holds the value
  TooDeep,   // valid JSON, but arrays/objects nest deeper than max_depth
  Declined,  // undecided: parse with nlohmann
};

// Reads the JSON text `text` into `out` (unspecified unless Parsed).
FastRead read_json_fast(std::string_view text, size_t max_depth, Json& out);

}  // namespace portcullis
