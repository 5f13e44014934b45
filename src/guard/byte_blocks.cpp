#include "guard/byte_blocks.h"

namespace portcullis::guard::blocks {

bool has_avx512bw() {
#if defined(__x86_64__)
  static const bool yes = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512bw") != 0;
  }();
  return yes;
#else
  return false;
#endif
}

}  // namespace portcullis::guard::blocks
