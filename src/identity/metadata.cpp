#include "identity/metadata.h"

#include "core/json.h"
#include "identity/principal.h"

namespace portcullis::identity {

namespace {

std::string key_list(const std::vector<std::string>& keys) {
  std::string out;
  for (const auto& k : keys) out += (out.empty() ? "" : ", ") + k;
  return out;
}

std::string allowed_keys() {
  std::string out;
  for (auto k : kMetadataKeys) out += (out.empty() ? "" : ", ") + std::string(k);
  return out;
}

}  // namespace

Result<std::map<std::string, std::string>> parse_metadata_header(std::string_view header) {
  std::map<std::string, std::string> out;
  if (header.empty()) return out;
  const std::string name(kMetadataHeader);
  if (header.size() > kMaxMetadataHeaderBytes)
    return fail(name + " is " + std::to_string(header.size()) + " bytes; the limit is " +
                std::to_string(kMaxMetadataHeaderBytes));
  Json j = Json::parse(header, nullptr, false);
  if (j.is_discarded()) return fail(name + " is not valid JSON");
  if (!j.is_object()) return fail(name + " must be a JSON object of string values");
  std::vector<std::string> unknown;
  for (const auto& [k, v] : j.items()) {
    if (!is_metadata_key(k)) {
      unknown.push_back("'" + k + "'");
      continue;
    }
    if (!v.is_string()) return fail(name + ": the value of '" + k + "' must be a string");
    if (v.get_ref<const std::string&>().empty())
      return fail(name + ": the value of '" + k + "' must not be empty");
    out[k] = v.get<std::string>();
  }
  if (!unknown.empty())
    return fail(name + ": unknown key" + (unknown.size() > 1 ? "s " : " ") + key_list(unknown) +
                " (allowed: " + allowed_keys() + ")");
  return out;
}

Result<RequestMetadata> build_metadata(std::string_view header,
                                       const std::map<std::string, std::string>& identity,
                                       const config::MetadataSettings& settings) {
  auto parsed = parse_metadata_header(header);
  if (!parsed) return fail(parsed.error());
  RequestMetadata m;
  m.values = std::move(parsed).value();
  for (const auto& [k, v] : identity)
    if (is_metadata_key(k) && !v.empty()) m.values[k] = v;
  std::vector<std::string> missing;
  for (const auto& k : settings.required)
    if (!m.values.count(k)) missing.push_back(k);
  if (missing.empty()) return m;
  if (settings.untagged == config::UntaggedPolicy::Reject)
    return fail("missing required metadata: " + key_list(missing) + " (send them in " +
                std::string(kMetadataHeader) + ")");
  for (const auto& k : missing) m.values[k] = std::string(kUntagged);
  m.untagged = std::move(missing);
  return m;
}

}  // namespace portcullis::identity
