#include "identity/credentials_cli.h"

#include <cstdio>
#include <ctime>
#include <iostream>

#include "core/json.h"
#include "identity/credential_vault.h"

namespace portcullis::identity {

namespace {

struct KeyParts {
  std::string method, issuer, subject;
};

// Principal::key() is "method|<len>:issuer|subject".
KeyParts parse_key(const std::string& key) {
  KeyParts k;
  size_t bar = key.find('|');
  if (bar == std::string::npos) return {"", "", key};
  k.method = key.substr(0, bar);
  size_t colon = key.find(':', bar + 1);
  if (colon == std::string::npos) return {k.method, "", key.substr(bar + 1)};
  size_t len = 0;
  try {
    len = std::stoul(key.substr(bar + 1, colon - bar - 1));
  } catch (...) {
    return {k.method, "", key.substr(bar + 1)};
  }
  if (colon + 1 + len + 1 > key.size()) return {k.method, "", key.substr(bar + 1)};
  k.issuer = key.substr(colon + 1, len);
  k.subject = key.substr(colon + 1 + len + 1);
  return k;
}

std::string when(long long unix_s) {
  if (unix_s == 0) return "-";
  std::time_t t = static_cast<std::time_t>(unix_s);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

int usage(const std::string& why) {
  std::cerr << "portcullis credentials: " << why
            << "\nusage: portcullis credentials list [--user U] [--json]\n"
               "       portcullis credentials revoke --user U [--upstream NAME]\n";
  return 2;
}

}  // namespace

int run_credentials_cli(const std::vector<std::string>& args, const config::CredentialSettings& settings) {
  if (args.empty() || (args[0] != "list" && args[0] != "revoke")) return usage("expected 'list' or 'revoke'");
  std::string user, upstream;
  bool json = false;
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--json") {
      json = true;
      continue;
    }
    if (i + 1 >= args.size()) return usage(args[i] + " needs a value");
    if (args[i] == "--user") user = args[++i];
    else if (args[i] == "--upstream") upstream = args[++i];
    else return usage("unknown option '" + args[i] + "'");
  }
  if (settings.key.empty()) {
    std::cerr << "portcullis credentials: no credential vault is configured (credentials.key in portcullis.yaml)\n";
    return 1;
  }
  auto vault = CredentialVault::open(settings.vault, settings.key);
  if (!vault.ok()) {
    std::cerr << "portcullis credentials: " << settings.vault << ": " << vault.error() << "\n";
    return 1;
  }
  auto all = vault.value()->list_all();
  if (!all.ok()) {
    std::cerr << "portcullis credentials: " << all.error() << "\n";
    return 1;
  }
  std::vector<CredentialSummary> mine;
  for (auto& c : all.value()) {
    if (!user.empty() && parse_key(c.user_key).subject != user && c.user_key != user) continue;
    if (!upstream.empty() && c.upstream != upstream) continue;
    mine.push_back(std::move(c));
  }
  if (args[0] == "revoke") {
    if (user.empty()) return usage("revoke needs --user");
    if (mine.empty()) {
      std::cerr << "portcullis credentials: " << user << " holds no credential"
                << (upstream.empty() ? "" : " for upstream '" + upstream + "'") << "\n";
      return 1;
    }
    for (const auto& c : mine) {
      auto dropped = vault.value()->drop(c.user_key, c.upstream);
      if (!dropped.ok()) {
        std::cerr << "portcullis credentials: " << dropped.error() << "\n";
        return 1;
      }
      std::cout << "revoked " << parse_key(c.user_key).subject << " at " << c.upstream << "\n";
    }
    return 0;
  }
  if (json) {
    for (const auto& c : mine) {
      auto k = parse_key(c.user_key);
      std::string scopes;
      for (const auto& s : c.scopes) scopes += (scopes.empty() ? "" : " ") + s;
      std::cout << Json{{"user", k.subject},          {"auth_method", k.method}, {"user_issuer", k.issuer},
                        {"upstream", c.upstream},     {"issuer", c.issuer},      {"resource", c.resource},
                        {"scopes", c.scopes},         {"expires_at", c.expires_at},
                        {"has_refresh_token", c.has_refresh_token}, {"updated_at", c.updated_at}}
                       .dump()
                << "\n";
    }
    return 0;
  }
  std::printf("%-24s %-16s %-32s %-20s %-7s %s\n", "USER", "UPSTREAM", "ISSUER", "EXPIRES", "REFRESH", "SCOPES");
  for (const auto& c : mine) {
    std::string scopes;
    for (const auto& s : c.scopes) scopes += (scopes.empty() ? "" : " ") + s;
    std::printf("%-24s %-16s %-32s %-20s %-7s %s\n", parse_key(c.user_key).subject.c_str(), c.upstream.c_str(),
                c.issuer.c_str(), when(c.expires_at).c_str(), c.has_refresh_token ? "yes" : "no", scopes.c_str());
  }
  return 0;
}

}  // namespace portcullis::identity
