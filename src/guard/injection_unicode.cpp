#include "guard/injection_unicode.h"

namespace portcullis::guard::injection {
namespace {

// Decodes the UTF-8 character at pos; returns its length (0 when invalid).
size_t decode(std::string_view s, size_t pos, char32_t& cp) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(pos);
  size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  if (len == 0 || pos + len > s.size()) return 0;
  cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
  for (size_t k = 1; k < len; ++k) {
    if ((b(pos + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(pos + k) & 0x3F);
  }
  return len;
}

// Emoji-ish code points: pictographs, symbols, skin tones, VS16.
bool is_emoji(char32_t c) {
  return (c >= 0x1F000 && c <= 0x1FAFF) || (c >= 0x2600 && c <= 0x27BF) || c == 0xFE0F;
}

// The code point that ends just before `pos`, or 0.
char32_t before(std::string_view s, size_t pos) {
  size_t k = pos;
  while (k > 0 && pos - k < 4) {
    --k;
    if ((static_cast<unsigned char>(s[k]) & 0xC0) != 0x80) break;
  }
  char32_t cp = 0;
  return (k < pos && decode(s, k, cp) == pos - k) ? cp : 0;
}

}  // namespace

bool invisible_at(std::string_view text, size_t pos, InvisibleChar& out) {
  char32_t cp = 0;
  size_t len = decode(text, pos, cp);
  if (len < 3) return false;
  Invisible kind;
  if (cp >= 0xE0000 && cp <= 0xE007F)
    kind = Invisible::kTag;
  else if ((cp >= 0x200B && cp <= 0x200D) || (cp >= 0x2060 && cp <= 0x2064) ||
           (cp == 0xFEFF && pos > 0))
    kind = Invisible::kZeroWidth;
  else if ((cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069))
    kind = Invisible::kBidi;
  else if (cp == 0x200E || cp == 0x200F)
    kind = Invisible::kMark;
  else
    return false;
  out = InvisibleChar{kind, pos, pos + len, cp};
  return true;
}

void drop_emoji_sequences(std::string_view text, std::vector<InvisibleChar>& chars) {
  std::vector<InvisibleChar> kept;
  for (size_t i = 0; i < chars.size(); ++i) {
    const auto& c = chars[i];
    if (c.code == 0x200D) {  // ZWJ between emoji
      char32_t next = 0;
      if (is_emoji(before(text, c.start)) && c.end < text.size() && decode(text, c.end, next) &&
          is_emoji(next))
        continue;
    }
    if (c.kind == Invisible::kTag && is_emoji(before(text, c.start))) {
      // A flag sequence: black flag, then lower-case/digit tags, then CANCEL TAG.
      size_t j = i;
      bool ok = true;
      while (j < chars.size() && chars[j].kind == Invisible::kTag && chars[j].code != 0xE007F) {
        char32_t a = chars[j].code - 0xE0000;
        ok = ok && ((a >= 'a' && a <= 'z') || (a >= '0' && a <= '9')) &&
             (j == i || chars[j].start == chars[j - 1].end);
        ++j;
      }
      if (ok && j < chars.size() && chars[j].code == 0xE007F && j - i <= 6 &&
          (j == i || chars[j].start == chars[j - 1].end)) {
        i = j;
        continue;
      }
    }
    kept.push_back(c);
  }
  chars = std::move(kept);
}

std::string strip(std::string_view text, const std::vector<InvisibleChar>& chars,
                  std::vector<size_t>& map) {
  std::string out;
  out.reserve(text.size());
  map.clear();
  map.reserve(text.size() + 1);
  size_t pos = 0;
  for (const auto& c : chars) {
    for (; pos < c.start; ++pos) {
      out += text[pos];
      map.push_back(pos);
    }
    pos = c.end;
  }
  for (; pos < text.size(); ++pos) {
    out += text[pos];
    map.push_back(pos);
  }
  map.push_back(text.size());
  return out;
}

}  // namespace portcullis::guard::injection
