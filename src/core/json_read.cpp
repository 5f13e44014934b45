#include "core/json_read.h"

#include <simdjson.h>

#include <string>

#include "core/json_scan.h"

namespace portcullis {
namespace {

namespace dom = simdjson::dom;

// A parser keeps buffers sized for the largest document it has read.
constexpr size_t kKeepCapacity = size_t{1} << 20;

// True if the valid JSON `text` holds the number token "-0" (nlohmann's
// integer 0, which simdjson reports like "0"). A quick search first: a real
// "-0" token follows a ':', ',', '[' or the start of the text (whitespace
// aside) and has no fraction or exponent. Only if that finds a candidate,
// which may sit inside a string, does a scan that skips strings decide.
bool minus_zero_candidate(std::string_view text) {
  for (size_t i = text.find("-0"); i != std::string_view::npos; i = text.find("-0", i + 1)) {
    char next = i + 2 < text.size() ? text[i + 2] : ' ';
    if (next == '.' || next == 'e' || next == 'E') continue;
    size_t k = i;
    while (k > 0 && (text[k - 1] == ' ' || text[k - 1] == '\t' || text[k - 1] == '\n' ||
                     text[k - 1] == '\r')) {
      --k;
    }
    if (k == 0 || text[k - 1] == ':' || text[k - 1] == ',' || text[k - 1] == '[') return true;
  }
  return false;
}

bool holds_minus_zero(std::string_view text) {
  if (!minus_zero_candidate(text)) return false;
  bool found = false;
  for_each_outside_strings(text, [&](size_t i) {
    // Outside strings a '-' starts a number or signs an exponent ("1e-07").
    if (text[i] != '-' || i + 1 >= text.size() || text[i + 1] != '0') return true;
    char next = i + 2 < text.size() ? text[i + 2] : ' ';
    bool exponent = i > 0 && (text[i - 1] == 'e' || text[i - 1] == 'E');
    found = !exponent && next != '.' && next != 'e' && next != 'E';
    return !found;
  });
  return found;
}

class Builder {
 public:
  Builder(std::string_view text, size_t max_depth) : text_(text), max_depth_(max_depth) {}

  // Builds `out` from `e`, `depth` containers deep. Returns the status.
  FastRead build(dom::element e, size_t depth, Json& out) {
    switch (e.type()) {
      case dom::element_type::ARRAY: {
        if (depth + 1 > max_depth_) return FastRead::TooDeep;
        dom::array a = e.get_array().value_unsafe();
        out = Json::array();
        auto& arr = out.get_ref<Json::array_t&>();
        size_t n = a.size();  // saturates at 0xFFFFFF: only a hint
        arr.reserve(n);
        for (dom::element child : a) {
          arr.emplace_back();
          if (auto s = build(child, depth + 1, arr.back()); s != FastRead::Parsed) return s;
        }
        return FastRead::Parsed;
      }
      case dom::element_type::OBJECT: {
        if (depth + 1 > max_depth_) return FastRead::TooDeep;
        dom::object o = e.get_object().value_unsafe();
        out = Json::object();
        auto& obj = out.get_ref<Json::object_t&>();
        for (dom::key_value_pair field : o) {
          // Keys often arrive sorted (serializers that write a sorted map,
          // this one included): then the new key goes at the end with one
          // comparison. Otherwise operator[] then assignment, as nlohmann
          // does: a repeated key keeps its last value.
          Json* slot;
          if (obj.empty() || std::string_view(obj.rbegin()->first) < field.key) {
            slot = &obj.emplace_hint(obj.end(), std::string(field.key), nullptr)->second;
          } else {
            slot = &obj[std::string(field.key)];
          }
          if (auto s = build(field.value, depth + 1, *slot); s != FastRead::Parsed) return s;
        }
        return FastRead::Parsed;
      }
      case dom::element_type::STRING:
        out = std::string(e.get_string().value_unsafe());
        return FastRead::Parsed;
      case dom::element_type::INT64: {
        int64_t v = e.get_int64().value_unsafe();
        if (v < 0) {
          out = v;
        } else {
          if (v == 0 && minus_zero_possible()) return FastRead::Declined;
          out = static_cast<uint64_t>(v);  // no '-': nlohmann reads it unsigned
        }
        return FastRead::Parsed;
      }
      case dom::element_type::UINT64:
        out = e.get_uint64().value_unsafe();
        return FastRead::Parsed;
      case dom::element_type::DOUBLE:
        out = e.get_double().value_unsafe();
        return FastRead::Parsed;
      case dom::element_type::BOOL:
        out = e.get_bool().value_unsafe();
        return FastRead::Parsed;
      case dom::element_type::NULL_VALUE:
        out = nullptr;
        return FastRead::Parsed;
    }
    return FastRead::Declined;
  }

 private:
  bool minus_zero_possible() {
    if (minus_zero_ < 0) minus_zero_ = holds_minus_zero(text_) ? 1 : 0;
    return minus_zero_ == 1;
  }

  std::string_view text_;
  size_t max_depth_;
  int minus_zero_ = -1;  // -1: not looked yet
};

}  // namespace

FastRead read_json_fast(std::string_view text, size_t max_depth, Json& out) {
  thread_local dom::parser parser;
  FastRead status = FastRead::Declined;
  dom::element root;
  if (!parser.parse(text.data(), text.size(), /*realloc_if_needed=*/true).get(root)) {
    status = Builder(text, max_depth).build(root, 0, out);
  }
  if (parser.capacity() > kKeepCapacity) parser = dom::parser();
  return status;
}

}  // namespace portcullis
