#include "guard/injection_rules.h"

namespace portcullis::guard::injection {
namespace {

// Sensitive files an instruction may point a tool at.
#define PC_SENSITIVE_FILE                                                                    \
  R"((?:(?:~|\$home|/home/[\w.-]+|/root|/users/[\w.-]+)/\.(?:ssh|aws|gnupg|kube|docker)\b|)" \
  R"(\bid_(?:rsa|dsa|ecdsa|ed25519)\b|/etc/(?:passwd|shadow|sudoers)\b|\.aws/credentials|)"  \
  R"(\.git-credentials|\.netrc\b|\.npmrc\b|\.pgpass\b|\.cursor/mcp\.json|)"                  \
  R"(claude_desktop_config\.json|\.kube/config))"

const std::vector<std::string> kFileAnchors = {
    "/.ssh",   "id_rsa",   "id_dsa",         "id_ecdsa",  "id_ed25519", "/passwd",
    "/shadow", "sudoers",  ".aws/",          ".git-cred", ".netrc",     ".npmrc",
    ".pgpass", "mcp.json", "desktop_config", "/.kube",    "/.gnupg",    "/.docker"};

}  // namespace

const std::vector<PhraseRule>& phrase_rules() {
  static const std::vector<PhraseRule> rules = {
      {"override_instructions",
       Category::kOverride,
       0.9,
       {"ignor", "disre", "forge", "overr", "bypas"},
       R"(\b(?:ignore|ignoring|disregard|forget|override|bypass)\s+(?:[\w']+\s+){0,3}?)"
       R"((?:previous|prior|above|earlier|preceding|foregoing|former|initial|original|all|any|your|system|safety)\s+)"
       R"((?:[\w']+\s+){0,2}?(?:instructions?|prompts?|directions|directives|rules|guidelines|guardrails|)"
       R"(context|messages|constraints|restrictions|programming)\b)",
       8,
       200},
      {"disregard_above",
       Category::kOverride,
       0.8,
       {"ignor", "disre", "forge"},
       R"(\b(?:disregard|ignore|forget)\s+(?:everything|anything|all(?:\s+of)?(?:\s+that)?|what(?:ever)?)\s+)"
       R"((?:you(?:'ve|\s+have)?\s+(?:been\s+)?(?:told|said|read|learned)|(?:(?:is|was|written|said)\s+)?)"
       R"((?:above|before|previously|so\s+far|earlier)))",
       8,
       120},
      {"you_are_now_unrestricted",
       Category::kRolePlay,
       0.8,
       {"are now", "re now"},
       R"(\byou(?:\s+are|'re)\s+now\s+(?:(?-i:DAN)\b|an?\s+(?:unrestricted|unfiltered|uncensored|evil|rogue|)"
       R"(jailbroken)|(?:in\s+)?(?:developer|god|jailbreak|dan|unrestricted|admin)\s+mode|)"
       R"(no\s+longer\s+(?:bound|restricted|limited|an?\s+(?:ai|assistant|language\s+model))|free\s+(?:from|of)))",
       12,
       80},
      {"you_are_now",
       Category::kRolePlay,
       0.35,
       {"are now", "re now"},
       R"(\byou(?:\s+are|'re)\s+now\s+(?:an?|my|the)\s+\w+)",
       12,
       60},
      {"new_instructions",
       Category::kOverride,
       0.7,
       {"instru"},
       R"(\b(?:new|updated|revised|real|actual|true|secret|hidden|additional|important)\s+(?:system\s+)?)"
       R"(instructions?\s*:)",
       24,
       40},
      {"from_now_on",
       Category::kOverride,
       0.5,
       {"now on"},
       R"(\bfrom\s+now\s+on\s*,?\s+(?:you\s+(?:will|are|must|shall|should)|ignore|always|never|respond|act|answer))",
       12,
       60},
      {"system_prompt_marker",
       Category::kOverride,
       0.55,
       {"m prom", "m mess", "m over", "m inst", "n over"},
       R"(\b(?:system\s+(?:prompt|message|override|instructions?)|admin(?:istrator)?\s+override)\s*:)",
       16,
       40},
      {"reveal_prompt",
       Category::kOverride,
       0.7,
       {"m prom", "instru", "t abov"},
       R"(\b(?:reveal|print|show|repeat|output|display|leak|dump|tell\s+me)\s+(?:me\s+)?(?:your|the)\s+)"
       R"((?:full\s+|entire\s+|original\s+|initial\s+|hidden\s+|secret\s+|exact\s+)*(?:system\s+prompt|)"
       R"(initial\s+instructions|hidden\s+instructions|instructions\s+above|prompt\s+above))",
       64,
       80},
      {"pretend",
       Category::kRolePlay,
       0.4,
       {"prete", "imagi"},
       R"(\b(?:pretend|imagine)\s+(?:that\s+)?(?:you\s+are|you're|to\s+be)\b)",
       4,
       40},
      {"act_unrestricted",
       Category::kRolePlay,
       0.7,
       {"unres", "unfil", "uncen", "jailb", "amora"},
       R"(\b(?:act|behave|respond|answer|roleplay|role-play)\s+(?:as|like)\s+(?:if\s+you\s+(?:were|are)\s+)?)"
       R"((?:an?\s+)?(?:unrestricted|unfiltered|uncensored|jailbroken|amoral)\b)",
       48,
       40},
      {"no_restrictions",
       Category::kRolePlay,
       0.3,
       {"o restr", "t restr", "y restr", "o filte", "t filte", "y filte", "o limita", "t limita",
        "y limita", "o guide", "t guide", "y guide", "l restr", "l filte", "l limita", "l guide"},
       R"(\b(?:no|without)\s+(?:any\s+)?(?:ethical\s+|moral\s+|content\s+|safety\s+)?)"
       R"((?:restrictions|filters|guidelines|limitations)\b)",
       40,
       40},
      {"do_anything_now",
       Category::kRolePlay,
       0.8,
       {"thing now"},
       R"(\bdo\s+anything\s+now\b)",
       8,
       20},
      {"dan_persona",
       Category::kRolePlay,
       0.8,
       {"re dan", "as dan", "me dan", "ed dan"},
       R"(\b(?:you\s+are|you're|act\s+as|become|called|named)\s+(?-i:DAN)\b)",
       12,
       20},
      {"developer_mode",
       Category::kRolePlay,
       0.6,
       {"r mode"},
       R"(\bdeveloper\s+mode\s+(?:enabled|activated|output|response)\b)",
       8,
       40},
      {"jailbreak", Category::kRolePlay, 0.4, {"jailb"}, R"(\bjailbr(?:eak|oken)\b)", 0, 20},
      {"call_tool",
       Category::kToolInstruction,
       0.35,
       {" tool"},
       R"(\b(?:call|use|invoke|run|execute|trigger)\s+the\s+[\w.\-]+\s+tool\b)",
       64,
       16},
      {"must_call_tool",
       Category::kToolInstruction,
       0.45,
       {" tool"},
       R"(\b(?:you\s+must|you\s+need\s+to|immediately|now|first|always)\s+(?:call|use|invoke|run|execute)\s+)"
       R"((?:the\s+)?[\w.\-]+\s+tool\b)",
       80,
       16},
      {"send_data_to_url",
       Category::kToolInstruction,
       0.7,
       {"to http"},
       R"(\b(?:send|post|upload|forward|transmit|exfiltrate|leak|submit|copy)\s+(?:(?:all|the|this|your|any|)"
       R"(every|of|these|those|user's|user)\s+)*(?:conversation|chat|messages?|history|data|files?|contents?|)"
       R"(credentials?|secrets?|keys?|tokens?|passwords?|api\s+keys?|emails?|context|system\s+prompt|)"
       R"(information|results?|output)\b[^\n]{0,80}?\bto\s+https?://)",
       160,
       20},
      {"send_to_url",
       Category::kToolInstruction,
       0.3,
       {"to http"},
       R"(\b(?:send|post|upload|forward|transmit|exfiltrate|leak)\b[^\n]{0,80}?\bto\s+https?://)",
       120,
       20},
      {"pipe_to_shell",
       Category::kToolInstruction,
       0.6,
       {"curl ", "wget "},
       R"(\b(?:curl|wget)\s+[^\n|]{0,200}\|\s*(?:sudo\s+)?(?:ba|z)?sh\b)",
       0,
       240},
      {"read_sensitive_file", Category::kToolInstruction, 0.8, kFileAnchors,
       R"(\b(?:read|cat|open|print|show|send|upload|include|attach|copy|list|exfiltrate|fetch|access|)"
       R"(pass|paste|output)\b[^\n]{0,60}?)" PC_SENSITIVE_FILE,
       80, 40},
      {"sensitive_file", Category::kToolInstruction, 0.3, kFileAnchors, PC_SENSITIVE_FILE, 24, 40},
      {"conceal_from_user",
       Category::kConcealment,
       0.6,
       {"t tell", "r tell", "t menti", "r menti", "t revea", "r revea", "t discl", "r discl",
        "t info", "r info", "t noti", "r noti", "t alert", "t aski"},
       R"(\b(?:do\s+not|don't|dont|never|must\s+not)\s+(?:tell|inform|mention|reveal|disclose|notify)\s+)"
       R"((?:this\s+|it\s+|anything\s+|that\s+)?(?:to\s+)?(?:the\s+)?(?:user|human|operator)\b|)"
       R"(\bwithout\s+(?:telling|informing|notifying|alerting|asking)\s+(?:the\s+)?(?:user|human|operator)\b)",
       40,
       60},
      {"chat_template_inst", Category::kOverride, 0.7, {"[inst", "/inst]"}, R"(\[/?INST\])", 2, 8},
      {"role_marker",
       Category::kOverride,
       0.3,
       {"system:", "istant:"},
       R"((?:^|\n)[ \t#*]*(?:system|assistant):\s)",
       12,
       16},
  };
  return rules;
}

const std::vector<PhraseRule>& angle_rules() {
  static const std::vector<PhraseRule> rules = {
      {"chat_template_token",
       Category::kOverride,
       0.7,
       {},
       R"(<\|(?:im_start|im_end|system|user|assistant|endoftext|begin_of_text|start_header_id|eot_id)\|>|)"
       R"(<<SYS>>|<</SYS>>)",
       0,
       24},
      {"pseudo_system_tag",
       Category::kOverride,
       0.45,
       {},
       R"(<\s*/?\s*(?:system|important|instructions?|admin|secret|hidden|system_prompt)\s*>)",
       0,
       24},
  };
  return rules;
}

}  // namespace portcullis::guard::injection
