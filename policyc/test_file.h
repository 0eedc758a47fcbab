// The `.test.yaml` format as data: parsing and validation only, no policy is
// compiled and nothing is evaluated here. Every problem names the file, the
// line:column and, inside a case, the case, so typos like `expcet` surface as
// errors instead of silently passing tests.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace gavel::policyc {

// One expected redaction: its kind, and optionally the original text it
// covers, the field it is in and its replacement.
struct ExpectedRedaction {
  std::string kind;
  std::optional<std::string> text, field, replacement;
};

struct Expectation {
  bool allow = true;
  std::optional<int64_t> status;
  std::optional<std::string> code;
  std::optional<std::string> message;                        // a substring of the decision message
  std::optional<std::string> rule;                           // this rule fired
  std::optional<std::vector<std::string>> rules;             // exactly these fired, in order
  std::optional<std::vector<std::string>> not_rules;         // none of these fired
  std::optional<std::vector<std::string>> flags;             // exactly these flag rules fired
  std::optional<std::vector<std::string>> errors;            // exactly these rules errored
  std::optional<std::vector<ExpectedRedaction>> redactions;  // exactly these, in order
  bool route_given = false;                                  // `route:` present
  std::optional<std::string> route;                          // empty with route_given: no route expected
};

// A case's inputs as the decoder takes them: JSON text, empty = absent.
struct CaseInput {
  std::string request, response, principal, context, env, endpoint;
  bool has_response = false;  // evaluate the `on response` rules
  int64_t input_tokens = -1;  // -1: let the decoder estimate
};

struct TestCase {
  std::string name;
  int line = 0;  // 1-based line of the case in the test file
  CaseInput input;
  Expectation expect;
  // Set when the case cannot run (unknown key, bad value, needs the ledger);
  // already names the file, line and case.
  std::string error;
};

struct TestFile {
  std::string path;
  std::string policy_path;  // as written, resolved against the test file's folder
  std::vector<TestCase> cases;
};

// Parses `path`. Returns false with *err for problems that stop the whole file
// (unreadable, malformed YAML, no `policy`, no `cases`, bad `defaults`);
// problems of one case are recorded in that case's `error`.
bool ParseTestFile(const std::string& path, TestFile* out, std::string* err);

}  // namespace gavel::policyc
