#include "compose/naming.h"

#include "core/crypto.h"

namespace portcullis::compose {

static bool legal_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

bool is_legal_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength) return false;
  for (char c : name) {
    if (!legal_char(c)) return false;
  }
  return true;
}

std::string legal_name(std::string_view desired) {
  if (is_legal_name(desired)) return std::string(desired);
  std::string out;
  out.reserve(desired.size());
  for (char c : desired) out += legal_char(c) ? c : '_';
  if (out.empty()) out = "_";
  if (out.size() > kMaxNameLength) {
    std::string hash = crypto::sha256_hex(desired).substr(0, 8);
    out = out.substr(0, kMaxNameLength - 1 - hash.size()) + "_" + hash;
  }
  return out;
}

std::string exposed_name(std::string_view original, std::string_view prefix,
                         const std::string* rename) {
  if (rename) return legal_name(*rename);
  if (prefix.empty()) return legal_name(original);
  std::string full;
  full.reserve(prefix.size() + 1 + original.size());
  full.append(prefix).append("_").append(original);
  return legal_name(full);
}

}  // namespace portcullis::compose
