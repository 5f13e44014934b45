// API keys: long-lived credentials for clients that cannot do OAuth.
//
// api_keys.yaml (auth.api_keys_file) is a list of entries:
//   - id: ci-bot                       # [A-Za-z0-9_.-]+, unique; shown in audit, never secret
//     hash: sha256:<64 hex digits>     # SHA-256 of the key; the key itself is never stored
//     subject: ci@example.com
//     groups: [ci]                     # optional
//     metadata: {team: platform}       # optional; metadata contract keys only
//     scopes: [mcp]                    # optional; absent = the configured required scopes
// Keys look like "pk_<43 base64url characters>" (32 random bytes) and are
// presented as "Authorization: Bearer pk_..." or "X-API-Key: pk_...".
//
// Thread-safety: an ApiKeyStore is immutable once loaded; find() may be
// called concurrently. Reload by loading a new store and swapping it in.
#pragma once
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "core/result.h"

namespace portcullis::identity {

inline constexpr std::string_view kApiKeyPrefix = "pk_";

struct ApiKeyEntry {
  std::string id;
  std::string hash_hex;  // lowercase hex SHA-256 of the key
  std::string subject;
  std::vector<std::string> groups;
  std::map<std::string, std::string> metadata;
  std::optional<std::vector<std::string>> scopes;
  config::SourcePos pos;
};

class ApiKeyStore {
 public:
  struct Loaded {
    std::shared_ptr<const ApiKeyStore> store;  // null when errors is non-empty
    std::vector<config::Diagnostic> errors;
  };
  // `display` names the file in diagnostics (e.g. "api_keys.yaml").
  static Loaded load(const std::string& path, const std::string& display);
  static Loaded parse(std::string_view yaml, const std::string& display);

  // The entry whose hash is SHA-256(presented). Compares against every entry
  // in constant time per entry, so timing does not reveal which hash matched
  // or how much of it.
  const ApiKeyEntry* find(std::string_view presented) const;
  const std::vector<ApiKeyEntry>& entries() const { return entries_; }

 private:
  std::vector<ApiKeyEntry> entries_;
};

// True for strings shaped like a gateway API key ("pk_" prefix).
bool looks_like_api_key(std::string_view credential);

struct GeneratedApiKey {
  std::string key;         // shown to the user once; never stored
  std::string yaml_entry;  // the list item to append to api_keys.yaml
};
// A fresh random key and its api_keys.yaml entry. `id` must match
// [A-Za-z0-9_.-]+ and metadata keys must be contract keys (else an error).
Result<GeneratedApiKey> generate_api_key(const std::string& id, const std::string& subject,
                                         const std::vector<std::string>& groups = {},
                                         const std::map<std::string, std::string>& metadata = {});

}  // namespace portcullis::identity
