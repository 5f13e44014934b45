// Loading the labelled corpora in tests/corpus/ and scoring a detector on
// them: recall over the positives, false-positive rate over the negatives.
#pragma once
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/text.h"

namespace portcullis::guard::testing {

struct Case {
  std::string text;
  std::vector<std::string> expect;  // rule ids, one of which must be found (positives)
  int line = 0;
};

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::string corpus_path(const std::string& rel) {
  return std::string(PORTCULLIS_SOURCE_ROOT) + "/tests/corpus/" + rel;
}

// Cases separated by lines starting with `marker` ("-- @case", "@case");
// the rest of the marker line lists expected rule ids. Text before the first
// marker is a header comment and ignored. Trailing newlines are trimmed.
inline std::vector<Case> load_cases(const std::string& rel, const std::string& marker) {
  std::istringstream in(read_file(corpus_path(rel)));
  std::vector<Case> out;
  std::string line;
  int n = 0;
  bool started = false;
  while (std::getline(in, line)) {
    ++n;
    if (line.rfind(marker, 0) == 0) {
      started = true;
      out.push_back(Case{});
      out.back().line = n;
      std::istringstream words(line.substr(marker.size()));
      for (std::string w; words >> w;) out.back().expect.push_back(w);
      continue;
    }
    if (started) out.back().text += line + "\n";
  }
  for (auto& c : out)
    while (!c.text.empty() && c.text.back() == '\n') c.text.pop_back();
  return out;
}

// \u{XXXX} escapes in corpus text become UTF-8, so invisible characters
// stay readable in the corpus files.
inline std::string unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s.compare(i, 3, "\\u{") == 0) {
      size_t close = s.find('}', i);
      unsigned long cp = std::stoul(s.substr(i + 3, close - i - 3), nullptr, 16);
      portcullis::text::append_utf8(out, static_cast<uint32_t>(cp));
      i = close;
    } else {
      out += s[i];
    }
  }
  return out;
}

struct Rates {
  int positives = 0, detected = 0, negatives = 0, false_positives = 0;
  double recall() const { return positives ? double(detected) / positives : 1.0; }
  double fpr() const { return negatives ? double(false_positives) / negatives : 0.0; }
  void print(const char* name) const {
    std::printf("[corpus] %s: recall %.3f (%d/%d), false-positive rate %.3f (%d/%d)\n", name,
                recall(), detected, positives, fpr(), false_positives, negatives);
  }
};

}  // namespace portcullis::guard::testing
