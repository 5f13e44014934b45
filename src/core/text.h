// Small text utilities shared by config, composition and transports:
// glob matching, durations, environment expansion, SSE framing.
// All functions are pure and thread-safe.
#pragma once
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace portcullis::text {

// Shell-style glob: '*' matches any run (including empty), '?' one character.
bool glob_match(std::string_view pattern, std::string_view s);

// "250ms", "30s", "5m", "1h", "2d"; a bare number means seconds.
Result<std::chrono::milliseconds> parse_duration(std::string_view s);
std::string format_duration(std::chrono::milliseconds d);

// "4MiB", "512KiB", "1MB", "1000": a byte count.
Result<size_t> parse_size(std::string_view s);

// Expands ${VAR} (and ${VAR:-default}) using `lookup`; a missing variable with
// no default is an error naming it. "$$" is a literal '$'.
Result<std::string> expand_env(std::string_view s,
                               const std::function<std::optional<std::string>(const std::string&)>& lookup);

// Splits an SSE stream into events. Feed arbitrary chunks; each complete event
// (terminated by a blank line) is delivered to the callback.
class SseParser {
 public:
  struct Event {
    std::string event;  // "message" when absent
    std::string data;   // data lines joined with '\n'
    std::string id;
    std::optional<long> retry_ms;
  };
  explicit SseParser(std::function<void(Event&&)> on_event) : on_event_(std::move(on_event)) {}
  void feed(std::string_view chunk);

 private:
  void line(std::string_view l);
  std::function<void(Event&&)> on_event_;
  std::string buf_;
  Event cur_;
  bool has_data_ = false;
};

// Formats one SSE event carrying `data` (may contain newlines).
std::string sse_event(std::string_view data, std::string_view event = {}, std::string_view id = {});

// `s` without leading and trailing ASCII whitespace.
std::string_view trim(std::string_view s);
// `s` in single quotes, for diagnostics: quote("x") == "'x'".
std::string quote(std::string_view s);
// The non-empty space-separated words of `s` (OAuth scope strings).
std::vector<std::string> split_words(std::string_view s);
std::string to_lower(std::string_view s);
bool starts_with(std::string_view s, std::string_view prefix);
// Appends code point `cp` (at most 0x10FFFF) as UTF-8.
void append_utf8(std::string& out, uint32_t cp);

}  // namespace portcullis::text
