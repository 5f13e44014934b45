// Exposed-name rules. MCP clients reject tool and prompt names outside
// ^[a-zA-Z0-9_-]{1,64}$, so every name a virtual server exposes is made legal
// here: illegal characters become '_', and a name longer than 64 characters
// keeps its first 55 characters plus '_' and 8 hex digits of the SHA-256 of
// the full desired name, so shortening is stable across restarts and two long
// names that share a prefix still differ.
#pragma once
#include <string>
#include <string_view>

namespace portcullis::compose {

inline constexpr size_t kMaxNameLength = 64;

bool is_legal_name(std::string_view name);

// The legal form of `desired` (unchanged when already legal).
std::string legal_name(std::string_view desired);

// The name a selection exposes for `original`: the explicit rename when there
// is one, otherwise `prefix` + "_" + original (no separator when the prefix is
// empty), made legal.
std::string exposed_name(std::string_view original, std::string_view prefix,
                         const std::string* rename);

}  // namespace portcullis::compose
