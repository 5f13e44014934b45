#include "guard/registry.h"

#include "guard/injection_detector.h"
#include "guard/pii.h"
#include "guard/poisoning_detector.h"
#include "guard/secrets.h"
#include "guard/sql_sanitizer.h"

namespace portcullis::guard {

namespace {

// Options are a map of known keys; anything else is a typo worth an error.
Result<void> only_keys(const YAML::Node& options, std::initializer_list<std::string_view> known) {
  if (!options || options.IsNull()) return {};
  if (!options.IsMap()) return fail("options must be a map");
  for (const auto& kv : options) {
    auto k = kv.first.as<std::string>();
    bool ok = false;
    for (auto n : known) ok |= (k == n);
    if (!ok) return fail("unknown option '" + k + "'");
  }
  return {};
}

Result<std::vector<std::string>> string_list(const YAML::Node& n, const char* what) {
  if (!n.IsSequence()) return fail(std::string(what) + " must be a list of strings");
  std::vector<std::string> out;
  for (const auto& v : n) {
    if (!v.IsScalar()) return fail(std::string(what) + " must be a list of strings");
    out.push_back(v.as<std::string>());
  }
  return out;
}

// The JSON form of YAML options, for detectors whose settings parse JSON
// (sql, injection, poisoning). Plain scalars become booleans and numbers
// where they read as such, as YAML 1.2's core schema has it.
Json options_json(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Scalar: {
      const std::string& v = n.Scalar();
      if (n.Tag() != "!") {  // quoted scalars stay strings
        if (v == "true" || v == "false") return v == "true";
        if (v == "null" || v == "~") return nullptr;
        Json parsed = Json::parse(v, nullptr, false);
        if (!parsed.is_discarded() && parsed.is_number()) return parsed;
      }
      return v;
    }
    case YAML::NodeType::Sequence: {
      Json a = Json::array();
      for (const auto& item : n) a.push_back(options_json(item));
      return a;
    }
    case YAML::NodeType::Map: {
      Json o = Json::object();
      for (const auto& kv : n) o[kv.first.as<std::string>()] = options_json(kv.second);
      return o;
    }
    default: return Json::object();
  }
}

template <typename D, typename S>
Result<std::shared_ptr<const Detector>> build_from_json(const YAML::Node& options) {
  auto settings = S::from_json(options && !options.IsNull() ? options_json(options) : Json::object());
  if (!settings.ok()) return fail(settings.error());
  return std::shared_ptr<const Detector>(std::make_shared<D>(std::move(settings).value()));
}

}  // namespace

void DetectorRegistry::add(std::string name, DetectorBuilder builder) {
  builders_[std::move(name)] = std::move(builder);
}

std::vector<std::string> DetectorRegistry::names() const {
  std::vector<std::string> out;
  for (const auto& [n, b] : builders_) out.push_back(n);
  return out;
}

Result<std::shared_ptr<const Detector>> DetectorRegistry::build(const std::string& name,
                                                                const YAML::Node& options) const {
  auto it = builders_.find(name);
  if (it == builders_.end()) return fail("unknown detector '" + name + "'");
  try {
    return it->second(options);
  } catch (const YAML::Exception& e) {
    return fail("detector '" + name + "' options: " + e.msg);
  }
}

const DetectorRegistry& DetectorRegistry::builtin() {
  static const DetectorRegistry r = [] {
    DetectorRegistry r;
    r.add("secrets", build_secrets_detector);
    r.add("pii", build_pii_detector);
    r.add("sql", build_from_json<SqlSanitizer, SqlSettings>);
    r.add("injection", build_from_json<InjectionDetector, InjectionSettings>);
    r.add("poisoning", build_from_json<PoisoningDetector, PoisoningSettings>);
    return r;
  }();
  return r;
}

Result<std::shared_ptr<const Detector>> build_secrets_detector(const YAML::Node& options) {
  if (auto ok = only_keys(options, {"entropy_threshold", "generic_min_length", "disabled_rules"});
      !ok)
    return fail(ok.error());
  SecretsOptions o;
  if (options && options.IsMap()) {
    if (options["entropy_threshold"])
      o.entropy_threshold = options["entropy_threshold"].as<double>();
    if (options["generic_min_length"])
      o.generic_min_length = options["generic_min_length"].as<size_t>();
    if (options["disabled_rules"]) {
      auto l = string_list(options["disabled_rules"], "disabled_rules");
      if (!l) return fail(l.error());
      o.disabled_rules = std::move(l.value());
    }
  }
  auto d = SecretsDetector::create(o);
  if (!d) return fail(d.error());
  return std::shared_ptr<const Detector>(d.value());
}

Result<std::shared_ptr<const Detector>> build_pii_detector(const YAML::Node& options) {
  if (auto ok = only_keys(options, {"kinds", "phone_regions"}); !ok) return fail(ok.error());
  PiiOptions o;
  if (options && options.IsMap()) {
    if (options["kinds"]) {
      auto l = string_list(options["kinds"], "kinds");
      if (!l) return fail(l.error());
      o.kinds = std::move(l.value());
    }
    if (options["phone_regions"]) {
      auto l = string_list(options["phone_regions"], "phone_regions");
      if (!l) return fail(l.error());
      o.phone_regions = std::move(l.value());
    }
  }
  auto d = PiiDetector::create(o);
  if (!d) return fail(d.error());
  return std::shared_ptr<const Detector>(d.value());
}

}  // namespace portcullis::guard
