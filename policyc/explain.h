// `policyc explain`: a human-readable account of one decision — every
// predicate the evaluated phase read, with its value, and for every rule of
// that phase why it fired, did not fire, or errored. Reads the decision's
// explain data only; never re-evaluates anything.
#pragma once

#include <string>

#include "engine/runtime/engine.h"

namespace gavel::policyc {

// The explanation of `d` (which must come from Worker::Decide), ending in a newline.
std::string ExplainDecision(const Decision& d);

// "attribute: what happened", the same wording the decision's errors use.
std::string PredicateErrorText(const Program& p, const VmError& e);

}  // namespace gavel::policyc
