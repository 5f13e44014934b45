#include "guard/secrets.h"

#include <algorithm>

#include <re2/re2.h>

#include "core/base64.h"
#include "guard/secret_checks.h"
#include "guard/secret_matchers.h"

namespace portcullis::guard {

namespace {

enum Check : int {
  kPlain,      // shape and placeholder check only
  kBase62Crc,  // GitHub / npm: CRC-32 of the random part in the last 6 chars
  kJwt,        // header decodes to a JSON object with "alg"
  kEntropy,    // keyword value: entropy and character mix
  kPassword,   // password in a URL: not a placeholder word
};

struct RuleDef {
  const char* id;
  const char* anchor;
  bool caseless;
  size_t back, fwd;
  const char* confirm;
  Check check;
  bool bounded;  // the span must not continue an alphanumeric run either side
  const char* what;
  // The match starts before the anchor (sv=... before sig=): search a window
  // instead of matching anchored at the hit.
  bool search_window = false;
  HitMatcher matcher = nullptr;  // secret_matchers.h: confirm without RE2
};

const RuleDef kRules[] = {
    {"aws_access_key", R"(A(?:KIA|SIA|BIA|CCA))", false, 4, 16,
     R"((?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})", kPlain, true, "AWS access key id"},
    {"aws_secret_key", R"(secret_?access_?key|aws_?secret)", true, 40, 80,
     R"((?i:secret_?access_?key|aws_?secret(?:_?key)?)[A-Za-z0-9_]*["']?\s*(?:[:=]|=>)\s*["']?([A-Za-z0-9/+]{40}))",
     kEntropy, false, "AWS secret access key"},
    {"gcp_service_account_key", R"("private_key")", false, 13, 8192,
     R"("private_key"\s*:\s*"(-----BEGIN[A-Z ]*PRIVATE KEY-----[^"]+))", kPlain, false,
     "GCP service account private key"},
    {"gcp_api_key", R"(AIza)", false, 4, 35, R"(AIza[0-9A-Za-z_\-]{35})", kPlain, true,
     "Google API key"},
    {"azure_storage_key", R"(AccountKey=)", true, 11, 90,
     R"((?i:AccountKey)=([A-Za-z0-9+/]{86}==))", kPlain, false, "Azure storage account key"},
    {"azure_shared_access_key", R"(SharedAccessKey=)", true, 16, 60,
     R"((?i:SharedAccessKey)=([A-Za-z0-9+/]{42,44}=))", kPlain, false, "Azure shared access key"},
    {"azure_sas_token", R"([?&]sig=)", false, 400, 130,
     R"(sv=[0-9]{4}-[0-9]{2}-[0-9]{2}[^\s"'<>]*?[?&]sig=([A-Za-z0-9%/+]{40,120}))", kPlain, false,
     "Azure shared access signature", true},
    {"github_token", R"(gh[pousr]_)", false, 4, 36, R"(gh[pousr]_[A-Za-z0-9]{36})", kBase62Crc,
     true, "GitHub token"},
    {"github_fine_grained_pat", R"(github_pat_)", false, 11, 83,
     R"(github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59})", kPlain, true,
     "GitHub fine-grained personal access token"},
    {"gitlab_pat", R"(glpat-)", false, 6, 64, R"(glpat-[A-Za-z0-9_\-]{20,64})", kPlain, true,
     "GitLab personal access token"},
    {"slack_token", R"(xox[baprs]-)", false, 5, 200,
     R"(xox[baprs]-(?:[0-9A-Za-z]+-){1,4}[0-9A-Za-z]{20,64})", kPlain, true, "Slack token"},
    {"slack_webhook", R"(hooks\.slack\.com/services/)", false, 26, 80,
     R"(hooks\.slack\.com/services/(T[A-Z0-9]{8,12}/B[A-Z0-9]{8,12}/[A-Za-z0-9]{24}))", kPlain,
     false, "Slack incoming webhook"},
    {"stripe_key", R"([sr]k_live_)", false, 8, 99, R"([sr]k_live_[0-9A-Za-z]{24,99})", kPlain, true,
     "Stripe live secret or restricted key"},
    {"anthropic_key", R"(sk-ant-)", false, 7, 130,
     R"(sk-ant-[a-z]{2,8}[0-9]{2}-[A-Za-z0-9_\-]{80,120})", kPlain, true, "Anthropic API key"},
    {"openai_key", R"(sk-)", false, 3, 200,
     R"(sk-(?:(?:proj|svcacct|admin)-[A-Za-z0-9_\-]{40,200}|[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}|[A-Za-z0-9]{48}))",
     kPlain, true, "OpenAI API key"},
    {"twilio_api_key", R"(SK[0-9a-f]{32})", false, 34, 0, R"(SK[0-9a-f]{32})", kPlain, true,
     "Twilio API key"},
    {"twilio_account_sid", R"(AC[0-9a-f]{32})", false, 34, 0, R"(AC[0-9a-f]{32})", kPlain, true,
     "Twilio account SID"},
    {"sendgrid_key", R"(SG\.)", false, 3, 67, R"(SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43})",
     kPlain, true, "SendGrid API key"},
    {"npm_token", R"(npm_)", false, 4, 36, R"(npm_[A-Za-z0-9]{36})", kBase62Crc, true,
     "npm access token"},
    {"pypi_token", R"(pypi-AgEIcHlwaS5vcmc)", false, 20, 300,
     R"(pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{50,300})", kPlain, true, "PyPI API token"},
    {"docker_pat", R"(dckr_pat_)", false, 9, 40, R"(dckr_pat_[A-Za-z0-9_\-]{27,40})", kPlain, true,
     "Docker Hub personal access token"},
    {"jwt", R"(eyJ)", false, 3, 8192,
     R"(eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,})", kJwt, true,
     "JSON Web Token"},
    {"private_key", R"(-----BEGIN[A-Z ]{0,30}PRIVATE KEY)", false, 50, 16384,
     R"(-----BEGIN[A-Z ]*PRIVATE KEY(?: BLOCK)?-----(?:[\s\S]*?-----END[A-Z ]*PRIVATE KEY(?: BLOCK)?-----|[A-Za-z0-9+/=\s\\]*))",
     kPlain, false, "private key block"},
    {"database_url_password", PC_DATABASE_SCHEMES "://", true, 16, 300,
     kUrlPasswordPattern.data(), kPassword, false, "database URL with a password", false,
     url_password_at},
    {"generic_secret", PC_SECRET_WORDS, true, 20, 220, kKeywordValuePattern.data(), kEntropy,
     false, "high-entropy value next to a secret-like keyword", false, keyword_value_at},
};

// Token rules checked without RE2 (anchored_rules.h): after the anchor, a
// run of these characters. Each must say what the rule's confirm pattern
// says; the unit tests exercise both through the same inputs.
struct Tail {
  const char* id;
  const char* chars;
  size_t min, max;
};
#define PC_B62 "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
const Tail kTails[] = {
    {"aws_access_key", "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16, 16},
    {"gcp_api_key", PC_B62 "_-", 35, 35},
    {"github_token", PC_B62, 36, 36},
    {"gitlab_pat", PC_B62 "_-", 20, 64},
    {"stripe_key", PC_B62, 24, 99},
    {"npm_token", PC_B62, 36, 36},
    {"pypi_token", PC_B62 "_-", 50, 300},
    {"docker_pat", PC_B62 "_-", 27, 40},
};

bool word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool jwt_header_ok(std::string_view token) {
  auto header = base64url_decode(token.substr(0, token.find('.')));
  if (!header) return false;
  Json j = Json::parse(*header, nullptr, false);
  return j.is_object() && j.contains("alg");
}

// Random-looking: enough entropy and at least two character classes, so
// words ("correcthorsebattery") and plain numbers do not count.
bool high_entropy(std::string_view v, const SecretsOptions& o) {
  if (v.size() < o.generic_min_length || v.size() > 200) return false;
  bool lo = false, up = false, dig = false;
  for (char c : v)
    lo |= (c >= 'a' && c <= 'z'), up |= (c >= 'A' && c <= 'Z'), dig |= (c >= '0' && c <= '9');
  if (int(lo) + int(up) + int(dig) < 2) return false;
  return shannon_entropy(v) >= o.entropy_threshold;
}

bool password_ok(std::string_view p) {
  if (p.size() < 3 || looks_like_placeholder(p)) return false;
  for (std::string_view w : {"password", "pass", "passwd", "secret", "pwd", "user", "admin"})
    if (p == w) return false;
  return !(p.front() == '$' || p.front() == '%' || p.front() == '<');
}

const RE2& field_keyword() {
  static const RE2 re("(?i)" PC_SECRET_WORDS);
  return re;
}

}  // namespace

std::vector<std::string> SecretsDetector::rule_ids() {
  std::vector<std::string> ids;
  for (const auto& r : kRules) ids.push_back(r.id);
  return ids;
}

Result<std::shared_ptr<const SecretsDetector>> SecretsDetector::create(
    const SecretsOptions& options) {
  auto ids = rule_ids();
  for (const auto& d : options.disabled_rules)
    if (std::find(ids.begin(), ids.end(), d) == ids.end())
      return fail("secrets: unknown rule '" + d + "'");
  std::shared_ptr<SecretsDetector> det(new SecretsDetector());
  det->options_ = options;
  std::vector<AnchoredRule> rules;
  for (const auto& r : kRules) {
    if (std::find(options.disabled_rules.begin(), options.disabled_rules.end(), r.id) !=
        options.disabled_rules.end())
      continue;
    AnchoredRule rule{r.id, Anchor{r.anchor, r.caseless, false}, r.back, r.fwd, r.confirm,
                      !r.search_window};
    rule.matcher = r.matcher;
    for (const auto& t : kTails)
      if (std::string_view(t.id) == r.id)
        rule.tail_chars = t.chars, rule.tail_min = t.min, rule.tail_max = t.max;
    rules.push_back(std::move(rule));
    det->def_index_.push_back(int(&r - kRules));
  }
  auto built = AnchoredRules::build(std::move(rules));
  if (!built) return fail("secrets: " + built.error());
  det->rules_ = std::move(built.value());
  return std::shared_ptr<const SecretsDetector>(std::move(det));
}

Result<std::vector<Finding>> SecretsDetector::scan(std::string_view text, ScanContext& ctx) const {
  auto cands = rules_->candidates(text);
  if (!cands) return fail("secrets: " + cands.error());
  // Rule order first, so that on equal spans the stable sort below keeps the
  // provider rule ahead of generic_secret.
  std::sort(cands->begin(), cands->end(), [](const Candidate& a, const Candidate& b) {
    return a.rule != b.rule ? a.rule < b.rule : a.start < b.start;
  });
  std::vector<Finding> out;
  for (const auto& c : *cands) {
    const RuleDef& def = kRules[def_index_[c.rule]];
    std::string_view v = text.substr(c.start, c.end - c.start);
    if (def.bounded && ((c.start > 0 && word_char(text[c.start - 1])) ||
                        (c.end < text.size() && word_char(text[c.end]))))
      continue;
    bool ok = true;
    switch (def.check) {
      case kPlain:
        ok = !looks_like_placeholder(v);
        break;
      case kBase62Crc:
        ok = base62_crc_checksum_ok(v, 4);
        break;
      case kJwt:
        ok = jwt_header_ok(v);
        break;
      case kEntropy:
        ok = !looks_like_placeholder(v) && high_entropy(v, options_);
        break;
      case kPassword:
        ok = password_ok(v);
        break;
    }
    if (!ok) continue;
    out.push_back(Finding{"secrets", def.id, c.start, c.end, 1.0,
                          std::string("[REDACTED:") + def.id + "]",
                          std::string(def.what) + " found"});
  }
  // A whole value in a field named like a secret ({"password": "..."}).
  if (!ctx.field.empty() && text.size() <= 200 &&
      text.find_first_of(" \t\n") == std::string_view::npos &&
      RE2::PartialMatch(ctx.field, field_keyword()) && !looks_like_placeholder(text) &&
      high_entropy(text, options_)) {
    bool covered = false;
    for (const auto& f : out) covered |= (f.start == 0 && f.end == text.size());
    if (!covered)
      out.push_back(Finding{"secrets", "generic_secret", 0, text.size(), 1.0,
                            "[REDACTED:generic_secret]",
                            "high-entropy value in a field named like a secret"});
  }
  // Text order; where two rules claim overlapping bytes, the longer span wins
  // (on a tie, the earlier rule: a provider rule before generic_secret).
  std::stable_sort(out.begin(), out.end(), [](const Finding& a, const Finding& b) {
    return a.start != b.start ? a.start < b.start : a.end > b.end;
  });
  std::vector<Finding> kept;
  for (auto& f : out) {
    if (!kept.empty() && f.start < kept.back().end) {
      if (f.end - f.start > kept.back().end - kept.back().start) kept.back() = std::move(f);
      continue;
    }
    kept.push_back(std::move(f));
  }
  return kept;
}

}  // namespace portcullis::guard
