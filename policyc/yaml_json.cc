// YAML 1.2 core-schema scalar resolution and YAML-to-JSON conversion. Only
// plain scalars are resolved; quoted and block scalars (yaml-cpp tag "!") and
// explicit !!str stay strings. Nesting is bounded twice: by yaml-cpp's own
// depth guard while parsing, and by kMaxJsonDepth here, below the stack.
#include "policyc/yaml_json.h"

#include <cerrno>
#include <cstdint>
#include <cstdlib>

namespace gavel::policyc {

namespace {

constexpr const char* kTagStr = "tag:yaml.org,2002:str";

// Twice what the request decoder accepts (64), so every input it could take
// gets through to it and to its own error, and the conversion below, which
// recurses per level, stays shallow.
constexpr int kMaxJsonDepth = 128;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool AllOf(const std::string& s, size_t from, bool (*pred)(char)) {
  if (from >= s.size()) return false;
  for (size_t i = from; i < s.size(); ++i)
    if (!pred(s[i])) return false;
  return true;
}

bool IsOctal(char c) { return c >= '0' && c <= '7'; }
bool IsHex(char c) { return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
bool IsCoreFloat(const std::string& s) {
  size_t i = 0;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  size_t int_digits = 0, frac_digits = 0;
  while (i < s.size() && IsDigit(s[i])) ++i, ++int_digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && IsDigit(s[i])) ++i, ++frac_digits;
    if (int_digits == 0 && frac_digits == 0) return false;
  } else if (int_digits == 0) {
    return false;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    if (!AllOf(s, i, IsDigit)) return false;
    return true;
  }
  return i == s.size();
}

// An unsigned magnitude that fits int64 becomes an integer, a larger one an
// unsigned integer; JSON numbers beyond that can only be doubles.
nlohmann::json Unsigned(uint64_t v) {
  if (v <= static_cast<uint64_t>(INT64_MAX)) return nlohmann::json(static_cast<int64_t>(v));
  return nlohmann::json(v);
}

// Resolves a plain scalar. Returns false for values JSON has no form for.
bool ResolvePlain(const std::string& s, nlohmann::json* out, std::string* why) {
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") {
    *out = nullptr;
    return true;
  }
  if (s == "true" || s == "True" || s == "TRUE") {
    *out = true;
    return true;
  }
  if (s == "false" || s == "False" || s == "FALSE") {
    *out = false;
    return true;
  }
  const bool sign = s[0] == '-' || s[0] == '+';
  if (AllOf(s, sign ? 1 : 0, IsDigit)) {
    errno = 0;
    const char* digits = s.c_str() + (s[0] == '+' ? 1 : 0);
    if (s[0] == '-') {
      long long v = std::strtoll(digits, nullptr, 10);
      if (errno == 0) {
        *out = static_cast<int64_t>(v);
        return true;
      }
    } else {
      unsigned long long v = std::strtoull(digits, nullptr, 10);
      if (errno == 0) {
        *out = Unsigned(v);
        return true;
      }
    }
    *out = std::strtod(s.c_str(), nullptr);  // out of 64-bit range: keep the magnitude
    return true;
  }
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'o' || s[1] == 'x')) {
    const bool hex = s[1] == 'x';
    if (AllOf(s, 2, hex ? IsHex : IsOctal)) {
      errno = 0;
      unsigned long long v = std::strtoull(s.c_str() + 2, nullptr, hex ? 16 : 8);
      if (errno == 0) {
        *out = Unsigned(v);
        return true;
      }
      *why = "integer " + s + " does not fit in 64 bits";
      return false;
    }
  }
  if (IsCoreFloat(s)) {
    *out = std::strtod(s.c_str(), nullptr);
    return true;
  }
  std::string body = sign ? s.substr(1) : s;
  if (body == ".inf" || body == ".Inf" || body == ".INF" || s == ".nan" || s == ".NaN" || s == ".NAN") {
    *why = "'" + s + "' is a YAML float that JSON cannot represent (quote it to make it a string)";
    return false;
  }
  *out = s;
  return true;
}

bool Convert(const YAML::Node& node, int depth, nlohmann::json* out, YAML::Mark* where, std::string* err) {
  if (depth > kMaxJsonDepth) {
    *where = node.Mark();
    *err = "nesting deeper than " + std::to_string(kMaxJsonDepth) + " levels";
    return false;
  }
  switch (node.Type()) {
    case YAML::NodeType::Null:
      *out = nullptr;
      return true;
    case YAML::NodeType::Scalar: {
      const std::string& tag = node.Tag();
      if (tag == "!" || tag == kTagStr) {
        *out = node.Scalar();
        return true;
      }
      std::string why;
      if (!ResolvePlain(node.Scalar(), out, &why)) {
        *where = node.Mark();
        *err = why;
        return false;
      }
      return true;
    }
    case YAML::NodeType::Sequence: {
      *out = nlohmann::json::array();
      for (const YAML::Node& item : node) {
        nlohmann::json v;
        if (!Convert(item, depth + 1, &v, where, err)) return false;
        out->push_back(std::move(v));
      }
      return true;
    }
    case YAML::NodeType::Map: {
      *out = nlohmann::json::object();
      for (const auto& kv : node) {
        if (!kv.first.IsScalar()) {
          *where = kv.first.Mark();
          *err = "a mapping key must be a scalar to become a JSON key";
          return false;
        }
        const std::string& key = kv.first.Scalar();
        if (out->contains(key)) {
          *where = kv.first.Mark();
          *err = "duplicate key '" + key + "'";
          return false;
        }
        nlohmann::json v;
        if (!Convert(kv.second, depth + 1, &v, where, err)) return false;
        (*out)[key] = std::move(v);
      }
      return true;
    }
    case YAML::NodeType::Undefined:
      break;
  }
  *where = node.Mark();
  *err = "undefined YAML node";
  return false;
}

}  // namespace

std::string MarkText(const YAML::Mark& mark) {
  if (mark.line < 0 || mark.column < 0) return "?";
  return std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
}

bool YamlToJson(const YAML::Node& node, nlohmann::json* out, YAML::Mark* where, std::string* err) {
  return Convert(node, 0, out, where, err);
}

}  // namespace gavel::policyc
