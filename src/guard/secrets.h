// SecretsDetector ("secrets"): credentials in text. Provider rules (AWS, GCP,
// Azure, GitHub, GitLab, Slack, Stripe, OpenAI, Anthropic, Twilio, SendGrid,
// npm, PyPI, Docker, JWTs, private key blocks, database URLs with passwords)
// plus a generic rule: a high-entropy value after a secret-like keyword
// ("password=", "token:") or in a field with such a name (ctx.field).
//
// One Hyperscan pass finds every rule's anchor; RE2 extracts around each hit;
// checksums (GitHub, npm), JSON headers (JWT) and placeholder checks
// ("AKIAIOSFODNN7EXAMPLE", "xxxx") confirm. Findings carry the replacement
// "[REDACTED:<rule>]".
//
// Threads: immutable after create(); scan() from any thread.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "guard/anchored_rules.h"
#include "guard/detector.h"

namespace portcullis::guard {

struct SecretsOptions {
  // Bits per character a generic keyword value must reach (random base64
  // is ~5.5-6, hex ~3.7-4, English words ~3-3.5).
  double entropy_threshold = 3.5;
  size_t generic_min_length = 12;
  // Rule ids to leave out (e.g. "twilio_account_sid", which is an id, not a
  // credential). Unknown ids are an error.
  std::vector<std::string> disabled_rules;
};

class SecretsDetector : public Detector {
 public:
  static Result<std::shared_ptr<const SecretsDetector>> create(const SecretsOptions& options = {});
  std::string_view name() const override { return "secrets"; }
  Result<std::vector<Finding>> scan(std::string_view text, ScanContext& ctx) const override;
  // Every rule id, for settings validation and `portcullis scan --help`.
  static std::vector<std::string> rule_ids();

 private:
  SecretsDetector() = default;
  // The rule's shape around the span and its check (checksum, entropy, …).
  bool confirmed(int def_index, std::string_view text, size_t start, size_t end) const;
  bool secret_field_value(std::string_view text, const ScanContext& ctx) const;
  SecretsOptions options_;
  std::shared_ptr<const AnchoredRules> rules_;
  std::vector<int> def_index_;  // per built rule: its index in the rule table (secrets.cpp)
};

}  // namespace portcullis::guard
