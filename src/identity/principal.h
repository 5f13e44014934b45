// Principal: who is asking. Built by the identity stage from a bearer token
// or an API key plus the metadata contract, then carried by every later
// stage (policy, guardrails, credentials, audit) unchanged.
#pragma once
#include <array>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/json.h"

namespace portcullis::identity {

// The metadata contract: the keys a request may be tagged with. Everything
// that attributes a request (audit, limits, budgets, policy context) reads
// these and nothing else.
inline constexpr std::array<std::string_view, 9> kMetadataKeys = {
    "team",        "project_id", "workflow",  "surface",       "environment",
    "cost_center", "ticket_id",  "session_id", "policy_version"};
bool is_metadata_key(std::string_view key);

// The value a required key gets when the config says untagged traffic is
// tagged rather than refused.
inline constexpr std::string_view kUntagged = "UNTAGGED";

enum class AuthMethod { None, Bearer, ApiKey };
const char* to_string(AuthMethod m);  // "none", "oauth", "api_key"

struct Principal {
  AuthMethod method = AuthMethod::None;
  std::string subject;              // token `sub`, or the API key's subject; "anonymous" for None
  std::string issuer;               // token `iss`; empty for API keys and None
  std::vector<std::string> groups;  // from the configured groups claim, or the API key entry
  std::vector<std::string> scopes;  // granted scopes (token `scope`/`scp`)
  std::map<std::string, std::string> metadata;  // kMetadataKeys only
  std::vector<std::string> untagged;            // required keys that were missing and tagged UNTAGGED
  // The verified bearer token itself, kept only so that the credential stage
  // can exchange it (RFC 8693). It is never forwarded to an upstream.
  std::string bearer_token;
  long long expires_at = 0;  // token `exp` (unix seconds); 0 = does not expire

  // A stable key for "the same user": method, issuer and subject. Sessions,
  // per-user upstream processes and the credential vault are keyed on it.
  std::string key() const;
  // {subject, groups, scopes, metadata, method}: what audit and policy see.
  // Never contains the token.
  Json to_json() const;
};

// The principal of an unauthenticated request when auth.mode is none.
Principal anonymous();

}  // namespace portcullis::identity
