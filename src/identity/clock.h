// The wall clock the identity layer reads (token expiry, key-set freshness,
// refetch rate limits). Injectable so that tests can move time.
#pragma once
#include <chrono>
#include <functional>

namespace portcullis::identity {

using WallClock = std::function<std::chrono::system_clock::time_point()>;

inline WallClock system_clock() {
  return [] { return std::chrono::system_clock::now(); };
}

inline long long unix_seconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

}  // namespace portcullis::identity
