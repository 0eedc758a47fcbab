// Code generation: lowers a checked AST to a Program. Rule conditions become
// disjunctions of conjunctions over shared predicates (the rule matrix); each
// predicate, message value and route target becomes a bytecode chunk.
#pragma once

#include <memory>

#include "engine/compiler/checker.h"

namespace gavel {

std::unique_ptr<Program> GenerateProgram(PolicyAst& ast, Scope& scope, const Source& source,
                                         const CompileLimits& limits, Diagnostics* diags, uint64_t* worst_case_cost);

// Lowers one checked expression to a program whose chunk 0 computes it, with
// the built-in slots only and no rules: constant folding runs it on the VM, so
// a folded value is computed by the very instructions a decision would run.
// The program is not yet linked.
std::unique_ptr<Program> GenerateExpressionProgram(const Expr& e, Scope& scope, Diagnostics* diags);

}  // namespace gavel
