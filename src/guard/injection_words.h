// A set of whole words, and the question whether a window of text holds one
// of them: the injection window filter's (injection_window_filter.h) cheap
// first test, before its Hyperscan scan. Most phrase rules name a few words
// that every match contains whole ("ignore", "call", "user"); a window
// around an anchor that holds none of its rules' words cannot match them.
//
// A word is a maximal run of word bytes ([A-Za-z0-9_], what \w means to RE2
// and Hyperscan), compared ASCII-case-insensitively. The window's edges end
// runs, so a word that RE2 sees bounded by \b or \s inside the text is seen
// whole here too; a run cut by an edge can only add a "yes". A window with
// a byte >= 0x80 is a "yes" too: RE2's case folding matches "ſ" to "s" and
// "K" (Kelvin) to "k", so "uſe" is "use" to it.
//
// How: with AVX-512 (F, BW), 64 bytes a step: the starts of runs whose first
// two bytes are the first two of some word are found with vector compares,
// and only those runs are compared with the words. Otherwise one run at a
// time.
//
// Threads: immutable after construction; contains() is const and reentrant.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace portcullis::guard::injection {

class WordSet {
 public:
  // `words`: lower-case, 2 to 16 word bytes each. `vector` false: the
  // one-run-at-a-time form even where AVX-512 runs (the tests compare them).
  explicit WordSet(std::vector<std::string> words, bool vector = true);

  // True when some maximal run of word bytes in `window` is one of the
  // words, or `window` holds a byte >= 0x80.
  bool contains(std::string_view window) const;

  const std::vector<std::string>& words() const { return words_; }

 private:
  bool is_word_at(std::string_view window, size_t start) const;
  bool contains_portable(std::string_view window) const;
#if defined(__x86_64__)
  bool contains_avx512(std::string_view window) const;
#endif

  std::vector<std::string> words_;
  std::vector<uint16_t> bigrams_;  // the distinct first two bytes of the words, ORed with 0x20
  bool avx512_ = false;
};

}  // namespace portcullis::guard::injection
