#include "guard/settings.h"

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

namespace portcullis::guard {

namespace {

constexpr Hook kAllHooks[] = {Hook::McpPreTool, Hook::McpPostTool, Hook::LlmInput, Hook::LlmOutput};

int line_of(const YAML::Node& n) {
  const YAML::Mark m = n.Mark();
  return m.line >= 0 ? m.line + 1 : 0;
}

bool valid_name(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum((unsigned char)c) || c == '_' || c == '-' || c == '.';
  });
}

class Parser {
 public:
  Parser(std::string file, const std::vector<std::string>& detectors, bool vs_block)
      : detectors_(detectors), allow_external_(vs_block) {
    out_.settings.file = std::move(file);
  }

  ParsedGuardrails run(const YAML::Node& root) {
    if (!root || root.IsNull()) return std::move(out_);
    if (!root.IsMap())
      return error(root, "expected a map with guardrails/global/tools/virtual_servers"),
             std::move(out_);
    for (const auto& kv : root) {
      auto key = kv.first.as<std::string>();
      if (key == "guardrails")
        definitions(kv.second);
      else if (key == "global")
        out_.settings.global = names(kv.second, "global");
      else if (key == "tools")
        attachments(kv.second, "tools", out_.settings.tools);
      else if (key == "virtual_servers" && !allow_external_)
        attachments(kv.second, "virtual_servers", out_.settings.virtual_servers);
      else
        error(kv.first, "unknown key '" + key + "'");
    }
    references();
    return std::move(out_);
  }

 private:
  void error(const YAML::Node& n, std::string msg) {
    out_.errors.push_back({{out_.settings.file, line_of(n)}, std::move(msg)});
  }

  std::string scalar(const YAML::Node& n, const std::string& what) {
    if (!n.IsScalar()) return error(n, what + " must be a string"), "";
    return n.as<std::string>();
  }

  std::vector<std::string> names(const YAML::Node& n, const std::string& what) {
    std::vector<std::string> out;
    if (!n.IsSequence()) return error(n, what + " must be a list of guardrail names"), out;
    for (const auto& v : n) {
      auto s = scalar(v, what + " entry");
      if (!s.empty()) out.push_back(s), refs_.push_back({s, line_of(v)});
    }
    return out;
  }

  void attachments(const YAML::Node& n, const std::string& what, std::vector<Attachment>& out) {
    if (!n.IsMap()) return error(n, what + " must map names to lists of guardrails");
    for (const auto& kv : n) {
      Attachment a{kv.first.as<std::string>(),
                   names(kv.second, what + "." + kv.first.as<std::string>()),
                   {out_.settings.file, line_of(kv.first)}};
      out.push_back(std::move(a));
    }
  }

  void definitions(const YAML::Node& n) {
    if (!n.IsSequence()) return error(n, "guardrails must be a list");
    for (const auto& g : n) {
      if (!g.IsMap()) {
        error(g, "a guardrail must be a map");
        continue;
      }
      GuardrailSpec s;
      s.pos = {out_.settings.file, line_of(g)};
      s.hooks.assign(std::begin(kAllHooks), std::end(kAllHooks));
      for (const auto& kv : g) field(s, kv.first, kv.second);
      if (!valid_name(s.name))
        error(g, "guardrail needs a name of [A-Za-z0-9_.-]");
      else if (!defined_.insert(s.name).second)
        error(g, "duplicate guardrail '" + s.name + "'");
      if (s.detector.empty())
        error(g, "guardrail '" + s.name + "' needs a detector");
      else if (std::find(detectors_.begin(), detectors_.end(), s.detector) == detectors_.end())
        error(g, "unknown detector '" + s.detector + "' (known: " + joined(detectors_) + ")");
      out_.settings.guardrails.push_back(std::move(s));
    }
  }

  void field(GuardrailSpec& s, const YAML::Node& k, const YAML::Node& v) {
    auto key = k.as<std::string>();
    if (key == "name")
      s.name = scalar(v, "name");
    else if (key == "detector")
      s.detector = scalar(v, "detector");
    else if (key == "options")
      s.options = v;
    else if (key == "mode") {
      auto m = scalar(v, "mode");
      if (m == "audit")
        s.mode = Mode::Audit;
      else if (m == "enforce")
        s.mode = Mode::Enforce;
      else if (m == "strict")
        s.mode = Mode::Strict;
      else
        error(v, "mode must be audit, enforce or strict, not '" + m + "'");
    } else if (key == "action") {
      auto a = scalar(v, "action");
      if (a == "validate")
        s.action = Action::Validate;
      else if (a == "mutate")
        s.action = Action::Mutate;
      else
        error(v, "action must be validate or mutate, not '" + a + "'");
    } else if (key == "hooks") {
      s.hooks.clear();
      if (!v.IsSequence() || v.size() == 0) return error(v, "hooks must be a non-empty list");
      for (const auto& h : v) {
        auto hook = hook_from(scalar(h, "hook"));
        if (!hook)
          error(h, "unknown hook '" + h.as<std::string>("") +
                       "' (mcp_pre_tool, mcp_post_tool, llm_input, llm_output)");
        else if (std::find(s.hooks.begin(), s.hooks.end(), *hook) == s.hooks.end())
          s.hooks.push_back(*hook);
      }
    } else {
      error(k, "unknown guardrail key '" + key + "'");
    }
  }

  // Every name used in global/tools/virtual_servers is defined in this file.
  // (A virtual server block may also use guardrails.yaml's definitions; the
  // GuardrailSet checks those when it combines both.)
  void references() {
    if (allow_external_) return;
    for (const auto& [name, line] : refs_)
      if (!defined_.count(name))
        out_.errors.push_back({{out_.settings.file, line}, "unknown guardrail '" + name + "'"});
  }

  static std::string joined(const std::vector<std::string>& v) {
    std::string out;
    for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
    return out;
  }

  const std::vector<std::string>& detectors_;
  ParsedGuardrails out_;
  std::set<std::string> defined_;
  std::vector<std::pair<std::string, int>> refs_;
  bool allow_external_;
};

}  // namespace

const char* to_string(Hook h) {
  switch (h) {
    case Hook::McpPreTool:
      return "mcp_pre_tool";
    case Hook::McpPostTool:
      return "mcp_post_tool";
    case Hook::LlmInput:
      return "llm_input";
    case Hook::LlmOutput:
      return "llm_output";
  }
  return "?";
}
const char* to_string(Mode m) {
  return m == Mode::Audit ? "audit" : m == Mode::Enforce ? "enforce" : "strict";
}
const char* to_string(Action a) { return a == Action::Validate ? "validate" : "mutate"; }

std::optional<Hook> hook_from(std::string_view s) {
  for (Hook h : kAllHooks)
    if (s == to_string(h)) return h;
  return std::nullopt;
}

ParsedGuardrails parse_guardrails(const YAML::Node& node, const std::string& file,
                                  const std::vector<std::string>& detectors,
                                  bool virtual_server_block) {
  return Parser(file, detectors, virtual_server_block).run(node);
}

ParsedGuardrails load_guardrails(const std::string& path,
                                 const std::vector<std::string>& detectors) {
  std::ifstream in(path);
  if (!in) {
    ParsedGuardrails p;
    p.settings.file = path;
    p.errors.push_back({{path, 0}, "cannot read file"});
    return p;
  }
  std::stringstream buf;
  buf << in.rdbuf();
  try {
    return parse_guardrails(YAML::Load(buf.str()), path, detectors);
  } catch (const YAML::Exception& e) {
    ParsedGuardrails p;
    p.settings.file = path;
    p.errors.push_back(
        {{path, e.mark.line >= 0 ? e.mark.line + 1 : 0}, "YAML syntax error: " + e.msg});
    return p;
  }
}

}  // namespace portcullis::guard
