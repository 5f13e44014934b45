#include "guard/json_strings.h"

namespace portcullis::guard {

namespace {
const std::string kEmpty;

}  // namespace

std::string pointer_escape(std::string_view token) {
  std::string out;
  out.reserve(token.size());
  for (char c : token) {
    if (c == '~')
      out += "~0";
    else if (c == '/')
      out += "~1";
    else
      out += c;
  }
  return out;
}

JsonStrings::JsonStrings(Json& root) { walk(root, -1, -1); }

void JsonStrings::walk(Json& j, int segment, int field_segment) {
  if (j.is_string()) {
    entries_.push_back({segment, false, j.get_ptr<std::string*>(), nullptr});
    fields_.push_back(field_segment);
  } else if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) {
      segments_.push_back({segment, it.key(), 0, false});
      int child = int(segments_.size() - 1);
      entries_.push_back({child, true, nullptr, j.get_ptr<Json::object_t*>()});
      fields_.push_back(-1);
      walk(it.value(), child, child);
    }
  } else if (j.is_array()) {
    for (size_t i = 0; i < j.size(); ++i) {
      segments_.push_back({segment, {}, i, true});
      walk(j[i], int(segments_.size() - 1), field_segment);
    }
  }
}

const std::string& JsonStrings::text(size_t i) const {
  const Entry& e = entries_[i];
  return e.is_key ? segments_[size_t(e.segment)].key : *e.value;
}

const std::string& JsonStrings::field(size_t i) const {
  return fields_[i] < 0 ? kEmpty : segments_[size_t(fields_[i])].key;
}

std::string JsonStrings::pointer(size_t i) const {
  std::vector<int> chain;
  for (int s = entries_[i].segment; s >= 0; s = segments_[size_t(s)].parent) chain.push_back(s);
  std::string out;
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    const Segment& seg = segments_[size_t(*it)];
    out += '/';
    if (seg.is_index)
      out += std::to_string(seg.index);
    else
      out += pointer_escape(seg.key);
  }
  return out;
}

void JsonStrings::set(size_t i, std::string value) {
  Entry& e = entries_[i];
  if (!e.is_key) {
    *e.value = std::move(value);
    return;
  }
  // Renaming re-keys the map node in place: the member's value does not
  // move, so every other entry's pointer stays valid. A name that is taken
  // gets a "#n" suffix rather than overwriting the other member.
  std::string& key = segments_[size_t(e.segment)].key;
  if (value == key) return;
  std::string name = value;
  for (int n = 2; e.object->count(name); ++n) name = value + "#" + std::to_string(n);
  auto node = e.object->extract(key);
  node.key() = name;
  e.object->insert(std::move(node));
  key = std::move(name);
}

}  // namespace portcullis::guard
