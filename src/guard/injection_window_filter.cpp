#include "guard/injection_window_filter.h"

#include <hs/hs.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "guard/injection_rules.h"

namespace portcullis::guard::injection {
namespace {

// This thread's scratch space, grown to fit every database it has scanned with.
struct Scratch {
  hs_scratch_t* space = nullptr;
  std::vector<const hs_database_t*> fitted;
  ~Scratch() {
    if (space) hs_free_scratch(space);
  }
};
thread_local Scratch tls_scratch;

// Stops the scan at the first match.
int on_match(unsigned, unsigned long long, unsigned long long, unsigned, void* found) {
  *static_cast<bool*>(found) = true;
  return 1;
}

bool ascii(std::string_view s) {
  uint64_t any = 0;
  size_t k = 0;
  for (; k + 8 <= s.size(); k += 8) {
    uint64_t w;
    std::memcpy(&w, s.data() + k, 8);
    any |= w;
  }
  for (; k < s.size(); ++k) any |= static_cast<unsigned char>(s[k]);
  return (any & 0x8080808080808080u) == 0;
}

hs_database_t* compile(uint64_t rules) {
  const auto& table = phrase_rules();
  std::vector<const char*> patterns;
  std::vector<unsigned> flags, ids;
  for (unsigned i = 0; i < table.size() && i < 64; ++i) {
    if (!((rules >> i) & 1)) continue;
    patterns.push_back(table[i].pattern);
    flags.push_back(HS_FLAG_CASELESS | HS_FLAG_SINGLEMATCH);
    ids.push_back(i);
  }
  hs_database_t* db = nullptr;
  hs_compile_error_t* err = nullptr;
  if (patterns.empty() || hs_compile_multi(patterns.data(), flags.data(), ids.data(),
                                           static_cast<unsigned>(patterns.size()), HS_MODE_BLOCK,
                                           nullptr, &db, &err) != HS_SUCCESS) {
    hs_free_compile_error(err);
    return nullptr;
  }
  return db;
}

// The words of the rules, or null when one of them lists none.
std::unique_ptr<const WordSet> words_of(uint64_t rules) {
  const auto& table = phrase_rules();
  std::vector<std::string> words;
  for (unsigned i = 0; i < table.size() && i < 64; ++i) {
    if (!((rules >> i) & 1)) continue;
    if (table[i].words.empty()) return nullptr;
    for (const auto& w : table[i].words)
      if (std::find(words.begin(), words.end(), w) == words.end()) words.push_back(w);
  }
  return std::make_unique<const WordSet>(std::move(words));
}

}  // namespace

const WindowFilter* WindowFilter::for_rules(uint64_t rules) {
  static std::mutex mutex;
  static std::map<uint64_t, std::unique_ptr<const WindowFilter>> filters;  // never freed
  std::lock_guard<std::mutex> lock(mutex);
  auto [it, added] = filters.try_emplace(rules);
  if (added)
    if (hs_database_t* db = compile(rules)) it->second.reset(new WindowFilter(db, words_of(rules)));
  return it->second.get();
}

bool WindowFilter::may_match(std::string_view text, size_t lo, size_t hi) const {
  const std::string_view window = text.substr(lo, hi - lo);
  if (words_ && !words_->contains(window)) return false;  // which is "yes" on non-ASCII
  if (!ascii(window)) return true;
  Scratch& scratch = tls_scratch;
  if (std::find(scratch.fitted.begin(), scratch.fitted.end(), db_) == scratch.fitted.end()) {
    if (hs_alloc_scratch(db_, &scratch.space) != HS_SUCCESS) return true;
    scratch.fitted.push_back(db_);
  }
  bool found = false;
  const hs_error_t rc = hs_scan(db_, window.data(), static_cast<unsigned>(window.size()), 0,
                                scratch.space, on_match, &found);
  return found || (rc != HS_SUCCESS && rc != HS_SCAN_TERMINATED);
}

}  // namespace portcullis::guard::injection
