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

}  // namespace

// "#KIND" counts a kind's placeholders (a reference into the index stays
// valid as it grows); entries another writer put in `placeholders`
// ("KIND:..." -> n) count when the counter is created.
int& PlaceholderWriter::counter(std::string_view kind) {
  for (auto& [k, n] : counters_)
    if (k == kind) return *n;
  std::string count_key;
  count_key.assign(1, '#').append(kind);
  auto [count, first] = ctx_.placeholder_index.try_emplace(std::move(count_key), 0);
  if (first)
    for (const auto& [k, n] : ctx_.placeholders)
      if (k.size() > kind.size() && k.compare(0, kind.size(), kind) == 0 && k[kind.size()] == ':')
        count->second = std::max(count->second, n);
  counters_.emplace_back(std::string(kind), &count->second);
  return count->second;
}

std::string PlaceholderWriter::operator()(std::string_view kind, std::string_view normalized) {
  key_of(kind, normalized, key_);
  if (ctx_.placeholder_index.empty()) ctx_.placeholder_index.reserve(64);
  auto [it, fresh] = ctx_.placeholder_index.try_emplace(key_, 0);
  if (fresh) {
    it->second = ++counter(kind);
    ctx_.placeholders.emplace_back(key_, it->second);
  }
  char num[16];
  auto [end, ec] = std::to_chars(num, num + sizeof num, it->second);
  std::string out;
  out.reserve(kind.size() + size_t(end - num) + 3);
  out.append(1, '[').append(kind).append(1, '_').append(num, end).append(1, ']');
  return out;
}

std::string placeholder_for(ScanContext& ctx, std::string_view kind, std::string_view normalized) {
  return PlaceholderWriter(ctx)(kind, normalized);
}

}  // namespace portcullis::guard
