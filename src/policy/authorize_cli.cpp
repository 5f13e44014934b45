#include "policy/authorize_cli.h"

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "core/json.h"
#include "policy/json_format.h"
#include "policy/policy_set.h"

namespace portcullis::policy {

namespace {

int usage(const std::string& msg) {
  std::cerr << "portcullis authorize: " << msg << "\nUsage:\n" << kAuthorizeUsage;
  return 2;
}

Json decision_json(const Decision& d) {
  Json errors = Json::array();
  for (const auto& e : d.errors)
    errors.push_back({{"policy", e.policy_id}, {"message", e.message}});
  return {{"decision", d.allow ? "allow" : "deny"}, {"reasons", d.reasons}, {"errors", errors}};
}

}  // namespace

int run_authorize_cli(const std::vector<std::string>& args) {
  std::string dir, entities, request_file;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      std::cout << kAuthorizeUsage;
      return 0;
    }
    if (i + 1 >= args.size()) return usage(a + " needs a value");
    if (a == "--policies")
      dir = args[++i];
    else if (a == "--entities")
      entities = args[++i];
    else if (a == "--request")
      request_file = args[++i];
    else
      return usage("unknown option '" + a + "'");
  }
  if (dir.empty() || request_file.empty()) return usage("--policies and --request are required");
  auto set = CedarPolicySet::load_dir(dir, entities);
  if (!set.ok()) {
    std::cerr << set.error() << "\n";
    return 2;
  }
  std::stringstream text;
  if (request_file == "-") {
    text << std::cin.rdbuf();
  } else {
    std::ifstream in(request_file);
    if (!in) {
      std::cerr << request_file << ": cannot read\n";
      return 2;
    }
    text << in.rdbuf();
  }
  Json j = Json::parse(text.str(), nullptr, false);
  if (j.is_discarded()) {
    std::cerr << request_file << ": not valid JSON\n";
    return 2;
  }
  if (!j.is_array()) j = Json::array({j});
  int rc = 0;
  std::string out;
  for (const auto& rj : j) {
    auto req = request_from_json(rj);
    if (!req.ok()) {
      out += Json{{"error", req.error()}}.dump() + "\n";
      rc = 1;
      continue;
    }
    out += decision_json(set->authorize(req.value())).dump() + "\n";
  }
  std::cout << out << std::flush;
  return rc;
}

size_t check_policy_folder(const std::string& config_dir, std::ostream& out, std::ostream& err) {
  std::string dir = (std::filesystem::path(config_dir) / "policies").string();
  if (!std::filesystem::is_directory(dir)) return 0;
  auto problems = CedarPolicySet::check_dir(dir);
  for (const auto& p : problems) err << p << "\n";
  if (problems.empty()) {
    // The gateway loads policies/entities.json with them, when it exists.
    std::string entities = (std::filesystem::path(dir) / "entities.json").string();
    if (!std::filesystem::exists(entities)) entities.clear();
    auto set = CedarPolicySet::load_dir(dir, entities);
    if (!set.ok()) {
      err << set.error() << "\n";
      return 1;
    }
    out << "policies OK: " << set->policies().size() << " Cedar policies in " << dir;
    if (!entities.empty()) out << ", " << set->entities()->size() << " entities";
    out << "\n";
  }
  return problems.size();
}

}  // namespace portcullis::policy
