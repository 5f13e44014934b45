// Constant evaluation of SQL conditions: is a WHERE clause, or the disjunct
// after an OR, true whatever the row holds? Understands literals (numbers,
// strings, TRUE/FALSE/NULL), a column compared with itself, the comparison
// operators, LIKE '%', IS [NOT] NULL, IN (...), BETWEEN, NOT, AND/OR and
// parentheses, with MySQL's loose string-to-number comparison (so that
// 'a'='a', 1='1' and 2>1 all count). Anything else is "unknown", never true,
// and so is any condition longer than 64 tokens (tautologies are short, and
// the bound keeps hostile input linear).
//
// Pure functions over a token range; thread-safe.
#pragma once
#include <cstddef>
#include <optional>
#include <vector>

#include "guard/sql_lexer.h"

namespace portcullis::guard::sql {

// The constant value of the condition tokens [begin, end), if it has one.
std::optional<bool> constant_value(const std::vector<Token>& t, size_t begin, size_t end);

// Each "OR <always-true disjunct>" in [begin, end), at any nesting depth, as a
// token index range [OR, last token of the disjunct + 1).
std::vector<std::pair<size_t, size_t>> tautological_disjuncts(const std::vector<Token>& t,
                                                              size_t begin, size_t end);

// Words that end a condition (ORDER, LIMIT, RETURNING, UNION, THEN ...).
bool ends_condition(const Token& t);

}  // namespace portcullis::guard::sql
