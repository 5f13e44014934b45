#include "guard/chain.h"

#include <algorithm>
#include <functional>

#include "guard/json_strings.h"

namespace portcullis::guard {

const char* to_string(Outcome o) {
  return o == Outcome::Recorded ? "recorded" : o == Outcome::Redacted ? "redacted" : "blocked";
}

Json AuditFinding::to_json() const {
  Json j = {{"hook", to_string(hook)},
            {"guardrail", guardrail},
            {"detector", detector},
            {"rule", rule},
            {"mode", to_string(mode)},
            {"action", to_string(action)},
            {"outcome", to_string(outcome)},
            {"start", start},
            {"end", end}};
  if (!pointer.empty() || in_key) j["pointer"] = pointer;
  if (in_key) j["in_key"] = true;
  return j;
}

std::string Verdict::block_message() const {
  if (!blocked) return "";
  if (rule == "error")
    return "Blocked: guardrail '" + blocked_by + "' could not check this request (strict mode)";
  return "Blocked by guardrail '" + blocked_by + "' (rule " + rule + ")";
}

Json Verdict::tool_error() const {
  return {{"content", Json::array({{{"type", "text"}, {"text", block_message()}}})},
          {"isError", true}};
}

std::string redact(std::string_view text, std::vector<Finding> findings) {
  std::sort(findings.begin(), findings.end(),
            [](const Finding& a, const Finding& b) { return a.start < b.start; });
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  for (const auto& f : findings) {
    // A finding without a replacement cannot be redacted: its text stays.
    if (f.replacement.empty() || f.start < pos || f.end > text.size() || f.end < f.start) continue;
    out.append(text.substr(pos, f.start - pos));
    out += f.replacement;
    pos = f.end;
  }
  out.append(text.substr(pos));
  return out;
}

namespace {

// One guardrail over one string. Returns false when the request is blocked.
struct Step {
  Hook hook;
  const Guardrail& g;
  Verdict& v;
  bool failed = false;  // this guardrail already failed once (record once)

  // `pointer` gives the JSON pointer of `s` (only called when there are
  // findings); null for plain text.
  bool on(std::string_view s, const std::string& field, ScanContext& ctx, bool in_key,
          const std::function<std::string()>& pointer, std::string* replaced) {
    ctx.field = field;
    auto r = g.detector->scan(s, ctx);
    if (!r) {
      if (!failed) v.failures.push_back({g.name, r.error(), g.mode});
      failed = true;
      if (g.mode == Mode::Strict) return block("error");
      return true;
    }
    if (r->empty()) return true;
    bool blocks =
        g.mode != Mode::Audit &&
        (g.action == Action::Validate ||
         std::any_of(r->begin(), r->end(), [](const Finding& f) { return f.replacement.empty(); }));
    Outcome o = g.mode == Mode::Audit ? Outcome::Recorded
                : blocks              ? Outcome::Blocked
                                      : Outcome::Redacted;
    std::string ptr = pointer ? pointer() : "";
    for (const auto& f : *r)
      v.findings.push_back(
          {hook, g.name, f.detector, f.rule, g.mode, g.action, o, ptr, in_key, f.start, f.end});
    if (blocks) return block((*r)[0].rule);
    if (o == Outcome::Redacted) {
      *replaced = redact(s, std::move(r.value()));
      v.mutated = true;
    }
    return true;
  }

  bool block(const std::string& rule) {
    v.blocked = true;
    v.blocked_by = g.name;
    v.rule = rule;
    return false;
  }
};

}  // namespace

GuardrailChain::GuardrailChain(Hook hook, std::vector<std::shared_ptr<const Guardrail>> guardrails)
    : hook_(hook), guardrails_(std::move(guardrails)) {}

Verdict GuardrailChain::run(std::string& text, ScanContext& ctx) const {
  Verdict v;
  for (const auto& g : guardrails_) {
    Step step{hook_, *g, v};
    std::string replaced;
    std::string field = ctx.field;
    if (!step.on(text, field, ctx, false, nullptr, &replaced)) return v;
    if (!replaced.empty()) text = std::move(replaced);
  }
  return v;
}

Verdict GuardrailChain::run(Json& value, ScanContext& ctx) const {
  Verdict v;
  if (guardrails_.empty()) return v;
  JsonStrings strings(value);
  for (const auto& g : guardrails_) {
    Step step{hook_, *g, v};
    for (size_t i = 0; i < strings.size(); ++i) {
      std::string replaced;
      bool go = step.on(
          strings.text(i), strings.field(i), ctx, strings.is_key(i),
          [&] { return strings.pointer(i); }, &replaced);
      if (!go) return v;
      if (!replaced.empty()) strings.set(i, std::move(replaced));
    }
  }
  return v;
}

}  // namespace portcullis::guard
