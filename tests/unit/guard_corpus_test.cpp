// The labelled corpora (tests/corpus/{secrets,pii}/, made by
// tests/corpus/generate.mjs): recall on positives (the expected rule must
// report exactly the labelled value) and false-positive rate on hard
// negatives (any finding counts), per detector, printed and asserted.
#include <doctest/doctest.h>

#include <fstream>
#include <iostream>
#include <map>

#include "guard/pii.h"
#include "guard/secrets.h"

using namespace portcullis;
using namespace portcullis::guard;

namespace {

std::vector<Json> read_jsonl(const std::string& path) {
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), "cannot read " << path << " (run from the source root)");
  std::vector<Json> out;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(Json::parse(line));
  return out;
}

struct Score {
  double recall, fpr;
};

Score score(const Detector& d, const std::string& dir) {
  auto pos = read_jsonl("tests/corpus/" + dir + "/positives.jsonl");
  auto neg = read_jsonl("tests/corpus/" + dir + "/negatives.jsonl");
  std::map<std::string, std::pair<int, int>> per_rule;  // found, total
  int found = 0, false_pos = 0;
  for (const auto& p : pos) {
    std::string text = p["text"], rule = p["rule"], value = p["value"];
    ScanContext ctx;
    auto r = d.scan(text, ctx);
    REQUIRE(r.ok());
    bool hit = false;
    for (const auto& f : *r)
      hit |= f.rule == rule && text.substr(f.start, f.end - f.start) == value;
    if (!hit) MESSAGE("missed " << rule << ": " << text);
    found += hit;
    per_rule[rule].first += hit;
    per_rule[rule].second += 1;
  }
  std::map<std::string, int> fp_kinds;
  for (const auto& n : neg) {
    std::string text = n["text"];
    ScanContext ctx;
    auto r = d.scan(text, ctx);
    REQUIRE(r.ok());
    if (!r->empty()) {
      ++false_pos;
      ++fp_kinds[n["kind"].get<std::string>()];
      MESSAGE("false positive (" << n["kind"].get<std::string>() << ", rule " << (*r)[0].rule
                                 << "): " << text);
    }
  }
  Score s{double(found) / double(pos.size()), double(false_pos) / double(neg.size())};
  std::cout << "[corpus] " << dir << ": recall " << s.recall << " (" << found << "/" << pos.size()
            << "), FPR " << s.fpr << " (" << false_pos << "/" << neg.size() << ")\n";
  for (const auto& [rule, c] : per_rule)
    if (c.first != c.second)
      std::cout << "[corpus]   " << rule << ": " << c.first << "/" << c.second << "\n";
  return s;
}

}  // namespace

TEST_CASE(
    "the secrets detector finds at least 98% of the secrets corpus with at most 1% false "
    "positives") {
  auto d = SecretsDetector::create();
  REQUIRE(d.ok());
  Score s = score(**d, "secrets");
  CHECK(s.recall >= 0.98);
  CHECK(s.fpr <= 0.01);
}

TEST_CASE("the PII detector finds at least 98% of the PII corpus with at most 1% false positives") {
  auto d = PiiDetector::create();
  REQUIRE(d.ok());
  Score s = score(**d, "pii");
  CHECK(s.recall >= 0.98);
  CHECK(s.fpr <= 0.01);
}
