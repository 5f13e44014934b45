// Invisible Unicode that hides instructions from a human reader:
//   - tag characters U+E0000..E007F ("ASCII smuggling": U+E0041 reads as an
//     invisible 'A' to a model), except inside emoji tag sequences such as the
//     flag of England (U+1F3F4, tags, U+E007F);
//   - zero-width characters U+200B..200D, U+2060..2064, U+FEFF (not at the
//     start of the text, where it is a byte-order mark). U+200D between two
//     emoji (family, profession emoji) is legitimate and not reported;
//   - bidirectional controls U+202A..202E and U+2066..2069 (Trojan Source).
// U+200E/U+200F (LRM/RLM) appear in ordinary right-to-left text and are not
// reported, but are stripped with the rest so they cannot split a keyword.
//
// Pure functions; thread-safe.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace portcullis::guard::injection {

enum class Invisible { kTag, kZeroWidth, kBidi, kMark };

struct InvisibleChar {
  Invisible kind;
  size_t start = 0, end = 0;  // byte span of the character
  char32_t code = 0;
};

// The invisible character whose UTF-8 encoding starts at `pos`, if any.
bool invisible_at(std::string_view text, size_t pos, InvisibleChar& out);

// Whether the invisible characters in `chars` (found at `positions`) are part
// of legitimate emoji sequences; those are dropped from `chars`.
void drop_emoji_sequences(std::string_view text, std::vector<InvisibleChar>& chars);

// `text` without the characters in `chars`; map[i] is the offset in `text` of
// byte i of the result (map has one extra entry: text.size()).
std::string strip(std::string_view text, const std::vector<InvisibleChar>& chars,
                  std::vector<size_t>& map);

}  // namespace portcullis::guard::injection
