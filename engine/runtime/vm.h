// The rule VM: runs one bytecode chunk (a predicate, a message expression or a
// route target) over a decision's slots. It never allocates from the heap and
// never throws; a rule error comes back as a VmError.
#pragma once

#include <cstdint>
#include <string>

#include "engine/runtime/arena.h"
#include "engine/runtime/program.h"

namespace gavel {

struct VmError {
  const char* what = nullptr;  // static text
  int32_t slot = -1;           // the attribute involved, when known
};

// Runs chunk `chunk` of `p`. `regs` has room for p.max_regs values. Returns
// false with *err set when the chunk hits a rule error.
bool RunChunk(const Program& p, uint32_t chunk, const Value* slots, Value* regs, Arena* arena, Value* result,
              VmError* err);

// Evaluates a predicate recognized as FastPredicate; same result and error
// as running its chunk.
bool RunFast(const Program& p, const FastPredicate& f, const Value* slots, bool* out, VmError* err);

// The VM's three-way order of two scalars, as comparisons, membership and the
// search of sorted constant sets use it. False when they do not compare
// (different kinds, NaN). The compiler sorts constant sets by it.
bool CompareScalars(const Value& x, const Value& y, int* order);

// Appends a readable rendering of a value (for messages and explain).
void AppendValue(const Value& v, std::string* out);

// The documented token estimate: about four UTF-8 bytes per token, rounded up.
int64_t EstimateTokens(const char* text, size_t len);

}  // namespace gavel
