// Parsing of `.test.yaml` files into TestFile. yaml-cpp exceptions are caught
// here and turned into file:line:col messages; accessors are only called on
// nodes whose type was checked first, so no conversion exception can escape.
// YAML::Node is never assigned to once it refers to a document node (yaml-cpp's
// operator= rewrites the referred node); nodes are copy-constructed or pointed to.
#include "policyc/test_file.h"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <utility>

#include "policyc/io.h"
#include "policyc/yaml_json.h"

namespace gavel::policyc {

namespace {

using Json = nlohmann::json;

const std::vector<std::string> kFileKeys = {"policy", "defaults", "cases"};
const std::vector<std::string> kInputKeys = {"principal",    "context", "env",     "endpoint",
                                             "input_tokens", "request", "response"};
const std::vector<std::string> kLedgerKeys = {"repeat", "at", "advance"};
const std::vector<std::string> kExpectKeys = {"decision",  "status", "code",  "message", "rule",      "rules",
                                              "not_rules", "route",  "flags", "errors",  "redactions"};
const std::vector<std::string> kEndpoints = {"chat", "completions", "responses", "embeddings"};

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string UnknownKey(const std::string& key, const std::vector<std::string>& allowed) {
  std::string best;
  size_t best_d = 3;  // suggest only near misses
  for (const std::string& k : allowed) {
    const size_t d = EditDistance(key, k);
    if (d < best_d) best_d = d, best = k;
  }
  std::string msg = "unknown key '" + key + "'";
  if (!best.empty())
    msg += " (did you mean '" + best + "'?)";
  else
    msg += " (expected one of: " + Join(allowed) + ")";
  return msg;
}

// Where a node is, for messages: "file:line:col".
std::string At(const std::string& path, const YAML::Node& n) { return path + ":" + MarkText(n.Mark()); }

// A scalar's text, whatever YAML type it resolves to (a rule named `404`).
bool ScalarText(const YAML::Node& n, std::string* out) {
  if (!n.IsScalar()) return false;
  *out = n.Scalar();
  return true;
}

// A plain or quoted null (`~`, `null`, empty) as opposed to the string "null".
bool IsNullValue(const YAML::Node& n) {
  if (n.IsNull()) return true;
  if (!n.IsScalar() || n.Tag() == "!") return false;
  const std::string& s = n.Scalar();
  return s == "~" || s == "null" || s == "Null" || s == "NULL";
}

// Per-case parsing state: the file, the case's label and the first error.
using NodeMap = std::map<std::string, YAML::Node>;

class CaseParser {
 public:
  CaseParser(const std::string& path, const NodeMap& defaults, TestCase* tc)
      : path_(path), defaults_(defaults), tc_(tc) {}

  void Parse(const YAML::Node& node, size_t index) {
    tc_->line = node.Mark().line + 1;
    tc_->name = "case #" + std::to_string(index + 1);
    if (!node.IsMap()) return Fail(node, "a case must be a mapping with `name` and `expect`");
    // The name first, so that every later error can say which case it is about.
    const YAML::Node name = node["name"];
    if (!name) return Fail(node, "missing `name`");
    std::string n;
    if (!ScalarText(name, &n) || n.empty()) return Fail(name, "`name` must be a non-empty string");
    tc_->name = n;
    NodeMap keys;
    for (const auto& kv : node) {
      std::string key;
      if (!ScalarText(kv.first, &key)) return Fail(kv.first, "keys must be plain names");
      if (keys.count(key)) return Fail(kv.first, "duplicate key '" + key + "'");
      if (Contains(kLedgerKeys, key))
        return Fail(kv.first, "`" + key + "` needs the usage ledger, not available in this build");
      if (key != "name" && key != "expect" && !Contains(kInputKeys, key)) {
        std::vector<std::string> allowed = kInputKeys;
        allowed.insert(allowed.begin(), {"name", "expect"});
        return Fail(kv.first, UnknownKey(key, allowed));
      }
      keys.emplace(key, kv.second);
    }
    if (!ParseInputs(keys)) return;
    auto expect = keys.find("expect");
    if (expect == keys.end()) return Fail(node, "missing `expect`");
    ParseExpect(expect->second);
  }

 private:
  void Fail(const YAML::Node& n, const std::string& msg) { FailAt(n.Mark(), msg); }
  void FailAt(const YAML::Mark& mark, const std::string& msg) {
    if (tc_->error.empty()) tc_->error = path_ + ":" + MarkText(mark) + ": case '" + tc_->name + "': " + msg;
  }
  bool failed() const { return !tc_->error.empty(); }

  // The value of input `key`: the case's, the defaults', or both merged
  // shallowly (the case's top-level fields win). An explicit null in the case
  // removes a default. Returns null if neither gives one (or on error, which
  // failed() then tells); *base is the defaults' object to merge under.
  const YAML::Node* Input(const NodeMap& keys, const std::string& key, Json* base) {
    auto c = keys.find(key);
    auto d = defaults_.find(key);
    *base = Json();
    if (c != keys.end()) {
      if (IsNullValue(c->second)) return nullptr;
      if (d != defaults_.end() && c->second.IsMap() && d->second.IsMap()) {
        YAML::Mark where;
        std::string err;
        if (!YamlToJson(d->second, base, &where, &err)) {
          FailAt(where, "defaults." + key + ": " + err);
          return nullptr;
        }
      }
      return &c->second;
    }
    if (d == defaults_.end() || IsNullValue(d->second)) return nullptr;
    return &d->second;
  }

  // Converts an object input (principal, context, env; request/response when
  // given as a mapping) to JSON text, merged over `base` if it is an object.
  bool ObjectText(const std::string& key, const YAML::Node& node, const Json& base, std::string* out) {
    Json v;
    YAML::Mark where;
    std::string err;
    if (!YamlToJson(node, &v, &where, &err)) {
      FailAt(where, key + ": " + err);
      return false;
    }
    if (base.is_object()) {
      Json merged = base;
      for (auto it = v.begin(); it != v.end(); ++it) merged[it.key()] = it.value();
      v = std::move(merged);
    }
    *out = v.dump();
    return true;
  }

  bool ParseInputs(const NodeMap& keys) {
    CaseInput& in = tc_->input;
    Json base;
    const std::pair<const char*, std::string*> objects[] = {
        {"principal", &in.principal}, {"context", &in.context}, {"env", &in.env}};
    for (const auto& [key, out] : objects) {
      const YAML::Node* node = Input(keys, key, &base);
      if (node == nullptr) {
        if (failed()) return false;
        continue;
      }
      if (!node->IsMap()) {
        Fail(*node, std::string("`") + key + "` must be a mapping");
        return false;
      }
      if (!ObjectText(key, *node, base, out)) return false;
    }
    const std::pair<const char*, std::string*> bodies[] = {{"request", &in.request}, {"response", &in.response}};
    for (const auto& [key, out] : bodies) {
      const YAML::Node* node = Input(keys, key, &base);
      if (node == nullptr) {
        if (failed()) return false;
        continue;
      }
      if (out == &in.response) in.has_response = true;
      if (node->IsMap()) {
        if (!ObjectText(key, *node, base, out)) return false;
      } else if (node->IsScalar() && node->Tag() == "!") {
        *out = node->Scalar();  // raw JSON text, passed verbatim as a gateway would
      } else {
        Fail(*node, std::string("`") + key + "` must be a mapping or a quoted string of JSON text");
        return false;
      }
    }
    if (const YAML::Node* node = Input(keys, "endpoint", &base)) {
      if (!node->IsScalar() || !Contains(kEndpoints, node->Scalar())) {
        Fail(*node, "`endpoint` must be one of: " + Join(kEndpoints));
        return false;
      }
      in.endpoint = node->Scalar();
    } else if (failed()) {
      return false;
    }
    if (const YAML::Node* node = Input(keys, "input_tokens", &base)) {
      Json v;
      YAML::Mark where;
      std::string err;
      if (!node->IsScalar() || node->Tag() == "!" || !YamlToJson(*node, &v, &where, &err) || !v.is_number_integer() ||
          v.get<int64_t>() < 0) {
        Fail(*node, "`input_tokens` must be a non-negative integer");
        return false;
      }
      in.input_tokens = v.get<int64_t>();
    } else if (failed()) {
      return false;
    }
    return true;
  }

  bool StringField(const YAML::Node& n, const std::string& key, std::string* out) {
    if (ScalarText(n, out) && !IsNullValue(n)) return true;
    Fail(n, "expect." + key + " must be a string");
    return false;
  }

  bool ListField(const YAML::Node& n, const std::string& key, std::vector<std::string>* out) {
    if (!n.IsSequence()) {
      Fail(n, "expect." + key + " must be a list of rule names, e.g. [a, b]");
      return false;
    }
    for (const YAML::Node& item : n) {
      std::string s;
      if (!ScalarText(item, &s) || IsNullValue(item)) {
        Fail(item, "expect." + key + " must hold rule names");
        return false;
      }
      out->push_back(std::move(s));
    }
    return true;
  }

  void ParseExpect(const YAML::Node& e) {
    if (!e.IsMap()) return Fail(e, "`expect` must be a mapping");
    Expectation& x = tc_->expect;
    bool has_decision = false;
    std::map<std::string, bool> seen;
    for (const auto& kv : e) {
      std::string key;
      if (!ScalarText(kv.first, &key)) return Fail(kv.first, "keys must be plain names");
      if (seen[key]) return Fail(kv.first, "duplicate key 'expect." + key + "'");
      seen[key] = true;
      const YAML::Node& v = kv.second;
      std::string s;
      if (key == "decision") {
        if (!ScalarText(v, &s) || (s != "allow" && s != "deny"))
          return Fail(v, "expect.decision must be `allow` or `deny`");
        x.allow = s == "allow";
        has_decision = true;
      } else if (key == "status") {
        Json j;
        YAML::Mark where;
        std::string err;
        if (!v.IsScalar() || v.Tag() == "!" || !YamlToJson(v, &j, &where, &err) || !j.is_number_integer())
          return Fail(v, "expect.status must be an integer such as 403");
        x.status = j.get<int64_t>();
      } else if (key == "code" || key == "message" || key == "rule") {
        if (!StringField(v, key, &s)) return;
        (key == "code" ? x.code : key == "message" ? x.message : x.rule) = s;
      } else if (key == "rules" || key == "not_rules" || key == "flags" || key == "errors") {
        std::vector<std::string> list;
        if (!ListField(v, key, &list)) return;
        (key == "rules" ? x.rules : key == "not_rules" ? x.not_rules : key == "flags" ? x.flags : x.errors) = list;
      } else if (key == "route") {
        x.route_given = true;
        if (IsNullValue(v)) continue;
        if (!StringField(v, key, &s)) return;
        x.route = s;
      } else if (key == "redactions") {
        if (!v.IsSequence())
          return Fail(v, "expect.redactions must be a list such as [{kind: std.pii.email, text: \"a@b.io\"}]");
        std::vector<ExpectedRedaction> list;
        for (const YAML::Node& item : v) {
          if (!item.IsMap())
            return Fail(item, "a redaction is a mapping with `kind` (and `text`, `field`, `replacement`)");
          ExpectedRedaction r;
          bool has_kind = false;
          for (const auto& f : item) {
            std::string k, val;
            if (!ScalarText(f.first, &k)) return Fail(f.first, "keys must be plain names");
            if (!ScalarText(f.second, &val)) return Fail(f.second, "expect.redactions." + k + " must be a string");
            if (k == "kind") {
              r.kind = val;
              has_kind = true;
            } else if (k == "text") {
              r.text = val;
            } else if (k == "field") {
              r.field = val;
            } else if (k == "replacement") {
              r.replacement = val;
            } else {
              return Fail(f.first, "unknown key '" + k + "' in a redaction (kind, text, field, replacement)");
            }
          }
          if (!has_kind) return Fail(item, "a redaction needs `kind`");
          list.push_back(std::move(r));
        }
        x.redactions = std::move(list);
      } else {
        return Fail(kv.first, "in expect: " + UnknownKey(key, kExpectKeys));
      }
    }
    if (!has_decision) Fail(e, "expect.decision is required (allow or deny)");
  }

  const std::string& path_;
  const NodeMap& defaults_;
  TestCase* tc_;
};

bool ParseDefaults(const std::string& path, const YAML::Node& node, NodeMap* out, std::string* err) {
  if (IsNullValue(node)) return true;
  if (!node.IsMap()) {
    *err = At(path, node) + ": `defaults` must be a mapping";
    return false;
  }
  for (const auto& kv : node) {
    std::string key;
    if (!ScalarText(kv.first, &key)) {
      *err = At(path, kv.first) + ": keys must be plain names";
      return false;
    }
    if (Contains(kLedgerKeys, key)) {
      *err = At(path, kv.first) + ": defaults: `" + key + "` needs the usage ledger, not available in this build";
      return false;
    }
    if (!Contains(kInputKeys, key)) {
      *err = At(path, kv.first) + ": in defaults: " + UnknownKey(key, kInputKeys);
      return false;
    }
    if (out->count(key)) {
      *err = At(path, kv.first) + ": duplicate key 'defaults." + key + "'";
      return false;
    }
    out->emplace(key, kv.second);
  }
  return true;
}

bool ParseDocument(const std::string& path, const YAML::Node& root, TestFile* out, std::string* err) {
  if (!root.IsMap()) {
    *err = path + ": a test file must be a mapping with `policy` and `cases`";
    return false;
  }
  NodeMap top;
  for (const auto& kv : root) {
    std::string key;
    if (!ScalarText(kv.first, &key)) {
      *err = At(path, kv.first) + ": keys must be plain names";
      return false;
    }
    if (!Contains(kFileKeys, key)) {
      *err = At(path, kv.first) + ": " + UnknownKey(key, kFileKeys);
      return false;
    }
    if (!top.emplace(key, kv.second).second) {
      *err = At(path, kv.first) + ": duplicate key '" + key + "'";
      return false;
    }
  }
  auto policy = top.find("policy"), defaults = top.find("defaults"), cases = top.find("cases");
  std::string policy_name;
  if (policy == top.end() || !ScalarText(policy->second, &policy_name) || policy_name.empty()) {
    *err = (policy != top.end() ? At(path, policy->second) : path) +
           ": `policy` (the policy file, relative to this file) is required";
    return false;
  }
  namespace fs = std::filesystem;
  const fs::path p(policy_name);
  out->policy_path =
      p.is_absolute() ? p.lexically_normal().string() : (fs::path(path).parent_path() / p).lexically_normal().string();
  NodeMap defaults_map;
  if (defaults != top.end() && !ParseDefaults(path, defaults->second, &defaults_map, err)) return false;
  if (cases == top.end() || !cases->second.IsSequence()) {
    *err = (cases != top.end() ? At(path, cases->second) : path) + ": `cases` (a list of cases) is required";
    return false;
  }
  std::map<std::string, int> names;  // name -> line of its first case
  size_t index = 0;
  for (const YAML::Node& item : cases->second) {
    TestCase tc;
    CaseParser(path, defaults_map, &tc).Parse(item, index++);
    auto [it, fresh] = names.emplace(tc.name, tc.line);
    if (!fresh && tc.error.empty())
      tc.error = path + ":" + std::to_string(tc.line) + ": case '" + tc.name +
                 "': duplicate case name (first used on line " + std::to_string(it->second) + ")";
    out->cases.push_back(std::move(tc));
  }
  return true;
}

}  // namespace

bool ParseTestFile(const std::string& path, TestFile* out, std::string* err) {
  *out = TestFile();
  out->path = path;
  std::string text;
  if (!ReadInput(path, &text, err)) return false;
  try {
    const YAML::Node root = YAML::Load(text);
    return ParseDocument(path, root, out, err);
  } catch (const YAML::DeepRecursion& e) {
    // yaml-cpp reports its depth guard with the message "bad file".
    *err = path + ":" + MarkText(e.mark) + ": malformed YAML: nesting deeper than " + std::to_string(e.depth()) +
           " levels";
    return false;
  } catch (const YAML::Exception& e) {
    // e.msg without yaml-cpp's own "yaml-cpp: error at line ..." prefix.
    *err = path + ":" + MarkText(e.mark) + ": malformed YAML: " + e.msg;
    return false;
  }
}

}  // namespace gavel::policyc
