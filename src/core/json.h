// JSON value type used across Portcullis. nlohmann::json keeps insertion order
// irrelevant for protocol purposes, so the plain (sorted) variant is used.
#pragma once
#include <nlohmann/json.hpp>

namespace portcullis {
using Json = nlohmann::json;
}  // namespace portcullis
