// Lexer for Cedar policy text: identifiers, integer and string literals
// (Cedar's escapes), punctuation, `//` comments. Each token carries its line
// and column (1-based, in bytes) for file:line:col diagnostics.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace portcullis::policy {

enum class Tok : uint8_t {
  Ident,
  Int,
  String,
  LParen,
  RParen,
  LBracket,
  RBracket,
  LBrace,
  RBrace,
  Comma,
  Semi,
  Dot,
  ColonColon,
  Colon,
  At,
  Question,
  Eq,
  Ne,
  Lt,
  Le,
  Gt,
  Ge,
  AndAnd,
  OrOr,
  Bang,
  Plus,
  Minus,
  Star,
  Assign,
  End,
};

struct Token {
  Tok kind = Tok::End;
  std::string text;  // Ident: the name; String: the raw text between quotes; Int: digits
  int line = 1, col = 1;
};

// Errors are "line:col: message".
Result<std::vector<Token>> lex(std::string_view src);

// Decodes a string literal's escapes (\n \r \t \\ \0 \' \" \xHH \u{H..}).
// `\*` is only valid in `like` patterns, which the parser reads raw.
Result<std::string> unescape(std::string_view raw);

}  // namespace portcullis::policy
