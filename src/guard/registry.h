// DetectorRegistry: detector name -> builder from that guardrail's `options:`
// YAML. Adding a detector means adding a file and one add() line in
// builtin(), never editing the chain.
//
// Threads: builtin() is built once (thread-safe static) and read-only after;
// a registry built by hand (tests) is not synchronised while being filled.
#pragma once
#include <yaml-cpp/yaml.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "guard/detector.h"

namespace portcullis::guard {

// Builds a detector from its options (an undefined node when absent).
// Errors name the option at fault; the caller adds file:line.
using DetectorBuilder =
    std::function<Result<std::shared_ptr<const Detector>>(const YAML::Node& options)>;

class DetectorRegistry {
 public:
  void add(std::string name, DetectorBuilder builder);
  bool has(const std::string& name) const { return builders_.count(name) > 0; }
  std::vector<std::string> names() const;
  Result<std::shared_ptr<const Detector>> build(const std::string& name,
                                                const YAML::Node& options) const;

  // secrets, pii, sql, injection and poisoning.
  static const DetectorRegistry& builtin();

 private:
  std::map<std::string, DetectorBuilder> builders_;
};

// The builders of this layer's detectors (options: see secrets.h, pii.h).
Result<std::shared_ptr<const Detector>> build_secrets_detector(const YAML::Node& options);
Result<std::shared_ptr<const Detector>> build_pii_detector(const YAML::Node& options);

}  // namespace portcullis::guard
