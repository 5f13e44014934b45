// Parser for Cedar policy text (static policies; no templates). Follows the
// grammar of the Cedar language reference: annotations, effect, the
// principal/action/resource scope, when/unless conditions, and expressions
// with Cedar's precedence (relations do not chain: `a < b < c` is an error).
// Pure function, callable from any thread.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "policy/ast.h"

namespace portcullis::policy {

// Parses every policy in `text`. A policy's id is its @id annotation, else
// "policy<N>" with N = first_index + its position in this text. Errors are
// "file:line:col: message" (the first error only).
Result<std::vector<Policy>> parse_policies(std::string_view text, const std::string& file,
                                           size_t first_index = 0);

}  // namespace portcullis::policy
