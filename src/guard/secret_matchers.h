// Hand-written twins of the two secrets rules whose anchors are common in
// ordinary configuration text, so that a text full of "api_key = …" and
// "postgres://user:pass@host" lines costs no RE2 call per line:
//
//   keyword_value_at: kKeywordValuePattern (generic_secret), the value
//     after "password", "token", "api_key", …
//   url_password_at:  kUrlPasswordPattern (database_url_password), the
//     password in "scheme://user:password@host".
//
// Each returns exactly what RE2 returns for its pattern matched anchored at
// `start` in `window`: capture group 1, or no match. RE2 reads non-ASCII
// bytes as UTF-8 characters; where a negated class meets one, the matcher
// does not guess and answers kUndecided, and the caller runs RE2 instead.
// tests/unit/guard_secret_matchers_test.cpp checks both against RE2 on
// generated text.
//
// Pure functions; any thread.
#pragma once
#include <string_view>

#include "guard/anchored_rules.h"

namespace portcullis::guard {

// Keyword names that make the value next to them a secret (the Hyperscan
// anchor of generic_secret).
#define PC_SECRET_WORDS \
  R"((?:password|passwd|passphrase|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|auth[_-]?key|credential|private[_-]?key|client[_-]?secret))"

inline constexpr std::string_view kKeywordValuePattern =
    "(?i)" PC_SECRET_WORDS
    R"(s?[A-Za-z0-9_\-]*["']?\s*(?:[:=]|=>|:=)\s*["'`]?([^\s"'`,;<>(){}\[\]]{8,}))";

#define PC_DATABASE_SCHEMES \
  R"((?:postgres(?:ql)?|mysql|mariadb|mongodb(?:\+srv)?|rediss?|amqps?|mssql))"

inline constexpr std::string_view kUrlPasswordPattern =
    "(?i:" PC_DATABASE_SCHEMES R"()://[^:/\s@"']*:([^@\s/"']+)@[A-Za-z0-9.\-\[\]]+)";

// REQUIRES: [start, anchor_end) of `window` is a secret keyword
// (PC_SECRET_WORDS, any case).
MatchAtHit keyword_value_at(std::string_view window, size_t start, size_t anchor_end);

// REQUIRES: [start, anchor_end) of `window` is a scheme and "://"
// (PC_DATABASE_SCHEMES, any case).
MatchAtHit url_password_at(std::string_view window, size_t start, size_t anchor_end);

}  // namespace portcullis::guard
