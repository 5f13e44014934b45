#include "guard/multi_pattern.h"

#include <hs/hs.h>

#include <algorithm>
#include <atomic>
#include <new>

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

struct ScanState {
  std::vector<AnchorHit> hits;
  bool out_of_memory = false;
};

// Called from inside hs_scan (C code): no exception may escape. Returning
// non-zero stops the scan, which then reports HS_SCAN_TERMINATED.
int on_match(unsigned id, unsigned long long from, unsigned long long to, unsigned, void* ctx) {
  auto* state = static_cast<ScanState*>(ctx);
  try {
    state->hits.push_back({id, size_t(from), size_t(to)});
    return 0;
  } catch (const std::bad_alloc&) {
    state->out_of_memory = true;
    return 1;
  }
}

}  // namespace

Result<std::shared_ptr<const MultiPattern>> MultiPattern::compile(
    const std::vector<Anchor>& anchors) {
  if (anchors.empty())
    return std::shared_ptr<const MultiPattern>(new MultiPattern());  // matches nothing
  std::vector<const char*> exprs;
  std::vector<unsigned> flags, ids;
  for (size_t i = 0; i < anchors.size(); ++i) {
    exprs.push_back(anchors[i].pattern.c_str());
    unsigned f = 0;
    if (anchors[i].caseless) f |= HS_FLAG_CASELESS;
    if (anchors[i].want_start) f |= HS_FLAG_SOM_LEFTMOST;
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
  std::vector<AnchorHit> hits;
  hs_error_t rc =
      hs_scan(db_, text.data(), unsigned(text.size()), 0, tls_scratch.scratch, on_match, &hits);
  if (rc != HS_SUCCESS) return fail("hyperscan: scan failed (" + std::to_string(rc) + ")");
  return hits;
}

}  // namespace portcullis::guard
