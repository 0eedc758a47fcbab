// The rule VM's instruction set: this table is the single source of truth for
// the opcode enum, the mnemonics, the operand formats and properties (used by
// the VM, the bundle verifier and the disassembler) and each one-line meaning.
#pragma once

#include <cstddef>
#include <cstdint>

namespace gavel {

// Instruction layout (8 bytes, little-endian in the bundle):
//
//   0        8        16               32                               64
//   +--------+--------+----------------+--------------------------------+
//   |   op   |   a    |       b        |               c                |
//   +--------+--------+----------------+--------------------------------+
//
// Operand format letters, one per field a, b, c:
//   R register   S slot   K constant   P pattern set   N number   J jump target
//   _ unused
// Registers hold Values; every instruction checks the kinds it reads, so a
// hostile bundle can produce a rule error but never reinterpret memory.
// A failing instruction writes an error value to r[a] and execution goes on:
// errors flow through later instructions, and `and`, `or` and the quantifier
// steps combine them with Kleene logic (false and error = false), so a chunk
// fails only if its result is an error.
//
// Properties, the flags column (0 for none); the VM and the verifier derive
// their per-instruction rules from it rather than from lists of opcodes:
//   kOpOwnErrors  reads error operands on purpose (combines, tests, copies or
//                 returns them). Any other instruction whose register operand
//                 b or c holds an error does not run: r[a] becomes an error.
//   kOpReadsB12   also reads r[b+1] and r[b+2] (further arguments).
//   kOpWritesA1   also writes r[a+1] (an iteration's item); its register
//                 operand b, if any, must not be r[a] or r[a+1].
//   kOpJumpsBack  its jump goes backward, to just after the iter_begin that
//                 opened its loop on the same r[a]; every other jump goes
//                 forward.
enum OpFlag : uint8_t {
  kOpOwnErrors = 1 << 0,
  kOpReadsB12 = 1 << 1,
  kOpWritesA1 = 1 << 2,
  kOpJumpsBack = 1 << 3,
};

#define GAVEL_OPCODES(X)                                                                                              \
  X(Nop, "nop", "___", 0, "do nothing")                                                                               \
  X(LoadSlot, "load_slot", "R_S", 0, "r[a] = slot[c]; error if the attribute is absent")                              \
  X(HasSlot, "has_slot", "R_S", 0, "r[a] = slot[c] is present")                                                       \
  X(LoadConst, "load_const", "R_K", 0, "r[a] = const[c]")                                                             \
  X(Move, "move", "RR_", kOpOwnErrors, "r[a] = r[b]")                                                                 \
  X(Field, "field", "RRN", 0, "r[a] = field c of record r[b]; error if absent")                                       \
  X(HasField, "has_field", "RRN", kOpOwnErrors, "r[a] = field c of record r[b] is present (false if r[b] is absent)") \
  X(Index, "index", "RRR", 0, "r[a] = r[b][r[c]] (list by int, -1 the last; map by key); error if none")              \
  X(Len, "len", "RR_", 0, "r[a] = length of string/list/map r[b]")                                                    \
  X(Not, "not", "RR_", 0, "r[a] = !r[b]")                                                                             \
  X(And, "and", "RRR", kOpOwnErrors, "r[a] = r[b] and r[c], Kleene: false wins over an error")                        \
  X(Or, "or", "RRR", kOpOwnErrors, "r[a] = r[b] or r[c], Kleene: true wins over an error")                            \
  X(Neg, "neg", "RR_", 0, "r[a] = -r[b]")                                                                             \
  X(Add, "add", "RRR", 0, "r[a] = r[b] + r[c] (int, float, duration; string concat)")                                 \
  X(Sub, "sub", "RRR", 0, "r[a] = r[b] - r[c]")                                                                       \
  X(Mul, "mul", "RRR", 0, "r[a] = r[b] * r[c]")                                                                       \
  X(Div, "div", "RRR", 0, "r[a] = r[b] / r[c]; error on division by zero")                                            \
  X(Mod, "mod", "RRR", 0, "r[a] = r[b] % r[c]; error on division by zero")                                            \
  X(ToFloat, "to_float", "RR_", 0, "r[a] = float(r[b])")                                                              \
  X(Eq, "eq", "RRR", 0, "r[a] = r[b] == r[c]")                                                                        \
  X(Ne, "ne", "RRR", 0, "r[a] = r[b] != r[c]")                                                                        \
  X(Lt, "lt", "RRR", 0, "r[a] = r[b] < r[c]")                                                                         \
  X(Le, "le", "RRR", 0, "r[a] = r[b] <= r[c]")                                                                        \
  X(Gt, "gt", "RRR", 0, "r[a] = r[b] > r[c]")                                                                         \
  X(Ge, "ge", "RRR", 0, "r[a] = r[b] >= r[c]")                                                                        \
  X(EqK, "eq_k", "RRK", 0, "r[a] = r[b] == const[c]")                                                                 \
  X(NeK, "ne_k", "RRK", 0, "r[a] = r[b] != const[c]")                                                                 \
  X(LtK, "lt_k", "RRK", 0, "r[a] = r[b] < const[c]")                                                                  \
  X(LeK, "le_k", "RRK", 0, "r[a] = r[b] <= const[c]")                                                                 \
  X(GtK, "gt_k", "RRK", 0, "r[a] = r[b] > const[c]")                                                                  \
  X(GeK, "ge_k", "RRK", 0, "r[a] = r[b] >= const[c]")                                                                 \
  X(In, "in", "RRR", 0, "r[a] = r[b] in r[c] (list/set element, map key, substring)")                                 \
  X(InK, "in_k", "RRK", 0, "r[a] = r[b] in const[c]")                                                                 \
  X(StartsWith, "startswith", "RRR", 0, "r[a] = string r[b] starts with r[c]")                                        \
  X(EndsWith, "endswith", "RRR", 0, "r[a] = string r[b] ends with r[c]")                                              \
  X(ScanAny, "scan_any", "RRP", 0, "r[a] = text r[b] contains a match of pattern set c")                              \
  X(ScanCount, "scan_count", "RRP", 0, "r[a] = number of patterns of set c matching r[b]")                            \
  X(Lower, "lower", "RR_", 0, "r[a] = lower-case ASCII of string r[b]")                                               \
  X(Upper, "upper", "RR_", 0, "r[a] = upper-case ASCII of string r[b]")                                               \
  X(Tokens, "tokens", "RR_", 0, "r[a] = estimated token count of string r[b]")                                        \
  X(Cost, "cost", "RRK", kOpReadsB12, "r[a] = USD for model r[b], tokens r[b+1], r[b+2], prices c")                   \
  X(Jump, "jump", "__J", 0, "continue at c (forward only)")                                                           \
  X(JumpIfFalse, "jump_if_false", "R_J", kOpOwnErrors, "if r[a] is false continue at c (forward only)")               \
  X(JumpIfTrue, "jump_if_true", "R_J", kOpOwnErrors, "if r[a] is true continue at c (forward only)")                  \
  X(IterBegin, "iter_begin", "RRJ", kOpOwnErrors | kOpWritesA1,                                                       \
    "start iterating list r[b] in r[a], item in r[a+1]; if empty or not a list continue at c")                        \
  X(IterNext, "iter_next", "R_J", kOpOwnErrors | kOpWritesA1 | kOpJumpsBack,                                          \
    "advance r[a]; if an item remains, put it in r[a+1], continue at c (back)")                                       \
  X(IterEnd, "iter_end", "RR_", kOpOwnErrors, "if iterator r[b] failed to start, r[a] = its error")                   \
  X(Ret, "ret", "R__", kOpOwnErrors, "the chunk's result is r[a]")

// Opcode numbers are part of the bundle format: add new instructions at the
// end of the table, and bump kBundleFormatVersion if any number changes.
enum class Op : uint8_t {
#define GAVEL_OP_ENUM(name, mnemonic, format, flags, doc) k##name,
  GAVEL_OPCODES(GAVEL_OP_ENUM)
#undef GAVEL_OP_ENUM
      kCount
};

struct OpInfo {
  const char* mnemonic;
  const char* format;  // three letters: fields a, b, c
  uint8_t flags;       // OpFlag bits
  const char* doc;
};

inline constexpr OpInfo kOpTable[] = {
#define GAVEL_OP_INFO(name, mnemonic, format, flags, doc) {mnemonic, format, flags, doc},
    GAVEL_OPCODES(GAVEL_OP_INFO)
#undef GAVEL_OP_INFO
};
static_assert(sizeof(kOpTable) / sizeof(kOpTable[0]) == static_cast<size_t>(Op::kCount), "one row per opcode");

// The caller makes sure op < Op::kCount (the verifier does for bundles).
constexpr const OpInfo& GetOpInfo(Op op) { return kOpTable[static_cast<uint8_t>(op)]; }
constexpr bool HasOpFlag(Op op, OpFlag flag) { return (GetOpInfo(op).flags & flag) != 0; }

// The comparisons come in two families of six, a register form (eq .. ge)
// and a constant form (eq_k .. ge_k), each in the order eq, ne, lt, le, gt,
// ge. The VM's truth table (CompareBy), its choice of operand and the
// recognition of fast predicates index by that order.
constexpr bool IsCompare(Op op) { return op >= Op::kEq && op <= Op::kGe; }
constexpr bool IsCompareK(Op op) { return op >= Op::kEqK && op <= Op::kGeK; }
// 0 eq, 1 ne, 2 lt, 3 le, 4 gt, 5 ge, for either family.
constexpr int CompareIndex(Op op) {
  return IsCompareK(op) ? static_cast<int>(op) - static_cast<int>(Op::kEqK)
                        : static_cast<int>(op) - static_cast<int>(Op::kEq);
}

namespace opcodes_internal {
constexpr bool SameText(const char* x, const char* y) {
  while (*x && *x == *y) ++x, ++y;
  return *x == *y;
}
constexpr bool ComparisonFamiliesAreInOrder() {
  const char* const kOrder[6] = {"eq", "ne", "lt", "le", "gt", "ge"};
  const char* const kOrderK[6] = {"eq_k", "ne_k", "lt_k", "le_k", "gt_k", "ge_k"};
  if (static_cast<int>(Op::kGe) - static_cast<int>(Op::kEq) != 5) return false;
  if (static_cast<int>(Op::kGeK) - static_cast<int>(Op::kEqK) != 5) return false;
  for (int k = 0; k < 6; ++k) {
    const OpInfo& r = kOpTable[static_cast<int>(Op::kEq) + k];
    const OpInfo& c = kOpTable[static_cast<int>(Op::kEqK) + k];
    if (!SameText(r.mnemonic, kOrder[k]) || !SameText(c.mnemonic, kOrderK[k])) return false;
    if (!SameText(r.format, "RRR") || !SameText(c.format, "RRK")) return false;
  }
  return true;
}
// Flags that name an operand need that operand in the format.
constexpr bool FlagsMatchFormats() {
  for (const OpInfo& info : kOpTable) {
    if ((info.flags & kOpReadsB12) && info.format[1] != 'R') return false;
    if ((info.flags & kOpWritesA1) && info.format[0] != 'R') return false;
    if ((info.flags & kOpJumpsBack) && info.format[2] != 'J') return false;
  }
  return true;
}
}  // namespace opcodes_internal

static_assert(opcodes_internal::ComparisonFamiliesAreInOrder(),
              "comparison opcodes must stay two parallel families in the order eq, ne, lt, le, gt, ge");
static_assert(static_cast<int>(Op::kGe) < static_cast<int>(Op::kEqK),
              "the VM picks the constant operand for opcodes from eq_k on");
static_assert(opcodes_internal::FlagsMatchFormats(), "an opcode's flags name an operand its format lacks");

struct Instr {
  Op op;
  uint8_t a;
  uint16_t b;
  uint32_t c;
};
static_assert(sizeof(Instr) == 8, "instructions are 8 bytes");
static_assert(static_cast<int>(Op::kCount) < 256, "opcodes fit a byte");

}  // namespace gavel
