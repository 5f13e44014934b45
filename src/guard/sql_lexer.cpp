#include "guard/sql_lexer.h"

#include <cctype>

namespace portcullis::guard::sql {
namespace {

bool is_word_start(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}
bool is_word_char(unsigned char c) {
  return is_word_start(c) || (c >= '0' && c <= '9') || c == '$';
}
bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
char upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c; }

class Lexer {
 public:
  Lexer(std::string_view s, const LexOptions& o) : s_(s), o_(o) {}

  Lexed run() {
    while (i_ < s_.size()) step();
    return std::move(out_);
  }

 private:
  unsigned char at(size_t k) const { return k < s_.size() ? s_[k] : 0; }

  void push(TokenKind kind, size_t start, std::string text) {
    out_.tokens.push_back(Token{kind, start, i_, std::move(text)});
  }

  void step() {
    unsigned char c = at(i_);
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
      ++i_;
    } else if (c == '-' && at(i_ + 1) == '-' &&
               (!o_.dash_needs_space || at(i_ + 2) == 0 || at(i_ + 2) <= ' ')) {
      line_comment();
    } else if (c == '#' && o_.hash_comments) {
      line_comment();
    } else if (c == '/' && at(i_ + 1) == '*') {
      block_comment();
    } else if (c == '*' && at(i_ + 1) == '/' && in_executable_) {
      // End of a MySQL /*! ... */ block whose contents were lexed as code.
      out_.executable_comments.back().second = i_ + 2;
      in_executable_ = false;
      i_ += 2;
    } else if (c == '\'') {
      quoted_string(i_, i_, o_.backslash_escapes);
    } else if (c == '"') {
      quoted_identifier('"');
    } else if (c == '`') {
      quoted_identifier('`');
    } else if (c == '[') {
      quoted_identifier(']');
    } else if (c == '$') {
      dollar();
    } else if (is_digit(c) || (c == '.' && is_digit(at(i_ + 1)))) {
      number();
    } else if (is_word_start(c)) {
      word();
    } else if ((c == '?') ||
               ((c == ':' || c == '@') && (is_word_start(at(i_ + 1)) || at(i_ + 1) == '@'))) {
      size_t start = i_++;
      while (i_ < s_.size() && (is_word_char(at(i_)) || at(i_) == '@')) ++i_;
      push(TokenKind::kParam, start, std::string(s_.substr(start, i_ - start)));
    } else {
      punctuation(c);
    }
  }

  void line_comment() {
    while (i_ < s_.size() && s_[i_] != '\n') ++i_;
  }

  void block_comment() {
    size_t start = i_;
    if (at(i_ + 2) == '!' && !in_executable_) {
      // MySQL executes the contents of /*! ... */ (after an optional version).
      i_ += 3;
      while (is_digit(at(i_))) ++i_;
      in_executable_ = true;
      out_.executable_comments.push_back({start, s_.size()});
      return;
    }
    i_ += 2;
    int depth = 1;
    while (i_ < s_.size() && depth > 0) {
      if (s_[i_] == '/' && at(i_ + 1) == '*') {
        out_.nested_comments.push_back({i_, i_ + 2});
        if (o_.nested_comments) ++depth;
        i_ += 2;
      } else if (s_[i_] == '*' && at(i_ + 1) == '/') {
        --depth;
        i_ += 2;
      } else {
        ++i_;
      }
    }
    if (depth > 0) {
      out_.unterminated.push_back({start, s_.size()});
      return;
    }
    if (start > 0 && is_word_char(at(start - 1)) && i_ < s_.size() && is_word_char(at(i_))) {
      out_.split_comments.push_back({start, i_});
    }
  }

  // A '...' literal whose opening quote is at `quote`; `start` includes any
  // prefix letter (E, N, X, B).
  void quoted_string(size_t start, size_t quote, bool backslashes) {
    i_ = quote + 1;
    std::string value;
    while (i_ < s_.size()) {
      char c = s_[i_];
      if (backslashes && c == '\\' && i_ + 1 < s_.size()) {
        value += s_[i_ + 1];
        i_ += 2;
      } else if (c == '\'') {
        if (at(i_ + 1) == '\'') {
          value += '\'';
          i_ += 2;
        } else {
          ++i_;
          push(TokenKind::kString, start, std::move(value));
          return;
        }
      } else {
        value += c;
        ++i_;
      }
    }
    out_.unterminated.push_back({start, s_.size()});
    push(TokenKind::kString, start, std::move(value));
  }

  void quoted_identifier(char close) {
    size_t start = i_++;
    std::string value;
    while (i_ < s_.size()) {
      if (s_[i_] == close) {
        if (at(i_ + 1) == static_cast<unsigned char>(close)) {  // "" `` ]] escapes
          value += close;
          i_ += 2;
          continue;
        }
        ++i_;
        push(TokenKind::kIdentifier, start, std::move(value));
        return;
      }
      value += s_[i_++];
    }
    out_.unterminated.push_back({start, s_.size()});
    push(TokenKind::kIdentifier, start, std::move(value));
  }

  // $1 (a parameter), $$...$$ or $tag$...$tag$ (a dollar-quoted string), or
  // a lone '$' (an operator).
  void dollar() {
    size_t start = i_;
    if (is_digit(at(i_ + 1))) {
      ++i_;
      while (is_digit(at(i_))) ++i_;
      push(TokenKind::kParam, start, std::string(s_.substr(start, i_ - start)));
      return;
    }
    size_t k = i_ + 1;
    if (is_word_start(at(k)) && at(k) < 0x80) {
      while (k < s_.size() && (is_word_char(at(k)) && at(k) != '$')) ++k;
    }
    if (at(k) != '$') {
      ++i_;
      push(TokenKind::kOperator, start, "$");
      return;
    }
    std::string_view tag = s_.substr(start, k + 1 - start);
    size_t body = k + 1;
    size_t close = s_.find(tag, body);
    if (close == std::string_view::npos) {
      i_ = s_.size();
      out_.unterminated.push_back({start, s_.size()});
      push(TokenKind::kString, start, std::string(s_.substr(body)));
      return;
    }
    i_ = close + tag.size();
    push(TokenKind::kString, start, std::string(s_.substr(body, close - body)));
  }

  void number() {
    size_t start = i_;
    if (at(i_) == '0' && (at(i_ + 1) == 'x' || at(i_ + 1) == 'X')) {
      i_ += 2;
      while (std::isxdigit(at(i_))) ++i_;
    } else {
      while (is_digit(at(i_))) ++i_;
      if (at(i_) == '.') {
        ++i_;
        while (is_digit(at(i_))) ++i_;
      }
      if ((at(i_) == 'e' || at(i_) == 'E') &&
          (is_digit(at(i_ + 1)) ||
           ((at(i_ + 1) == '+' || at(i_ + 1) == '-') && is_digit(at(i_ + 2))))) {
        i_ += 2;
        while (is_digit(at(i_))) ++i_;
      }
    }
    push(TokenKind::kNumber, start, std::string(s_.substr(start, i_ - start)));
  }

  void word() {
    size_t start = i_;
    while (i_ < s_.size() && is_word_char(at(i_))) ++i_;
    if (i_ - start == 1 && at(i_) == '\'') {
      char p = upper(s_[start]);
      if (p == 'E' || p == 'N' || p == 'X' || p == 'B') {
        quoted_string(start, i_, p == 'E' || o_.backslash_escapes);
        return;
      }
    }
    std::string text;
    text.reserve(i_ - start);
    for (size_t k = start; k < i_; ++k) text += upper(s_[k]);
    push(TokenKind::kWord, start, std::move(text));
  }

  void punctuation(unsigned char c) {
    size_t start = i_++;
    switch (c) {
      case '(':
        push(TokenKind::kLParen, start, "(");
        return;
      case ')':
        push(TokenKind::kRParen, start, ")");
        return;
      case ',':
        push(TokenKind::kComma, start, ",");
        return;
      case '.':
        push(TokenKind::kDot, start, ".");
        return;
      case ';':
        push(TokenKind::kSemicolon, start, ";");
        return;
      default:
        break;
    }
    // Two-character comparison and concatenation operators stay whole.
    static constexpr std::string_view kPairs[] = {"<=", ">=", "<>", "!=", "==", "||", "::", ":="};
    for (auto p : kPairs) {
      if (s_.substr(start, 2) == p) {
        ++i_;
        push(TokenKind::kOperator, start, std::string(p));
        return;
      }
    }
    push(TokenKind::kOperator, start, std::string(1, static_cast<char>(c)));
  }

  std::string_view s_;
  LexOptions o_;
  size_t i_ = 0;
  bool in_executable_ = false;
  Lexed out_;
};

}  // namespace

Lexed lex(std::string_view sql, const LexOptions& options) { return Lexer(sql, options).run(); }

std::vector<std::vector<Token>> split_statements(const std::vector<Token>& tokens) {
  std::vector<std::vector<Token>> out(1);
  for (const auto& t : tokens) {
    if (t.is(TokenKind::kSemicolon)) {
      if (!out.back().empty()) out.emplace_back();
    } else {
      out.back().push_back(t);
    }
  }
  if (out.back().empty()) out.pop_back();
  return out;
}

}  // namespace portcullis::guard::sql
