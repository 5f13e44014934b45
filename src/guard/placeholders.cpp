#include "guard/placeholders.h"

#include "core/crypto.h"

namespace portcullis::guard {

std::string placeholder_for(ScanContext& ctx, std::string_view kind, std::string_view normalized) {
  std::string prefix = std::string(kind) + ":";
  std::string key = prefix + crypto::sha256_hex(prefix + std::string(normalized));
  int count = 0;
  for (const auto& [k, n] : ctx.placeholders) {
    if (k == key) return "[" + std::string(kind) + "_" + std::to_string(n) + "]";
    if (k.compare(0, prefix.size(), prefix) == 0) ++count;
  }
  ctx.placeholders.emplace_back(key, count + 1);
  return "[" + std::string(kind) + "_" + std::to_string(count + 1) + "]";
}

}  // namespace portcullis::guard
