// `portcullis authorize`: evaluates requests in Cedar's JSON form against a
// directory of policies, for policy authors (and the differential tests).
// And the policy part of `portcullis check`.
#pragma once
#include <iosfwd>
#include <string>
#include <vector>

namespace portcullis::policy {

inline constexpr const char* kAuthorizeUsage =
    "  portcullis authorize --policies DIR [--entities FILE] --request FILE\n"
    "      Evaluate Cedar requests ({principal, action, resource, context}, or a\n"
    "      JSON array of them; FILE - reads stdin) against DIR/*.cedar and print\n"
    "      one line per request: {\"decision\", \"reasons\", \"errors\"}.\n";

// args: everything after "authorize". Returns the exit code: 0 when every
// request was evaluated, 1 on a bad request, 2 on bad usage or policies.
int run_authorize_cli(const std::vector<std::string>& args);

// Parses every DIR/policies/*.cedar (when that folder exists), printing each
// problem as file:line:col: message to `err`. Returns the number of problems.
size_t check_policy_folder(const std::string& config_dir, std::ostream& out, std::ostream& err);

}  // namespace portcullis::policy
