#include "core/jsonrpc.h"

#include <algorithm>

#include "core/json_read.h"
#include "core/json_scan.h"
#include "core/json_write.h"

namespace portcullis::rpc {

size_t nesting_depth(std::string_view text, size_t stop_at) {
  size_t depth = 0, max_depth = 0;
  for_each_outside_strings(text, [&](size_t i) {
    char c = text[i];
    if (c == '[' || c == '{') {
      max_depth = std::max(max_depth, ++depth);
      return max_depth <= stop_at;
    }
    if ((c == ']' || c == '}') && depth > 0) --depth;
    return true;
  });
  return max_depth;
}

Result<Json> parse(std::string_view text, const Limits& limits) {
  if (text.size() > limits.max_bytes) {
    return fail("message of " + std::to_string(text.size()) + " bytes exceeds the limit of " +
                std::to_string(limits.max_bytes) + " bytes");
  }
  auto too_deep = [&] {
    return fail("JSON nested deeper than the limit of " + std::to_string(limits.max_depth) +
                " levels");
  };
  Json j;
  switch (read_json_fast(text, limits.max_depth, j)) {
    case FastRead::Parsed: return j;
    case FastRead::TooDeep: return too_deep();
    case FastRead::Declined: break;
  }
  // What the fast reader declines (invalid JSON among it): nlohmann decides,
  // after the depth check on the raw text, so the messages stay the same.
  if (nesting_depth(text, limits.max_depth) > limits.max_depth) return too_deep();
  j = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return fail("invalid JSON");
  return j;
}

Kind classify(const Json& msg, std::string* why) {
  auto invalid = [&](const char* reason) {
    if (why) *why = reason;
    return Kind::Invalid;
  };
  if (!msg.is_object()) return invalid("a JSON-RPC message must be an object");
  auto v = msg.find("jsonrpc");
  if (v == msg.end() || *v != "2.0") return invalid("\"jsonrpc\" must be \"2.0\"");
  auto id = msg.find("id");
  bool has_id = id != msg.end();
  if (has_id && !(id->is_string() || id->is_number_integer() || id->is_number_unsigned())) {
    return invalid("\"id\" must be a string or an integer");
  }
  auto m = msg.find("method");
  if (m != msg.end()) {
    if (!m->is_string()) return invalid("\"method\" must be a string");
    auto p = msg.find("params");
    if (p != msg.end() && !p->is_object() && !p->is_array()) {
      return invalid("\"params\" must be an object or an array");
    }
    return has_id ? Kind::Request : Kind::Notification;
  }
  if (!has_id) return invalid("a message needs \"method\" or \"id\"");
  bool has_result = msg.contains("result"), has_error = msg.contains("error");
  if (has_result == has_error) return invalid("a response needs exactly one of \"result\" or \"error\"");
  if (has_error) {
    const Json& e = msg["error"];
    if (!e.is_object() || !e.contains("code") || !e["code"].is_number_integer()) {
      return invalid("\"error\" must be an object with an integer \"code\"");
    }
  }
  return Kind::Response;
}

Json make_request(const Json& id, std::string_view method, Json params) {
  Json j = {{"jsonrpc", "2.0"}, {"id", id}, {"method", method}};
  if (!params.is_null()) j["params"] = std::move(params);
  return j;
}

Json make_notification(std::string_view method, Json params) {
  Json j = {{"jsonrpc", "2.0"}, {"method", method}};
  if (!params.is_null()) j["params"] = std::move(params);
  return j;
}

Json make_result(const Json& id, Json result) {
  return {{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}};
}

Json make_error(const Json& id, int code, std::string_view message, Json data) {
  Json err = {{"code", code}, {"message", message}};
  if (!data.is_null()) err["data"] = std::move(data);
  Json out = {{"jsonrpc", "2.0"}, {"error", std::move(err)}};
  if (!id.is_null()) out["id"] = id;
  return out;
}

std::string dump(const Json& j) {
  std::string out;
  append_json(out, j);
  return out;
}

}  // namespace portcullis::rpc
