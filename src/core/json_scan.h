// Walking raw JSON text outside its strings, for the cheap checks made
// before (or instead of) a parse. Pure; any thread.
#pragma once
#include <cstddef>
#include <string_view>

namespace portcullis {

// Calls f(i) for every index of `text` that is neither inside a string nor
// one of its quotes (a backslash escapes the next byte inside strings), in
// order, until f returns false.
template <typename F>
void for_each_outside_strings(std::string_view text, F&& f) {
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
      continue;
    }
    if (!f(i)) return;
  }
}

}  // namespace portcullis
