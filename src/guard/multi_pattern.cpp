#include "guard/multi_pattern.h"

#include <hs/hs.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <new>
#include <optional>

namespace portcullis::guard {

namespace {

// One scratch per thread, grown to serve every database this thread scans
// with. hs_alloc_scratch is costly even when nothing needs to grow, so each
// thread remembers which databases (by unique id) it has already fitted.
struct ThreadScratch {
  hs_scratch_t* scratch = nullptr;
  std::vector<uint64_t> fitted;
  ~ThreadScratch() {
    if (scratch) hs_free_scratch(scratch);
  }
};
thread_local ThreadScratch tls_scratch;
std::atomic<uint64_t> next_id{1};

// start_width_ for an anchor whose start Hyperscan reports (SOM).
constexpr unsigned kSomStart = ~0u;

struct ScanState {
  std::vector<AnchorHit> hits;
  const std::vector<unsigned>* start_width;  // MultiPattern::start_width_
  bool out_of_memory = false;
};

// Called from inside hs_scan (C code): no exception may escape. Returning
// non-zero stops the scan, which then reports HS_SCAN_TERMINATED.
int on_match(unsigned id, unsigned long long from, unsigned long long to, unsigned, void* ctx) {
  auto* state = static_cast<ScanState*>(ctx);
  unsigned width = (*state->start_width)[id];
  size_t start = width == kSomStart ? size_t(from) : size_t(to) - width;
  try {
    state->hits.push_back({id, start, size_t(to)});
    return 0;
  } catch (const std::bad_alloc&) {
    state->out_of_memory = true;
    return 1;
  }
}

// The one length every match of `pattern` has, if it has one: then a match's
// start follows from its end, and Hyperscan need not track starts (SOM),
// which costs on every scan.
std::optional<unsigned> fixed_width(const std::string& pattern, unsigned flags) {
  hs_expr_info_t* info = nullptr;
  hs_compile_error_t* err = nullptr;
  if (hs_expression_info(pattern.c_str(), flags, &info, &err) != HS_SUCCESS) {
    hs_free_compile_error(err);
    return std::nullopt;  // hs_compile_multi reports the error
  }
  std::optional<unsigned> width;
  if (info->min_width == info->max_width && !info->unordered_matches) width = info->min_width;
  std::free(info);  // allocated with malloc (no hs_set_allocator in this program)
  return width;
}

}  // namespace

Result<std::shared_ptr<const MultiPattern>> MultiPattern::compile(
    const std::vector<Anchor>& anchors) {
  if (anchors.empty())
    return std::shared_ptr<const MultiPattern>(new MultiPattern());  // matches nothing
  std::vector<const char*> exprs;
  std::vector<unsigned> flags, ids, start_width;
  for (size_t i = 0; i < anchors.size(); ++i) {
    exprs.push_back(anchors[i].pattern.c_str());
    unsigned f = anchors[i].caseless ? HS_FLAG_CASELESS : 0;
    start_width.push_back(0);  // no start wanted: start == end
    if (anchors[i].want_start) {
      auto width = fixed_width(anchors[i].pattern, f);
      if (!width) f |= HS_FLAG_SOM_LEFTMOST;
      start_width.back() = width ? *width : kSomStart;
    }
    flags.push_back(f);
    ids.push_back(unsigned(i));
  }
  hs_database_t* db = nullptr;
  hs_compile_error_t* err = nullptr;
  if (hs_compile_multi(exprs.data(), flags.data(), ids.data(), unsigned(exprs.size()),
                       HS_MODE_BLOCK, nullptr, &db, &err) != HS_SUCCESS) {
    std::string msg = "hyperscan: cannot compile";
    if (err) {
      if (err->expression >= 0) msg += " anchor " + anchors[size_t(err->expression)].pattern;
      msg += std::string(": ") + err->message;
      hs_free_compile_error(err);
    }
    return fail(msg);
  }
  std::shared_ptr<MultiPattern> mp(new MultiPattern());
  mp->db_ = db;
  mp->start_width_ = std::move(start_width);
  mp->id_ = next_id.fetch_add(1);
  return std::shared_ptr<const MultiPattern>(std::move(mp));
}

MultiPattern::~MultiPattern() {
  if (db_) hs_free_database(db_);
}

Result<std::vector<AnchorHit>> MultiPattern::scan(std::string_view text) const {
  if (!db_) return std::vector<AnchorHit>{};
  auto& fitted = tls_scratch.fitted;
  if (std::find(fitted.begin(), fitted.end(), id_) == fitted.end()) {
    if (hs_alloc_scratch(db_, &tls_scratch.scratch) != HS_SUCCESS)
      return fail("hyperscan: cannot allocate scratch space");
    fitted.push_back(id_);
  }
  if (text.size() > 0xffffffffu) return fail("hyperscan: text larger than 4 GiB");
  ScanState state{{}, &start_width_};
  hs_error_t rc =
      hs_scan(db_, text.data(), unsigned(text.size()), 0, tls_scratch.scratch, on_match, &state);
  if (state.out_of_memory) return fail("hyperscan: out of memory recording matches");
  if (rc != HS_SUCCESS) return fail("hyperscan: scan failed (" + std::to_string(rc) + ")");
  return std::move(state.hits);
}

}  // namespace portcullis::guard
