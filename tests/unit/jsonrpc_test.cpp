#include <doctest/doctest.h>

#include "core/jsonrpc.h"

using namespace portcullis;

TEST_CASE("parse rejects a body larger than the byte limit and names both sizes") {
  auto r = rpc::parse(std::string(100, ' '), {.max_bytes = 10, .max_depth = 8});
  REQUIRE_FALSE(r.ok());
  CHECK(r.error() == "message of 100 bytes exceeds the limit of 10 bytes");
}

TEST_CASE("parse rejects JSON nested deeper than the depth limit") {
  std::string deep(100, '[');
  deep += std::string(100, ']');
  auto r = rpc::parse(deep, {.max_bytes = 1000, .max_depth = 64});
  REQUIRE_FALSE(r.ok());
  CHECK(r.error() == "JSON nested deeper than the limit of 64 levels");
}

TEST_CASE("brackets inside strings do not count towards nesting depth") {
  CHECK(rpc::nesting_depth(R"({"a":"[[[[\"{{{{"})", 100) == 1);
  CHECK(rpc::nesting_depth(R"([[1],[[2]]])", 100) == 3);
}

TEST_CASE("parse reports invalid JSON") {
  auto r = rpc::parse("{\"a\":", {});
  REQUIRE_FALSE(r.ok());
  CHECK(r.error() == "invalid JSON");
}

TEST_CASE("classify distinguishes requests, notifications, responses and invalid messages") {
  std::string why;
  CHECK(rpc::classify(Json::parse(R"({"jsonrpc":"2.0","id":1,"method":"ping"})")) == rpc::Kind::Request);
  CHECK(rpc::classify(Json::parse(R"({"jsonrpc":"2.0","method":"x"})")) == rpc::Kind::Notification);
  CHECK(rpc::classify(Json::parse(R"({"jsonrpc":"2.0","id":"a","result":{}})")) == rpc::Kind::Response);
  CHECK(rpc::classify(Json::parse(R"({"jsonrpc":"1.0","id":1,"method":"x"})"), &why) == rpc::Kind::Invalid);
  CHECK(why == "\"jsonrpc\" must be \"2.0\"");
  CHECK(rpc::classify(Json::parse(R"({"jsonrpc":"2.0","id":1.5,"method":"x"})"), &why) == rpc::Kind::Invalid);
  CHECK(why == "\"id\" must be a string or an integer");
  CHECK(rpc::classify(Json::parse(R"({"jsonrpc":"2.0","id":1,"result":1,"error":{"code":1}})"), &why) == rpc::Kind::Invalid);
  CHECK(rpc::classify(Json::parse(R"([1])"), &why) == rpc::Kind::Invalid);
  CHECK(why == "a JSON-RPC message must be an object");
}

TEST_CASE("make_error builds a JSON-RPC error with optional data") {
  Json e = rpc::make_error(7, rpc::kInvalidParams, "bad", {{"k", 1}});
  CHECK(e["id"] == 7);
  CHECK(e["error"]["code"] == -32602);
  CHECK(e["error"]["message"] == "bad");
  CHECK(e["error"]["data"]["k"] == 1);
  CHECK_FALSE(rpc::make_error(1, 1, "x").at("error").contains("data"));
}

TEST_CASE("an error for an unknown request id carries no id, since MCP ids are never null") {
  Json e = rpc::make_error(nullptr, rpc::kParseError, "Parse error");
  CHECK_FALSE(e.contains("id"));
  CHECK(e["jsonrpc"] == "2.0");
  CHECK(rpc::classify(rpc::make_error("a", 1, "x")) == rpc::Kind::Response);
}
