#include "guard/poisoning_detector.h"

#include <re2/re2.h>
#include <re2/set.h>

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "guard/json_strings.h"

namespace portcullis::guard {
namespace {

struct PoisonRule {
  const char* id;
  double weight;
  const char* pattern;
  const char* message;
};

#define PC_FILE                                                                                                \
  R"((?:(?:~|\$home|/home/[\w.-]+|/root|/users/[\w.-]+|%userprofile%)[/\\]\.(?:ssh|aws|gnupg|kube|docker)\b|)" \
  R"(\bid_(?:rsa|dsa|ecdsa|ed25519)\b|/etc/(?:passwd|shadow|sudoers)\b|\.aws/credentials|)"                    \
  R"(\.git-credentials|\.netrc\b|\.npmrc\b|\.pgpass\b|\.cursor/mcp\.json|\bmcp\.json\b|)"                      \
  R"(claude_desktop_config\.json|\.kube/config|\bprivate[\s_-]?keys?\b|\bseed\s+phrase\b))"

const PoisonRule kRules[] = {
    // A lone tag may be an XML example; a tag followed by a sentence is a block of instructions.
    {"hidden_instruction_tag", 0.45,
     R"(<\s*/?\s*(?:important|system|instructions?|secret|hidden|admin|critical|note_to_ai|ai_instructions|)"
     R"(assistant_instructions)\s*>)",
     "pseudo-system tag"},
    {"hidden_instruction_block", 0.8,
     R"(<\s*(?:important|system|instructions?|secret|hidden|admin|critical|note_to_ai|ai_instructions|)"
     R"(assistant_instructions)\s*>\s*[^<>]{20,})",
     "instructions in a pseudo-system tag"},
    {"conceal_from_user", 0.9,
     R"(\b(?:do\s+not|don't|dont|never|must\s+not|should\s+not)\s+(?:tell|inform|mention|reveal|disclose|)"
     R"(notify|show|alert)\b[^.\n]{0,40}?\b(?:the\s+)?(?:user|human|operator)s?\b|)"
     R"(\bwithout\s+(?:telling|informing|notifying|alerting|asking)\s+(?:the\s+)?(?:user|human|operator)|)"
     R"(\b(?:keep|hide)\s+(?:this|it|these\s+(?:instructions|steps))\s+(?:secret|hidden|confidential|)"
     R"(from\s+the\s+user)|\bthe\s+user\s+(?:must|should)\s+not\s+(?:know|see|be\s+told))",
     "asks to hide something from the user"},
    {"dont_mention", 0.6,
     R"(\b(?:do\s+not|don't|dont|never)\s+(?:mention|reveal|disclose)\s+(?:this|that|it|these|the\s+(?:above|)"
     R"(following|instructions?|steps?|tool|note|sidenote))\b)",
     "asks not to mention its instructions"},
    {"sensitive_file", 0.45, PC_FILE, "refers to a sensitive file"},
    {"dotenv_file", 0.3, R"((?:^|[\s'"`(/])\.env\b)", "refers to a .env file"},
    {"read_file_imperative", 0.5,
     R"(\b(?:read|cat|open|load|fetch|access)\s+(?:the\s+)?(?:(?:file|contents?\s+of)\s+)?['"`]?)"
     R"((?:~|/|\.|\$home|%userprofile%))",
     "tells the model to read a file"},
    {"pass_content_in_argument", 0.4,
     R"(\b(?:pass|include|put|add|append|send|provide|insert|embed|attach)\b[^\n]{0,60}?)"
     R"(\b(?:content|contents|text|value|output|data)\b[^\n]{0,60}?\b(?:as|in|into)\s+(?:the\s+)?['"`]?\w+['"`]?)"
     R"(\s*(?:parameter|argument|field|param)\b)",
     "tells the model to put data into an argument"},
    {"shadow_other_tools", 0.8,
     R"(\b(?:when|before|after|whenever)\s+(?:calling|using|invoking|running)\s+(?:any\s+|all\s+|the\s+)?)"
     R"(other\s+tools?\b|\bbefore\s+(?:using|calling|invoking)\s+any\s+(?:other\s+)?tools?\b|)"
     R"(\b(?:all|any)\s+other\s+tools?\s+(?:must|should)\b|)"
     R"(\b(?:overrides?|replaces?|changes?|modif(?:y|ies))\s+the\s+(?:behaviou?r|parameters|recipients?|)"
     R"(arguments)\s+of\s+(?:the\s+)?(?:other|\w+)\s+tools?\b|)"
     R"(\b(?:all|every)\s+(?:emails?|messages?|requests?|payments?)\s+(?:must|should)\s+(?:also\s+)?(?:be\s+)?)"
     R"((?:sent|forwarded|copied|bcc'?d?|redirected)\s+to\b)",
     "changes how other tools behave"},
    {"instead_of_tool", 0.45,
     R"(\binstead\s+of\s+(?:using\s+|calling\s+)?(?:the\s+)?['"`]?[\w.\-]+['"`]?\s+tool\b)",
     "asks to be used in place of another tool"},
    {"must_be_called_first", 0.6,
     R"(\bthis\s+tool\s+(?:must|should)\s+(?:always\s+)?be\s+(?:called|used|invoked|run)\s+)"
     R"((?:first|before|prior\s+to))",
     "demands to run before other tools"},
};

// Visits every string worth checking: all string values except schema
// plumbing (type, format, $ref ...), and property names.
template <typename F>
void visit_strings(const Json& j, const std::string& ptr, F&& f) {
  if (j.is_string()) {
    f(ptr, j.get_ref<const std::string&>());
  } else if (j.is_array()) {
    for (size_t i = 0; i < j.size(); ++i) visit_strings(j[i], ptr + "/" + std::to_string(i), f);
  } else if (j.is_object()) {
    for (const auto& [key, value] : j.items()) {
      if (key == "type" || key == "format" || key == "$ref" || key == "$schema" || key == "$id" ||
          key == "required")
        continue;
      const std::string child = ptr + "/" + pointer_escape(key);
      if (ptr.size() >= 11 && ptr.compare(ptr.size() - 11, 11, "/properties") == 0) f(child, key);
      visit_strings(value, child, f);
    }
  }
}

bool is_hidden_unicode_rule(const std::string& rule) {
  return rule == "zero_width" || rule == "bidi_control" || rule == "unicode_tags";
}

}  // namespace

struct PoisoningDetector::Rules {
  std::unique_ptr<re2::RE2::Set> set;
  std::vector<const PoisonRule*> rules;
  std::vector<double> weights;
  std::vector<std::unique_ptr<re2::RE2>> res;
};

Result<PoisoningSettings> PoisoningSettings::from_json(const Json& j) {
  PoisoningSettings s;
  if (j.is_null()) return s;
  if (!j.is_object()) return fail("poisoning: expected a mapping");
  for (const auto& [key, value] : j.items()) {
    if (key == "threshold") {
      if (!value.is_number() || value.get<double>() < 0 || value.get<double>() > 1)
        return fail("poisoning.threshold: expected a number from 0 to 1");
      s.threshold = value.get<double>();
    } else if (key == "weights") {
      if (!value.is_object())
        return fail("poisoning.weights: expected a mapping of rule id to weight");
      for (const auto& [rule, w] : value.items()) {
        if (!w.is_number() || w.get<double>() < 0 || w.get<double>() > 1)
          return fail("poisoning.weights." + rule + ": expected a number from 0 to 1");
        s.weights[rule] = w.get<double>();
      }
    } else if (key == "injection") {
      auto inj = InjectionSettings::from_json(value);
      if (!inj) return fail("poisoning." + inj.error());
      s.injection = std::move(*inj);
    } else {
      return fail("poisoning: unknown setting '" + key + "'");
    }
  }
  return s;
}

PoisoningDetector::PoisoningDetector(PoisoningSettings settings)
    : settings_(std::move(settings)),
      injection_(settings_.injection),
      rules_(std::make_unique<Rules>()) {
  re2::RE2::Options opt;
  opt.set_case_sensitive(false);
  opt.set_log_errors(false);
  rules_->set = std::make_unique<re2::RE2::Set>(opt, re2::RE2::UNANCHORED);
  for (const auto& r : kRules) {
    auto it = settings_.weights.find(r.id);
    double w = it == settings_.weights.end() ? r.weight : it->second;
    if (w <= 0) continue;
    std::string error;
    if (rules_->set->Add(r.pattern, &error) < 0) {
      std::fprintf(stderr, "poisoning rule %s: %s\n", r.id, error.c_str());
      std::abort();  // a rule table bug, caught by the unit tests
    }
    rules_->rules.push_back(&r);
    rules_->weights.push_back(w);
    rules_->res.push_back(std::make_unique<re2::RE2>(r.pattern, opt));
  }
  if (!rules_->set->Compile()) std::abort();
}

PoisoningDetector::~PoisoningDetector() = default;

Result<void> PoisoningDetector::assess_field(std::string_view text,
                                             const std::vector<std::string>& other_tools,
                                             std::vector<Finding>& out) const {
  std::vector<int> hits;
  re2::RE2::Set::ErrorInfo error{};
  const bool matched = rules_->set->Match(text, &hits, &error);
  if (!matched && error.kind != re2::RE2::Set::kNoError)
    return fail("poisoning: the rule set could not run (RE2::Set error " +
                std::to_string(static_cast<int>(error.kind)) + ")");
  if (matched) {
    for (int i : hits) {
      re2::StringPiece m;
      if (!rules_->res[i]->Match(text, 0, text.size(), re2::RE2::UNANCHORED, &m, 1)) continue;
      Finding f;
      f.detector = "poisoning";
      f.rule = rules_->rules[i]->id;
      f.start = static_cast<size_t>(m.data() - text.data());
      f.end = f.start + m.size();
      f.score = rules_->weights[i];
      f.message = rules_->rules[i]->message;
      out.push_back(std::move(f));
    }
  }
  for (auto f : injection_.assess(text).findings) {
    // Pseudo-system tags have rules of their own here; counting both would count one tag twice.
    if (f.rule == "pseudo_system_tag" || f.rule == "pseudo_system_block") continue;
    f.detector = "poisoning";
    if (is_hidden_unicode_rule(f.rule)) f.score = std::max(f.score, 0.8);
    out.push_back(std::move(f));
  }
  // Naming another tool of the catalogue: evidence of shadowing, weak alone.
  for (const auto& name : other_tools) {
    if (name.size() < 3) continue;
    for (size_t at = text.find(name); at != std::string_view::npos; at = text.find(name, at + 1)) {
      auto word = [&](size_t k) {
        return k < text.size() &&
               (std::isalnum(static_cast<unsigned char>(text[k])) || text[k] == '_');
      };
      if ((at > 0 && word(at - 1)) || word(at + name.size())) continue;
      Finding f;
      f.detector = "poisoning";
      f.rule = "mentions_other_tool";
      f.start = at;
      f.end = at + name.size();
      auto it = settings_.weights.find(f.rule);
      f.score = it == settings_.weights.end() ? 0.3 : it->second;
      f.message = "names another tool of the catalogue";
      if (f.score > 0) out.push_back(std::move(f));
      break;
    }
  }
  return {};
}

Result<Assessment> PoisoningDetector::assess(std::string_view text) const {
  Assessment a;
  if (auto r = assess_field(text, {}, a.findings); !r) return fail(r.error());
  std::sort(a.findings.begin(), a.findings.end(), [](const Finding& x, const Finding& y) {
    return std::tie(x.start, x.rule) < std::tie(y.start, y.rule);
  });
  a.score = combine_scores(a.findings);
  return a;
}

Result<std::vector<Finding>> PoisoningDetector::scan(std::string_view text, ScanContext&) const {
  auto a = assess(text);
  if (!a) return fail(a.error());
  if (a->score < settings_.threshold) return std::vector<Finding>{};
  for (auto& f : a->findings) f.score = a->score;
  return std::move(a->findings);
}

Result<std::vector<Finding>> PoisoningDetector::check_tool(
    const Json& tool, const std::vector<std::string>& other_tools) const {
  if (!tool.is_object()) return fail("tool definition is not an object");
  if (!tool.contains("name") || !tool["name"].is_string())
    return fail("tool definition has no string name");
  const std::string own = tool["name"].get<std::string>();
  std::vector<std::string> others;
  for (const auto& n : other_tools)
    if (n != own) others.push_back(n);
  std::vector<Finding> all;
  Result<void> status;
  for (const char* key :
       {"name", "title", "description", "inputSchema", "outputSchema", "annotations"}) {
    if (!tool.contains(key)) continue;
    visit_strings(
        tool[key], std::string("/") + key, [&](const std::string& ptr, const std::string& text) {
          std::vector<Finding> found;
          auto r = assess_field(text, ptr == "/name" ? std::vector<std::string>{} : others, found);
          if (!r) status = r;
          // A schema value (default, enum, example) pointing at a secret steers the model
          // to it.
          const bool value = ptr.find("/default") != std::string::npos ||
                             ptr.find("/enum/") != std::string::npos ||
                             ptr.find("/examples") != std::string::npos ||
                             ptr.find("/const") != std::string::npos;
          for (auto& f : found) {
            if (value && f.rule == "sensitive_file") {
              f.rule = "sensitive_default";
              f.score = std::max(f.score, 0.7);
              f.message = "a schema value names a sensitive file";
            }
            f.message = ptr + ": " + f.message;
            all.push_back(std::move(f));
          }
        });
  }
  if (!status) return fail(status.error());
  double score = combine_scores(all);
  if (score < settings_.threshold) return std::vector<Finding>{};
  for (auto& f : all) f.score = score;
  return all;
}

}  // namespace portcullis::guard
