// The injection detector's cheap first pass. One sweep over the text, two
// bytes per step, finds the few places worth a closer look:
//   - anchors: case-insensitive literals (>= 5 bytes) that every rule's match
//     contains ("ignor", "are now", "/.ssh"). Each step hashes the four bytes
//     at an even offset into a 64 Ki-bit set built from every 4-gram of every
//     anchor; an anchor of 5+ bytes always has one 4-gram at an even offset,
//     so no occurrence is missed. A hit is confirmed by comparing the anchor.
//   - '<' (HTML comments, chat-template tokens, pseudo-system tags);
//   - lead bytes of the invisible characters (0xE2, 0xEF, 0xF3);
//   - runs of 32+ base64 characters.
// Ordinary text yields few events, so the regex work after it is small.
//
// Threads: built once, then immutable; scan() is const and reentrant.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace portcullis::guard::injection {

struct Events {
  std::vector<std::pair<size_t, uint32_t>> anchors;  // (start offset, anchor id), sorted, unique
  std::vector<size_t> angles;                         // offsets of '<'
  std::vector<size_t> high;                           // offsets of 0xE2/0xEF/0xF3 lead bytes
  std::vector<size_t> base64_runs;                    // an offset inside each long run
};

class Prefilter {
 public:
  // `anchors` are lower-case ASCII, each at least 5 bytes long.
  explicit Prefilter(const std::vector<std::string>& anchors);
  void scan(std::string_view text, Events& out) const;

 private:
  void confirm(std::string_view text, size_t i, uint32_t hash, Events& out) const;

  std::vector<std::string> anchors_;
  std::vector<uint64_t> bits_;  // 1 << 16 bits
  // hash -> entries[begin[hash] .. begin[hash + 1]): (anchor id, offset of the 4-gram)
  std::vector<uint32_t> begin_;
  std::vector<std::pair<uint32_t, uint32_t>> entries_;
};

}  // namespace portcullis::guard::injection
