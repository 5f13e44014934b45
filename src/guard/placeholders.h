// Stable placeholders within one request: the same value gets the same
// "[KIND_n]" however many times and in however many fields it appears, so a
// redacted tool result still says "[EMAIL_1] wrote to [EMAIL_2], cc [EMAIL_1]".
// The ScanContext stores kind and a 64-bit hash of the value ("KIND:" and
// the hash's 8 raw bytes), never the value (a collision, ~n^2/2^64 within
// one request, would merge two values under one placeholder; it never
// exposes either).
//
// Threads: a ScanContext belongs to one request; callers serialise access.
#pragma once
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "guard/detector.h"

namespace portcullis::guard {

// "[KIND_n]" for `normalized` (the value in a canonical form: lowercase
// email, E.164 phone, digits of a card), numbering each kind from 1.
std::string placeholder_for(ScanContext& ctx, std::string_view kind, std::string_view normalized);

// placeholder_for() for many values in a row (one detector's scan): keeps
// where each kind's counter lives in the context rather than looking it up
// for every new value. Same placeholders. Nothing else may change `ctx`
// while a writer is in use.
class PlaceholderWriter {
 public:
  explicit PlaceholderWriter(ScanContext& ctx) : ctx_(ctx) {}
  std::string operator()(std::string_view kind, std::string_view normalized);

 private:
  int& counter(std::string_view kind);
  ScanContext& ctx_;
  std::vector<std::pair<std::string, int*>> counters_;  // a few kinds: searched in order
  std::string key_;
};

}  // namespace portcullis::guard
