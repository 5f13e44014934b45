// A tokenizer for the SQL dialects an agent sends to database tools
// (PostgreSQL, MySQL, SQLite, SQL Server). It is not a parser: it tells words
// from string literals, quoted identifiers and comments, which is what the
// sanitizer's rules need so that "DROP" inside '...' or /* ... */ is inert.
//
// Recognised: '...' with '' escapes; E'...' with backslash escapes (and
// backslash escapes in any '...' when `backslash_escapes`, as MySQL does);
// N'', X'', B'' prefixes; "identifiers" with "" escapes; `backticks`;
// [brackets]; $$...$$ and $tag$...$tag$; nested /* */ comments; -- and #
// line comments; MySQL /*! ... */ executable comments, whose contents are
// lexed as code (MySQL runs them) and reported.
//
// Dialects disagree on comments and escapes (LexOptions): the sanitizer lexes
// a text in each dialect's reading where they could differ and checks every
// reading, so nothing one server would run hides behind another's rules. A
// "/*" inside a block comment is recorded in `nested_comments` either way.
//
// Comment splitting (`DR/**/OP`): a comment joins nothing in real SQL, so the
// token stream holds the separate words DR and OP, exactly as the server would
// see them. The lexer records every comment glued to word characters on both
// sides in `split_comments`, and the sanitizer turns each into a finding: a
// demanding user wants to hear about a query that hides its keywords.
//
// Pure functions; thread-safe.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace portcullis::guard::sql {

enum class TokenKind {
  kWord,        // keyword or bare identifier; `text` upper-cased
  kIdentifier,  // quoted identifier; `text` is its unquoted, unescaped value
  kString,      // string literal; `text` is its unescaped value
  kNumber,
  kParam,     // ?, $1, :name, @var, @@global
  kOperator,  // = <> != < > <= >= || + - * / % and other punctuation
  kLParen,
  kRParen,
  kComma,
  kDot,
  kSemicolon,
};

struct Token {
  TokenKind kind;
  size_t start = 0, end = 0;  // byte offsets into the lexed text
  std::string text;
  bool is(TokenKind k) const { return kind == k; }
  bool word(std::string_view upper) const { return kind == TokenKind::kWord && text == upper; }
};

struct Lexed {
  std::vector<Token> tokens;  // comments and whitespace removed
  // Comments with a word character immediately before and after (DR/**/OP).
  std::vector<std::pair<size_t, size_t>> split_comments;
  // A "/*" opened inside a block comment (offset of that inner "/*").
  std::vector<std::pair<size_t, size_t>> nested_comments;
  // MySQL /*! ... */ executable comments.
  std::vector<std::pair<size_t, size_t>> executable_comments;
  // A quote, quoted identifier, dollar quote or block comment never closed:
  // [start, end of text).
  std::vector<std::pair<size_t, size_t>> unterminated;
};

struct LexOptions {
  bool backslash_escapes = false;  // MySQL: '\'' escapes a quote in any string
  bool hash_comments = false;      // MySQL: '#' starts a line comment
  bool dash_needs_space = false;  // MySQL: "--" starts a comment only before whitespace (1--1 is 2)
  bool nested_comments = true;    // PostgreSQL nests /* */; MySQL ends at the first */

  static LexOptions standard() { return {}; }
  static LexOptions mysql() { return {true, true, true, false}; }
};

Lexed lex(std::string_view sql, const LexOptions& options = {});

// The tokens of each statement, split on ';' outside quotes and comments.
// Empty statements (";;", a trailing ';') are dropped.
std::vector<std::vector<Token>> split_statements(const std::vector<Token>& tokens);

}  // namespace portcullis::guard::sql
