#include "policy/lexer.h"

#include <cctype>

#include "core/text.h"

namespace portcullis::policy {

namespace {

bool ident_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool ident_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }


}  // namespace

Result<std::string> unescape(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (c != '\\') {
      out += c;
      continue;
    }
    if (++i >= raw.size()) return fail("unterminated escape");
    char e = raw[i];
    switch (e) {
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case '0':
        out += '\0';
        break;
      case '\\':
        out += '\\';
        break;
      case '\'':
        out += '\'';
        break;
      case '"':
        out += '"';
        break;
      case 'x': {
        if (i + 2 >= raw.size()) return fail("invalid \\x escape");
        std::string hex(raw.substr(i + 1, 2));
        if (hex.size() != 2 || !std::isxdigit(static_cast<unsigned char>(hex[0])) ||
            !std::isxdigit(static_cast<unsigned char>(hex[1])))
          return fail("invalid \\x escape");
        unsigned v = std::stoul(hex, nullptr, 16);
        if (v > 0x7F) return fail("invalid \\x escape: above 0x7f");
        out += char(v);
        i += 2;
        break;
      }
      case 'u': {
        if (i + 1 >= raw.size() || raw[i + 1] != '{') return fail("invalid \\u escape");
        size_t close = raw.find('}', i + 2);
        if (close == std::string_view::npos || close == i + 2 || close - (i + 2) > 6)
          return fail("invalid \\u escape");
        uint32_t cp = 0;
        for (size_t k = i + 2; k < close; ++k) {
          if (!std::isxdigit(static_cast<unsigned char>(raw[k]))) return fail("invalid \\u escape");
          cp = cp * 16 + uint32_t(std::isdigit(static_cast<unsigned char>(raw[k]))
                                      ? raw[k] - '0'
                                      : (std::tolower(raw[k]) - 'a' + 10));
        }
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
          return fail("invalid \\u escape: not a scalar value");
        text::append_utf8(out, cp);
        i = close;
        break;
      }
      default:
        return fail(std::string("invalid escape `\\") + e + "`");
    }
  }
  return out;
}

Result<std::vector<Token>> lex(std::string_view src) {
  std::vector<Token> out;
  int line = 1;
  size_t line_start = 0;
  size_t i = 0;
  auto err = [&](size_t at, const std::string& msg) {
    return fail(std::to_string(line) + ":" + std::to_string(int(at - line_start) + 1) + ": " + msg);
  };
  while (i < src.size()) {
    char c = src[i];
    if (c == '\n') {
      ++line;
      line_start = ++i;
      continue;
    }
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
      continue;
    }
    if (c == '/' && i + 1 < src.size() && src[i + 1] == '/') {
      while (i < src.size() && src[i] != '\n') ++i;
      continue;
    }
    Token t;
    t.line = line;
    t.col = int(i - line_start) + 1;
    if (ident_start(c)) {
      size_t j = i;
      while (j < src.size() && ident_char(src[j])) ++j;
      t.kind = Tok::Ident;
      t.text = std::string(src.substr(i, j - i));
      i = j;
    } else if (std::isdigit(static_cast<unsigned char>(c))) {
      size_t j = i;
      while (j < src.size() && std::isdigit(static_cast<unsigned char>(src[j]))) ++j;
      t.kind = Tok::Int;
      t.text = std::string(src.substr(i, j - i));
      i = j;
    } else if (c == '"') {
      // Strings may span lines; keep counting them for later tokens.
      size_t j = i + 1;
      int start_line = line;
      size_t start_line_start = line_start;
      while (j < src.size() && src[j] != '"') {
        if (src[j] == '\\') ++j;
        if (j < src.size() && src[j] == '\n') {
          ++line;
          line_start = j + 1;
        }
        ++j;
      }
      if (j >= src.size()) {
        line = start_line;
        line_start = start_line_start;
        return err(i, "unterminated string literal");
      }
      t.kind = Tok::String;
      t.text = std::string(src.substr(i + 1, j - i - 1));
      i = j + 1;
    } else {
      auto two = src.substr(i, 2);
      struct P {
        std::string_view s;
        Tok k;
      };
      static constexpr P kPunct[] = {
          {"==", Tok::Eq},     {"!=", Tok::Ne},      {"<=", Tok::Le},         {">=", Tok::Ge},
          {"&&", Tok::AndAnd}, {"||", Tok::OrOr},    {"::", Tok::ColonColon}, {"(", Tok::LParen},
          {")", Tok::RParen},  {"[", Tok::LBracket}, {"]", Tok::RBracket},    {"{", Tok::LBrace},
          {"}", Tok::RBrace},  {",", Tok::Comma},    {";", Tok::Semi},        {".", Tok::Dot},
          {":", Tok::Colon},   {"@", Tok::At},       {"?", Tok::Question},    {"<", Tok::Lt},
          {">", Tok::Gt},      {"!", Tok::Bang},     {"+", Tok::Plus},        {"-", Tok::Minus},
          {"*", Tok::Star},    {"=", Tok::Assign}};
      bool found = false;
      for (const auto& p : kPunct) {
        if ((p.s.size() == 2 && two == p.s) || (p.s.size() == 1 && c == p.s[0])) {
          t.kind = p.k;
          t.text = std::string(p.s);
          i += p.s.size();
          found = true;
          break;
        }
      }
      if (!found) return err(i, std::string("unexpected character `") + c + "`");
    }
    out.push_back(std::move(t));
  }
  Token end;
  end.kind = Tok::End;
  end.line = line;
  end.col = int(i - line_start) + 1;
  out.push_back(end);
  return out;
}

}  // namespace portcullis::policy
