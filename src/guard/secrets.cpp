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
    {"twilio_api_key", R"(SK)", false, 2, 32, R"(SK[0-9a-f]{32})", kPlain, true,
     "Twilio API key"},
    {"twilio_account_sid", R"(AC)", false, 2, 32, R"(AC[0-9a-f]{32})", kPlain, true,
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
    {"database_url_password", PC_DATABASE_SCHEMES "://", true, 16, 300, kUrlPasswordPattern.data(),
     kPassword, false, "database URL with a password", false, url_password_at},
    {"generic_secret", PC_SECRET_WORDS, true, 20, 220, kKeywordValuePattern.data(), kEntropy, false,
     "high-entropy value next to a secret-like keyword", false, keyword_value_at},
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
    {"twilio_api_key", "0123456789abcdef", 32, 32},
    {"twilio_account_sid", "0123456789abcdef", 32, 32},
};

// The field-name form of the generic rule reports it too.
int generic_secret_index() {
  for (const auto& r : kRules)
    if (std::string_view(r.id) == "generic_secret") return int(&r - kRules);
  return -1;
}

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
    AnchoredRule rule{
        r.id, Anchor{r.anchor, r.caseless, false}, r.back, r.fwd, r.confirm, !r.search_window};
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

namespace {

// A confirmed span, before it becomes a Finding: findings carry three
// strings each, so sorting and overlap resolution work on these instead.
struct Hit {
  size_t start, end;
  int def;                   // index in kRules
  bool whole_field = false;  // the field-name form of generic_secret
};

// Text order; on equal starts the longer span first, then the earlier rule
// (a provider rule before generic_secret).
bool text_order(const Hit& a, const Hit& b) {
  if (a.start != b.start) return a.start < b.start;
  if (a.end != b.end) return a.end > b.end;
  return a.def < b.def;
}

// Where two hits claim overlapping bytes, the longer span wins (on a tie,
// the one first in text_order).
void drop_overlaps(std::vector<Hit>& hits) {
  std::sort(hits.begin(), hits.end(), text_order);
  size_t kept = 0;
  for (const Hit& h : hits) {
    if (kept > 0 && h.start < hits[kept - 1].end) {
      const Hit& last = hits[kept - 1];
      if (h.end - h.start > last.end - last.start) hits[kept - 1] = h;
      continue;
    }
    hits[kept++] = h;
  }
  hits.resize(kept);
}

// The strings of each rule's findings, built once.
struct RuleText {
  std::string id, replacement, message;
};
const std::vector<RuleText>& rule_texts() {
  static const std::vector<RuleText> texts = [] {
    std::vector<RuleText> t;
    for (const auto& r : kRules)
      t.push_back({r.id, std::string("[REDACTED:") + r.id + "]", std::string(r.what) + " found"});
    return t;
  }();
  return texts;
}

}  // namespace

bool SecretsDetector::confirmed(int def_index, std::string_view text, size_t start,
                                size_t end) const {
  const RuleDef& def = kRules[def_index];
  if (def.bounded &&
      ((start > 0 && word_char(text[start - 1])) || (end < text.size() && word_char(text[end]))))
    return false;
  std::string_view v = text.substr(start, end - start);
  switch (def.check) {
    case kPlain:
      return !looks_like_placeholder(v);
    case kBase62Crc:
      return base62_crc_checksum_ok(v, 4);
    case kJwt:
      return jwt_header_ok(v);
    case kEntropy:
      return !looks_like_placeholder(v) && high_entropy(v, options_);
    case kPassword:
      return password_ok(v);
  }
  return false;
}

// A whole value in a field named like a secret ({"password": "..."}).
bool SecretsDetector::secret_field_value(std::string_view text, const ScanContext& ctx) const {
  return !ctx.field.empty() && text.size() <= 200 &&
         text.find_first_of(" \t\n") == std::string_view::npos &&
         RE2::PartialMatch(ctx.field, field_keyword()) && !looks_like_placeholder(text) &&
         high_entropy(text, options_);
}

Result<std::vector<Finding>> SecretsDetector::scan(std::string_view text, ScanContext& ctx) const {
  auto cands = rules_->candidates(text);
  if (!cands) return fail("secrets: " + cands.error());
  std::vector<Hit> hits;
  hits.reserve(cands->size() + 1);
  for (const auto& c : *cands)
    if (confirmed(def_index_[c.rule], text, c.start, c.end))
      hits.push_back({c.start, c.end, def_index_[c.rule]});
  if (secret_field_value(text, ctx)) {
    bool covered = false;
    for (const auto& h : hits) covered |= (h.start == 0 && h.end == text.size());
    if (!covered) hits.push_back({0, text.size(), generic_secret_index(), true});
  }
  drop_overlaps(hits);
  const auto& texts = rule_texts();
  std::vector<Finding> out;
  out.reserve(hits.size());
  for (const Hit& h : hits) {
    const RuleText& t = texts[h.def];
    out.push_back(
        Finding{"secrets", t.id, h.start, h.end, 1.0, t.replacement,
                h.whole_field ? "high-entropy value in a field named like a secret" : t.message});
  }
  return out;
}

}  // namespace portcullis::guard
