// A compiled policy as the runtime holds it: slots, constants, bytecode chunks,
// predicates, rules and the rule matrix. Built by the compiler, serialized into
// a bundle, and rebuilt by the bundle loader, which verifies it before use.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/runtime/opcodes.h"
#include "engine/runtime/value.h"
#include "engine/screen/patterns.h"  // ScreenPattern, ScreenData

namespace gavel {

enum class Root : uint8_t { kRequest, kResponse, kPrincipal, kContext, kEnv };

// How the decoder fills a slot. Request, response and env slots are built in
// (fixed indices, below); principal and context slots come from `schema`.
enum class SlotType : uint8_t {
  kBool,
  kInt,
  kFloat,
  kString,
  kDuration,
  kListString,
  kListInt,
  kListFloat,
  kSetString,
  kSetInt,
  kMapString,
  kMapInt,
  kMapFloat,
  kMapBool,
  kBuiltin,  // decoded by the request/response decoder, shape fixed by name
};

// The built-in slots, in slot order. Every program starts with these.
#define GAVEL_BUILTIN_SLOTS(X)                      \
  X(RequestModel, "request.model")                  \
  X(RequestEndpoint, "request.endpoint")            \
  X(RequestMessages, "request.messages")            \
  X(RequestTools, "request.tools")                  \
  X(RequestMaxTokens, "request.max_tokens")         \
  X(RequestStream, "request.stream")                \
  X(RequestTemperature, "request.temperature")      \
  X(RequestUser, "request.user")                    \
  X(RequestMetadata, "request.metadata")            \
  X(RequestText, "request.text")                    \
  X(RequestUserText, "request.user_text")           \
  X(RequestSystemText, "request.system_text")       \
  X(RequestToolText, "request.tool_text")           \
  X(RequestInputTokens, "request.input_tokens")     \
  X(ResponseText, "response.text")                  \
  X(ResponseUsage, "response.usage")                \
  X(ResponseFinishReason, "response.finish_reason") \
  X(EnvTime, "env.time")

enum BuiltinSlot : uint32_t {
#define GAVEL_SLOT_ENUM(name, path) kSlot##name,
  GAVEL_BUILTIN_SLOTS(GAVEL_SLOT_ENUM)
#undef GAVEL_SLOT_ENUM
      kBuiltinSlotCount
};

// Record layouts of built-in list items (field indices used by `field`).
enum MessageField : uint32_t { kMessageRole, kMessageContent, kMessageName, kMessageFieldCount };
enum ToolField : uint32_t { kToolName, kToolType, kToolFieldCount };
enum UsageField : uint32_t { kUsageInputTokens, kUsageOutputTokens, kUsageFieldCount };

struct SlotInfo {
  std::string name;  // "principal.team"
  Root root = Root::kRequest;
  SlotType type = SlotType::kBuiltin;
  int32_t default_const = -1;  // constant used when the host omits it
};

// One entry of the flat constant pool. Aggregates reference their items by
// index; items always come after their parent, so the pool is acyclic.
struct ConstEntry {
  Kind kind = Kind::kMissing;
  uint8_t sorted = 0;    // list of strings/ints sorted ascending (fast `in`)
  uint32_t len = 0;      // string bytes or item count (maps: entries)
  uint64_t payload = 0;  // bool/int/duration value, double bits, string offset, first item index
};

struct Chunk {
  uint32_t begin = 0;  // first instruction in Program::code
  uint32_t size = 0;
  uint16_t nregs = 0;
};

struct Predicate {
  uint32_t chunk = 0;
  std::string text;  // source form, for explain and dump
};

enum class Effect : uint8_t { kAllow, kDeny, kRoute, kFlag, kRedact };
enum class Phase : uint8_t { kRequest, kResponse };

struct MessagePart {
  bool is_expr = false;
  std::string text;    // literal text
  uint32_t chunk = 0;  // value chunk for ${...}
};

struct Rule {
  std::string name;
  Phase phase = Phase::kRequest;
  Effect effect = Effect::kDeny;
  uint16_t status = 0;
  uint32_t line = 0;
  std::string code;
  std::vector<MessagePart> message;
  int32_t target_chunk = -1;  // route: the model expression
  uint32_t conj_begin = 0;    // conjunctions [conj_begin, conj_begin + conj_count)
  uint32_t conj_count = 0;
  std::vector<uint32_t> redact_sets;  // redact: pattern sets
  int32_t redact_field_slot = -1;
  std::string redact_with;
};

struct Pattern {
  Pattern() = default;
  Pattern(std::string s, bool r, bool c, uint8_t v = 0, std::string k = std::string())
      : source(std::move(s)), regex(r), caseless(c), validator(v), kind(std::move(k)) {}
  std::string source;  // literal text or regex source
  bool regex = false;
  bool caseless = false;
  uint8_t validator = 0;  // a Validator (engine/screen/validators.h) that candidates must pass
  std::string kind;       // the set that declares it ("std.pii.credit_card"): what a redaction reports
};

struct PatternSet {
  std::string name;
  std::vector<Pattern> patterns;
  bool has_regex = false;           // derived by VerifyAndLink
  bool has_caseless = false;        // derived by VerifyAndLink
  std::vector<std::string> folded;  // derived: each source in ASCII lower case
  std::vector<uint32_t> ids;        // derived: each pattern's screen pattern id
};

class ScreenDb;  // engine/screen/screen.h: the loaded databases

// Limits and budgets are checked by the ledger; the program carries their
// declaration so tools can show it.
struct UsageRule {
  std::string name;
  std::string kind;  // "limit" or "budget"
  std::string text;  // canonical source form
};

// A predicate of the most common shape, `attribute <op> constant` (optionally
// negated), recognized at link time and evaluated without the interpreter
// loop. Derived, never serialized; results and errors equal the chunk's.
struct FastPredicate {
  bool enabled = false;
  bool negate = false;
  Op op = Op::kNop;  // one of eq_k ... ge_k, in_k
  uint32_t slot = 0;
  uint32_t constant = 0;
};

struct Program {
  std::string package;
  std::string version;
  bool default_deny = false;
  bool on_error_deny = true;
  std::array<uint8_t, 16> hash{};  // identity: XXH3-128 of the bundle body, computed at load

  std::vector<SlotInfo> slots;
  std::vector<ConstEntry> const_entries;
  std::string strings;  // string constants' bytes
  std::vector<Instr> code;
  std::vector<Chunk> chunks;
  std::vector<Predicate> predicates;
  std::vector<Rule> rules;
  uint32_t words = 0;           // predicate bitset width in 64-bit words
  std::vector<uint64_t> masks;  // per conjunction: `words` positive then `words` negative
  std::vector<PatternSet> pattern_sets;
  ScreenData screen_data;
  std::vector<UsageRule> usage_rules;

  // Derived by Link(), never serialized.
  std::vector<Value> consts;  // const_entries as Values pointing into `strings`/`consts`
  uint16_t max_regs = 0;
  std::vector<uint32_t> phase_predicates[2];   // predicates each phase's rules read
  std::vector<uint64_t> phase_mask[2];         // same, as a bitset
  std::vector<uint64_t> rule_mask;             // per rule: `words` of predicates it reads
  std::vector<FastPredicate> fast;             // per predicate
  std::vector<ScreenPattern> screen_patterns;  // see AssignScreenIds
  std::shared_ptr<const ScreenDb> screen;      // null without databases (or without Hyperscan)

  const uint64_t* pos_mask(uint32_t conj) const { return &masks[size_t(conj) * 2 * words]; }
  const uint64_t* neg_mask(uint32_t conj) const { return &masks[size_t(conj) * 2 * words + words]; }
};

// The slot of an attribute ("principal.team"), or -1.
int32_t FindSlot(const Program& p, std::string_view name);

// Checks every index, length and jump of a program and builds its derived
// tables. Returns an empty string on success, else what is wrong.
std::string VerifyAndLink(Program* p);

// Fills screen_patterns and every set's ids (deterministic; the compiler and
// the loader agree on the ids).
void AssignScreenIds(Program* p);

// Human-readable listing of a program (policyc dump).
std::string Disassemble(const Program& p);

const char* EffectName(Effect e);
const char* SlotTypeName(SlotType t);

}  // namespace gavel
