#include "identity/jwks.h"

#include <httplib.h>

#include <algorithm>
#include <charconv>
#include <thread>

#include "core/text.h"
#include "transport/http_common.h"

namespace portcullis::identity {

using text::quote;

namespace {

using std::chrono::seconds;
namespace td = transport::detail;

struct Fetched {
  Json body;
  std::string cache_control;
  int status = 0;
};

// GET `url` and parse its JSON body. A non-200 status is an error naming it
// (status is kept in the returned message so discovery can move on).
Result<Fetched> get_json(const std::string& url, const JwksOptions& opt, int* status_out) {
  *status_out = 0;
  auto u = td::parse_url(url);
  if (!u) return fail(u.error());
  httplib::Client cli(u->origin());
  cli.set_connection_timeout(opt.connect_timeout);
  cli.set_read_timeout(opt.read_timeout);
  cli.set_write_timeout(opt.connect_timeout);
  cli.set_follow_location(false);
  std::string body;
  bool too_big = false;
  auto res = cli.Get(u->target, httplib::Headers{{"Accept", "application/json"}},
                     [&](const char* data, size_t n) {
                       if (body.size() + n > opt.max_document_bytes) {
                         too_big = true;
                         return false;
                       }
                       body.append(data, n);
                       return true;
                     });
  if (too_big)
    return fail(url + " returned more than " + std::to_string(opt.max_document_bytes) + " bytes");
  if (!res) return fail(url + ": " + td::describe_error(res.error()));
  *status_out = res->status;
  if (res->status != 200) return fail(url + " answered HTTP " + std::to_string(res->status));
  Json j = Json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return fail(url + " did not return a JSON object");
  return Fetched{std::move(j), res->get_header_value("Cache-Control"), res->status};
}

}  // namespace

std::vector<std::string> discovery_urls(std::string_view issuer) {
  size_t scheme = issuer.find("://");
  size_t host_end =
      scheme == std::string_view::npos ? std::string_view::npos : issuer.find('/', scheme + 3);
  std::string origin(issuer.substr(0, host_end));
  std::string path(host_end == std::string_view::npos ? std::string_view()
                                                      : issuer.substr(host_end));
  while (!path.empty() && path.back() == '/') path.pop_back();
  if (path.empty())
    return {origin + "/.well-known/oauth-authorization-server",
            origin + "/.well-known/openid-configuration"};
  return {origin + "/.well-known/oauth-authorization-server" + path,
          origin + "/.well-known/openid-configuration" + path,
          origin + path + "/.well-known/openid-configuration"};
}

std::optional<seconds> cache_control_max_age(std::string_view value) {
  std::optional<seconds> out;
  size_t i = 0;
  while (i <= value.size()) {
    size_t j = value.find(',', i);
    if (j == std::string_view::npos) j = value.size();
    std::string d = text::to_lower(text::trim(value.substr(i, j - i)));
    if (d == "no-store" || d == "no-cache") return seconds(0);
    if (text::starts_with(d, "max-age=")) {
      std::string_view n = std::string_view(d).substr(8);
      if (!n.empty() && n.front() == '"' && n.back() == '"' && n.size() >= 2)
        n = n.substr(1, n.size() - 2);
      long long v = 0;
      auto [p, ec] = std::from_chars(n.data(), n.data() + n.size(), v);
      if (ec == std::errc() && p == n.data() + n.size() && v >= 0) out = seconds(v);
    }
    i = j + 1;
  }
  return out;
}

JwksCache::JwksCache(std::string issuer, std::string jwks_uri, JwksOptions options)
    : issuer_(std::move(issuer)), opt_(std::move(options)), jwks_uri_(std::move(jwks_uri)) {}

std::string JwksCache::jwks_uri() const {
  std::lock_guard l(mu_);
  return jwks_uri_;
}

std::shared_ptr<const JwksCache::Snapshot> JwksCache::snapshot() const {
  std::lock_guard l(mu_);
  return snap_;
}

Result<std::string> JwksCache::discover() {
  std::string tried;
  for (const auto& url : discovery_urls(issuer_)) {
    int status = 0;
    auto r = get_json(url, opt_, &status);
    if (!r) {
      tried += (tried.empty() ? "" : "; ") + r.error();
      continue;
    }
    const Json& m = r->body;
    auto iss = m.find("issuer");
    if (iss == m.end() || !iss->is_string() || *iss != issuer_)
      return fail("authorization server metadata at " + url + " names issuer " +
                  (iss != m.end() && iss->is_string() ? quote(iss->get<std::string>())
                                                      : std::string("(none)")) +
                  ", not the configured " + quote(issuer_));
    auto uri = m.find("jwks_uri");
    if (uri == m.end() || !uri->is_string())
      return fail("authorization server metadata at " + url + " has no jwks_uri");
    return uri->get<std::string>();
  }
  return fail("no authorization server metadata found for issuer " + quote(issuer_) + " (" + tried +
              ")");
}

Result<JwksCache::Snapshot> JwksCache::fetch() {
  std::string uri = jwks_uri();
  if (uri.empty()) {
    auto d = discover();
    if (!d) return fail(d.error());
    uri = std::move(d).value();
    std::lock_guard l(mu_);
    jwks_uri_ = uri;
  }
  int status = 0;
  auto r = get_json(uri, opt_, &status);
  if (!r) return fail("cannot fetch the issuer's keys: " + r.error());
  auto set = KeySet::parse(r->body);
  if (!set) return fail("cannot use the issuer's keys from " + uri + ": " + set.error());
  seconds max_age = cache_control_max_age(r->cache_control).value_or(opt_.default_max_age);
  max_age = std::clamp(max_age, opt_.min_max_age, opt_.max_max_age);
  Snapshot s;
  s.set = std::move(set).value();
  s.fetched_at = opt_.clock();
  s.expires_at = s.fetched_at + max_age;
  return s;
}

bool JwksCache::refetch(const std::shared_ptr<const Snapshot>& seen, bool wait) {
  std::unique_lock l(mu_);
  if (snap_ != seen) return true;  // replaced since the caller looked: use the new one
  if (fetching_) {
    fetched_.wait(l, [&] { return !fetching_; });
    return true;
  }
  auto now = opt_.clock();
  if (attempted_ && now - last_attempt_ < opt_.min_refetch_interval) {
    auto closed_for = opt_.min_refetch_interval - (now - last_attempt_);
    if (!wait || closed_for > opt_.kid_miss_wait) return false;
    l.unlock();
    std::this_thread::sleep_for(closed_for);
    return refetch(seen, /*wait=*/false);
  }
  fetching_ = true;
  attempted_ = true;
  last_attempt_ = now;
  l.unlock();
  Result<Snapshot> r = fail("");
  try {
    r = fetch();
  } catch (const std::exception& e) {
    r = fail(std::string("cannot fetch the issuer's keys: ") + e.what());
  }
  l.lock();
  if (r) {
    snap_ = std::make_shared<const Snapshot>(std::move(r).value());
    last_error_.clear();
  } else {
    last_error_ = r.error();
  }
  fetching_ = false;
  fetched_.notify_all();
  return true;
}

void JwksCache::refresh_if_stale() {
  auto s = snapshot();
  if (!s || opt_.clock() >= s->expires_at) refetch(s);
}

Result<Jwk> JwksCache::key(std::string_view kid) {
  auto s = snapshot();
  if (!s || opt_.clock() >= s->expires_at) {
    refetch(s);
    s = snapshot();
  }
  if (!s) {
    std::lock_guard l(mu_);
    return fail(last_error_.empty() ? std::string("the issuer's keys are not available yet")
                                    : last_error_);
  }
  if (kid.empty()) {
    if (s->set.keys.size() == 1) return s->set.keys.front();
    if (s->set.keys.empty()) return fail("the issuer's key set has no usable keys");
    return fail("token has no kid and the issuer's key set has " +
                std::to_string(s->set.keys.size()) + " keys");
  }
  if (const Jwk* k = s->set.find(kid)) return *k;
  // An unknown kid usually means the issuer rotated its keys.
  bool fetched = refetch(s, /*wait=*/true);
  s = snapshot();
  if (const Jwk* k = s->set.find(kid)) return *k;
  if (auto why = s->set.skipped_reason(kid); !why.empty())
    return fail("token names an unusable key: " + why);
  std::string msg = "no key with kid " + quote(kid) + " in the issuer's key set";
  std::lock_guard l(mu_);
  if (!last_error_.empty()) {
    msg += " (refetch failed: " + last_error_ + ")";
  } else if (!fetched) {
    auto ago = std::chrono::duration_cast<seconds>(opt_.clock() - last_attempt_).count();
    msg += " (fetched " + std::to_string(ago) + " s ago; refetches are limited to one per " +
           std::to_string(opt_.min_refetch_interval.count()) + " s)";
  }
  return fail(msg);
}

}  // namespace portcullis::identity
