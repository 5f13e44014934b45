#include "identity/principal.h"

#include <algorithm>

#include "config/config.h"

namespace portcullis::identity {

// config validates metadata keys without depending on identity; the two
// lists must stay the same.
static_assert(kMetadataKeys == config::kMetadataKeys, "metadata contract keys differ between identity and config");

bool is_metadata_key(std::string_view key) {
  return std::find(kMetadataKeys.begin(), kMetadataKeys.end(), key) != kMetadataKeys.end();
}

const char* to_string(AuthMethod m) {
  switch (m) {
    case AuthMethod::None: return "none";
    case AuthMethod::Bearer: return "oauth";
    case AuthMethod::ApiKey: return "api_key";
  }
  return "none";
}

std::string Principal::key() const {
  // Length-prefixed so that no choice of issuer or subject can collide with
  // another pair.
  std::string k = to_string(method);
  k += '|';
  k += std::to_string(issuer.size());
  k += ':';
  k += issuer;
  k += '|';
  k += subject;
  return k;
}

Json Principal::to_json() const {
  Json j = {{"subject", subject}, {"method", to_string(method)}, {"groups", groups}, {"scopes", scopes}};
  if (!issuer.empty()) j["issuer"] = issuer;
  j["metadata"] = Json(metadata);
  if (!untagged.empty()) j["untagged"] = untagged;
  return j;
}

Principal anonymous() {
  Principal p;
  p.subject = "anonymous";
  return p;
}

}  // namespace portcullis::identity
