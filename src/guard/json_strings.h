// JsonStrings: every string in a JSON value (object keys included), listed
// once in document order so detectors can scan them one by one, with the JSON
// pointer (RFC 6901) of each, and in-place rewriting for redaction.
//
// A JsonStrings refers into the Json it was built from: the Json must outlive
// it and must not change shape meanwhile except through set(). Not
// thread-safe; one request's value, one thread.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "core/json.h"

namespace portcullis::guard {

// One reference token of a JSON pointer (RFC 6901): '~' as "~0", '/' as "~1".
std::string pointer_escape(std::string_view token);

class JsonStrings {
 public:
  explicit JsonStrings(Json& root);

  size_t size() const { return entries_.size(); }
  const std::string& text(size_t i) const;
  bool is_key(size_t i) const { return entries_[i].is_key; }
  // The object key the string is the value of (nearest enclosing key for
  // array elements; "" for keys and top-level values): ScanContext::field.
  const std::string& field(size_t i) const;
  // "/arguments/query"; a key's pointer is that of its value.
  std::string pointer(size_t i) const;
  // Replaces the string (renaming the key when it is one).
  void set(size_t i, std::string value);

 private:
  struct Segment {
    int parent;        // -1: the root
    std::string key;   // object member name; empty with is_index
    size_t index = 0;  // array index
    bool is_index = false;
  };
  struct Entry {
    int segment;  // the value's own path segment
    bool is_key;
    std::string* value = nullptr;      // for values
    Json::object_t* object = nullptr;  // for keys: the members holding it (stable across moves)
  };
  void walk(Json& j, int segment, int field_segment);
  std::vector<Segment> segments_;
  std::vector<Entry> entries_;
  std::vector<int> fields_;  // per entry: the segment naming its field, or -1
};

}  // namespace portcullis::guard
