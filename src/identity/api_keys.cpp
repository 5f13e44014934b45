#include "identity/api_keys.h"

#include <openssl/crypto.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "core/crypto.h"
#include "core/base64.h"
#include "identity/principal.h"
#include "core/text.h"

namespace portcullis::identity {

using text::quote;

namespace {

bool is_id(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
  });
}

std::string allowed_metadata_keys() {
  std::string out;
  for (auto k : kMetadataKeys) out += (out.empty() ? "" : ", ") + std::string(k);
  return out;
}

// Parses one file's entries, collecting every problem with its line.
class Parser {
 public:
  explicit Parser(std::string display) : file_(std::move(display)) {}

  ApiKeyStore::Loaded run(std::string_view text, std::vector<ApiKeyEntry>& out) {
    YAML::Node doc;
    try {
      doc = YAML::Load(std::string(text));
    } catch (const YAML::ParserException& e) {
      error_line(e.mark.line >= 0 ? e.mark.line + 1 : 0, "YAML syntax error: " + e.msg);
      return {nullptr, std::move(errors_)};
    }
    if (doc.IsNull()) return {nullptr, {}};
    if (!doc.IsSequence()) {
      error(doc, "expected a list of keys (- id: ..., hash: sha256:..., subject: ...)");
      return {nullptr, std::move(errors_)};
    }
    size_t i = 0;
    for (const YAML::Node& item : doc) entry(item, i++, out);
    return {nullptr, std::move(errors_)};
  }

 private:
  static int line_of(const YAML::Node& n) { return n.Mark().line >= 0 ? n.Mark().line + 1 : 0; }
  void error_line(int line, std::string msg) {
    config::Diagnostic d;
    d.pos.file = file_;
    d.pos.line = line;
    d.message = std::move(msg);
    errors_.push_back(std::move(d));
  }
  void error(const YAML::Node& n, const std::string& msg) { error_line(line_of(n), msg); }

  std::optional<std::string> string_of(const YAML::Node& v, const std::string& where,
                                       const char* name) {
    if (!v.IsScalar()) {
      error(v, where + ": " + quote(name) + " must be a string");
      return std::nullopt;
    }
    return v.Scalar();
  }
  std::optional<std::vector<std::string>> strings_of(const YAML::Node& v, const std::string& where,
                                                     const char* name) {
    if (!v.IsSequence()) {
      error(v, where + ": " + quote(name) + " must be a list of strings");
      return std::nullopt;
    }
    std::vector<std::string> out;
    for (const YAML::Node& s : v) {
      if (!s.IsScalar()) {
        error(s, where + ": " + quote(name) + " must be a list of strings");
        return std::nullopt;
      }
      out.push_back(s.Scalar());
    }
    return out;
  }

  void entry(const YAML::Node& item, size_t index, std::vector<ApiKeyEntry>& out) {
    std::string where = "key[" + std::to_string(index) + "]";
    if (!item.IsMap()) {
      error(item, where + " must be a map with id, hash and subject");
      return;
    }
    ApiKeyEntry e;
    e.pos = {file_, line_of(item)};
    bool ok = true;
    std::set<std::string> seen;
    for (const auto& kv : item) {
      const std::string k = kv.first.IsScalar() ? kv.first.Scalar() : "";
      const YAML::Node v = kv.second;
      if (!seen.insert(k).second) {
        error(kv.first, where + ": duplicate key " + quote(k));
        ok = false;
      } else if (k == "id") {
        auto s = string_of(v, where, "id");
        if (s && !is_id(*s))
          error(v, where + ": id " + quote(*s) + " must use letters, digits, '_', '.' or '-'");
        if (s && is_id(*s))
          e.id = *s;
        else
          ok = false;
      } else if (k == "hash") {
        auto s = string_of(v, where, "hash");
        std::string hex = s && s->rfind("sha256:", 0) == 0 ? s->substr(7) : "";
        std::transform(hex.begin(), hex.end(), hex.begin(),
                       [](unsigned char c) { return std::tolower(c); });
        if (hex.size() != 64 || !crypto::from_hex(hex)) {
          if (s) error(v, where + ": 'hash' must be sha256: followed by 64 hex digits");
          ok = false;
        } else {
          e.hash_hex = hex;
        }
      } else if (k == "subject") {
        auto s = string_of(v, where, "subject");
        if (s && s->empty()) error(v, where + ": 'subject' must not be empty");
        if (s && !s->empty())
          e.subject = *s;
        else
          ok = false;
      } else if (k == "groups") {
        if (auto g = strings_of(v, where, "groups"))
          e.groups = std::move(*g);
        else
          ok = false;
      } else if (k == "scopes") {
        if (auto g = strings_of(v, where, "scopes"))
          e.scopes = std::move(*g);
        else
          ok = false;
      } else if (k == "metadata") {
        ok = metadata(v, where, e) && ok;
      } else {
        error(kv.first, where + ": unknown key " + quote(k) +
                            " (expected one of: id, hash, subject, groups, metadata, scopes)");
        ok = false;
      }
    }
    for (const char* required : {"id", "hash", "subject"}) {
      if (!seen.count(required)) {
        error(item, where + ": missing required key " + quote(required));
        ok = false;
      }
    }
    if (!e.id.empty()) where = "key " + quote(e.id);
    for (const auto& prev : out) {
      if (!e.id.empty() && prev.id == e.id) {
        error(item, where + " is already defined at line " + std::to_string(prev.pos.line));
        ok = false;
      } else if (!e.hash_hex.empty() && prev.hash_hex == e.hash_hex) {
        error(item, where + " has the same hash as key " + quote(prev.id));
        ok = false;
      }
    }
    if (ok) out.push_back(std::move(e));
  }

  bool metadata(const YAML::Node& v, const std::string& where, ApiKeyEntry& e) {
    if (!v.IsMap()) {
      error(v, where + ": 'metadata' must be a map of metadata key to string");
      return false;
    }
    bool ok = true;
    for (const auto& kv : v) {
      const std::string k = kv.first.IsScalar() ? kv.first.Scalar() : "";
      if (!is_metadata_key(k)) {
        error(kv.first, where + ": metadata key " + quote(k) +
                            " is not a metadata contract key (allowed: " + allowed_metadata_keys() +
                            ")");
        ok = false;
      } else if (!kv.second.IsScalar() || kv.second.Scalar().empty()) {
        error(kv.first, where + ": metadata." + k + " must be a non-empty string");
        ok = false;
      } else {
        e.metadata[k] = kv.second.Scalar();
      }
    }
    return ok;
  }

  std::string file_;
  std::vector<config::Diagnostic> errors_;
};

}  // namespace

ApiKeyStore::Loaded ApiKeyStore::parse(std::string_view yaml, const std::string& display) {
  std::vector<ApiKeyEntry> entries;
  Loaded r = Parser(display).run(yaml, entries);
  if (!r.errors.empty()) return r;
  auto store = std::make_shared<ApiKeyStore>();
  store->entries_ = std::move(entries);
  r.store = std::move(store);
  return r;
}

ApiKeyStore::Loaded ApiKeyStore::load(const std::string& path, const std::string& display) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    config::Diagnostic d;
    d.pos.file = display;
    d.message = "cannot read file";
    return {nullptr, {d}};
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return parse(ss.str(), display);
}

const ApiKeyEntry* ApiKeyStore::find(std::string_view presented) const {
  const std::string h = crypto::sha256_hex(presented);
  const ApiKeyEntry* match = nullptr;
  for (const auto& e : entries_) {
    // Every entry is compared in full; no early exit.
    bool same = CRYPTO_memcmp(e.hash_hex.data(), h.data(), h.size()) == 0;
    match = same ? &e : match;
  }
  return match;
}

bool looks_like_api_key(std::string_view credential) {
  return credential.size() > kApiKeyPrefix.size() &&
         credential.substr(0, kApiKeyPrefix.size()) == kApiKeyPrefix;
}

Result<GeneratedApiKey> generate_api_key(const std::string& id, const std::string& subject,
                                         const std::vector<std::string>& groups,
                                         const std::map<std::string, std::string>& metadata) {
  if (!is_id(id)) return fail("key id " + quote(id) + " must use letters, digits, '_', '.' or '-'");
  if (subject.empty()) return fail("a key needs a subject");
  for (const auto& [k, v] : metadata)
    if (!is_metadata_key(k))
      return fail("metadata key " + quote(k) +
                  " is not a metadata contract key (allowed: " + allowed_metadata_keys() + ")");
  GeneratedApiKey g;
  g.key = std::string(kApiKeyPrefix) + base64url_encode(crypto::random_bytes(32));
  YAML::Emitter out;
  out << YAML::BeginSeq << YAML::BeginMap;
  out << YAML::Key << "id" << YAML::Value << id;
  out << YAML::Key << "hash" << YAML::Value << "sha256:" + crypto::sha256_hex(g.key);
  out << YAML::Key << "subject" << YAML::Value << subject;
  if (!groups.empty()) out << YAML::Key << "groups" << YAML::Value << YAML::Flow << groups;
  if (!metadata.empty()) out << YAML::Key << "metadata" << YAML::Value << YAML::Flow << metadata;
  out << YAML::EndMap << YAML::EndSeq;
  g.yaml_entry = std::string(out.c_str()) + "\n";
  return g;
}

}  // namespace portcullis::identity
