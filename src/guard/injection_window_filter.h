// A fast "no" before the injection detector's RE2 work around an anchor: a
// Hyperscan database of the phrase rules (injection_rules.h) that share an
// anchor, asked whether any of them matches somewhere in a window of the
// text. One scan covers them all, and on ordinary text almost every window
// holds no match, so RE2 then runs not at all.
//
// Before it, when every one of the rules lists its words (PhraseRule::words),
// a cheaper test (injection_words.h): a window that holds none of their words
// is a "no" without the scan, which costs 30-70 ns even on 100 bytes.
//
// Contract: may_match() returns false only when none of the rules matches in
// text[lo, hi) for RE2 either, so skipping RE2 on false changes no result.
// Hyperscan sees only the window, so at its edges \b and ^ can hold where RE2
// (which looks at the bytes around the window) says they do not: that only
// adds matches. What could remove one is RE2's Unicode case folding ("ſ"
// matches "s", "K" (Kelvin) matches "k"): a window holding any byte >= 0x80
// gets no answer (true), and so does a scan that fails.
//
// Threads: for_rules() may be called from any thread; each set of rules is
// compiled once per process (a few to ~100 ms) and kept for its lifetime.
// may_match() is const and may run on any number of threads at once, each
// with its own Hyperscan scratch space.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "guard/injection_words.h"

struct hs_database;

namespace portcullis::guard::injection {

class WindowFilter {
 public:
  // The filter of the phrase rules in `rules` (bit i: phrase_rules()[i]);
  // nullptr if Hyperscan refuses one of them.
  static const WindowFilter* for_rules(uint64_t rules);

  bool may_match(std::string_view text, size_t lo, size_t hi) const;

  WindowFilter(const WindowFilter&) = delete;
  WindowFilter& operator=(const WindowFilter&) = delete;

 private:
  WindowFilter(hs_database* db, std::unique_ptr<const WordSet> words)
      : db_(db), words_(std::move(words)) {}
  hs_database* db_;
  std::unique_ptr<const WordSet> words_;  // null: some rule lists no words
};

}  // namespace portcullis::guard::injection
