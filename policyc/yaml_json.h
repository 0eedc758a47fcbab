// YAML test data to JSON text for the request decoder. Resolution follows the
// YAML 1.2 core schema (plain `601` is a number, `"601"` a string), because
// request bodies pasted into tests must mean exactly what the JSON would.
// Must not guess beyond the core schema (no YAML 1.1 `yes`/`no` booleans).
#pragma once

#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>
#include <string>

namespace gavel::policyc {

// "12:5" (1-based line and column) for a yaml-cpp mark; "?" when unknown.
std::string MarkText(const YAML::Mark& mark);

// Converts `node` to JSON. Returns false with *err and *where (the offending
// node's position) for things JSON cannot hold: non-scalar or duplicate
// mapping keys, .inf, .nan.
bool YamlToJson(const YAML::Node& node, nlohmann::json* out, YAML::Mark* where, std::string* err);

}  // namespace gavel::policyc
