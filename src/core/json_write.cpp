#include "core/json_write.h"

#include <simdjson.h>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace portcullis {
namespace {

using Byte = unsigned char;

constexpr uint64_t kOnes = 0x0101010101010101ull;
constexpr uint64_t kHighs = 0x8080808080808080ull;

// True if none of the 8 bytes of `w` needs attention: a control character
// (< 0x20), '"', '\\' or a non-ASCII byte. Each term is exact as a whole-word
// test (the "has a zero byte" / "has a byte less than n" word tricks).
inline bool plain_word(uint64_t w) {
  uint64_t quote = w ^ (kOnes * '"');
  uint64_t slash = w ^ (kOnes * '\\');
  uint64_t flags = ((w - kOnes * 0x20) & ~w) | ((quote - kOnes) & ~quote) |
                   ((slash - kOnes) & ~slash) | w;
  return (flags & kHighs) == 0;
}

// True if none of the 8 bytes of `w` is a control character, '"' or '\\';
// bytes of valid UTF-8 pass.
inline bool unescaped_word(uint64_t w) {
  uint64_t quote = w ^ (kOnes * '"');
  uint64_t slash = w ^ (kOnes * '\\');
  uint64_t flags = ((w - kOnes * 0x20) & ~w) | ((quote - kOnes) & ~quote) |
                   ((slash - kOnes) & ~slash);
  return (flags & kHighs) == 0;
}

inline bool unescaped_byte(Byte c) { return c >= 0x20 && c != '"' && c != '\\'; }

inline bool plain_byte(Byte c) { return c >= 0x20 && c < 0x80 && c != '"' && c != '\\'; }

// The first byte in [p, end) that is not plain printable ASCII.
inline const Byte* skip_plain(const Byte* p, const Byte* end) {
  while (end - p >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    if (!plain_word(w)) break;
    p += 8;
  }
  while (p < end && plain_byte(*p)) ++p;
  return p;
}

// The first byte in [p, end) that needs an escape, in text known to be valid
// UTF-8.
inline const Byte* skip_unescaped(const Byte* p, const Byte* end) {
  while (end - p >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    if (!unescaped_word(w)) break;
    p += 8;
  }
  while (p < end && unescaped_byte(*p)) ++p;
  return p;
}

inline bool in(Byte c, Byte lo, Byte hi) { return c >= lo && c <= hi; }

// At a non-ASCII byte: the length (2..4) of the well-formed UTF-8 sequence
// that starts at `p`, or minus the number of bytes the serializer replaces
// by one U+FFFD. Its decoder rejects at the first byte that cannot continue
// the sequence and reads that byte again unless it was the lead byte, so
// what is replaced is the lead byte plus the continuation bytes accepted so
// far (Unicode's "maximal subpart"); an incomplete sequence at the end of
// the string is replaced the same way.
int utf8_step(const Byte* p, const Byte* end) {
  Byte c = p[0];
  int need;
  Byte lo = 0x80, hi = 0xBF;  // the range of the second byte
  if (c < 0xC2) return -1;
  if (c < 0xE0) {
    need = 2;
  } else if (c < 0xF0) {
    need = 3;
    if (c == 0xE0) lo = 0xA0;  // no overlong forms
    if (c == 0xED) hi = 0x9F;  // no surrogates
  } else if (c < 0xF5) {
    need = 4;
    if (c == 0xF0) lo = 0x90;  // no overlong forms
    if (c == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
  } else {
    return -1;
  }
  if (end - p < 2 || !in(p[1], lo, hi)) return -1;
  for (int k = 2; k < need; ++k) {
    if (end - p <= k || !in(p[k], 0x80, 0xBF)) return -k;
  }
  return need;
}

void append_escape(std::string& out, Byte c) {
  switch (c) {
    case '"': out += "\\\""; return;
    case '\\': out += "\\\\"; return;
    case '\b': out += "\\b"; return;
    case '\f': out += "\\f"; return;
    case '\n': out += "\\n"; return;
    case '\r': out += "\\r"; return;
    case '\t': out += "\\t"; return;
    default: {
      static constexpr char kHex[] = "0123456789abcdef";
      char u[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
      out.append(u, 6);
      return;
    }
  }
}

template <typename Int>
void append_integer(std::string& out, Int v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

void append_float(std::string& out, double x) {
  if (!std::isfinite(x)) {
    out += "null";
    return;
  }
  // The serializer's own formatter (Grisu2, shortest round trip), called
  // as its dump_float does, with a buffer of the same size.
  char buf[64];
  char* end = nlohmann::detail::to_chars(buf, buf + sizeof buf, x);
  out.append(buf, end);
}

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  // Room for the string and some of what follows it: a large string in a
  // small envelope (the usual tools/call) then needs no second growth, which
  // would copy it again and, past the allocator's mmap threshold, fault in
  // fresh pages on every message.
  size_t need = out.size() + s.size() + 2;
  if (need > out.capacity()) out.reserve(need + need / 8 + 64);
  out += '"';
  const Byte* p = reinterpret_cast<const Byte*>(s.data());
  const Byte* end = p + s.size();
  const Byte* run = p;  // start of the bytes copied as they are
  bool checked_rest = false;  // the rest was found to hold invalid UTF-8
  while (p < end) {
    p = skip_plain(p, end);
    if (p == end) break;
    if (*p >= 0x80) {
      // Text with non-ASCII characters: if the rest is valid UTF-8 (checked
      // at once, vectorised), only the escapes remain to find.
      if (!checked_rest && simdjson::validate_utf8(reinterpret_cast<const char*>(p), end - p)) {
        for (p = skip_unescaped(p, end); p < end; p = skip_unescaped(p, end)) {
          out.append(reinterpret_cast<const char*>(run), p - run);
          append_escape(out, *p);
          run = ++p;
        }
        break;
      }
      checked_rest = true;
      int n = utf8_step(p, end);
      if (n > 0) {
        p += n;  // valid UTF-8 stays in the run
        continue;
      }
      out.append(reinterpret_cast<const char*>(run), p - run);
      out += "\xEF\xBF\xBD";
      p += -n;
    } else {
      out.append(reinterpret_cast<const char*>(run), p - run);
      append_escape(out, *p);
      ++p;
    }
    run = p;
  }
  out.append(reinterpret_cast<const char*>(run), p - run);
  out += '"';
}

void append_json(std::string& out, const Json& j) {
  switch (j.type()) {
    case Json::value_t::object: {
      out += '{';
      bool first = true;
      for (const auto& [key, value] : j.get_ref<const Json::object_t&>()) {
        if (!first) out += ',';
        first = false;
        append_json_string(out, key);
        out += ':';
        append_json(out, value);
      }
      out += '}';
      return;
    }
    case Json::value_t::array: {
      out += '[';
      bool first = true;
      for (const auto& v : j.get_ref<const Json::array_t&>()) {
        if (!first) out += ',';
        first = false;
        append_json(out, v);
      }
      out += ']';
      return;
    }
    case Json::value_t::string:
      return append_json_string(out, j.get_ref<const std::string&>());
    case Json::value_t::number_integer:
      return append_integer(out, j.get<int64_t>());
    case Json::value_t::number_unsigned:
      return append_integer(out, j.get<uint64_t>());
    case Json::value_t::number_float:
      return append_float(out, j.get<double>());
    case Json::value_t::boolean:
      out += j.get<bool>() ? "true" : "false";
      return;
    case Json::value_t::null:
      out += "null";
      return;
    case Json::value_t::binary:
    case Json::value_t::discarded:
    default:
      // Never produced by parsing; written as the serializer writes them.
      out += j.dump(-1, ' ', false, Json::error_handler_t::replace);
      return;
  }
}

}  // namespace portcullis
