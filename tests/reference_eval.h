// A deliberately naive reference evaluator for differential tests: it walks the
// checker-annotated AST directly over decoded slot values, following
// docs/language.md, and shares nothing with codegen, the rule matrix or the VM.
// It is slow and allocates freely; it must never decide real requests.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/compiler/ast.h"
#include "engine/compiler/checker.h"
#include "engine/compiler/diagnostics.h"
#include "engine/runtime/program.h"
#include "engine/runtime/value.h"

namespace gavel {
namespace reference {

// A rule condition's three-valued result.
enum class Truth { kNotEvaluated, kFalse, kTrue, kError };
const char* TruthName(Truth t);

// A value as the language describes it: sets hold distinct items, maps are
// key/value pairs, records are fields in the checker's type order.
struct RValue {
  enum K { kMissing, kBool, kInt, kFloat, kString, kDuration, kList, kSet, kMap, kRecord } k = kMissing;
  bool b = false;
  int64_t i = 0;  // int, duration (ms)
  double f = 0;
  std::string s;
  std::vector<RValue> items;                            // list, set, record fields
  std::vector<std::pair<std::string, RValue>> entries;  // map
};

// What the documented precedence makes of the reference's rule outcomes.
struct RefDecision {
  std::vector<Truth> outcomes;                         // per rule; kNotEvaluated for the other phase
  std::vector<std::pair<size_t, std::string>> fired;   // rule index, rendered message (a route's: its model)
  std::vector<std::pair<size_t, std::string>> errors;  // rule index, reason
  bool allow = true;
  uint16_t status = 200;
  std::string code;
  std::string message;  // a deny's message; for policy_error only its documented prefix
  bool has_route = false;
  std::string route;
};

class ReferencePolicy {
 public:
  struct RuleInfo {
    std::string name;
    Phase phase = Phase::kRequest;
    EffectKind effect = EffectKind::kDeny;
    std::string code;    // as written ("" = none)
    int64_t status = 0;  // as written (0 = none)
    const Decl* decl = nullptr;
  };

  ReferencePolicy();
  ~ReferencePolicy();

  // Parses and checks `text` on its own (no Program involved); false with
  // *err (rendered diagnostics) on errors.
  bool Load(const std::string& path, const std::string& text, std::string* err);
  // As Load, but constants that fail at every decision (E0317, the only
  // errors allowed) do not stop it, so EvalConstant can say how they fail.
  bool LoadAllowingFailedConstants(const std::string& path, const std::string& text, std::string* err);

  // Evaluates constant `name` from its declaration, not from the checker's
  // folding. False with *why when it fails (a rule error).
  bool EvalConstant(const std::string& name, RValue* out, std::string* why) const;

  const std::vector<RuleInfo>& rules() const { return rules_; }
  // Whether a redact effect masks something in the decoded slots.
  bool RedactMasks(const EffectAst& ef, const Value* slots) const;
  const Scope& scope() const { return *scope_; }

  // Evaluates rule `r`'s `when` over the slots (indexed like the checker's).
  Truth Condition(size_t r, const Value* slots, std::string* why) const;

  // The documented decision over slots that decoded (undecodable input never
  // reaches the rules and is the caller's business).
  RefDecision Decide(const Value* slots, Phase phase) const;

  // Every string, int, float and duration the policy mentions, for inputs.
  void CollectLiterals(std::vector<std::string>* strings, std::vector<int64_t>* ints, std::vector<double>* floats,
                       std::vector<int64_t>* durations_ms) const;

 private:
  bool Load(const std::string& path, const std::string& text, bool allow_failed_constants, std::string* err);

  std::unique_ptr<Source> source_;
  std::unique_ptr<PolicyAst> ast_;
  std::unique_ptr<Diagnostics> diags_;
  std::unique_ptr<Checker> checker_;
  const Scope* scope_ = nullptr;
  std::vector<RuleInfo> rules_;
};

// Renders a value the way docs/language.md says interpolations print it.
void RenderValue(const RValue& v, std::string* out);

}  // namespace reference
}  // namespace gavel
