#include "core/text.h"

#include <cctype>
#include <charconv>

namespace portcullis::text {

bool glob_match(std::string_view p, std::string_view s) {
  size_t pi = 0, si = 0, star = std::string_view::npos, mark = 0;
  while (si < s.size()) {
    if (pi < p.size() && (p[pi] == '?' || p[pi] == s[si])) {
      ++pi;
      ++si;
    } else if (pi < p.size() && p[pi] == '*') {
      star = pi++;
      mark = si;
    } else if (star != std::string_view::npos) {
      pi = star + 1;
      si = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

Result<std::chrono::milliseconds> parse_duration(std::string_view in) {
  std::string_view s = trim(in);
  double value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end == s.data() || value < 0) {
    return fail("invalid duration \"" + std::string(in) + "\" (expected e.g. 500ms, 30s, 5m, 1h)");
  }
  std::string_view unit = trim(std::string_view(end, s.data() + s.size() - end));
  double ms;
  if (unit.empty() || unit == "s") ms = value * 1000;
  else if (unit == "ms") ms = value;
  else if (unit == "m") ms = value * 60'000;
  else if (unit == "h") ms = value * 3'600'000;
  else if (unit == "d") ms = value * 86'400'000;
  else return fail("invalid duration unit \"" + std::string(unit) + "\" in \"" + std::string(in) + "\" (use ms, s, m, h or d)");
  return std::chrono::milliseconds(static_cast<long long>(ms));
}

std::string format_duration(std::chrono::milliseconds d) {
  auto ms = d.count();
  if (ms % 3'600'000 == 0 && ms) return std::to_string(ms / 3'600'000) + "h";
  if (ms % 60'000 == 0 && ms) return std::to_string(ms / 60'000) + "m";
  if (ms % 1000 == 0 && ms) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

Result<size_t> parse_size(std::string_view in) {
  std::string_view s = trim(in);
  unsigned long long value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end == s.data()) return fail("invalid size \"" + std::string(in) + "\"");
  std::string unit = to_lower(trim(std::string_view(end, s.data() + s.size() - end)));
  unsigned long long mult;
  if (unit.empty() || unit == "b") mult = 1;
  else if (unit == "kb") mult = 1000;
  else if (unit == "kib" || unit == "k") mult = 1024;
  else if (unit == "mb") mult = 1000 * 1000;
  else if (unit == "mib" || unit == "m") mult = 1024 * 1024;
  else if (unit == "gb") mult = 1000ull * 1000 * 1000;
  else if (unit == "gib" || unit == "g") mult = 1024ull * 1024 * 1024;
  else return fail("invalid size unit in \"" + std::string(in) + "\" (use B, KiB, MiB or GiB)");
  return static_cast<size_t>(value * mult);
}

Result<std::string> expand_env(std::string_view s,
                               const std::function<std::optional<std::string>(const std::string&)>& lookup) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '$') {
      out += s[i];
      continue;
    }
    if (i + 1 < s.size() && s[i + 1] == '$') {
      out += '$';
      ++i;
      continue;
    }
    if (i + 1 >= s.size() || s[i + 1] != '{') {
      out += '$';
      continue;
    }
    size_t close = s.find('}', i + 2);
    if (close == std::string_view::npos) return fail("unterminated ${ in \"" + std::string(s) + "\"");
    std::string expr(s.substr(i + 2, close - i - 2));
    std::optional<std::string> def;
    if (auto d = expr.find(":-"); d != std::string::npos) {
      def = expr.substr(d + 2);
      expr = expr.substr(0, d);
    }
    if (expr.empty()) return fail("empty variable name in \"" + std::string(s) + "\"");
    auto v = lookup(expr);
    if (v && !v->empty()) out += *v;
    else if (def) out += *def;
    else if (v) out += *v;
    else return fail("environment variable " + expr + " is not set");
    i = close;
  }
  return out;
}

void SseParser::feed(std::string_view chunk) {
  buf_.append(chunk);
  size_t start = 0;
  for (;;) {
    size_t nl = buf_.find_first_of("\r\n", start);
    if (nl == std::string::npos) break;
    std::string_view l(buf_.data() + start, nl - start);
    size_t next = nl + 1;
    if (buf_[nl] == '\r') {
      if (next >= buf_.size()) break;  // wait to see whether '\n' follows
      if (buf_[next] == '\n') ++next;
    }
    line(l);
    start = next;
  }
  buf_.erase(0, start);
}

void SseParser::line(std::string_view l) {
  if (l.empty()) {
    if (has_data_) {
      if (cur_.event.empty()) cur_.event = "message";
      on_event_(std::move(cur_));
    }
    cur_ = Event{};
    has_data_ = false;
    return;
  }
  if (l.front() == ':') return;  // comment / keep-alive
  size_t colon = l.find(':');
  std::string_view field = l.substr(0, colon), value;
  if (colon != std::string_view::npos) {
    value = l.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    if (has_data_) cur_.data += '\n';
    cur_.data.append(value);
    has_data_ = true;
  } else if (field == "event") {
    cur_.event = std::string(value);
  } else if (field == "id") {
    cur_.id = std::string(value);
  } else if (field == "retry") {
    long v = 0;
    auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
    if (ec == std::errc()) cur_.retry_ms = v;
  }
}

std::string sse_event(std::string_view data, std::string_view event, std::string_view id) {
  std::string out;
  out.reserve(data.size() + 32);
  if (!event.empty()) out.append("event: ").append(event).append("\n");
  if (!id.empty()) out.append("id: ").append(id).append("\n");
  size_t start = 0;
  for (;;) {
    size_t nl = data.find('\n', start);
    out.append("data: ").append(data.substr(start, nl == std::string_view::npos ? nl : nl - start));
    out.append("\n");
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  out.append("\n");
  return out;
}

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

std::string quote(std::string_view s) {
  // Built by appending: "'" + std::string(s) + "'" trips a GCC 12 -Wrestrict
  // false positive (PR 105329).
  std::string out;
  out.reserve(s.size() + 2);
  out += '\'';
  out += s;
  out += '\'';
  return out;
}

std::vector<std::string> split_words(std::string_view s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    size_t j = s.find(' ', i);
    if (j == std::string_view::npos) j = s.size();
    if (j > i) out.emplace_back(s.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += char(0xE0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xF0 | (cp >> 18));
    out += char(0x80 | ((cp >> 12) & 0x3F));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
}

}  // namespace portcullis::text
