// The metadata contract on a request: which team, project, workflow... it
// is attributed to. Values come from two places:
//  - identity fields: token claims (auth.oauth.metadata_claims) or the API
//    key entry's metadata. They are asserted by the issuer or the operator,
//    so they win over the client's header for any key they set.
//  - the X-Portcullis-Metadata header: a JSON object of string values,
//    contract keys only, at most kMaxMetadataHeaderBytes.
// Required keys (metadata.required) that are still missing are tagged with
// UNTAGGED (listed in `untagged`) or refused, as configured.
// Pure functions, thread-safe.
#pragma once
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "core/result.h"

namespace portcullis::identity {

inline constexpr size_t kMaxMetadataHeaderBytes = 8 * 1024;
inline constexpr std::string_view kMetadataHeader = "X-Portcullis-Metadata";

struct RequestMetadata {
  std::map<std::string, std::string> values;  // contract keys only
  std::vector<std::string> untagged;          // required keys set to UNTAGGED
};

// The header's key/value pairs; an empty header means none. Errors name the
// problem (not an object, a non-string value, unknown keys with the allowed
// list, size).
Result<std::map<std::string, std::string>> parse_metadata_header(std::string_view header);

// Merges header and identity fields (identity wins) and applies the
// required/untagged rules. Fails only when a required key is missing and
// the policy is reject, or the header is invalid.
Result<RequestMetadata> build_metadata(std::string_view header,
                                       const std::map<std::string, std::string>& identity,
                                       const config::MetadataSettings& settings);

}  // namespace portcullis::identity
