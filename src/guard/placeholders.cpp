#include "guard/placeholders.h"

#include <algorithm>

#include <functional>

namespace portcullis::guard {

std::string placeholder_for(ScanContext& ctx, std::string_view kind, std::string_view normalized) {
  std::string prefix = std::string(kind) + ":";
  std::string key = prefix + std::to_string(std::hash<std::string_view>{}(normalized));
  auto [it, fresh] = ctx.placeholder_index.try_emplace(key, 0);
  if (fresh) {
    // Entries added to `placeholders` by other code still count.
    auto [count, first] = ctx.placeholder_index.try_emplace("#" + std::string(kind), 0);
    if (first)
      for (const auto& [k, n] : ctx.placeholders)
        if (k.compare(0, prefix.size(), prefix) == 0) count->second = std::max(count->second, n);
    it->second = ++count->second;
    ctx.placeholders.emplace_back(key, it->second);
  }
  return "[" + std::string(kind) + "_" + std::to_string(it->second) + "]";
}

}  // namespace portcullis::guard
