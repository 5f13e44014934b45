// What bench-authorize and bench-policy-stage share, so the engine alone and
// the whole authorize stage are measured on the same policy set.
#pragma once
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

namespace portcullis::bench {

// 100 policies over 10 virtual servers (srv0..srv9, tools srvN/toolI):
// permits scoped to a group and a tool with conditions on the arguments and
// the metadata, and one forbid per server.
inline std::string hundred_policies() {
  std::string t;
  for (int i = 0; i < 100; ++i) {
    std::string srv = "srv" + std::to_string(i % 10), tool = srv + "/tool" + std::to_string(i);
    std::string group = "team" + std::to_string(i % 20);
    if (i % 10 == 9) {
      t += "@id(\"forbid-" + std::to_string(i) +
           "\")\nforbid (principal, action == Action::\"call_tool\", resource in Server::\"" + srv +
           "\")\nwhen { context.metadata has environment && context.metadata.environment == "
           "\"prod\" && "
           "context.arguments has dry_run && context.arguments.dry_run == false };\n";
    } else {
      t += "@id(\"permit-" + std::to_string(i) + "\")\npermit (principal in Group::\"" + group +
           "\", action == Action::\"call_tool\", resource == Tool::\"" + tool +
           "\")\nwhen { context.arguments has amount && context.arguments.amount < " +
           std::to_string(100 * i + 50) +
           " && context.metadata.surface != \"batch-pipeline\" && context.metadata.team like "
           "\"team*\" };\n";
    }
  }
  return t;
}

// Prints p50 and p99 of `us` (sorted in place).
inline void report_us(const char* what, std::vector<double>& us) {
  std::sort(us.begin(), us.end());
  std::printf("%-34s p50 %7.2f us   p99 %7.2f us   (n=%zu)\n", what, us[us.size() / 2],
              us[us.size() * 99 / 100], us.size());
}

}  // namespace portcullis::bench
