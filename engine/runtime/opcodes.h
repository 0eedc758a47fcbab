// The rule VM's instruction set: this table is the single source of truth for
// the opcode enum, the mnemonics, the operand formats (used by the bundle
// verifier and the disassembler) and each instruction's one-line meaning.
#pragma once

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
#define GAVEL_OPCODES(X)                                                                                      \
  X(Nop, "nop", "___", "do nothing")                                                                          \
  X(LoadSlot, "load_slot", "R_S", "r[a] = slot[c]; error if the attribute is absent")                         \
  X(HasSlot, "has_slot", "R_S", "r[a] = slot[c] is present")                                                  \
  X(LoadConst, "load_const", "R_K", "r[a] = const[c]")                                                        \
  X(Move, "move", "RR_", "r[a] = r[b]")                                                                       \
  X(Field, "field", "RRN", "r[a] = field c of record r[b]; error if absent")                                  \
  X(HasField, "has_field", "RRN", "r[a] = field c of record r[b] is present (false if r[b] is absent)")       \
  X(Index, "index", "RRR", "r[a] = r[b][r[c]] (list by int, map by key); error if none")                      \
  X(Len, "len", "RR_", "r[a] = length of string/list/map r[b]")                                               \
  X(Not, "not", "RR_", "r[a] = !r[b]")                                                                        \
  X(And, "and", "RRR", "r[a] = r[b] and r[c], Kleene: false wins over an error")                              \
  X(Or, "or", "RRR", "r[a] = r[b] or r[c], Kleene: true wins over an error")                                  \
  X(Neg, "neg", "RR_", "r[a] = -r[b]")                                                                        \
  X(Add, "add", "RRR", "r[a] = r[b] + r[c] (int, float, duration; string concat)")                            \
  X(Sub, "sub", "RRR", "r[a] = r[b] - r[c]")                                                                  \
  X(Mul, "mul", "RRR", "r[a] = r[b] * r[c]")                                                                  \
  X(Div, "div", "RRR", "r[a] = r[b] / r[c]; error on division by zero")                                       \
  X(Mod, "mod", "RRR", "r[a] = r[b] % r[c]; error on division by zero")                                       \
  X(ToFloat, "to_float", "RR_", "r[a] = float(r[b])")                                                         \
  X(Eq, "eq", "RRR", "r[a] = r[b] == r[c]")                                                                   \
  X(Ne, "ne", "RRR", "r[a] = r[b] != r[c]")                                                                   \
  X(Lt, "lt", "RRR", "r[a] = r[b] < r[c]")                                                                    \
  X(Le, "le", "RRR", "r[a] = r[b] <= r[c]")                                                                   \
  X(Gt, "gt", "RRR", "r[a] = r[b] > r[c]")                                                                    \
  X(Ge, "ge", "RRR", "r[a] = r[b] >= r[c]")                                                                   \
  X(EqK, "eq_k", "RRK", "r[a] = r[b] == const[c]")                                                            \
  X(NeK, "ne_k", "RRK", "r[a] = r[b] != const[c]")                                                            \
  X(LtK, "lt_k", "RRK", "r[a] = r[b] < const[c]")                                                             \
  X(LeK, "le_k", "RRK", "r[a] = r[b] <= const[c]")                                                            \
  X(GtK, "gt_k", "RRK", "r[a] = r[b] > const[c]")                                                             \
  X(GeK, "ge_k", "RRK", "r[a] = r[b] >= const[c]")                                                            \
  X(In, "in", "RRR", "r[a] = r[b] in r[c] (list/set element, map key, substring)")                            \
  X(InK, "in_k", "RRK", "r[a] = r[b] in const[c]")                                                            \
  X(StartsWith, "startswith", "RRR", "r[a] = string r[b] starts with r[c]")                                   \
  X(EndsWith, "endswith", "RRR", "r[a] = string r[b] ends with r[c]")                                         \
  X(ScanAny, "scan_any", "RRP", "r[a] = text r[b] contains a match of pattern set c")                         \
  X(ScanCount, "scan_count", "RRP", "r[a] = number of patterns of set c matching r[b]")                       \
  X(Lower, "lower", "RR_", "r[a] = lower-case ASCII of string r[b]")                                          \
  X(Upper, "upper", "RR_", "r[a] = upper-case ASCII of string r[b]")                                          \
  X(Tokens, "tokens", "RR_", "r[a] = estimated token count of string r[b]")                                   \
  X(Cost, "cost", "RRK", "r[a] = USD for model r[b], tokens r[b+1], r[b+2], prices c")                        \
  X(Jump, "jump", "__J", "continue at c (forward only)")                                                      \
  X(JumpIfFalse, "jump_if_false", "R_J", "if r[a] is false continue at c (forward only)")                     \
  X(JumpIfTrue, "jump_if_true", "R_J", "if r[a] is true continue at c (forward only)")                        \
  X(IterBegin, "iter_begin", "RRJ",                                                                           \
    "start iterating list r[b] in r[a], item in r[a+1]; if empty or not a list continue at c")                \
  X(IterNext, "iter_next", "R_J", "advance r[a]; if an item remains, put it in r[a+1], continue at c (back)") \
  X(IterEnd, "iter_end", "RR_", "if iterator r[b] failed to start, r[a] = its error")                         \
  X(Ret, "ret", "R__", "the chunk's result is r[a]")

// Opcode numbers are part of the bundle format: add new instructions at the
// end of the table, and bump kBundleFormatVersion if any number changes.
enum class Op : uint8_t {
#define GAVEL_OP_ENUM(name, mnemonic, format, doc) k##name,
  GAVEL_OPCODES(GAVEL_OP_ENUM)
#undef GAVEL_OP_ENUM
      kCount
};

struct OpInfo {
  const char* mnemonic;
  const char* format;  // three letters: fields a, b, c
  const char* doc;
};

inline const OpInfo& GetOpInfo(Op op) {
  static const OpInfo kTable[] = {
#define GAVEL_OP_INFO(name, mnemonic, format, doc) {mnemonic, format, doc},
      GAVEL_OPCODES(GAVEL_OP_INFO)
#undef GAVEL_OP_INFO
  };
  return kTable[static_cast<uint8_t>(op)];
}

struct Instr {
  Op op;
  uint8_t a;
  uint16_t b;
  uint32_t c;
};
static_assert(sizeof(Instr) == 8, "instructions are 8 bytes");
static_assert(static_cast<int>(Op::kCount) < 256, "opcodes fit a byte");

}  // namespace gavel
