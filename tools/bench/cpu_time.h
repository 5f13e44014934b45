// CPU-time measurement for the single-thread benches: rates per second of
// the calling thread's CPU time ("per core"), so they hold on a machine
// other work shares.
#pragma once
#include <time.h>

#include <cstddef>

namespace portcullis::bench {

inline double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

inline double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Calls f() until `seconds` of this thread's CPU time have passed; returns
// calls per CPU second.
template <typename F>
double calls_per_cpu_second(double seconds, F&& f) {
  size_t n = 0;
  const double start = thread_cpu_seconds();
  double elapsed = 0;
  do {
    f();
    ++n;
    elapsed = thread_cpu_seconds() - start;
  } while (elapsed < seconds);
  return static_cast<double>(n) / elapsed;
}

}  // namespace portcullis::bench
