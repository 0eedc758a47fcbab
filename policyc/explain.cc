// Builds the explanation from the decision's predicate bitsets, per-predicate
// errors and per-rule outcomes. "Why not" is answered per conjunction by the
// first predicate (in predicate order) that made that conjunction false.
#include "policyc/explain.h"

#include <cstdint>

namespace gavel::policyc {

namespace {

bool Bit(const LocalVector<uint64_t>& bits, uint32_t i) {
  return i / 64 < bits.size() && (bits[i / 64] >> (i % 64) & 1) != 0;
}

const char* PhaseName(Phase phase) { return phase == Phase::kResponse ? "response" : "request"; }

std::string PredicateLabel(const Program& p, uint32_t i) {
  return "p" + std::to_string(i) + " " + p.predicates[i].text;
}

// The first predicate that makes conjunction `c` false, as "pN text is false"
// (or "is true" for a negated one); empty if none does.
std::string WhyConjunctionFalse(const Program& p, const Decision& d, uint32_t c) {
  if (p.words == 0) return "it reads no predicate";  // empty masks are not indexable
  const uint64_t* pos = p.pos_mask(c);
  const uint64_t* neg = p.neg_mask(c);
  for (uint32_t i = 0; i < p.predicates.size(); ++i) {
    const bool in_pos = (pos[i / 64] >> (i % 64) & 1) != 0;
    const bool in_neg = (neg[i / 64] >> (i % 64) & 1) != 0;
    if (!in_pos && !in_neg) continue;
    const bool t = Bit(d.pred_true, i), e = Bit(d.pred_error, i);
    if (in_pos && !t && !e) return PredicateLabel(p, i) + " is false";
    if (in_neg && t) return PredicateLabel(p, i) + " is true";
  }
  return "no single predicate explains it";
}

std::string WhyRuleFalse(const Program& p, const Decision& d, const Rule& rule) {
  if (rule.conj_count == 0) return "its condition can never hold";
  if (rule.conj_count == 1) return WhyConjunctionFalse(p, d, rule.conj_begin);
  // Several alternatives (an `or` expanded to disjunctive form): each one failed.
  std::string out;
  for (uint32_t k = 0; k < rule.conj_count; ++k) {
    if (k) out += "; ";
    out += "[" + std::to_string(k + 1) + "] " + WhyConjunctionFalse(p, d, rule.conj_begin + k);
  }
  return out;
}

void AppendRule(const Program& p, const Decision& d, uint32_t r, std::string* out) {
  const Rule& rule = p.rules[r];
  *out += "  " + rule.name + " (" + EffectName(rule.effect) + ", line " + std::to_string(rule.line) + "): ";
  const Reason* fired = nullptr;
  for (const Reason& rs : d.fired)
    if (rs.rule == r) fired = &rs;
  std::string errors;
  for (const Reason& er : d.errors) {
    if (er.rule != r) continue;
    if (!errors.empty()) errors += "; ";
    errors += er.message;
  }
  const RuleOutcome outcome = r < d.outcomes.size() ? d.outcomes[r] : RuleOutcome::kNotEvaluated;
  switch (outcome) {
    case RuleOutcome::kTrue:
      if (fired != nullptr) {
        *out += "fired";
        if (rule.effect == Effect::kRoute)
          *out += ": route to " + fired->message;
        else if (!fired->message.empty())
          *out += ": " + fired->message;
        if (!errors.empty()) *out += " (error: " + errors + ")";
      } else if (!errors.empty()) {
        *out += "error: " + errors;
      } else if (rule.effect == Effect::kRoute) {
        *out += "matched, but an earlier route rule already chose the model";
      } else {
        *out += "matched";
      }
      break;
    case RuleOutcome::kFalse:
      *out += "did not fire: " + WhyRuleFalse(p, d, rule);
      break;
    case RuleOutcome::kError:
      *out += "error: " + (errors.empty() ? std::string("a predicate it needs errored") : errors);
      break;
    case RuleOutcome::kNotEvaluated:
      *out += "not evaluated";
      break;
  }
  *out += '\n';
}

}  // namespace

std::string PredicateErrorText(const Program& p, const VmError& e) { return ErrorText(p, e); }

std::string ExplainDecision(const Decision& d) {
  std::string out;
  if (d.engine == nullptr) return "no decision to explain\n";
  const Program& p = d.engine->program();
  const int phase = static_cast<int>(d.phase);
  if (d.invalid_input) {
    out += "the input could not be decoded (" + d.message + "); no predicate or rule was evaluated\n";
    return out;
  }
  out += "predicates (" + std::string(PhaseName(d.phase)) + " phase):\n";
  if (p.phase_predicates[phase].empty()) out += "  (none)\n";
  for (uint32_t i : p.phase_predicates[phase]) {
    std::string value;
    if (Bit(d.pred_error, i)) {
      value = "error: " +
              (i < d.pred_error_info.size() ? PredicateErrorText(p, d.pred_error_info[i]) : std::string("unknown"));
    } else {
      value = Bit(d.pred_true, i) ? "true " : "false";
    }
    out += "  p" + std::to_string(i) + "  " + value + "  " + p.predicates[i].text + "\n";
  }
  out += "rules (" + std::string(PhaseName(d.phase)) + " phase):\n";
  bool any = false;
  for (uint32_t r = 0; r < p.rules.size(); ++r) {
    if (p.rules[r].phase != d.phase) continue;
    any = true;
    AppendRule(p, d, r, &out);
  }
  if (!any) out += "  (none)\n";
  return out;
}

}  // namespace gavel::policyc
