#include "guard/scan_cli.h"

#include <fstream>
#include <iostream>
#include <sstream>

#include "guard/chain.h"
#include "guard/json_strings.h"
#include "guard/registry.h"

namespace portcullis::guard {

namespace {

struct Options {
  std::vector<std::string> detectors;
  bool redact = false;
  std::string file = "-";
};

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string part; std::getline(ss, part, ',');)
    if (!part.empty()) out.push_back(part);
  return out;
}

Json line_of(const Finding& f, const std::string* pointer) {
  Json j = {{"detector", f.detector}, {"rule", f.rule}, {"start", f.start}, {"end", f.end}};
  if (pointer) j["pointer"] = *pointer;
  j["message"] = f.message;
  return j;
}

// Scans one string with every detector; prints or collects findings.
// Returns false when a detector failed.
bool scan_one(const std::vector<std::shared_ptr<const Detector>>& dets, std::string_view s,
              ScanContext& ctx, std::vector<Finding>& all, std::ostream& err) {
  bool ok = true;
  for (const auto& d : dets) {
    auto r = d->scan(s, ctx);
    if (!r) {
      err << "portcullis scan: " << d->name() << ": " << r.error() << "\n";
      ok = false;
      continue;
    }
    all.insert(all.end(), r->begin(), r->end());
  }
  std::stable_sort(all.begin(), all.end(),
                   [](const Finding& a, const Finding& b) { return a.start < b.start; });
  return ok;
}

int usage(std::ostream& err, const std::string& msg) {
  err << "portcullis scan: " << msg << "\nUsage:\n" << kScanUsage;
  return 2;
}

}  // namespace

int run_scan(const std::vector<std::string>& args, std::istream& in, std::ostream& out,
             std::ostream& err) {
  const auto& registry = DetectorRegistry::builtin();
  Options o;
  o.detectors = {"secrets", "pii", "injection"};
  bool file_seen = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const auto& a = args[i];
    if (a == "--redact")
      o.redact = true;
    else if (a == "--detectors" && i + 1 < args.size())
      o.detectors = split_commas(args[++i]);
    else if (a.rfind("--detectors=", 0) == 0)
      o.detectors = split_commas(a.substr(12));
    else if (a == "--detectors")
      return usage(err, "--detectors needs a value");
    else if (a.size() > 1 && a[0] == '-')
      return usage(err, "unknown option '" + a + "'");
    else if (file_seen)
      return usage(err, "only one FILE");
    else
      o.file = a, file_seen = true;
  }
  std::vector<std::shared_ptr<const Detector>> dets;
  for (const auto& name : o.detectors) {
    if (!registry.has(name)) {
      std::string known;
      for (const auto& n : registry.names()) known += (known.empty() ? "" : ", ") + n;
      return usage(err, "unknown detector '" + name + "' (available: " + known + ")");
    }
    auto d = registry.build(name, YAML::Node());
    if (!d) return err << "portcullis scan: " << d.error() << "\n", 3;
    dets.push_back(std::move(d.value()));
  }
  std::string input;
  if (o.file == "-") {
    std::stringstream buf;
    buf << in.rdbuf();
    input = buf.str();
  } else {
    std::ifstream f(o.file, std::ios::binary);
    if (!f) return err << "portcullis scan: cannot read " << o.file << "\n", 2;
    std::stringstream buf;
    buf << f.rdbuf();
    input = buf.str();
  }

  ScanContext ctx;
  bool ok = true, any = false;
  Json doc = Json::parse(input, nullptr, false);
  bool as_json = !doc.is_discarded() && (doc.is_object() || doc.is_array());
  if (as_json) {
    JsonStrings strings(doc);
    for (size_t i = 0; i < strings.size(); ++i) {
      ctx.field = strings.field(i);
      std::vector<Finding> found;
      ok &= scan_one(dets, strings.text(i), ctx, found, err);
      any |= !found.empty();
      std::string ptr = found.empty() ? "" : strings.pointer(i);
      for (const auto& f : found)
        if (!o.redact)
          out << line_of(f, &ptr).dump() << "\n";
        else if (f.replacement.empty())
          err << line_of(f, &ptr).dump() << "\n";
      if (o.redact && !found.empty()) strings.set(i, redact(strings.text(i), found));
    }
    if (o.redact) out << doc.dump(2) << "\n";
  } else {
    std::vector<Finding> found;
    ok &= scan_one(dets, input, ctx, found, err);
    any = !found.empty();
    for (const auto& f : found)
      if (!o.redact)
        out << line_of(f, nullptr).dump() << "\n";
      else if (f.replacement.empty())
        err << line_of(f, nullptr).dump() << "\n";
    if (o.redact) out << redact(input, found);
  }
  if (!ok) return 3;
  return any ? 1 : 0;
}

int run_scan_cli(const std::vector<std::string>& args) {
  return run_scan(args, std::cin, std::cout, std::cerr);
}

}  // namespace portcullis::guard
