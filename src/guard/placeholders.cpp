#include "guard/placeholders.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <functional>

namespace portcullis::guard {

namespace {

// "KIND:" then the value's 64-bit hash as 8 raw bytes: short enough for
// std::string's inline buffer with the kinds the PII detector uses, so a
// lookup allocates nothing.
void key_of(std::string_view kind, std::string_view normalized, std::string& key) {
  uint64_t h = std::hash<std::string_view>{}(normalized);
  char bytes[sizeof h];
  std::memcpy(bytes, &h, sizeof h);
  key.assign(kind).append(1, ':').append(bytes, sizeof h);
}

// The next number for `kind`: "#KIND" counts them; entries another writer
// put in `placeholders` ("KIND:..." -> n) still count the first time.
int next_number(ScanContext& ctx, std::string_view kind) {
  std::string count_key;
  count_key.assign(1, '#').append(kind);
  auto [count, first] = ctx.placeholder_index.try_emplace(std::move(count_key), 0);
  if (first)
    for (const auto& [k, n] : ctx.placeholders)
      if (k.size() > kind.size() && k.compare(0, kind.size(), kind) == 0 && k[kind.size()] == ':')
        count->second = std::max(count->second, n);
  return ++count->second;
}

}  // namespace

std::string placeholder_for(ScanContext& ctx, std::string_view kind, std::string_view normalized) {
  std::string key;
  key_of(kind, normalized, key);
  if (ctx.placeholder_index.empty()) ctx.placeholder_index.reserve(64);
  auto [it, fresh] = ctx.placeholder_index.try_emplace(key, 0);
  if (fresh) {
    it->second = next_number(ctx, kind);
    ctx.placeholders.emplace_back(std::move(key), it->second);
  }
  char num[16];
  auto [end, ec] = std::to_chars(num, num + sizeof num, it->second);
  std::string out;
  out.reserve(kind.size() + size_t(end - num) + 3);
  out.append(1, '[').append(kind).append(1, '_').append(num, end).append(1, ']');
  return out;
}

}  // namespace portcullis::guard
