// `portcullis scan [--detectors a,b] [--redact] [FILE|-]`: runs detectors on
// a file or stdin, as JSON (when the input is a JSON object or array: every
// string, keys included) or as text.
//   detectors: secrets, pii and injection unless --detectors says otherwise;
//            sql and poisoning judge SQL text and tool definitions, so they
//            run only when named (on prose they would only add noise).
//   default: one JSON line per finding: detector, rule, start, end, pointer
//            (JSON input), message. Never the matched text.
//   --redact: the input with every redactable finding replaced (JSON input
//            stays JSON); findings that cannot be redacted are listed on
//            stderr.
// Exit status: 0 no findings, 1 findings, 2 usage error, 3 a detector failed.
#pragma once
#include <iosfwd>
#include <string>
#include <vector>

namespace portcullis::guard {

int run_scan(const std::vector<std::string>& args, std::istream& in, std::ostream& out,
             std::ostream& err);
// The arguments after "scan"; reads stdin, writes stdout/stderr.
int run_scan_cli(const std::vector<std::string>& args);

inline constexpr const char* kScanUsage =
    "  portcullis scan [--detectors sql,secrets,pii,injection,poisoning] [--redact] [FILE|-]\n"
    "      (default detectors: secrets,pii,injection)\n";

}  // namespace portcullis::guard
