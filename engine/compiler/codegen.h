// Code generation: lowers a checked AST to a Program. Rule conditions become
// disjunctions of conjunctions over shared predicates (the rule matrix); each
// predicate, message value and route target becomes a bytecode chunk.
#pragma once

#include <memory>

#include "engine/compiler/checker.h"

namespace gavel {

std::unique_ptr<Program> GenerateProgram(PolicyAst& ast, Scope& scope, const Source& source,
                                         const CompileLimits& limits, Diagnostics* diags, uint64_t* worst_case_cost);

}  // namespace gavel
