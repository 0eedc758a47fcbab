// Constant folding: the value, or the rule error, of a checked expression whose
// operands are known at compile time. Operators are evaluated by the rule VM on
// a one-chunk program from codegen, never by a second implementation here.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/compiler/ast.h"
#include "engine/compiler/checker.h"
#include "engine/compiler/types.h"

namespace gavel {

// What is known at compile time of one operand (a kid of the folded node).
struct FoldOperand {
  enum State { kUnknown, kValue, kFailed } state = kUnknown;
  std::shared_ptr<const ConstVal> value;  // kValue
};

struct FoldResult {
  enum State {
    kUnknown,  // depends on the request (or is not folded)
    kValue,    // value holds the result
    kFailed,   // a rule error at every decision: `error`, or operand `operand`'s
  } state = kUnknown;
  std::shared_ptr<const ConstVal> value;
  int operand = -1;   // kFailed: the failed operand whose error this is, or -1
  std::string error;  // kFailed with operand -1: the VM's reason
};

// Folds node `e` (already typed, e.type not an error) given its kids' states,
// in the order of e.kids. Unknown operands act as an absent attribute would:
// the result is known only if the VM's Kleene logic decides it without them.
// A failed operand acts as the error it is. `scope` supplies the built-in
// slots for the program; `diags` receives only internal errors.
FoldResult FoldExpression(const Expr& e, const std::vector<FoldOperand>& operands, Scope& scope, Diagnostics* diags);

}  // namespace gavel
