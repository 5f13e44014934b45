#include "guard/secret_matchers.h"

#include <array>

namespace portcullis::guard {

namespace {

using ByteSet = std::array<bool, 256>;

constexpr ByteSet set_of(std::string_view chars) {
  ByteSet s{};
  for (char c : chars) s[(unsigned char)c] = true;
  return s;
}

// RE2's \s is [\t\n\f\r ] (no \v).
constexpr ByteSet kSpace = set_of("\t\n\f\r ");
constexpr ByteSet kNameChar =
    set_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-");
constexpr ByteSet kHostChar =
    set_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-[]");
// The characters a negated class leaves out, \s included.
constexpr ByteSet kNotValue = set_of("\t\n\f\r \"'`,;<>(){}[]");
constexpr ByteSet kNotUser = set_of("\t\n\f\r :/@\"'");
constexpr ByteSet kNotPassword = set_of("\t\n\f\r @/\"'");

bool ascii(char c) { return (unsigned char)c < 0x80; }

size_t skip(std::string_view w, size_t i, const ByteSet& set) {
  while (i < w.size() && set[(unsigned char)w[i]]) ++i;
  return i;
}

// The end of a run of a negated class [^excluded] from i. ok is false when
// the run stops at a non-ASCII byte, where RE2 would read a UTF-8 character.
size_t negated_run(std::string_view w, size_t i, const ByteSet& excluded, bool& ok) {
  while (i < w.size() && ascii(w[i]) && !excluded[(unsigned char)w[i]]) ++i;
  ok = i == w.size() || ascii(w[i]);
  return i;
}

constexpr MatchAtHit kNone{MatchAtHit::kNoMatch};
constexpr MatchAtHit kAskRe2{MatchAtHit::kUndecided};

// \s*["'`]?([^\s"'`,;<>(){}\[\]]{8,}) from i.
MatchAtHit value_from(std::string_view w, size_t i) {
  i = skip(w, i, kSpace);
  if (i < w.size() && (w[i] == '"' || w[i] == '\'' || w[i] == '`')) ++i;
  bool ok = true;
  size_t e = negated_run(w, i, kNotValue, ok);
  if (!ok) return kAskRe2;
  if (e - i < 8) return kNone;
  return {MatchAtHit::kMatch, i, e};
}

}  // namespace

// Every step but the separator is deterministic: each optional or repeated
// piece can only give characters back to a successor that cannot take them
// (a name character is never a quote, a space or a separator), so a greedy
// walk finds RE2's match. The separator alternatives are tried in the
// pattern's order, as leftmost-first RE2 does: ":=" first as ":" with a
// value starting "=", and only then as ":=".
MatchAtHit keyword_value_at(std::string_view w, size_t /*start*/, size_t anchor_end) {
  // The keyword is all name characters, so whichever keyword alternative RE2
  // picks, s?[A-Za-z0-9_\-]* ends where the name run from the anchor ends.
  size_t i = skip(w, anchor_end, kNameChar);
  if (i < w.size() && (w[i] == '"' || w[i] == '\'')) ++i;
  i = skip(w, i, kSpace);
  if (i >= w.size() || (w[i] != ':' && w[i] != '=')) return kNone;
  MatchAtHit m = value_from(w, i + 1);  // [:=]
  if (m.kind != MatchAtHit::kNoMatch) return m;
  bool two = i + 1 < w.size() && ((w[i] == '=' && w[i + 1] == '>') ||  // =>
                                  (w[i] == ':' && w[i + 1] == '='));   // :=
  return two ? value_from(w, i + 2) : kNone;
}

// [^:/\s@"']*:([^@\s/"']+)@[A-Za-z0-9.\-\[\]]+ after the "scheme://". Both
// runs stop only at a character their successor needs (":" after the user,
// "@" after the password) or at one nothing can take, so no backtracking.
MatchAtHit url_password_at(std::string_view w, size_t /*start*/, size_t anchor_end) {
  bool ok = true;
  size_t colon = negated_run(w, anchor_end, kNotUser, ok);
  if (!ok) return kAskRe2;
  if (colon >= w.size() || w[colon] != ':') return kNone;
  size_t at = negated_run(w, colon + 1, kNotPassword, ok);
  if (!ok) return kAskRe2;
  if (at == colon + 1 || at >= w.size() || w[at] != '@') return kNone;
  if (at + 1 >= w.size() || !kHostChar[(unsigned char)w[at + 1]]) return kNone;
  return {MatchAtHit::kMatch, colon + 1, at};
}

}  // namespace portcullis::guard
