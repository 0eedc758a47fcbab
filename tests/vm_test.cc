// Tests for the rule VM (engine/runtime/vm.h) and the program verifier
// (VerifyAndLink in engine/runtime/program.h): every opcode's result and its
// error on operands of the wrong kind, integer overflow and division by zero,
// membership in sorted and unsorted collections, quantifier loops and the step
// budget; the verifier's refusal of every kind of malformed program; and the
// opcode table as the disassembler's single source of mnemonics.
#include "engine/runtime/vm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "engine/compiler/compiler.h"
#include "engine/runtime/decode.h"
#include "engine/runtime/program.h"
#include "engine/screen/screen.h"

namespace gavel {
namespace {

const char* const kBuiltinNames[] = {
#define GAVEL_TEST_SLOT_NAME(name, path) path,
    GAVEL_BUILTIN_SLOTS(GAVEL_TEST_SLOT_NAME)
#undef GAVEL_TEST_SLOT_NAME
};

Instr I(Op op, uint32_t a = 0, uint32_t b = 0, uint32_t c = 0) {
  return Instr{op, static_cast<uint8_t>(a), static_cast<uint16_t>(b), c};
}

// A constant to put into a hand-built program's pool.
struct CV {
  Kind kind = Kind::kInt;
  int64_t i = 0;
  double f = 0;
  std::string s;
  std::vector<CV> items;  // maps: key, value, key, value ...
  bool sorted = false;
};
CV CInt(int64_t v) {
  CV c;
  c.kind = Kind::kInt;
  c.i = v;
  return c;
}
CV CFloat(double v) {
  CV c;
  c.kind = Kind::kFloat;
  c.f = v;
  return c;
}
CV CBool(bool v) {
  CV c;
  c.kind = Kind::kBool;
  c.i = v;
  return c;
}
CV CDur(int64_t ms) {
  CV c;
  c.kind = Kind::kDuration;
  c.i = ms;
  return c;
}
CV CStr(std::string v) {
  CV c;
  c.kind = Kind::kString;
  c.s = std::move(v);
  return c;
}
CV CList(std::vector<CV> items, bool sorted = false) {
  CV c;
  c.kind = Kind::kList;
  c.items = std::move(items);
  c.sorted = sorted;
  return c;
}
CV CRecord(std::vector<CV> items) {
  CV c;
  c.kind = Kind::kRecord;
  c.items = std::move(items);
  return c;
}
CV CMap(std::vector<std::pair<std::string, CV>> entries) {
  CV c;
  c.kind = Kind::kMap;
  for (auto& [k, v] : entries) {
    c.items.push_back(CStr(k));
    c.items.push_back(v);
  }
  return c;
}
CV CInts(std::vector<int64_t> v, bool sorted = false) {
  std::vector<CV> items;
  for (int64_t x : v) items.push_back(CInt(x));
  return CList(items, sorted);
}
CV CStrs(std::vector<std::string> v, bool sorted = false) {
  std::vector<CV> items;
  for (auto& x : v) items.push_back(CStr(x));
  return CList(items, sorted);
}

// Builds a Program by hand. The program stays at one address (linked constants
// point into its own string pool).
class Builder {
 public:
  Builder() : p_(std::make_unique<Program>()) {
    p_->package = "test.vm";
    p_->version = "1";
    for (const char* n : kBuiltinNames) {
      SlotInfo s;
      s.name = n;
      s.type = SlotType::kBuiltin;
      p_->slots.push_back(s);
    }
    p_->words = 1;
  }
  Program& p() { return *p_; }
  std::unique_ptr<Program> Release() { return std::move(p_); }

  uint32_t Slot(const std::string& name, Root root, SlotType type, int32_t def = -1) {
    SlotInfo s;
    s.name = name;
    s.root = root;
    s.type = type;
    s.default_const = def;
    p_->slots.push_back(s);
    return static_cast<uint32_t>(p_->slots.size() - 1);
  }
  uint32_t Const(const CV& v) {
    const uint32_t idx = static_cast<uint32_t>(p_->const_entries.size());
    p_->const_entries.emplace_back();
    Fill(idx, v);
    return idx;
  }
  uint32_t RawConst(Kind kind, uint32_t len, uint64_t payload, uint8_t sorted = 0) {
    ConstEntry e;
    e.kind = kind;
    e.len = len;
    e.payload = payload;
    e.sorted = sorted;
    p_->const_entries.push_back(e);
    return static_cast<uint32_t>(p_->const_entries.size() - 1);
  }
  uint32_t Chunk(const std::vector<Instr>& code, uint16_t nregs) {
    Gavel_Chunk c;
    c.begin = static_cast<uint32_t>(p_->code.size());
    c.size = static_cast<uint32_t>(code.size());
    c.nregs = nregs;
    p_->code.insert(p_->code.end(), code.begin(), code.end());
    p_->chunks.push_back(c);
    return static_cast<uint32_t>(p_->chunks.size() - 1);
  }
  uint32_t Patterns(const std::string& name, std::vector<Pattern> pats) {
    PatternSet ps;
    ps.name = name;
    ps.patterns = std::move(pats);
    p_->pattern_sets.push_back(ps);
    return static_cast<uint32_t>(p_->pattern_sets.size() - 1);
  }
  // A predicate over `chunk` and a deny rule firing on it.
  void PredicateRule(uint32_t chunk, const std::string& text = "p") {
    Predicate pr;
    pr.chunk = chunk;
    pr.text = text;
    const uint32_t bit = static_cast<uint32_t>(p_->predicates.size());
    p_->predicates.push_back(pr);
    p_->words = std::max<uint32_t>(1, static_cast<uint32_t>((p_->predicates.size() + 63) / 64));
    // Rebuild a one-row-per-predicate matrix at the current width.
    p_->masks.assign(size_t(p_->predicates.size()) * 2 * p_->words, 0);
    p_->rules.clear();
    for (uint32_t i = 0; i < p_->predicates.size(); ++i) {
      p_->masks[size_t(i) * 2 * p_->words + i / 64] |= uint64_t(1) << (i % 64);
      Rule r;
      r.name = "r" + std::to_string(i);
      r.effect = Effect::kDeny;
      r.conj_begin = i;
      r.conj_count = 1;
      p_->rules.push_back(r);
    }
    (void)bit;
  }

 private:
  using Gavel_Chunk = ::gavel::Chunk;
  void Fill(uint32_t idx, const CV& v) {
    ConstEntry e;
    e.kind = v.kind;
    e.sorted = v.sorted;
    switch (v.kind) {
      case Kind::kBool:
      case Kind::kInt:
      case Kind::kDuration:
        e.payload = static_cast<uint64_t>(v.i);
        break;
      case Kind::kFloat:
        std::memcpy(&e.payload, &v.f, sizeof v.f);
        break;
      case Kind::kString:
        e.payload = p_->strings.size();
        e.len = static_cast<uint32_t>(v.s.size());
        p_->strings += v.s;
        break;
      default: {
        const uint32_t first = static_cast<uint32_t>(p_->const_entries.size());
        p_->const_entries.resize(first + v.items.size());
        for (size_t k = 0; k < v.items.size(); ++k) Fill(static_cast<uint32_t>(first + k), v.items[k]);
        e.payload = v.items.empty() ? 0 : first;
        e.len = static_cast<uint32_t>(v.kind == Kind::kMap ? v.items.size() / 2 : v.items.size());
      }
    }
    p_->const_entries[idx] = e;
  }
  std::unique_ptr<Program> p_;
};

// What a chunk produced, copied out so it outlives the program.
struct Outcome {
  bool ok = false;
  Kind kind = Kind::kMissing;
  bool b = false;
  int64_t i = 0;
  double f = 0;
  std::string s;
  uint32_t len = 0;
  uint8_t sorted = 0;
  std::string err;
  int32_t slot = -1;
};

Outcome Capture(bool ok, const Value& v, const VmError& e) {
  Outcome o;
  o.ok = ok;
  if (!ok) {
    o.err = e.what ? e.what : "(null)";
    o.slot = e.slot;
    return o;
  }
  o.kind = v.kind;
  o.len = v.len;
  o.sorted = v.sorted;
  switch (v.kind) {
    case Kind::kBool:
      o.b = v.b;
      break;
    case Kind::kInt:
    case Kind::kDuration:
      o.i = v.i;
      break;
    case Kind::kFloat:
      o.f = v.f;
      break;
    case Kind::kString:
      o.s.assign(v.s, v.len);
      break;
    default:
      break;
  }
  return o;
}

std::string Describe(const Outcome& o) {
  std::ostringstream ss;
  if (!o.ok) {
    ss << "error: " << o.err;
  } else {
    ss << KindName(o.kind) << " ";
    if (o.kind == Kind::kBool) ss << (o.b ? "true" : "false");
    if (o.kind == Kind::kInt || o.kind == Kind::kDuration) ss << o.i;
    if (o.kind == Kind::kFloat) ss << o.f;
    if (o.kind == Kind::kString) ss << '"' << o.s << '"';
  }
  return ss.str();
}

// Verifies and runs chunk `chunk` of b's program over `slots` (missing ones absent).
class Runner {
 public:
  explicit Runner(Builder& b) : b_(b) {
    const std::string e = VerifyAndLink(&b_.p());
    EXPECT_EQ(e, "") << "the verifier refused a well-formed test program";
    verified_ = e.empty();
    slots_.assign(b_.p().slots.size(), Value());
    regs_.assign(std::max<size_t>(b_.p().max_regs, 1), Value());
  }
  Value& slot(uint32_t i) { return slots_[i]; }
  // Each run is a decision of its own: screening starts afresh, as a worker's does.
  Outcome Run(uint32_t chunk) {
    if (!verified_) return Outcome();
    BeginScreening();
    Value v;
    VmError e;
    const bool ok = RunChunk(b_.p(), chunk, slots_.data(), regs_.data(), &arena_, &v, &e);
    return Capture(ok, v, e);
  }
  Value RunValue(uint32_t chunk, bool* ok, VmError* e) {
    BeginScreening();
    Value v;
    *ok = RunChunk(b_.p(), chunk, slots_.data(), regs_.data(), &arena_, &v, e);
    return v;
  }
  std::vector<Value>& regs() { return regs_; }
  // Runs later chunks without a screening state, as nothing but a worker should.
  void WithoutScreening() { screening_ = false; }

 private:
  void BeginScreening() {
    arena_.scan = nullptr;
    if (!screening_) return;
    std::string err;
    EXPECT_TRUE(scan_.Begin(b_.p().screen_patterns, b_.p().screen, &err)) << err;
    arena_.scan = &scan_;
  }

  Builder& b_;
  bool verified_ = false;
  bool screening_ = true;
  std::vector<Value> slots_, regs_;
  ScanState scan_;
  Arena arena_;
};

Outcome Binary(Op op, const CV& x, const CV& y) {
  Builder b;
  const uint32_t kx = b.Const(x), ky = b.Const(y);
  const uint32_t ch =
      b.Chunk({I(Op::kLoadConst, 0, 0, kx), I(Op::kLoadConst, 1, 0, ky), I(op, 2, 0, 1), I(Op::kRet, 2)}, 3);
  Runner r(b);
  return r.Run(ch);
}
Outcome BinaryK(Op op, const CV& x, const CV& y) {
  Builder b;
  const uint32_t kx = b.Const(x), ky = b.Const(y);
  const uint32_t ch = b.Chunk({I(Op::kLoadConst, 0, 0, kx), I(op, 1, 0, ky), I(Op::kRet, 1)}, 2);
  Runner r(b);
  return r.Run(ch);
}
Outcome Unary(Op op, const CV& x) {
  Builder b;
  const uint32_t kx = b.Const(x);
  const uint32_t ch = b.Chunk({I(Op::kLoadConst, 0, 0, kx), I(op, 1, 0), I(Op::kRet, 1)}, 2);
  Runner r(b);
  return r.Run(ch);
}

// Assertion helpers with the operation in the failure message.
#define EXPECT_BOOL(outcome, value)                                      \
  do {                                                                   \
    const Outcome o_ = (outcome);                                        \
    EXPECT_TRUE(o_.ok&& o_.kind == Kind::kBool && o_.b == (value))       \
        << #outcome << " gave " << Describe(o_) << ", want " << (value); \
  } while (0)
#define EXPECT_INT(outcome, value)                                       \
  do {                                                                   \
    const Outcome o_ = (outcome);                                        \
    EXPECT_TRUE(o_.ok&& o_.kind == Kind::kInt && o_.i == (value))        \
        << #outcome << " gave " << Describe(o_) << ", want " << (value); \
  } while (0)
#define EXPECT_DUR(outcome, value)                                               \
  do {                                                                           \
    const Outcome o_ = (outcome);                                                \
    EXPECT_TRUE(o_.ok&& o_.kind == Kind::kDuration && o_.i == (value))           \
        << #outcome << " gave " << Describe(o_) << ", want " << (value) << "ms"; \
  } while (0)
#define EXPECT_FLOAT_RESULT(outcome, value)                              \
  do {                                                                   \
    const Outcome o_ = (outcome);                                        \
    EXPECT_TRUE(o_.ok&& o_.kind == Kind::kFloat && o_.f == (value))      \
        << #outcome << " gave " << Describe(o_) << ", want " << (value); \
  } while (0)
#define EXPECT_STR(outcome, value)                                                \
  do {                                                                            \
    const Outcome o_ = (outcome);                                                 \
    EXPECT_TRUE(o_.ok&& o_.kind == Kind::kString && o_.s == (value))              \
        << #outcome << " gave " << Describe(o_) << ", want \"" << (value) << '"'; \
  } while (0)
#define EXPECT_VM_ERROR(outcome, message)                                         \
  do {                                                                            \
    const Outcome o_ = (outcome);                                                 \
    EXPECT_TRUE(!o_.ok && o_.err == std::string(message))                         \
        << #outcome << " gave " << Describe(o_) << ", want error: " << (message); \
  } while (0)

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();

// ---------------------------------------------------------------------------
// Opcodes: loads, records, collections

TEST(VmOps, LoadSlotHasSlotLoadConstMove) {
  Builder b;
  const uint32_t s = b.Slot("principal.team", Root::kPrincipal, SlotType::kString);
  const uint32_t k = b.Const(CStr("konst"));
  const uint32_t load = b.Chunk({I(Op::kLoadSlot, 0, 0, s), I(Op::kRet, 0)}, 1);
  const uint32_t has = b.Chunk({I(Op::kHasSlot, 0, 0, s), I(Op::kRet, 0)}, 1);
  const uint32_t konst = b.Chunk({I(Op::kLoadConst, 1, 0, k), I(Op::kMove, 0, 1), I(Op::kRet, 0)}, 2);
  const uint32_t nop = b.Chunk({I(Op::kNop), I(Op::kLoadConst, 0, 0, k), I(Op::kNop), I(Op::kRet, 0)}, 1);
  Runner r(b);
  const Outcome absent = r.Run(load);
  EXPECT_FALSE(absent.ok);
  EXPECT_EQ(absent.err, "attribute is absent");
  EXPECT_EQ(absent.slot, static_cast<int32_t>(s));
  EXPECT_BOOL(r.Run(has), false);
  r.slot(s) = Value::String("support");
  EXPECT_STR(r.Run(load), "support");
  EXPECT_BOOL(r.Run(has), true);
  EXPECT_STR(r.Run(konst), "konst");
  EXPECT_STR(r.Run(nop), "konst");
}

TEST(VmOps, FieldAndHasField) {
  Builder b;
  const uint32_t rec = b.Const(CRecord({CFloat(2.5), CFloat(10.0)}));
  const uint32_t num = b.Const(CInt(1));
  const uint32_t field1 = b.Chunk({I(Op::kLoadConst, 0, 0, rec), I(Op::kField, 1, 0, 1), I(Op::kRet, 1)}, 2);
  const uint32_t field5 = b.Chunk({I(Op::kLoadConst, 0, 0, rec), I(Op::kField, 1, 0, 5), I(Op::kRet, 1)}, 2);
  const uint32_t has1 = b.Chunk({I(Op::kLoadConst, 0, 0, rec), I(Op::kHasField, 1, 0, 1), I(Op::kRet, 1)}, 2);
  const uint32_t has5 = b.Chunk({I(Op::kLoadConst, 0, 0, rec), I(Op::kHasField, 1, 0, 5), I(Op::kRet, 1)}, 2);
  const uint32_t field_int = b.Chunk({I(Op::kLoadConst, 0, 0, num), I(Op::kField, 1, 0, 0), I(Op::kRet, 1)}, 2);
  const uint32_t has_int = b.Chunk({I(Op::kLoadConst, 0, 0, num), I(Op::kHasField, 1, 0, 0), I(Op::kRet, 1)}, 2);
  // A decoded record with an absent field (a message without a name).
  const uint32_t msgs = kSlotRequestMessages;
  const uint32_t name_of_first = b.Chunk({I(Op::kLoadSlot, 0, 0, msgs), I(Op::kLoadConst, 1, 0, b.Const(CInt(0))),
                                          I(Op::kIndex, 2, 0, 1), I(Op::kField, 3, 2, kMessageName), I(Op::kRet, 3)},
                                         4);
  const uint32_t has_name = b.Chunk({I(Op::kLoadSlot, 0, 0, msgs), I(Op::kLoadConst, 1, 0, b.Const(CInt(0))),
                                     I(Op::kIndex, 2, 0, 1), I(Op::kHasField, 3, 2, kMessageName), I(Op::kRet, 3)},
                                    4);
  Runner r(b);
  EXPECT_FLOAT_RESULT(r.Run(field1), 10.0);
  EXPECT_VM_ERROR(r.Run(field5), "field is absent");
  EXPECT_BOOL(r.Run(has1), true);
  EXPECT_BOOL(r.Run(has5), false);
  EXPECT_VM_ERROR(r.Run(field_int), "field access on a value that is not a record");
  EXPECT_VM_ERROR(r.Run(has_int), "field access on a value that is not a record");

  Value fields[kMessageFieldCount];
  fields[kMessageRole] = Value::String("user");
  fields[kMessageContent] = Value::String("hi");
  Value message = Value::Aggregate(Kind::kRecord, fields, kMessageFieldCount);
  r.slot(msgs) = Value::Aggregate(Kind::kList, &message, 1);
  EXPECT_VM_ERROR(r.Run(name_of_first), "field is absent");
  EXPECT_BOOL(r.Run(has_name), false);
  fields[kMessageName] = Value::String("bob");
  EXPECT_STR(r.Run(name_of_first), "bob");
  EXPECT_BOOL(r.Run(has_name), true);
}

TEST(VmOps, Index) {
  const CV list = CInts({10, 20, 30});
  const CV map = CMap({{"a", CInt(1)}, {"b", CInt(2)}});
  EXPECT_INT(Binary(Op::kIndex, list, CInt(0)), 10);
  EXPECT_INT(Binary(Op::kIndex, list, CInt(2)), 30);
  EXPECT_VM_ERROR(Binary(Op::kIndex, list, CInt(3)), "list index out of range");
  EXPECT_VM_ERROR(Binary(Op::kIndex, list, CInt(-4)), "list index out of range");
  EXPECT_VM_ERROR(Binary(Op::kIndex, list, CInt(kMin)), "list index out of range");
  EXPECT_VM_ERROR(Binary(Op::kIndex, list, CStr("0")), "list index is not an int");
  EXPECT_VM_ERROR(Binary(Op::kIndex, list, CFloat(0)), "list index is not an int");
  EXPECT_VM_ERROR(Binary(Op::kIndex, CList({}), CInt(0)), "list index out of range");
  EXPECT_INT(Binary(Op::kIndex, map, CStr("b")), 2);
  EXPECT_INT(Binary(Op::kIndex, map, CStr("a")), 1);
  EXPECT_VM_ERROR(Binary(Op::kIndex, map, CStr("z")), "key not found in map");
  EXPECT_VM_ERROR(Binary(Op::kIndex, map, CStr("")), "key not found in map");
  EXPECT_VM_ERROR(Binary(Op::kIndex, map, CInt(0)), "map key is not a string");
  EXPECT_VM_ERROR(Binary(Op::kIndex, CMap({}), CStr("a")), "key not found in map");
  EXPECT_VM_ERROR(Binary(Op::kIndex, CStr("abc"), CInt(0)), "indexing a value that is not a list or map");
  EXPECT_VM_ERROR(Binary(Op::kIndex, CRecord({CInt(1)}), CInt(0)), "indexing a value that is not a list or map");
  EXPECT_VM_ERROR(Binary(Op::kIndex, CInt(5), CInt(0)), "indexing a value that is not a list or map");
}

// `messages[-1]` compiled but always failed: the index kernel refused every
// negative index. It counts from the end, as in Python.
TEST(VmOps, NegativeListIndexCountsFromTheEnd) {
  const CV list = CInts({10, 20, 30});
  EXPECT_INT(Binary(Op::kIndex, list, CInt(-1)), 30);
  EXPECT_INT(Binary(Op::kIndex, list, CInt(-2)), 20);
  EXPECT_INT(Binary(Op::kIndex, list, CInt(-3)), 10);
  EXPECT_VM_ERROR(Binary(Op::kIndex, list, CInt(-4)), "list index out of range");
  EXPECT_VM_ERROR(Binary(Op::kIndex, list, CInt(kMin)), "list index out of range");
  EXPECT_VM_ERROR(Binary(Op::kIndex, list, CInt(kMin + 3)), "list index out of range");
  EXPECT_VM_ERROR(Binary(Op::kIndex, CList({}), CInt(-1)), "list index out of range");
  EXPECT_INT(Binary(Op::kIndex, CInts({7}), CInt(-1)), 7);
  EXPECT_INT(Binary(Op::kIndex, CInts({7}), CInt(0)), 7);
  EXPECT_VM_ERROR(Binary(Op::kIndex, CInts({7}), CInt(-2)), "list index out of range");
  // A decoded list (the request's messages), as `request.messages[-1].role` reads it.
  Builder b;
  const uint32_t last_role =
      b.Chunk({I(Op::kLoadSlot, 0, 0, kSlotRequestMessages), I(Op::kLoadConst, 1, 0, b.Const(CInt(-1))),
               I(Op::kIndex, 2, 0, 1), I(Op::kField, 3, 2, kMessageRole), I(Op::kRet, 3)},
              4);
  Runner r(b);
  Value first[kMessageFieldCount], second[kMessageFieldCount];
  first[kMessageRole] = Value::String("system");
  second[kMessageRole] = Value::String("user");
  Value messages[2] = {Value::Aggregate(Kind::kRecord, first, kMessageFieldCount),
                       Value::Aggregate(Kind::kRecord, second, kMessageFieldCount)};
  r.slot(kSlotRequestMessages) = Value::Aggregate(Kind::kList, messages, 2);
  EXPECT_STR(r.Run(last_role), "user");
  r.slot(kSlotRequestMessages) = Value::Aggregate(Kind::kList, messages, 1);
  EXPECT_STR(r.Run(last_role), "system");
  r.slot(kSlotRequestMessages) = Value::Aggregate(Kind::kList, nullptr, 0);
  EXPECT_VM_ERROR(r.Run(last_role), "list index out of range");
}

TEST(VmOps, Len) {
  EXPECT_INT(Unary(Op::kLen, CStr("h\xc3\xa9llo")), 6);  // bytes
  EXPECT_INT(Unary(Op::kLen, CStr("")), 0);
  EXPECT_INT(Unary(Op::kLen, CInts({1, 2, 3})), 3);
  EXPECT_INT(Unary(Op::kLen, CList({})), 0);
  EXPECT_INT(Unary(Op::kLen, CMap({{"a", CInt(1)}, {"b", CInt(2)}})), 2);
  EXPECT_VM_ERROR(Unary(Op::kLen, CInt(5)), "len of a scalar");
  EXPECT_VM_ERROR(Unary(Op::kLen, CBool(true)), "len of a scalar");
  EXPECT_VM_ERROR(Unary(Op::kLen, CRecord({CInt(1)})), "len of a scalar");
}

// ---------------------------------------------------------------------------
// Opcodes: logic and arithmetic

TEST(VmOps, NotNegToFloat) {
  EXPECT_BOOL(Unary(Op::kNot, CBool(true)), false);
  EXPECT_BOOL(Unary(Op::kNot, CBool(false)), true);
  EXPECT_VM_ERROR(Unary(Op::kNot, CInt(0)), "not of a non-bool");
  EXPECT_VM_ERROR(Unary(Op::kNot, CStr("")), "not of a non-bool");

  EXPECT_INT(Unary(Op::kNeg, CInt(5)), -5);
  EXPECT_INT(Unary(Op::kNeg, CInt(kMax)), -kMax);
  EXPECT_VM_ERROR(Unary(Op::kNeg, CInt(kMin)), "integer overflow");
  EXPECT_FLOAT_RESULT(Unary(Op::kNeg, CFloat(2.5)), -2.5);
  EXPECT_DUR(Unary(Op::kNeg, CDur(1500)), -1500);
  EXPECT_VM_ERROR(Unary(Op::kNeg, CDur(kMin)), "integer overflow");
  EXPECT_VM_ERROR(Unary(Op::kNeg, CStr("5")), "negation of a non-number");
  EXPECT_VM_ERROR(Unary(Op::kNeg, CBool(true)), "negation of a non-number");

  EXPECT_FLOAT_RESULT(Unary(Op::kToFloat, CInt(3)), 3.0);
  EXPECT_FLOAT_RESULT(Unary(Op::kToFloat, CInt(-7)), -7.0);
  EXPECT_FLOAT_RESULT(Unary(Op::kToFloat, CFloat(0.5)), 0.5);
  EXPECT_VM_ERROR(Unary(Op::kToFloat, CStr("3")), "conversion of a non-number");
  EXPECT_VM_ERROR(Unary(Op::kToFloat, CDur(3)), "conversion of a non-number");
}

TEST(VmOps, IntegerArithmetic) {
  EXPECT_INT(Binary(Op::kAdd, CInt(2), CInt(3)), 5);
  EXPECT_INT(Binary(Op::kSub, CInt(2), CInt(3)), -1);
  EXPECT_INT(Binary(Op::kMul, CInt(4), CInt(-5)), -20);
  EXPECT_INT(Binary(Op::kDiv, CInt(7), CInt(2)), 3);
  EXPECT_INT(Binary(Op::kDiv, CInt(-7), CInt(2)), -3);  // truncates
  EXPECT_INT(Binary(Op::kMod, CInt(7), CInt(3)), 1);
  EXPECT_INT(Binary(Op::kMod, CInt(-7), CInt(3)), -1);
  EXPECT_INT(Binary(Op::kAdd, CInt(kMax - 1), CInt(1)), kMax);
  EXPECT_INT(Binary(Op::kSub, CInt(kMin + 1), CInt(1)), kMin);
  EXPECT_INT(Binary(Op::kDiv, CInt(kMin), CInt(1)), kMin);
  EXPECT_INT(Binary(Op::kMod, CInt(kMin), CInt(3)), kMin % 3);
}

TEST(VmOps, IntegerOverflowAndDivisionByZeroAreErrors) {
  EXPECT_VM_ERROR(Binary(Op::kAdd, CInt(kMax), CInt(1)), "integer overflow");
  EXPECT_VM_ERROR(Binary(Op::kAdd, CInt(kMin), CInt(-1)), "integer overflow");
  EXPECT_VM_ERROR(Binary(Op::kSub, CInt(kMin), CInt(1)), "integer overflow");
  EXPECT_VM_ERROR(Binary(Op::kSub, CInt(0), CInt(kMin)), "integer overflow");
  EXPECT_VM_ERROR(Binary(Op::kMul, CInt(kMax), CInt(2)), "integer overflow");
  EXPECT_VM_ERROR(Binary(Op::kMul, CInt(kMin), CInt(-1)), "integer overflow");
  EXPECT_VM_ERROR(Binary(Op::kMul, CInt(int64_t(1) << 32), CInt(int64_t(1) << 31)), "integer overflow");
  EXPECT_VM_ERROR(Binary(Op::kDiv, CInt(kMin), CInt(-1)), "integer overflow");
  EXPECT_INT(Binary(Op::kMod, CInt(kMin), CInt(-1)), 0);  // only the quotient overflows
  EXPECT_INT(Binary(Op::kMod, CInt(kMax), CInt(-1)), 0);
  EXPECT_INT(Binary(Op::kDiv, CInt(kMax), CInt(-1)), -kMax);
  EXPECT_VM_ERROR(Binary(Op::kDiv, CInt(1), CInt(0)), "division by zero");
  EXPECT_VM_ERROR(Binary(Op::kMod, CInt(1), CInt(0)), "division by zero");
  EXPECT_VM_ERROR(Binary(Op::kDiv, CInt(0), CInt(0)), "division by zero");
  EXPECT_VM_ERROR(Binary(Op::kDiv, CFloat(1), CFloat(0)), "division by zero");
  EXPECT_VM_ERROR(Binary(Op::kDiv, CInt(1), CFloat(0)), "division by zero");
  EXPECT_VM_ERROR(Binary(Op::kDiv, CFloat(1), CInt(0)), "division by zero");
  EXPECT_VM_ERROR(Binary(Op::kAdd, CDur(kMax), CDur(1)), "integer overflow");
  EXPECT_VM_ERROR(Binary(Op::kSub, CDur(kMin), CDur(1)), "integer overflow");
}

TEST(VmOps, FloatDurationAndStringArithmetic) {
  EXPECT_FLOAT_RESULT(Binary(Op::kAdd, CFloat(1.5), CInt(2)), 3.5);
  EXPECT_FLOAT_RESULT(Binary(Op::kAdd, CInt(2), CFloat(1.5)), 3.5);
  EXPECT_FLOAT_RESULT(Binary(Op::kSub, CFloat(1.0), CFloat(0.25)), 0.75);
  EXPECT_FLOAT_RESULT(Binary(Op::kMul, CFloat(2.5), CInt(4)), 10.0);
  EXPECT_FLOAT_RESULT(Binary(Op::kDiv, CInt(1), CFloat(2.0)), 0.5);
  EXPECT_VM_ERROR(Binary(Op::kMod, CFloat(5.0), CInt(2)), "arithmetic on values of the wrong kind");
  EXPECT_VM_ERROR(Binary(Op::kMod, CInt(5), CFloat(2)), "arithmetic on values of the wrong kind");

  EXPECT_DUR(Binary(Op::kAdd, CDur(1000), CDur(500)), 1500);
  EXPECT_DUR(Binary(Op::kSub, CDur(1000), CDur(1500)), -500);
  EXPECT_VM_ERROR(Binary(Op::kMul, CDur(1000), CDur(2)), "arithmetic on values of the wrong kind");
  EXPECT_VM_ERROR(Binary(Op::kDiv, CDur(1000), CDur(2)), "arithmetic on values of the wrong kind");
  EXPECT_VM_ERROR(Binary(Op::kAdd, CDur(1000), CInt(2)), "arithmetic on values of the wrong kind");
  EXPECT_VM_ERROR(Binary(Op::kAdd, CInt(2), CDur(1000)), "arithmetic on values of the wrong kind");

  EXPECT_STR(Binary(Op::kAdd, CStr("ab"), CStr("cd")), "abcd");
  EXPECT_STR(Binary(Op::kAdd, CStr(""), CStr("")), "");
  EXPECT_VM_ERROR(Binary(Op::kSub, CStr("ab"), CStr("b")), "arithmetic on values of the wrong kind");
  EXPECT_VM_ERROR(Binary(Op::kAdd, CStr("ab"), CInt(1)), "arithmetic on values of the wrong kind");
  EXPECT_VM_ERROR(Binary(Op::kAdd, CBool(true), CBool(true)), "arithmetic on values of the wrong kind");
  EXPECT_VM_ERROR(Binary(Op::kAdd, CInts({1}), CInts({2})), "arithmetic on values of the wrong kind");
}

TEST(VmOps, Comparisons) {
  struct Case {
    CV x, y;
    bool eq, lt;  // ne = !eq, le = lt || eq, gt = !le, ge = !lt
  } cases[] = {
      {CInt(1), CInt(2), false, true},          {CInt(2), CInt(2), true, false},
      {CInt(3), CInt(2), false, false},         {CInt(kMin), CInt(kMax), false, true},
      {CInt(3), CFloat(3.0), true, false},      {CFloat(2.5), CInt(3), false, true},
      {CFloat(-0.0), CFloat(0.0), true, false}, {CStr("a"), CStr("b"), false, true},
      {CStr("B"), CStr("a"), false, true},  // byte order
      {CStr("ab"), CStr("abc"), false, true},   {CStr("abc"), CStr("abc"), true, false},
      {CStr(""), CStr(""), true, false},        {CStr("\xc3\xa9"), CStr("z"), false, false},  // bytes compare unsigned
      {CDur(1000), CDur(1000), true, false},    {CDur(999), CDur(1000), false, true},
      {CBool(true), CBool(true), true, false},  {CBool(false), CBool(true), false, true},
  };
  const Op reg_ops[] = {Op::kEq, Op::kNe, Op::kLt, Op::kLe, Op::kGt, Op::kGe};
  const Op k_ops[] = {Op::kEqK, Op::kNeK, Op::kLtK, Op::kLeK, Op::kGtK, Op::kGeK};
  for (const Case& c : cases) {
    const bool want[] = {c.eq, !c.eq, c.lt, c.lt || c.eq, !(c.lt || c.eq), !c.lt};
    for (int k = 0; k < 6; ++k) {
      const Outcome r = Binary(reg_ops[k], c.x, c.y);
      EXPECT_TRUE(r.ok && r.kind == Kind::kBool && r.b == want[k])
          << GetOpInfo(reg_ops[k]).mnemonic << " of kinds " << int(c.x.kind) << "," << int(c.y.kind) << " values "
          << c.x.i << c.x.s << c.x.f << " / " << c.y.i << c.y.s << c.y.f << " gave " << Describe(r);
      const Outcome rk = BinaryK(k_ops[k], c.x, c.y);
      EXPECT_TRUE(rk.ok && rk.kind == Kind::kBool && rk.b == want[k])
          << GetOpInfo(k_ops[k]).mnemonic << " gave " << Describe(rk);
    }
  }
}

TEST(VmOps, ComparingDifferentKindsIsAnErrorNotUndefinedBehaviour) {
  // A hostile program comparing a string with an int: a rule error.
  const std::pair<CV, CV> bad[] = {
      {CStr("1"), CInt(1)},      {CInt(1), CStr("1")},     {CDur(1000), CInt(1000)},
      {CInt(1000), CDur(1000)},  {CBool(true), CInt(1)},   {CFloat(1), CDur(1)},
      {CInts({1}), CInts({1})},  {CMap({}), CMap({})},     {CRecord({CInt(1)}), CRecord({CInt(1)})},
      {CStr("a"), CStrs({"a"})}, {CBool(false), CStr("")},
  };
  for (const Op op : {Op::kEq, Op::kNe, Op::kLt, Op::kLe, Op::kGt, Op::kGe}) {
    for (const auto& [x, y] : bad) {
      EXPECT_VM_ERROR(Binary(op, x, y), "comparison of values of different kinds");
    }
  }
  for (const Op op : {Op::kEqK, Op::kNeK, Op::kLtK, Op::kLeK, Op::kGtK, Op::kGeK}) {
    EXPECT_VM_ERROR(BinaryK(op, CStr("1"), CInt(1)), "comparison of values of different kinds");
  }
  // An absent register (never written in this chunk) compares as an error too.
  Builder b;
  const uint32_t k = b.Const(CStr("x"));
  const uint32_t ch = b.Chunk({I(Op::kEqK, 1, 0, k), I(Op::kRet, 1)}, 2);
  Runner r(b);
  EXPECT_VM_ERROR(r.Run(ch), "comparison of values of different kinds");
}

// ---------------------------------------------------------------------------
// Membership

TEST(VmOps, InSortedSetUsesBinarySearchAndFindsEveryMember) {
  std::vector<int64_t> odd;
  for (int64_t v = 1; v < 200; v += 2) odd.push_back(v);
  std::vector<std::string> words = {"alpha", "beta", "delta", "epsilon", "eta", "gamma", "iota", "kappa", "zeta"};
  for (const bool sorted : {true, false}) {
    SCOPED_TRACE(sorted ? "sorted set" : "unsorted list");
    Builder b;
    const uint32_t ints = b.Const(CInts(odd, sorted));
    const uint32_t strs = b.Const(CStrs(words, sorted));
    const uint32_t probe = b.Slot("principal.x", Root::kPrincipal, SlotType::kInt);
    const uint32_t in_ints = b.Chunk({I(Op::kLoadSlot, 0, 0, probe), I(Op::kInK, 1, 0, ints), I(Op::kRet, 1)}, 2);
    const uint32_t in_strs = b.Chunk({I(Op::kLoadSlot, 0, 0, probe), I(Op::kInK, 1, 0, strs), I(Op::kRet, 1)}, 2);
    // `in` through a register holds the same (sorted) value.
    const uint32_t in_reg =
        b.Chunk({I(Op::kLoadSlot, 0, 0, probe), I(Op::kLoadConst, 1, 0, ints), I(Op::kIn, 2, 0, 1), I(Op::kRet, 2)}, 3);
    Runner r(b);
    for (int64_t v = -1; v <= 201; ++v) {
      r.slot(probe) = Value::Int(v);
      const bool member = v > 0 && v < 200 && v % 2 == 1;
      EXPECT_BOOL(r.Run(in_ints), member);
      EXPECT_BOOL(r.Run(in_reg), member);
    }
    r.slot(probe) = Value::Int(kMin);
    EXPECT_BOOL(r.Run(in_ints), false);
    r.slot(probe) = Value::Int(kMax);
    EXPECT_BOOL(r.Run(in_ints), false);
    // Ints and floats compare by value.
    r.slot(probe) = Value::Float(3.0);
    EXPECT_BOOL(r.Run(in_ints), true);
    r.slot(probe) = Value::Float(3.5);
    EXPECT_BOOL(r.Run(in_ints), false);
    for (const std::string& w : words) {
      r.slot(probe) = Value::String(w);
      EXPECT_BOOL(r.Run(in_strs), true);
    }
    for (const char* w : {"", "a", "alph", "alphaa", "b", "beta ", "c", "eps", "z", "zeta\x01", "zz", "\xff"}) {
      r.slot(probe) = Value::String(w);
      EXPECT_BOOL(r.Run(in_strs), false);
    }
    // A probe of another kind is simply not a member.
    r.slot(probe) = Value::Int(1);
    EXPECT_BOOL(r.Run(in_strs), false);
    r.slot(probe) = Value::String("1");
    EXPECT_BOOL(r.Run(in_ints), false);
    r.slot(probe) = Value::Bool(true);
    EXPECT_BOOL(r.Run(in_ints), false);
  }
}

TEST(VmOps, SortedSetLookupIsABinarySearch) {
  // Shown by what the search looks at, not by how long it takes: after
  // linking, the set's first item is overwritten with a value larger than
  // every other. A linear scan would find it; a binary search goes right at
  // every step and never reads item 0.
  std::vector<int64_t> items(100000);
  for (size_t i = 0; i < items.size(); ++i) items[i] = static_cast<int64_t>(i) * 3;
  Builder b;
  const uint32_t set = static_cast<uint32_t>(b.p().const_entries.size());
  b.RawConst(Kind::kList, static_cast<uint32_t>(items.size()), set + 1, /*sorted=*/1);
  for (int64_t v : items) b.RawConst(Kind::kInt, 0, static_cast<uint64_t>(v));
  const uint32_t probe = b.Slot("principal.x", Root::kPrincipal, SlotType::kInt);
  const uint32_t ch = b.Chunk({I(Op::kLoadSlot, 0, 0, probe), I(Op::kInK, 1, 0, set), I(Op::kRet, 1)}, 2);
  Runner r(b);
  int hits = 0;
  for (int k = 0; k < 2000; ++k) {
    r.slot(probe) = Value::Int(items[items.size() - 1 - k % 100] + (k % 2));  // members and non-members
    const Outcome o = r.Run(ch);
    hits += o.ok && o.kind == Kind::kBool && o.b;
  }
  EXPECT_EQ(hits, 1000);
  const int64_t beyond = items.back() + 1000;
  ASSERT_EQ(b.p().consts[set + 1].kind, Kind::kInt);
  b.p().consts[set + 1] = Value::Int(beyond);
  r.slot(probe) = Value::Int(beyond);
  EXPECT_BOOL(r.Run(ch), false);
  r.slot(probe) = Value::Int(items.back());
  EXPECT_BOOL(r.Run(ch), true);
}

TEST(VmOps, LinkMarksSortedConstantsForBinarySearch) {
  Builder b;
  const uint32_t sorted = b.Const(CInts({1, 2, 3}, true));
  const uint32_t plain = b.Const(CInts({3, 2, 1}));
  const uint32_t empty = b.Const(CList({}, true));
  b.Chunk({I(Op::kLoadConst, 0, 0, sorted), I(Op::kRet, 0)}, 1);
  Runner r(b);
  EXPECT_EQ(b.p().consts[sorted].sorted, 1);
  EXPECT_EQ(b.p().consts[plain].sorted, 0);
  EXPECT_EQ(b.p().consts[empty].sorted, 1);
  const Outcome o = r.Run(0);
  EXPECT_EQ(o.sorted, 1);
  EXPECT_BOOL(BinaryK(Op::kInK, CInt(1), CList({}, true)), false);
  EXPECT_BOOL(BinaryK(Op::kInK, CStr(""), CList({}, true)), false);
}

TEST(VmOps, InListsMapsAndStrings) {
  // Unsorted lists: linear, by value, any scalar kind.
  EXPECT_BOOL(Binary(Op::kIn, CInt(2), CInts({5, 2, 9, 2})), true);
  EXPECT_BOOL(Binary(Op::kIn, CInt(4), CInts({5, 2, 9, 2})), false);
  EXPECT_BOOL(Binary(Op::kIn, CFloat(9.0), CInts({5, 2, 9})), true);
  EXPECT_BOOL(Binary(Op::kIn, CInt(2), CList({CFloat(0.5), CFloat(2.0)})), true);
  EXPECT_BOOL(Binary(Op::kIn, CStr("b"), CStrs({"c", "b", "a"})), true);
  EXPECT_BOOL(Binary(Op::kIn, CStr("d"), CStrs({"c", "b", "a"})), false);
  EXPECT_BOOL(Binary(Op::kIn, CBool(true), CList({CBool(false), CBool(true)})), true);
  EXPECT_BOOL(Binary(Op::kIn, CDur(5), CList({CDur(5)})), true);
  EXPECT_BOOL(Binary(Op::kIn, CInt(5), CList({CDur(5)})), false);
  EXPECT_BOOL(Binary(Op::kIn, CStr("a"), CList({})), false);
  // Maps: key test.
  const CV map = CMap({{"gpt-4o", CStr("gpt-4o-2024-08-06")}, {"mini", CStr("m")}});
  EXPECT_BOOL(Binary(Op::kIn, CStr("mini"), map), true);
  EXPECT_BOOL(Binary(Op::kIn, CStr("m"), map), false);  // values are not keys
  EXPECT_BOOL(BinaryK(Op::kInK, CStr("gpt-4o"), map), true);
  EXPECT_VM_ERROR(Binary(Op::kIn, CInt(1), map), "membership test on values of the wrong kind");
  // Strings: substring test.
  EXPECT_BOOL(Binary(Op::kIn, CStr("ell"), CStr("hello")), true);
  EXPECT_BOOL(Binary(Op::kIn, CStr(""), CStr("hello")), true);
  EXPECT_BOOL(Binary(Op::kIn, CStr("Hell"), CStr("hello")), false);
  EXPECT_BOOL(Binary(Op::kIn, CStr("hello!"), CStr("hello")), false);
  EXPECT_VM_ERROR(Binary(Op::kIn, CInt(1), CStr("1")), "membership test on values of the wrong kind");
  // Scalars and records are not containers.
  EXPECT_VM_ERROR(Binary(Op::kIn, CInt(1), CInt(1)), "membership test on values of the wrong kind");
  EXPECT_VM_ERROR(Binary(Op::kIn, CInt(1), CRecord({CInt(1)})), "membership test on values of the wrong kind");
  EXPECT_VM_ERROR(BinaryK(Op::kInK, CStr("a"), CBool(true)), "membership test on values of the wrong kind");
}

TEST(VmOps, StartsWithEndsWith) {
  EXPECT_BOOL(Binary(Op::kStartsWith, CStr("hello"), CStr("he")), true);
  EXPECT_BOOL(Binary(Op::kStartsWith, CStr("hello"), CStr("lo")), false);
  EXPECT_BOOL(Binary(Op::kStartsWith, CStr("hello"), CStr("hello")), true);
  EXPECT_BOOL(Binary(Op::kStartsWith, CStr("he"), CStr("hello")), false);
  EXPECT_BOOL(Binary(Op::kStartsWith, CStr(""), CStr("")), true);
  EXPECT_BOOL(Binary(Op::kEndsWith, CStr("hello"), CStr("lo")), true);
  EXPECT_BOOL(Binary(Op::kEndsWith, CStr("hello"), CStr("he")), false);
  EXPECT_BOOL(Binary(Op::kEndsWith, CStr("lo"), CStr("hello")), false);
  EXPECT_BOOL(Binary(Op::kEndsWith, CStr("x"), CStr("")), true);
  EXPECT_VM_ERROR(Binary(Op::kStartsWith, CInt(1), CStr("1")), "startswith/endswith of a non-string");
  EXPECT_VM_ERROR(Binary(Op::kEndsWith, CStr("1"), CInts({1})), "startswith/endswith of a non-string");
}

TEST(VmOps, LowerUpperTokens) {
  EXPECT_STR(Unary(Op::kLower, CStr("MiXeD \xc3\x84 Case 123")), "mixed \xc3\x84 case 123");
  EXPECT_STR(Unary(Op::kUpper, CStr("MiXeD \xc3\xa4 Case 123")), "MIXED \xc3\xa4 CASE 123");
  EXPECT_STR(Unary(Op::kLower, CStr("")), "");
  EXPECT_STR(Unary(Op::kUpper, CStr("@[`{")), "@[`{");
  EXPECT_VM_ERROR(Unary(Op::kLower, CInt(1)), "lower/upper of a non-string");
  EXPECT_VM_ERROR(Unary(Op::kUpper, CBool(true)), "lower/upper of a non-string");
  EXPECT_INT(Unary(Op::kTokens, CStr("")), 0);
  EXPECT_INT(Unary(Op::kTokens, CStr("a")), 1);
  EXPECT_INT(Unary(Op::kTokens, CStr("abcd")), 1);
  EXPECT_INT(Unary(Op::kTokens, CStr("abcde")), 2);
  EXPECT_INT(Unary(Op::kTokens, CStr(std::string(4001, 'x'))), 1001);
  EXPECT_VM_ERROR(Unary(Op::kTokens, CInt(4)), "tokens of a non-string");
}

TEST(VmOps, ScanAnyAndScanCount) {
  Builder b;
  const uint32_t set = b.Patterns("inj", {{"ignore previous", false, true},
                                          {"DAN", false, false},
                                          {"jailbreak", false, true},
                                          {"never matches", false, false}});
  const uint32_t text = b.Slot("context.text", Root::kContext, SlotType::kString);
  const uint32_t any = b.Chunk({I(Op::kLoadSlot, 0, 0, text), I(Op::kScanAny, 1, 0, set), I(Op::kRet, 1)}, 2);
  const uint32_t count = b.Chunk({I(Op::kLoadSlot, 0, 0, text), I(Op::kScanCount, 1, 0, set), I(Op::kRet, 1)}, 2);
  Runner r(b);
  r.slot(text) = Value::String("Please IGNORE Previous instructions; jailBREAK, jailbreak");
  EXPECT_BOOL(r.Run(any), true);
  EXPECT_INT(r.Run(count), 2);                      // distinct patterns, not occurrences
  r.slot(text) = Value::String("you are dan now");  // DAN is case-sensitive
  EXPECT_BOOL(r.Run(any), false);
  EXPECT_INT(r.Run(count), 0);
  r.slot(text) = Value::String("DAN");
  EXPECT_INT(r.Run(count), 1);
  r.slot(text) = Value::String("");
  EXPECT_BOOL(r.Run(any), false);
  r.slot(text) = Value::String("ignore previou");
  EXPECT_BOOL(r.Run(any), false);
  r.slot(text) = Value::Int(3);
  EXPECT_VM_ERROR(r.Run(any), "screening a non-string");
  EXPECT_VM_ERROR(r.Run(count), "screening a non-string");
}

// A hand-built program has no screening databases, so it is screened
// literally. One scan answers every set of the program, so a regex pattern
// anywhere in it makes every scan a rule error: whatever the order of a
// set's items, whether a literal matched, and even for a set of literals.
TEST(VmOps, RegexPatternsScreenedLiterallyAreRuleErrors) {
  Builder b;
  const uint32_t regex_first = b.Patterns("rx", {{"a+b", true, false}, {"hello", false, false}});
  const uint32_t regex_last = b.Patterns("rx2", {{"hello", false, false}, {"a+b", true, false}});
  const uint32_t literal = b.Patterns("lit", {{"hello", false, false}});
  const uint32_t text = b.Slot("context.text", Root::kContext, SlotType::kString);
  auto scan = [&](Op op, uint32_t ps) {
    return b.Chunk({I(Op::kLoadSlot, 0, 0, text), I(op, 1, 0, ps), I(Op::kRet, 1)}, 2);
  };
  const uint32_t any_rx = scan(Op::kScanAny, regex_first), count_rx2 = scan(Op::kScanCount, regex_last);
  const uint32_t any_rx2 = scan(Op::kScanAny, regex_last), any_literal = scan(Op::kScanAny, literal);
  Runner r(b);
  r.slot(text) = Value::String("hello");
#if defined(GAVEL_HAVE_HYPERSCAN)
  const std::string rx_error =
      "regular-expression patterns need the screening engine, and this decision screens literal patterns only";
#else
  const std::string rx_error = "regular-expression patterns need the screening engine, which this build lacks";
#endif
  EXPECT_VM_ERROR(r.Run(any_rx), rx_error);
  EXPECT_VM_ERROR(r.Run(count_rx2), rx_error);
  EXPECT_VM_ERROR(r.Run(any_rx2), rx_error);
  EXPECT_VM_ERROR(r.Run(any_literal), rx_error);
}

// The VM screens through a worker's screening state only; without one, a
// scan is a rule error, never a search of its own.
TEST(VmOps, ScanWithoutAScreeningStateIsARuleError) {
  Builder b;
  const uint32_t set = b.Patterns("lit", {{"hello", false, false}});
  const uint32_t text = b.Slot("context.text", Root::kContext, SlotType::kString);
  const uint32_t any = b.Chunk({I(Op::kLoadSlot, 0, 0, text), I(Op::kScanAny, 1, 0, set), I(Op::kRet, 1)}, 2);
  Runner r(b);
  r.slot(text) = Value::String("hello");
  EXPECT_BOOL(r.Run(any), true);
  r.WithoutScreening();
  EXPECT_VM_ERROR(r.Run(any), "screening needs a worker's screening state");
}

TEST(VmOps, Cost) {
  Builder b;
  const uint32_t prices = b.Const(CMap({{"gpt-4o", CRecord({CFloat(2.5), CFloat(10.0)})},
                                        {"mini", CRecord({CFloat(0.15), CInt(1)})},
                                        {"bad", CInt(3)},
                                        {"short", CRecord({CFloat(1)})}}));
  const uint32_t not_a_map = b.Const(CInt(1));
  const uint32_t model = b.Slot("context.model", Root::kContext, SlotType::kString);
  const uint32_t tin = b.Slot("context.tin", Root::kContext, SlotType::kInt);
  auto chunk = [&](uint32_t k) {
    return b.Chunk({I(Op::kLoadSlot, 1, 0, model), I(Op::kLoadSlot, 2, 0, tin),
                    I(Op::kLoadConst, 3, 0, b.Const(CInt(2000))), I(Op::kCost, 0, 1, k), I(Op::kRet, 0)},
                   4);
  };
  const uint32_t cost = chunk(prices), cost_bad = chunk(not_a_map);
  Runner r(b);
  r.slot(model) = Value::String("gpt-4o");
  r.slot(tin) = Value::Int(1000);
  EXPECT_FLOAT_RESULT(r.Run(cost), (1000 * 2.5 + 2000 * 10.0) / 1e6);
  r.slot(model) = Value::String("mini");
  r.slot(tin) = Value::Float(1e6);
  EXPECT_FLOAT_RESULT(r.Run(cost), (1e6 * 0.15 + 2000 * 1.0) / 1e6);
  r.slot(model) = Value::String("unpriced");
  EXPECT_VM_ERROR(r.Run(cost), "model has no price");
  r.slot(model) = Value::String("bad");
  EXPECT_VM_ERROR(r.Run(cost), "price entry is not {input, output}");
  r.slot(model) = Value::String("short");
  EXPECT_VM_ERROR(r.Run(cost), "price entry is not {input, output}");
  r.slot(model) = Value::String("gpt-4o");
  EXPECT_VM_ERROR(r.Run(cost_bad), "cost() of values of the wrong kind");
  r.slot(tin) = Value::String("1000");
  EXPECT_VM_ERROR(r.Run(cost), "cost() of values of the wrong kind");
  r.slot(tin) = Value::Int(1);
  r.slot(model) = Value::Int(1);
  EXPECT_VM_ERROR(r.Run(cost), "cost() of values of the wrong kind");
}

// ---------------------------------------------------------------------------
// Control flow and loops

TEST(VmOps, JumpsAndConditions) {
  // r1 = 1; if <op> r0 then skip "r1 = 2"; return r1
  auto run = [](Op jump, const CV* cond) {
    Builder b;
    const uint32_t one = b.Const(CInt(1)), two = b.Const(CInt(2)), zero = b.Const(CInt(0));
    std::vector<Instr> code;
    if (cond) {
      code.push_back(I(Op::kLoadConst, 0, 0, b.Const(*cond)));
    } else {  // an error value: 1 / 0
      code.push_back(I(Op::kLoadConst, 3, 0, one));
      code.push_back(I(Op::kLoadConst, 4, 0, zero));
      code.push_back(I(Op::kDiv, 0, 3, 4));
    }
    const uint32_t base = static_cast<uint32_t>(code.size());
    code.push_back(I(Op::kLoadConst, 1, 0, one));
    code.push_back(I(jump, 0, 0, base + 3));
    code.push_back(I(Op::kLoadConst, 1, 0, two));
    code.push_back(I(Op::kRet, 1));
    const uint32_t ch = b.Chunk(code, 5);
    Runner r(b);
    return r.Run(ch);
  };
  const CV t = CBool(true), f = CBool(false), s = CStr("true"), n = CInt(1);
  EXPECT_INT(run(Op::kJumpIfTrue, &t), 1);
  EXPECT_INT(run(Op::kJumpIfTrue, &f), 2);
  EXPECT_INT(run(Op::kJumpIfFalse, &f), 1);
  EXPECT_INT(run(Op::kJumpIfFalse, &t), 2);
  // A condition that is not a bool (an error, or a hostile program's string)
  // decides nothing: no jump, no crash.
  EXPECT_INT(run(Op::kJumpIfTrue, &s), 2);
  EXPECT_INT(run(Op::kJumpIfFalse, &s), 2);
  EXPECT_INT(run(Op::kJumpIfTrue, &n), 2);
  EXPECT_INT(run(Op::kJumpIfTrue, nullptr), 2);
  EXPECT_INT(run(Op::kJumpIfFalse, nullptr), 2);
  // jump skips forward unconditionally
  Builder b;
  const uint32_t one = b.Const(CInt(1)), two = b.Const(CInt(2));
  const uint32_t ch =
      b.Chunk({I(Op::kLoadConst, 0, 0, one), I(Op::kJump, 0, 0, 3), I(Op::kLoadConst, 0, 0, two), I(Op::kRet, 0)}, 1);
  Runner r(b);
  EXPECT_INT(r.Run(ch), 1);
}

// Values for the Kleene tests: false, true, an error (1 / 0), a non-bool.
enum Tv { kF, kT, kE, kN };
void EmitTv(Builder& b, std::vector<Instr>& code, Tv v, uint32_t reg) {
  switch (v) {
    case kF:
      code.push_back(I(Op::kLoadConst, reg, 0, b.Const(CBool(false))));
      break;
    case kT:
      code.push_back(I(Op::kLoadConst, reg, 0, b.Const(CBool(true))));
      break;
    case kN:
      code.push_back(I(Op::kLoadConst, reg, 0, b.Const(CInt(5))));
      break;
    case kE:
      code.push_back(I(Op::kLoadConst, 6, 0, b.Const(CInt(1))));
      code.push_back(I(Op::kLoadConst, 7, 0, b.Const(CInt(0))));
      code.push_back(I(Op::kDiv, reg, 6, 7));
      break;
  }
}
Outcome Logic(Op op, Tv x, Tv y) {
  Builder b;
  std::vector<Instr> code;
  EmitTv(b, code, x, 0);
  EmitTv(b, code, y, 1);
  code.push_back(I(op, 2, 0, 1));
  code.push_back(I(Op::kRet, 2));
  const uint32_t ch = b.Chunk(code, 8);
  Runner r(b);
  return r.Run(ch);
}

TEST(VmOps, AndOrAreKleene) {
  // and: false wins over an error; or: true wins over an error.
  EXPECT_BOOL(Logic(Op::kAnd, kT, kT), true);
  EXPECT_BOOL(Logic(Op::kAnd, kT, kF), false);
  EXPECT_BOOL(Logic(Op::kAnd, kF, kT), false);
  EXPECT_BOOL(Logic(Op::kAnd, kF, kF), false);
  EXPECT_BOOL(Logic(Op::kAnd, kF, kE), false);
  EXPECT_BOOL(Logic(Op::kAnd, kE, kF), false);
  EXPECT_BOOL(Logic(Op::kAnd, kF, kN), false);
  EXPECT_VM_ERROR(Logic(Op::kAnd, kT, kE), "division by zero");  // the first failure names the error
  EXPECT_VM_ERROR(Logic(Op::kAnd, kE, kT), "division by zero");
  EXPECT_VM_ERROR(Logic(Op::kAnd, kE, kE), "division by zero");
  EXPECT_VM_ERROR(Logic(Op::kAnd, kT, kN), "and/or of a non-bool");
  EXPECT_VM_ERROR(Logic(Op::kAnd, kN, kN), "and/or of a non-bool");

  EXPECT_BOOL(Logic(Op::kOr, kF, kF), false);
  EXPECT_BOOL(Logic(Op::kOr, kT, kF), true);
  EXPECT_BOOL(Logic(Op::kOr, kF, kT), true);
  EXPECT_BOOL(Logic(Op::kOr, kT, kE), true);
  EXPECT_BOOL(Logic(Op::kOr, kE, kT), true);
  EXPECT_BOOL(Logic(Op::kOr, kN, kT), true);
  EXPECT_VM_ERROR(Logic(Op::kOr, kF, kE), "division by zero");
  EXPECT_VM_ERROR(Logic(Op::kOr, kE, kF), "division by zero");
  EXPECT_VM_ERROR(Logic(Op::kOr, kE, kE), "division by zero");
  EXPECT_VM_ERROR(Logic(Op::kOr, kF, kN), "and/or of a non-bool");
}

TEST(VmOps, ErrorsPropagateAndTheFirstOneNamesThem) {
  Builder b;
  const uint32_t one = b.Const(CInt(1)), zero = b.Const(CInt(0)), f = b.Const(CBool(false));
  const uint32_t s1 = b.Slot("principal.a", Root::kPrincipal, SlotType::kInt);
  const uint32_t s2 = b.Slot("principal.b", Root::kPrincipal, SlotType::kInt);
  // r0 = 1 / 0 (error); then strict instructions on r0 propagate it.
  auto chain = [&](std::vector<Instr> tail, uint16_t nregs = 4) {
    std::vector<Instr> code = {I(Op::kLoadConst, 1, 0, one), I(Op::kLoadConst, 2, 0, zero), I(Op::kDiv, 0, 1, 2)};
    code.insert(code.end(), tail.begin(), tail.end());
    return b.Chunk(code, nregs);
  };
  const uint32_t add = chain({I(Op::kAdd, 3, 0, 1), I(Op::kRet, 3)});
  const uint32_t cmp = chain({I(Op::kEq, 3, 1, 0), I(Op::kRet, 3)});
  const uint32_t not_ = chain({I(Op::kNot, 3, 0), I(Op::kRet, 3)});
  const uint32_t moved = chain({I(Op::kMove, 3, 0), I(Op::kRet, 3)});
  const uint32_t len = chain({I(Op::kLen, 3, 0), I(Op::kRet, 3)});
  const uint32_t second =
      chain({I(Op::kLoadConst, 3, 0, b.Const(CStr("x"))), I(Op::kEq, 3, 3, 1), I(Op::kAdd, 3, 0, 3), I(Op::kRet, 3)});
  const uint32_t has = chain({I(Op::kHasField, 3, 0, 0), I(Op::kRet, 3)});
  const uint32_t absorbed = chain({I(Op::kLoadConst, 3, 0, f), I(Op::kAnd, 3, 3, 0), I(Op::kRet, 3)});
  const uint32_t unused = chain({I(Op::kRet, 1)});
  const uint32_t slots =
      b.Chunk({I(Op::kLoadSlot, 0, 0, s1), I(Op::kLoadSlot, 1, 0, s2), I(Op::kOr, 2, 0, 1), I(Op::kRet, 2)}, 3);
  const uint32_t slot_second =
      b.Chunk({I(Op::kLoadConst, 0, 0, one), I(Op::kLoadConst, 1, 0, zero), I(Op::kDiv, 0, 0, 1),
               I(Op::kLoadSlot, 1, 0, s2), I(Op::kAnd, 2, 0, 1), I(Op::kRet, 2)},
              3);
  Runner r(b);
  EXPECT_VM_ERROR(r.Run(add), "division by zero");
  EXPECT_VM_ERROR(r.Run(cmp), "division by zero");
  EXPECT_VM_ERROR(r.Run(not_), "division by zero");
  EXPECT_VM_ERROR(r.Run(moved), "division by zero");
  EXPECT_VM_ERROR(r.Run(len), "division by zero");
  EXPECT_VM_ERROR(r.Run(second), "division by zero");
  EXPECT_BOOL(r.Run(has), false);       // has() of a failed path is false
  EXPECT_BOOL(r.Run(absorbed), false);  // false and error
  EXPECT_INT(r.Run(unused), 1);         // an error that does not reach the result does not matter
  // A successful run reports no error, even after an earlier failing one.
  Value v;
  VmError e;
  e.what = "stale";
  e.slot = 7;
  bool ok = false;
  v = r.RunValue(absorbed, &ok, &e);
  EXPECT_TRUE(ok);
  EXPECT_EQ(e.what, nullptr);
  EXPECT_EQ(e.slot, -1);
  // The slot of the first failure is the one reported.
  const Outcome both = r.Run(slots);
  EXPECT_VM_ERROR(both, "attribute is absent");
  EXPECT_EQ(both.slot, static_cast<int32_t>(s1));
  const Outcome div_first = r.Run(slot_second);
  EXPECT_VM_ERROR(div_first, "division by zero");
  EXPECT_EQ(div_first.slot, -1);
  r.slot(s1) = Value::Int(1);
  const Outcome only_b = r.Run(slots);
  EXPECT_VM_ERROR(only_b, "attribute is absent");  // the first failure names the error
  EXPECT_EQ(only_b.slot, static_cast<int32_t>(s2));
}

// sum = 0; for x in list: sum += x; return sum
uint32_t SumChunk(Builder& b, uint32_t list_const) {
  const uint32_t zero = b.Const(CInt(0));
  return b.Chunk(
      {
          I(Op::kLoadConst, 0, 0, zero),        // 0 r0 = 0
          I(Op::kLoadConst, 1, 0, list_const),  // 1 r1 = list
          I(Op::kIterBegin, 2, 1, 5),           // 2 r2 iter, r3 item; empty -> 5
          I(Op::kAdd, 0, 0, 3),                 // 3 r0 += r3
          I(Op::kIterNext, 2, 0, 3),            // 4 next -> 3
          I(Op::kIterEnd, 0, 2),                // 5 r0 = error if the iteration failed
          I(Op::kRet, 0),                       // 6
      },
      4);
}

TEST(VmOps, IterationOverLists) {
  Builder b;
  const uint32_t sum4 = SumChunk(b, b.Const(CInts({1, 2, 3, 4})));
  const uint32_t sum1 = SumChunk(b, b.Const(CInts({42})));
  const uint32_t sum0 = SumChunk(b, b.Const(CList({})));
  const uint32_t mixed = SumChunk(b, b.Const(CList({CInt(1), CStr("x")})));
  const uint32_t not_list = SumChunk(b, b.Const(CMap({{"a", CInt(1)}})));
  const uint32_t string = SumChunk(b, b.Const(CStr("abc")));
  Runner r(b);
  EXPECT_INT(r.Run(sum4), 10);
  EXPECT_INT(r.Run(sum1), 42);
  EXPECT_INT(r.Run(sum0), 0);
  EXPECT_VM_ERROR(r.Run(mixed), "arithmetic on values of the wrong kind");
  EXPECT_VM_ERROR(r.Run(not_list), "iterating a value that is not a list");
  EXPECT_VM_ERROR(r.Run(string), "iterating a value that is not a list");
}

TEST(VmOps, IterNextWithoutIterBeginIsAnError) {
  Builder b;
  const uint32_t list = b.Const(CInts({1, 2}));
  // Jumps over the iter_begin into the loop.
  const uint32_t ch = b.Chunk({I(Op::kLoadConst, 0, 0, list), I(Op::kJump, 0, 0, 3), I(Op::kIterBegin, 1, 0, 4),
                               I(Op::kIterNext, 1, 0, 3), I(Op::kRet, 1)},
                              3);
  Runner r(b);
  EXPECT_VM_ERROR(r.Run(ch), "iter_next without iter_begin");
}

// Nested loops over lists of sizes outer x inner, then a loop over `tail`
// items: (outer * inner - 1) + (tail - 1) backward jumps. Returns true unless
// an iteration failed.
uint32_t LoopChunk(Builder& b, uint32_t outer, uint32_t inner, uint32_t tail) {
  std::vector<int64_t> o(outer, 0), in(inner, 0), t(tail, 0);
  const uint32_t lo = b.Const(CInts(o)), li = b.Const(CInts(in)), lt = b.Const(CInts(t));
  const uint32_t yes = b.Const(CBool(true));
  return b.Chunk(
      {
          I(Op::kLoadConst, 0, 0, lo),   // 0
          I(Op::kLoadConst, 1, 0, li),   // 1
          I(Op::kLoadConst, 8, 0, yes),  // 2
          I(Op::kIterBegin, 2, 0, 8),    // 3 outer
          I(Op::kIterBegin, 4, 1, 6),    // 4 inner
          I(Op::kIterNext, 4, 0, 5),     // 5 inner next
          I(Op::kIterEnd, 8, 4),         // 6
          I(Op::kIterNext, 2, 0, 4),     // 7 outer next
          I(Op::kIterEnd, 8, 2),         // 8
          I(Op::kLoadConst, 0, 0, lt),   // 9
          I(Op::kIterBegin, 6, 0, 12),   // 10 tail
          I(Op::kIterNext, 6, 0, 11),    // 11
          I(Op::kIterEnd, 8, 6),         // 12
          I(Op::kRet, 8),                // 13
      },
      9);
}

TEST(VmOps, StepBudgetBoundsLoops) {
  // 2048 x 2048 nested: 4,194,303 backward jumps; 2049 x 2048: 4,196,351.
  Builder b;
  const uint32_t within = LoopChunk(b, 2048, 2048, 1);
  const uint32_t over = LoopChunk(b, 2049, 2048, 1);
  Runner r(b);
  EXPECT_BOOL(r.Run(within), true);
  EXPECT_VM_ERROR(r.Run(over), "step budget exhausted");
}

TEST(VmOps, StepBudgetIsTheDocumentedLimit) {
  // docs/language.md, Resource limits: "backward jumps (loop iterations) per
  // predicate: 4,194,304; when exceeded: rule error". Exactly 4,194,304 jumps
  // must therefore succeed and 4,194,305 must fail.
  Builder b;
  const uint32_t exactly = LoopChunk(b, 2048, 2048, 2);  // 4,194,303 + 1
  const uint32_t one_more = LoopChunk(b, 2048, 2048, 3);
  Runner r(b);
  EXPECT_BOOL(r.Run(exactly), true);
  EXPECT_VM_ERROR(r.Run(one_more), "step budget exhausted");
}

TEST(VmOps, RegistersDoNotLeakBetweenChunkRuns) {
  // A hostile but verified chunk that reads a register it never wrote must not
  // see what an earlier chunk (possibly of an earlier decision, pointing into a
  // request body the host has since freed) left there.
  Builder b;
  const uint32_t k = b.Const(CStr("gpt-4o"));
  const uint32_t writer = b.Chunk({I(Op::kLoadSlot, 0, 0, kSlotRequestModel), I(Op::kRet, 0)}, 1);
  const uint32_t reader = b.Chunk({I(Op::kEqK, 1, 0, k), I(Op::kRet, 1)}, 2);
  const uint32_t ret_only = b.Chunk({I(Op::kRet, 0)}, 1);
  Runner r(b);
  std::string body = "gpt-4o";
  r.slot(kSlotRequestModel) = Value::String(body);
  EXPECT_STR(r.Run(writer), "gpt-4o");
  // The reader never wrote r0: comparing it must be an error (absent), not true.
  EXPECT_VM_ERROR(r.Run(reader), "comparison of values of different kinds");
  const Outcome o = r.Run(ret_only);
  EXPECT_TRUE(o.ok && o.kind == Kind::kMissing) << "ret of an unwritten register gave " << Describe(o);
}

// ---------------------------------------------------------------------------
// Quantifiers compiled from policies, run over decoded requests

class CompiledVm : public ::testing::Test {
 protected:
  void Compile(const std::string& conditions) {
    CompileResult r = CompileSource("vm_test.policy", "package test.vm\n" + conditions);
    ASSERT_TRUE(r.ok()) << r.RenderDiagnostics();
    program_ = std::move(r.program);
  }
  // Runs predicate `text` over the request body (and principal).
  Outcome Predicate(const std::string& text, const std::string& body, const std::string& principal = "") {
    const Program& p = *program_;
    body_ = body;
    principal_ = principal;
    DecodeInput in;
    in.request = body_;
    in.principal = principal_;
    slots_.assign(p.slots.size(), Value());
    arena_.Reset();
    std::string serr;
    EXPECT_TRUE(scan_.Begin(p.screen_patterns, p.screen, &serr)) << serr;
    arena_.scan = &scan_;
    DecodeError err;
    EXPECT_TRUE(DecodeAll(p, in, DecodeLimits(), &scratch_, &arena_, slots_.data(), &err)) << err.ToString();
    regs_.assign(p.max_regs, Value());
    for (const auto& pr : p.predicates) {
      if (pr.text != text) continue;
      Value v;
      VmError e;
      const bool ok = RunChunk(p, pr.chunk, slots_.data(), regs_.data(), &arena_, &v, &e);
      return Capture(ok, v, e);
    }
    std::string all;
    for (const auto& pr : p.predicates) all += "\n  " + pr.text;
    ADD_FAILURE() << "no predicate \"" << text << "\" among:" << all;
    return Outcome();
  }
  std::unique_ptr<Program> program_;
  DecodeScratch scratch_;
  ScanState scan_;
  Arena arena_;
  std::vector<Value> slots_, regs_;
  std::string body_, principal_;
};

TEST_F(CompiledVm, AnyAndAllQuantifiers) {
  Compile(R"(
rule a { when any m in request.messages: m.role == "tool" deny }
rule b { when all m in request.messages: m.role != "system" deny }
rule c { when any t in request.tools: t.name in {"shell", "exec"} deny }
rule d { when any m in request.messages: m.name == "bob" deny }
rule e { when any m in request.messages: has(m.name) and m.name == "bob" deny }
)");
  const std::string any_tool = R"(any m in request.messages: m.role == "tool")";
  const std::string all_not_system = R"(all m in request.messages: m.role != "system")";
  EXPECT_BOOL(Predicate(any_tool, R"({"messages":[]})"), false);
  EXPECT_BOOL(Predicate(all_not_system, R"({"messages":[]})"), true);
  const std::string three = R"({"messages":[{"role":"system","content":"s"},{"role":"user","content":"u"},
                                            {"role":"tool","content":"t"}]})";
  EXPECT_BOOL(Predicate(any_tool, three), true);  // the last item
  EXPECT_BOOL(Predicate(all_not_system, three), false);
  EXPECT_BOOL(Predicate(any_tool, R"({"messages":[{"role":"user","content":"u"}]})"), false);
  EXPECT_BOOL(Predicate(all_not_system, R"({"messages":[{"role":"user","content":"u"},{"role":"tool"}]})"), true);

  const std::string tools_pred = R"(any t in request.tools: t.name in {"shell", "exec"})";
  EXPECT_BOOL(Predicate(tools_pred, R"({"tools":[{"type":"function","function":{"name":"kb"}},{"name":"exec"}]})"),
              true);
  EXPECT_BOOL(Predicate(tools_pred, R"({"tools":[{"name":"kb"}]})"), false);
  EXPECT_BOOL(Predicate(tools_pred, R"({"messages":[]})"), false);

  // Items are folded with Kleene logic: an error in one item matters only if
  // no other item decides the answer.
  const std::string named = R"(any m in request.messages: m.name == "bob")";
  const std::string guarded = R"(any m in request.messages: has(m.name) and m.name == "bob")";
  const std::string body = R"({"messages":[{"role":"user","content":"x"},{"role":"user","content":"y","name":"bob"}]})";
  EXPECT_BOOL(Predicate(named, body), true);
  EXPECT_BOOL(Predicate(guarded, body), true);
  EXPECT_BOOL(Predicate(named, R"({"messages":[{"role":"user","name":"bob"},{"role":"user"}]})"), true);
  EXPECT_VM_ERROR(Predicate(named, R"({"messages":[{"role":"user","name":"al"},{"role":"user"}]})"), "field is absent");
  EXPECT_BOOL(Predicate(named, R"({"messages":[{"role":"user","name":"al"}]})"), false);
  EXPECT_BOOL(Predicate(guarded, R"({"messages":[{"role":"user"}]})"), false);
}

TEST_F(CompiledVm, NegativeIndexesReadFromTheEnd) {
  Compile(R"(
schema principal { xs: list<int> }
rule last_user { when request.messages[-1].role == "user" deny }
rule second_last { when principal.xs[-2] == 5 deny }
)");
  const std::string last_user = R"(request.messages[-1].role == "user")";
  const std::string two = R"({"messages":[{"role":"system","content":"s"},{"role":"user","content":"u"}]})";
  EXPECT_BOOL(Predicate(last_user, two), true);
  EXPECT_BOOL(Predicate(last_user, R"({"messages":[{"role":"user","content":"u"},{"role":"tool"}]})"), false);
  EXPECT_VM_ERROR(Predicate(last_user, R"({"messages":[]})"), "list index out of range");
  const std::string second_last = "principal.xs[-2] == 5";
  EXPECT_BOOL(Predicate(second_last, "{}", R"({"xs":[5,9]})"), true);
  EXPECT_BOOL(Predicate(second_last, "{}", R"({"xs":[1,5,9]})"), true);
  EXPECT_BOOL(Predicate(second_last, "{}", R"({"xs":[5,9,1]})"), false);
  EXPECT_VM_ERROR(Predicate(second_last, "{}", R"({"xs":[5]})"), "list index out of range");
}

TEST_F(CompiledVm, AllIsFalseWhenAnyItemIsFalseEvenIfAnotherErrors) {
  Compile(R"(
rule a { when all m in request.messages: m.name != "bob" deny }
)");
  const std::string pred = R"(all m in request.messages: m.name != "bob")";
  EXPECT_BOOL(Predicate(pred, R"({"messages":[{"role":"user"},{"role":"user","name":"bob"}]})"), false);
  EXPECT_VM_ERROR(Predicate(pred, R"({"messages":[{"role":"user"},{"role":"user","name":"al"}]})"), "field is absent");
  EXPECT_BOOL(Predicate(pred, R"({"messages":[{"role":"user","name":"al"}]})"), true);
}

TEST_F(CompiledVm, StepBudgetStopsNestedQuantifiers) {
  // 2100 x 2100 nested iterations exceed the budget of 4,194,304 backward
  // jumps before the only matching pair (the last one) is reached: the
  // predicate must fail with the budget error, not keep going and find it.
  Compile(R"(
schema principal { xs: list<int> }
rule a { when any x in principal.xs: any y in principal.xs: x == 2099 and y == 2099 deny }
)");
  std::string xs = R"({"xs":[)";
  for (int i = 0; i < 2100; ++i) xs += (i ? "," : "") + std::to_string(i);
  xs += "]}";
  const std::string pred = "any x in principal.xs: any y in principal.xs: x == 2099 and y == 2099";
  EXPECT_VM_ERROR(Predicate(pred, "", xs), "step budget exhausted");
  // Within the budget (the pair is found early) it is simply true.
  std::string early = R"({"xs":[2099)";
  for (int i = 0; i < 2099; ++i) early += "," + std::to_string(i);
  early += "]}";
  EXPECT_BOOL(Predicate(pred, "", early), true);
}

TEST_F(CompiledVm, ConstantSetsAreSortedAndDeduplicated) {
  Compile(R"(
const s = {"delta", "alpha", "charlie", "alpha", "bravo"}
const n = {30, 10, 20, 10}
rule a { when request.model in s deny }
rule b { when request.max_tokens in n deny }
)");
  int found = 0;
  for (const Value& v : program_->consts) {
    if (v.kind != Kind::kList || v.len == 0) continue;
    EXPECT_EQ(v.sorted, 1) << "a constant set is not marked sorted";
    if (v.items[0].kind == Kind::kString) {
      ASSERT_EQ(v.len, 4u);
      EXPECT_EQ(std::string(v.items[0].s, v.items[0].len), "alpha");
      EXPECT_EQ(std::string(v.items[3].s, v.items[3].len), "delta");
      ++found;
    } else {
      ASSERT_EQ(v.len, 3u);
      EXPECT_EQ(v.items[0].i, 10);
      EXPECT_EQ(v.items[1].i, 20);
      EXPECT_EQ(v.items[2].i, 30);
      ++found;
    }
  }
  EXPECT_EQ(found, 2);
  EXPECT_BOOL(Predicate("request.model in s", R"({"model":"charlie"})"), true);
  EXPECT_BOOL(Predicate("request.model in s", R"({"model":"echo"})"), false);
  EXPECT_BOOL(Predicate("request.max_tokens in n", R"({"max_tokens":20})"), true);
  EXPECT_BOOL(Predicate("request.max_tokens in n", R"({"max_tokens":25})"), false);
}

// ---------------------------------------------------------------------------
// The verifier

// A minimal valid program: one predicate `load_const r0, true; ret r0` and a rule.
struct Valid {
  Builder b;
  uint32_t chunk;
  Valid() {
    const uint32_t t = b.Const(CBool(true));
    chunk = b.Chunk({I(Op::kLoadConst, 0, 0, t), I(Op::kRet, 0)}, 1);
    b.PredicateRule(chunk, "true");
  }
  Program& p() { return b.p(); }
};

std::string Verify(Program& p) { return VerifyAndLink(&p); }

// Expects the verifier to refuse with a message containing `what`.
#define EXPECT_REFUSED(program, what)                                                         \
  do {                                                                                        \
    const std::string e_ = Verify(program);                                                   \
    EXPECT_NE(e_, "") << "the verifier accepted it; want: " << (what);                        \
    EXPECT_NE(e_.find(what), std::string::npos) << "message: " << e_ << "\nwant: " << (what); \
  } while (0)

TEST(Verifier, AcceptsTheMinimalProgram) {
  Valid v;
  EXPECT_EQ(Verify(v.p()), "");
  EXPECT_EQ(v.p().max_regs, 1);
  EXPECT_EQ(v.p().phase_predicates[0], std::vector<uint32_t>{0});
  EXPECT_TRUE(v.p().phase_predicates[1].empty());
  EXPECT_EQ(v.p().rule_mask, std::vector<uint64_t>{1});
}

TEST(Verifier, BuiltInSlotsMustComeFirst) {
  {
    Valid v;
    v.p().slots.resize(kBuiltinSlotCount - 1);
    EXPECT_REFUSED(v.p(), "missing built-in slots");
  }
  {
    Valid v;
    std::swap(v.p().slots[2], v.p().slots[3]);
    EXPECT_REFUSED(v.p(), "slot 2 is not the built-in request.messages");
  }
  {
    Valid v;
    v.p().slots[kSlotEnvTime].type = SlotType::kInt;
    EXPECT_REFUSED(v.p(), "slot 17 is not the built-in env.time");
  }
  {
    Valid v;
    v.p().slots[0].name = "request.Model";
    EXPECT_REFUSED(v.p(), "slot 0 is not the built-in request.model");
  }
}

TEST(Verifier, SchemaSlots) {
  {
    Valid v;
    v.b.Slot("principal.x", Root::kPrincipal, SlotType::kBuiltin);
    EXPECT_REFUSED(v.p(), "slot 18: bad type");
  }
  {
    Valid v;
    v.b.Slot("principal.x", Root::kPrincipal, static_cast<SlotType>(200));
    EXPECT_REFUSED(v.p(), "slot 18: bad type");
  }
  {
    Valid v;
    v.b.Slot("request.x", Root::kRequest, SlotType::kString);
    EXPECT_REFUSED(v.p(), "slot 18: bad root");
  }
  {
    Valid v;
    v.b.Slot("env.x", Root::kEnv, SlotType::kString);
    EXPECT_REFUSED(v.p(), "slot 18: bad root");
  }
  {
    Valid v;
    v.b.Slot("principal.x", Root::kPrincipal, SlotType::kString, 5);
    EXPECT_REFUSED(v.p(), "slot 18: bad default");
  }
  {
    Valid v;
    v.b.Slot("principal.x", Root::kPrincipal, SlotType::kString, -2);
    EXPECT_REFUSED(v.p(), "slot 18: bad default");
  }
  {
    Valid v;
    v.b.Slot("principal.x", Root::kPrincipal, SlotType::kString, 0);
    EXPECT_EQ(Verify(v.p()), "");
  }
}

TEST(Verifier, SchemaSlotNamesMustMatchTheirRoot) {
  // The decoder looks an attribute up by the name after its root's prefix, so
  // a hostile name such as "x" must be refused (it made DecodeAll throw
  // std::out_of_range from string_view::substr before the verifier checked it).
  struct Case {
    const char* name;
    Root root;
    const char* what;
  } cases[] = {
      {"x", Root::kPrincipal, "slot 18: name does not start with principal."},
      {"", Root::kPrincipal, "slot 18: name does not start with principal."},
      {"principal.", Root::kPrincipal, "slot 18: name does not start with principal."},
      {"principal.x", Root::kContext, "slot 18: name does not start with context."},
      {"context.x", Root::kPrincipal, "slot 18: name does not start with principal."},
      {"Principal.x", Root::kPrincipal, "slot 18: name does not start with principal."},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Valid v;
    v.b.Slot(c.name, c.root, SlotType::kString);
    EXPECT_REFUSED(v.p(), c.what);
  }
  {
    Valid v;
    v.b.Slot("principal.team", Root::kPrincipal, SlotType::kString);
    v.b.Slot("context.team", Root::kContext, SlotType::kString);
    v.b.Slot("principal.team", Root::kPrincipal, SlotType::kInt);
    EXPECT_REFUSED(v.p(), "slot 20: duplicate name");
  }
  {
    Valid v;
    v.b.Slot("principal.x", Root::kPrincipal, SlotType::kString);
    v.b.Slot("context.x", Root::kContext, SlotType::kString);
    ASSERT_EQ(Verify(v.p()), "");
    std::vector<Value> slots(v.p().slots.size());
    Arena arena;
    DecodeScratch scratch;
    DecodeError err;
    std::string principal = R"({"x":"p"})", context = R"({"x":"c"})";
    DecodeInput in;
    in.principal = principal;
    in.context = context;
    ASSERT_TRUE(DecodeAll(v.p(), in, DecodeLimits(), &scratch, &arena, slots.data(), &err)) << err.ToString();
    EXPECT_EQ(slots[18].str(), "p");
    EXPECT_EQ(slots[19].str(), "c");
  }
}

TEST(Verifier, ConstantPool) {
  {  // a list whose items point at itself: a cycle
    Valid v;
    const uint32_t self = static_cast<uint32_t>(v.p().const_entries.size());
    v.b.RawConst(Kind::kList, 1, self);
    EXPECT_REFUSED(v.p(), "items out of bounds");
  }
  {  // items before the parent (backwards)
    Valid v;
    v.b.RawConst(Kind::kList, 1, 0);
    EXPECT_REFUSED(v.p(), "items out of bounds");
  }
  {  // a record pointing backwards into a list that points forward to it
    Valid v;
    const uint32_t a = static_cast<uint32_t>(v.p().const_entries.size());
    v.b.RawConst(Kind::kList, 1, a + 1);
    v.b.RawConst(Kind::kRecord, 1, a);
    EXPECT_REFUSED(v.p(), "constant 2: items out of bounds");
  }
  {  // items past the end
    Valid v;
    const uint32_t n = static_cast<uint32_t>(v.p().const_entries.size());
    v.b.RawConst(Kind::kList, 2, n + 1);
    v.b.RawConst(Kind::kInt, 0, 1);
    EXPECT_REFUSED(v.p(), "items out of bounds");
  }
  {  // a map's 2*len items past the end
    Valid v;
    const uint32_t n = static_cast<uint32_t>(v.p().const_entries.size());
    v.b.RawConst(Kind::kMap, 1, n + 1);
    v.b.Const(CStr("k"));
    EXPECT_REFUSED(v.p(), "items out of bounds");
  }
  {  // huge lengths do not overflow the bounds check
    Valid v;
    const uint32_t n = static_cast<uint32_t>(v.p().const_entries.size());
    v.b.RawConst(Kind::kMap, 0xffffffffu, n + 1);
    v.b.RawConst(Kind::kList, 0xffffffffu, uint64_t(-1));
    EXPECT_REFUSED(v.p(), "items out of bounds");
  }
  {
    Valid v;
    v.b.RawConst(Kind::kString, 5, 0);  // pool is empty
    EXPECT_REFUSED(v.p(), "string out of bounds");
  }
  {
    Valid v;
    v.p().strings = "abc";
    v.b.RawConst(Kind::kString, 1, 3);
    EXPECT_REFUSED(v.p(), "string out of bounds");
  }
  {
    Valid v;
    v.p().strings = "abc";
    v.b.RawConst(Kind::kString, 2, uint64_t(-1));
    EXPECT_REFUSED(v.p(), "string out of bounds");
  }
  {
    Valid v;
    v.p().strings = "abc";
    v.b.RawConst(Kind::kString, 0, 3);  // empty string at the end: fine
    EXPECT_EQ(Verify(v.p()), "");
  }
  {
    Valid v;
    v.b.RawConst(Kind::kBool, 0, 2);
    EXPECT_REFUSED(v.p(), "bad bool");
  }
  {
    Valid v;
    v.b.RawConst(Kind::kIter, 0, 0);
    EXPECT_REFUSED(v.p(), "bad kind");
  }
  {
    Valid v;
    v.b.RawConst(Kind::kMissing, 0, 0);
    EXPECT_REFUSED(v.p(), "bad kind");
  }
  {
    Valid v;
    v.b.Const(CMap({{"a", CInt(1)}}));
    v.p().const_entries[v.p().const_entries.size() - 2].kind = Kind::kInt;  // the key
    EXPECT_REFUSED(v.p(), "map key is not a string");
  }
}

TEST(Verifier, SortedFlagMustBeTrue) {
  {
    Valid v;
    v.b.Const(CInts({1, 3, 2}, true));
    EXPECT_REFUSED(v.p(), "set is not sorted");
  }
  {
    Valid v;
    v.b.Const(CInts({1, 2, 2}, true));  // duplicates are not a set
    EXPECT_REFUSED(v.p(), "set is not sorted");
  }
  {
    Valid v;
    v.b.Const(CStrs({"b", "a"}, true));
    EXPECT_REFUSED(v.p(), "set is not sorted");
  }
  {
    Valid v;
    v.b.Const(CStrs({"ab", "a"}, true));
    EXPECT_REFUSED(v.p(), "set is not sorted");
  }
  {
    Valid v;
    v.b.Const(CInts({3, -1}, true));  // signed order
    EXPECT_REFUSED(v.p(), "set is not sorted");
  }
  {
    Valid v;
    v.b.Const(CList({CInt(1), CStr("a")}, true));
    EXPECT_REFUSED(v.p(), "set is not sorted");
  }
  {
    Valid v;
    v.b.Const(CList({CFloat(1), CFloat(2)}, true));
    EXPECT_REFUSED(v.p(), "unsortable item");
  }
  {
    Valid v;
    v.b.Const(CList({CBool(false), CBool(true)}, true));
    EXPECT_REFUSED(v.p(), "unsortable item");
  }
  {
    Valid v;
    CV m = CMap({{"a", CInt(1)}});
    m.sorted = true;
    v.b.Const(m);
    EXPECT_REFUSED(v.p(), "only lists can be sorted");
  }
  {
    Valid v;
    v.b.RawConst(Kind::kInt, 0, 1, /*sorted=*/1);
    EXPECT_REFUSED(v.p(), "only lists can be sorted");
  }
  {
    Valid v;
    v.b.Const(CInts({-5, 1, 3}, true));
    v.b.Const(CStrs({"", "a", "ab", "b", "\xc3\xa9"}, true));
    EXPECT_EQ(Verify(v.p()), "");
  }
}

TEST(Verifier, OperandsMustBeInRange) {
  auto with_chunk = [](const std::vector<Instr>& code, uint16_t nregs) {
    auto v = std::make_unique<Valid>();
    v->b.Patterns("ps", {{"x", false, false}});
    v->b.Chunk(code, nregs);
    return v;
  };
  const uint32_t nconst = 1;  // Valid has one constant
  struct Case {
    std::vector<Instr> code;
    uint16_t nregs;
    const char* what;
  } cases[] = {
      {{I(Op::kLoadConst, 2, 0, 0), I(Op::kRet, 0)}, 2, "bad operand a of load_const"},
      {{I(Op::kLoadConst, 0, 0, nconst), I(Op::kRet, 0)}, 1, "bad operand c of load_const"},
      {{I(Op::kLoadSlot, 0, 0, kBuiltinSlotCount), I(Op::kRet, 0)}, 1, "bad operand c of load_slot"},
      {{I(Op::kHasSlot, 0, 0, 0xffffffffu), I(Op::kRet, 0)}, 1, "bad operand c of has_slot"},
      {{I(Op::kMove, 0, 1), I(Op::kRet, 0)}, 1, "bad operand b of move"},
      {{I(Op::kAdd, 0, 0, 3), I(Op::kRet, 0)}, 3, "bad operand c of add"},
      {{I(Op::kEqK, 0, 0, 99), I(Op::kRet, 0)}, 1, "bad operand c of eq_k"},
      {{I(Op::kScanAny, 1, 0, 1), I(Op::kRet, 0)}, 2, "bad operand c of scan_any"},
      {{I(Op::kScanCount, 1, 0, 0xffffffffu), I(Op::kRet, 0)}, 2, "bad operand c of scan_count"},
      {{I(Op::kCost, 0, 0, nconst), I(Op::kRet, 0)}, 3, "bad operand c of cost"},
      {{I(Op::kRet, 1)}, 1, "bad operand a of ret"},
      {{I(Op::kRet, 255)}, 255, "bad operand a of ret"},
      // unused fields must be zero
      {{I(Op::kNop, 1), I(Op::kRet, 0)}, 2, "bad operand a of nop"},
      {{I(Op::kRet, 0, 1)}, 2, "bad operand b of ret"},
      {{I(Op::kRet, 0, 0, 1)}, 2, "bad operand c of ret"},
      {{I(Op::kLoadConst, 0, 1, 0), I(Op::kRet, 0)}, 2, "bad operand b of load_const"},
      {{I(Op::kNot, 0, 0, 1), I(Op::kRet, 0)}, 2, "bad operand c of not"},
      // iterator and cost register windows
      {{I(Op::kIterBegin, 1, 0, 2), I(Op::kIterNext, 1, 0, 1), I(Op::kRet, 0)},
       2,
       "iterator item register out of range"},
      {{I(Op::kCost, 0, 1, 0), I(Op::kRet, 0)}, 3, "cost arguments out of range"},
      // unknown opcode
      {{I(Op::kCount), I(Op::kRet, 0)}, 1, "unknown opcode"},
      {{I(static_cast<Op>(255)), I(Op::kRet, 0)}, 1, "unknown opcode"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    auto v = with_chunk(c.code, c.nregs);
    EXPECT_REFUSED(v->p(), c.what);
  }
  // The largest valid operands are accepted.
  auto ok = with_chunk({I(Op::kLoadSlot, 255, 0, kBuiltinSlotCount - 1), I(Op::kLoadConst, 254, 0, nconst - 1),
                        I(Op::kScanAny, 0, 255, 0), I(Op::kCost, 0, 253, 0), I(Op::kIterBegin, 254, 0, 6),
                        I(Op::kIterNext, 254, 0, 5), I(Op::kRet, 255)},
                       256);
  EXPECT_EQ(Verify(ok->p()), "");
  EXPECT_EQ(ok->p().max_regs, 256);
}

TEST(Verifier, Jumps) {
  auto check = [](const std::vector<Instr>& code, const char* what) {
    SCOPED_TRACE(what);
    Valid v;
    v.b.Const(CInts({1, 2}));
    v.b.Chunk(code, 4);
    if (what == nullptr) {
      EXPECT_EQ(Verify(v.p()), "");
    } else {
      EXPECT_REFUSED(v.p(), what);
    }
  };
  // backward and self jumps
  check({I(Op::kNop), I(Op::kJump, 0, 0, 0), I(Op::kRet, 0)}, "bad operand c of jump");
  check({I(Op::kJump, 0, 0, 0), I(Op::kRet, 0)}, "bad operand c of jump");
  check({I(Op::kLoadConst, 0, 0, 0), I(Op::kJumpIfFalse, 0, 0, 1), I(Op::kRet, 0)}, "bad operand c of jump_if_false");
  check({I(Op::kLoadConst, 0, 0, 0), I(Op::kJumpIfTrue, 0, 0, 0), I(Op::kRet, 0)}, "bad operand c of jump_if_true");
  // past the chunk
  check({I(Op::kJump, 0, 0, 2), I(Op::kRet, 0)}, "bad operand c of jump");
  check({I(Op::kJump, 0, 0, 0xffffffffu), I(Op::kRet, 0)}, "bad operand c of jump");
  check({I(Op::kLoadConst, 0, 0, 0), I(Op::kJumpIfTrue, 0, 0, 3), I(Op::kRet, 0)}, "bad operand c of jump_if_true");
  check({I(Op::kIterBegin, 0, 0, 2), I(Op::kRet, 0)}, "bad operand c of iter_begin");
  check({I(Op::kIterBegin, 0, 0, 0), I(Op::kRet, 0)}, "bad operand c of iter_begin");
  // forward to the last instruction is fine
  check({I(Op::kJump, 0, 0, 1), I(Op::kRet, 0)}, nullptr);
  check({I(Op::kLoadConst, 0, 0, 0), I(Op::kJumpIfFalse, 0, 0, 2), I(Op::kRet, 0)}, nullptr);
}

TEST(Verifier, IterNextMustFollowItsIterBegin) {
  auto check = [](const std::vector<Instr>& code, const char* what) {
    SCOPED_TRACE(what ? what : "valid");
    Valid v;
    v.b.Chunk(code, 6);
    if (what == nullptr) {
      EXPECT_EQ(Verify(v.p()), "");
    } else {
      EXPECT_REFUSED(v.p(), what);
    }
  };
  const char* bad = "bad operand c of iter_next";
  // valid: 0 iter_begin r1; 1 nop; 2 iter_next r1 -> 1; 3 ret
  check({I(Op::kIterBegin, 1, 0, 3), I(Op::kNop), I(Op::kIterNext, 1, 0, 1), I(Op::kRet, 0)}, nullptr);
  // target not right after an iter_begin
  check({I(Op::kIterBegin, 1, 0, 4), I(Op::kNop), I(Op::kNop), I(Op::kIterNext, 1, 0, 2), I(Op::kRet, 0)}, bad);
  // after an iter_begin of another register
  check({I(Op::kIterBegin, 3, 0, 3), I(Op::kIterNext, 1, 0, 1), I(Op::kIterNext, 3, 0, 1), I(Op::kRet, 0)}, bad);
  // target 0 (no instruction before it)
  check({I(Op::kNop), I(Op::kIterNext, 1, 0, 0), I(Op::kRet, 0)}, bad);
  // forward target
  check({I(Op::kIterBegin, 1, 0, 3), I(Op::kIterNext, 1, 0, 2), I(Op::kIterNext, 1, 0, 1), I(Op::kRet, 0)}, bad);
  check({I(Op::kIterBegin, 1, 0, 2), I(Op::kIterNext, 1, 0, 0xffffffffu), I(Op::kRet, 0)}, bad);
  // a second iter_begin of the same register between target and iter_next
  check(
      {I(Op::kIterBegin, 1, 0, 4), I(Op::kIterBegin, 1, 0, 4), I(Op::kNop), I(Op::kIterNext, 1, 0, 1), I(Op::kRet, 0)},
      bad);
  // nested loops of different registers are fine
  check({I(Op::kIterBegin, 1, 0, 4), I(Op::kIterBegin, 3, 0, 3), I(Op::kIterNext, 3, 0, 2), I(Op::kIterNext, 1, 0, 1),
         I(Op::kRet, 0)},
        nullptr);
  // an iter_begin's exit must land right after its own iter_next
  check({I(Op::kIterBegin, 1, 0, 3), I(Op::kIterNext, 1, 0, 1), I(Op::kNop), I(Op::kRet, 0)},
        "bad operand c of iter_begin");
  check({I(Op::kIterBegin, 1, 0, 3), I(Op::kIterBegin, 3, 0, 3), I(Op::kIterNext, 3, 0, 2), I(Op::kIterNext, 1, 0, 1),
         I(Op::kRet, 0)},
        "bad operand c of iter_begin");
}

TEST(Verifier, ChunkShape) {
  auto with = [](const std::vector<Instr>& code, uint16_t nregs) {
    auto v = std::make_unique<Valid>();
    v->b.Chunk(code, nregs);
    return v;
  };
  {
    auto v = with({I(Op::kNop)}, 1);
    EXPECT_REFUSED(v->p(), "does not end in ret");
  }
  {
    auto v = with({I(Op::kRet, 0), I(Op::kNop)}, 1);
    EXPECT_REFUSED(v->p(), "does not end in ret");
  }
  {
    auto v = with({I(Op::kRet, 0)}, 0);
    EXPECT_REFUSED(v->p(), "chunk 1: bad register count");
  }
  {
    auto v = with({I(Op::kRet, 0)}, 257);
    EXPECT_REFUSED(v->p(), "chunk 1: bad register count");
  }
  {
    auto v = with({I(Op::kRet, 0)}, 256);
    EXPECT_EQ(Verify(v->p()), "");
  }
  {
    auto v = with({I(Op::kRet, 0)}, 1);
    v->p().chunks.back().size = 0;
    EXPECT_REFUSED(v->p(), "chunk 1: code out of bounds");
  }
  {
    auto v = with({I(Op::kRet, 0)}, 1);
    v->p().chunks.back().size = 2;
    EXPECT_REFUSED(v->p(), "chunk 1: code out of bounds");
  }
  {
    auto v = with({I(Op::kRet, 0)}, 1);
    v->p().chunks.back().begin = 0xffffffffu;
    EXPECT_REFUSED(v->p(), "chunk 1: code out of bounds");
  }
  {
    auto v = with({I(Op::kRet, 0)}, 1);
    v->p().chunks.back().begin = 1;
    v->p().chunks.back().size = 0xffffffffu;
    EXPECT_REFUSED(v->p(), "chunk 1: code out of bounds");
  }
}

TEST(Verifier, PredicatesAndRuleMatrix) {
  {
    Valid v;
    v.p().predicates[0].chunk = 1;
    EXPECT_REFUSED(v.p(), "predicate 0: bad chunk");
  }
  {
    Valid v;
    v.p().words = 2;
    v.p().masks.assign(4, 0);
    EXPECT_REFUSED(v.p(), "predicate bitset width does not match");
  }
  {
    Valid v;
    v.p().words = 0;
    EXPECT_REFUSED(v.p(), "predicate bitset width does not match");
  }
  {  // no predicates: still one word
    Valid v;
    v.p().predicates.clear();
    v.p().masks.assign(2, 0);
    EXPECT_EQ(Verify(v.p()), "");
    v.p().words = 0;
    v.p().masks.clear();
    v.p().rules.clear();
    EXPECT_REFUSED(v.p(), "predicate bitset width does not match");
  }
  {
    Valid v;
    v.p().masks.push_back(0);
    EXPECT_REFUSED(v.p(), "rule matrix has a partial row");
  }
  // Bits for predicates that do not exist, in the positive and the negative half.
  for (int bit : {1, 5, 63}) {
    for (int half : {0, 1}) {
      SCOPED_TRACE("bit " + std::to_string(bit) + (half ? " negative" : " positive"));
      Valid v;
      v.p().masks[half] |= uint64_t(1) << bit;
      EXPECT_REFUSED(v.p(), "rule matrix names unknown predicates");
    }
  }
  {  // with no predicates at all, any bit is unknown
    Valid v;
    v.p().predicates.clear();
    v.p().masks = {0, 1};
    EXPECT_REFUSED(v.p(), "rule matrix names unknown predicates");
  }
  {  // 64 predicates fill one word exactly; 65 need two
    Valid v;
    for (int i = 1; i < 64; ++i) v.b.PredicateRule(v.chunk, "true" + std::to_string(i));
    ASSERT_EQ(v.p().words, 1u);
    v.p().masks[1] = ~uint64_t(0);  // every predicate, negated
    EXPECT_EQ(Verify(v.p()), "");
    v.b.PredicateRule(v.chunk, "true64");
    ASSERT_EQ(v.p().words, 2u);
    EXPECT_EQ(Verify(v.p()), "");
    v.p().masks[1] |= uint64_t(1) << 1;  // word 1 of the first row: predicate 65
    EXPECT_REFUSED(v.p(), "rule matrix names unknown predicates");
  }
}

// Regression: with the list in the item register, writing the first item
// overwrote the list mid-instruction and the cursor walked a string's bytes.
TEST(Verifier, IterBeginListRegisterMustNotOverlapItsCursor) {
  Builder b;
  const uint32_t list = b.Const(CInts({1, 2}));
  const uint32_t ch = b.Chunk(
      {I(Op::kLoadConst, 3, 0, list), I(Op::kIterBegin, 2, 3, 3), I(Op::kIterNext, 2, 0, 2), I(Op::kRet, 0, 0, 0)}, 4);
  (void)ch;
  EXPECT_REFUSED(b.p(), "iter_begin's list register overlaps its cursor");
}

TEST(Verifier, Rules) {
  auto rule = [](Valid& v) -> Rule& { return v.p().rules[0]; };
  // A deny may carry a 4xx or 5xx status (a hostile bundle once could make a
  // deny answer 200); other effects carry none.
  for (uint16_t status : {1, 99, 100, 200, 399, 600, 999, 65535}) {
    SCOPED_TRACE(status);
    Valid v;
    rule(v).effect = Effect::kDeny;
    rule(v).status = status;
    EXPECT_REFUSED(v.p(), "rule 0: bad status");
  }
  for (uint16_t status : {0, 400, 403, 599}) {
    Valid v;
    rule(v).effect = Effect::kDeny;
    rule(v).status = status;
    EXPECT_EQ(Verify(v.p()), "") << status;
  }
  {
    Valid v;
    rule(v).effect = Effect::kFlag;
    rule(v).status = 403;
    EXPECT_REFUSED(v.p(), "rule 0: bad status");
  }
  {
    Valid v;
    rule(v).effect = static_cast<Effect>(5);
    EXPECT_REFUSED(v.p(), "rule 0: bad effect");
  }
  {
    Valid v;
    rule(v).phase = static_cast<Phase>(2);
    EXPECT_REFUSED(v.p(), "rule 0: bad effect");
  }
  {
    Valid v;
    rule(v).conj_begin = 1;
    EXPECT_REFUSED(v.p(), "rule 0: conjunctions out of bounds");
  }
  {
    Valid v;
    rule(v).conj_count = 2;
    EXPECT_REFUSED(v.p(), "rule 0: conjunctions out of bounds");
  }
  {
    Valid v;
    rule(v).conj_begin = 0xffffffffu;
    rule(v).conj_count = 2;
    EXPECT_REFUSED(v.p(), "rule 0: conjunctions out of bounds");
  }
  {
    Valid v;
    rule(v).conj_begin = 1;
    rule(v).conj_count = 0;  // never fires, in bounds
    EXPECT_EQ(Verify(v.p()), "");
  }
  {
    Valid v;
    MessagePart part;
    part.is_expr = true;
    part.chunk = 1;
    rule(v).message.push_back(part);
    EXPECT_REFUSED(v.p(), "rule 0: bad message chunk");
  }
  {
    Valid v;
    MessagePart part;
    part.is_expr = false;
    part.chunk = 99;  // literal parts ignore the chunk
    rule(v).message.push_back(part);
    EXPECT_EQ(Verify(v.p()), "");
  }
  {
    Valid v;
    rule(v).effect = Effect::kRoute;
    EXPECT_REFUSED(v.p(), "rule 0: route without target");
  }
  {
    Valid v;
    rule(v).effect = Effect::kRoute;
    rule(v).target_chunk = 1;
    EXPECT_REFUSED(v.p(), "rule 0: bad route chunk");
  }
  {
    Valid v;
    rule(v).target_chunk = -2;
    EXPECT_REFUSED(v.p(), "rule 0: bad route chunk");
  }
  {
    Valid v;
    rule(v).effect = Effect::kRedact;
    rule(v).redact_sets = {0};
    EXPECT_REFUSED(v.p(), "rule 0: bad pattern set");
  }
  {
    Valid v;
    rule(v).redact_field_slot = static_cast<int32_t>(kBuiltinSlotCount);
    EXPECT_REFUSED(v.p(), "rule 0: bad redact field");
  }
  {
    Valid v;
    rule(v).redact_field_slot = -2;
    EXPECT_REFUSED(v.p(), "rule 0: bad redact field");
  }
  {
    Valid v;
    v.b.Patterns("empty", {});
    EXPECT_REFUSED(v.p(), "empty pattern set empty");
  }
}

TEST(Verifier, LinkDerivesPhaseTables) {
  Valid v;
  v.b.PredicateRule(v.chunk, "second");
  v.b.PredicateRule(v.chunk, "third");
  v.p().rules[1].phase = Phase::kResponse;
  ASSERT_EQ(Verify(v.p()), "");
  EXPECT_EQ(v.p().phase_predicates[0], (std::vector<uint32_t>{0, 2}));
  EXPECT_EQ(v.p().phase_predicates[1], (std::vector<uint32_t>{1}));
  EXPECT_EQ(v.p().phase_mask[0], std::vector<uint64_t>{0b101});
  EXPECT_EQ(v.p().phase_mask[1], std::vector<uint64_t>{0b010});
  EXPECT_EQ(v.p().rule_mask, (std::vector<uint64_t>{1, 2, 4}));
  // Linking twice gives the same tables (no accumulation).
  ASSERT_EQ(Verify(v.p()), "");
  EXPECT_EQ(v.p().phase_predicates[0], (std::vector<uint32_t>{0, 2}));
}

// ---------------------------------------------------------------------------
// The opcode table and the disassembler

TEST(OpcodeTable, IsWellFormed) {
  std::set<std::string> mnemonics;
  for (int i = 0; i < static_cast<int>(Op::kCount); ++i) {
    const OpInfo& info = GetOpInfo(static_cast<Op>(i));
    ASSERT_NE(info.mnemonic, nullptr);
    EXPECT_GT(std::strlen(info.mnemonic), 0u);
    EXPECT_TRUE(mnemonics.insert(info.mnemonic).second) << "duplicate mnemonic " << info.mnemonic;
    ASSERT_EQ(std::strlen(info.format), 3u) << info.mnemonic;
    for (int k = 0; k < 3; ++k)
      EXPECT_NE(std::strchr("RSKPNJ_", info.format[k]), nullptr) << info.mnemonic << " format " << info.format;
    EXPECT_GT(std::strlen(info.doc), 0u) << info.mnemonic;
  }
  EXPECT_STREQ(GetOpInfo(Op::kNop).mnemonic, "nop");
  EXPECT_STREQ(GetOpInfo(Op::kEq).mnemonic, "eq");
  EXPECT_STREQ(GetOpInfo(Op::kInK).mnemonic, "in_k");
  EXPECT_STREQ(GetOpInfo(Op::kIterNext).mnemonic, "iter_next");
  EXPECT_STREQ(GetOpInfo(Op::kRet).mnemonic, "ret");
  EXPECT_STREQ(GetOpInfo(Op::kLoadSlot).format, "R_S");
  EXPECT_STREQ(GetOpInfo(Op::kCost).format, "RRK");
  EXPECT_STREQ(GetOpInfo(Op::kJump).format, "__J");
  for (int i = 0; i < static_cast<int>(Op::kCount); ++i) {
    const OpInfo& info = GetOpInfo(static_cast<Op>(i));
    EXPECT_EQ(info.flags & ~(kOpOwnErrors | kOpReadsB12 | kOpWritesA1 | kOpJumpsBack), 0) << info.mnemonic;
  }
}

// The comparison families in the order opcodes.h asserts, read the way the VM
// and the fast-predicate recognition read them.
TEST(OpcodeTable, ComparisonFamiliesAreParallel) {
  const Op regs[] = {Op::kEq, Op::kNe, Op::kLt, Op::kLe, Op::kGt, Op::kGe};
  const Op consts[] = {Op::kEqK, Op::kNeK, Op::kLtK, Op::kLeK, Op::kGtK, Op::kGeK};
  for (int k = 0; k < 6; ++k) {
    EXPECT_TRUE(IsCompare(regs[k]) && !IsCompareK(regs[k])) << k;
    EXPECT_TRUE(IsCompareK(consts[k]) && !IsCompare(consts[k])) << k;
    EXPECT_EQ(CompareIndex(regs[k]), k);
    EXPECT_EQ(CompareIndex(consts[k]), k);
    EXPECT_EQ(std::string(GetOpInfo(regs[k]).mnemonic) + "_k", GetOpInfo(consts[k]).mnemonic);
  }
  int compares = 0;
  for (int i = 0; i < static_cast<int>(Op::kCount); ++i)
    compares += IsCompare(static_cast<Op>(i)) + IsCompareK(static_cast<Op>(i));
  EXPECT_EQ(compares, 12);
}

// A chunk with one instruction of `op` (and the other half of its loop, if it
// is iter_begin or iter_next): register operands a and b as given, c register
// 0, and valid slot, constant 0, pattern set 0 and jump targets. Ends in ret r0.
std::vector<Instr> AloneInChunk(Op op, uint32_t a, uint32_t b) {
  const char* f = GetOpInfo(op).format;
  const uint32_t fa = f[0] == 'R' ? a : 0, fb = f[1] == 'R' ? b : 0;
  switch (op) {
    case Op::kIterBegin:
    case Op::kIterNext:
      return {I(Op::kIterBegin, a, b, 2), I(Op::kIterNext, a, 0, 1), I(Op::kRet, 0)};
    case Op::kRet:
      return {I(Op::kRet, a)};
    default:
      break;
  }
  uint32_t fc = 0;
  if (f[2] == 'J') fc = 1;
  if (f[2] == 'S') fc = kSlotRequestModel;
  return {I(op, fa, fb, fc), I(Op::kRet, 0)};
}

// kOpWritesA1 and kOpReadsB12 name registers beyond the operands: the
// verifier must keep exactly those inside the chunk's register window.
TEST(OpcodeTable, VerifierKeepsTheRegistersTheFlagsNameInRange) {
  constexpr uint16_t kRegs = 8;
  for (int i = 0; i < static_cast<int>(Op::kCount); ++i) {
    const Op op = static_cast<Op>(i);
    const OpInfo& info = GetOpInfo(op);
    SCOPED_TRACE(info.mnemonic);
    auto verify = [&](uint32_t a, uint32_t b) {
      Valid v;
      v.b.Patterns("ps", {{"x", false, false}});
      v.b.Chunk(AloneInChunk(op, a, b), kRegs);
      return Verify(v.p());
    };
    EXPECT_EQ(verify(0, 2), "");
    if (info.format[0] == 'R') {
      const std::string last = verify(kRegs - 1, 2);
      if (HasOpFlag(op, kOpWritesA1)) {
        EXPECT_NE(last.find("iterator item register out of range"), std::string::npos) << last;
        EXPECT_EQ(verify(kRegs - 2, 2), "");
      } else {
        EXPECT_EQ(last, "");
      }
    }
    if (info.format[1] == 'R') {
      const std::string last = verify(0, kRegs - 1);
      if (HasOpFlag(op, kOpReadsB12)) {
        EXPECT_NE(last.find(std::string(info.mnemonic) + " arguments out of range"), std::string::npos) << last;
        EXPECT_NE(verify(0, kRegs - 2).find("arguments out of range"), std::string::npos);
        EXPECT_EQ(verify(0, kRegs - 3), "");
      } else {
        EXPECT_EQ(last, "");
      }
      if (HasOpFlag(op, kOpWritesA1)) {
        EXPECT_NE(verify(3, 3).find("overlaps its cursor"), std::string::npos);
        EXPECT_NE(verify(3, 4).find("overlaps its cursor"), std::string::npos);
        EXPECT_EQ(verify(3, 2), "");
        EXPECT_EQ(verify(3, 5), "");
      } else {
        EXPECT_EQ(verify(3, 3), "");
      }
    }
  }
}

// Only an instruction flagged kOpJumpsBack may jump backward, and it may not
// jump forward.
TEST(OpcodeTable, OnlyInstructionsFlaggedJumpsBackJumpBackward) {
  int jumps = 0, back = 0;
  for (int i = 0; i < static_cast<int>(Op::kCount); ++i) {
    const Op op = static_cast<Op>(i);
    const OpInfo& info = GetOpInfo(op);
    if (info.format[2] != 'J') continue;
    SCOPED_TRACE(info.mnemonic);
    ++jumps;
    const uint32_t a = info.format[0] == 'R' ? 1 : 0, b = 0;
    std::vector<Instr> backward, forward;
    if (op == Op::kIterNext) {
      backward = {I(Op::kIterBegin, 1, 0, 3), I(Op::kNop), I(op, 1, 0, 1), I(Op::kRet, 0)};
      forward = {I(Op::kIterBegin, 1, 0, 2), I(op, 1, 0, 2), I(Op::kRet, 0)};
    } else {
      backward = {I(Op::kNop), I(op, a, b, 0), I(Op::kRet, 0)};
      forward = op == Op::kIterBegin ? std::vector<Instr>{I(op, 1, 0, 2), I(Op::kIterNext, 1, 0, 1), I(Op::kRet, 0)}
                                     : std::vector<Instr>{I(op, a, b, 1), I(Op::kRet, 0)};
    }
    auto verify = [](const std::vector<Instr>& code) {
      Valid v;
      v.b.Chunk(code, 4);
      return Verify(v.p());
    };
    const std::string bad_c = std::string("bad operand c of ") + info.mnemonic;
    if (HasOpFlag(op, kOpJumpsBack)) {
      ++back;
      EXPECT_EQ(verify(backward), "");
      EXPECT_NE(verify(forward).find(bad_c), std::string::npos) << verify(forward);
    } else {
      EXPECT_NE(verify(backward).find(bad_c), std::string::npos) << verify(backward);
      EXPECT_EQ(verify(forward), "");
    }
  }
  EXPECT_EQ(jumps, 5);
  EXPECT_EQ(back, 1);
}

// Without kOpOwnErrors an instruction whose register operand b or c holds an
// error does not run: its result is an error, so the chunk fails with the
// first failure's message. Those with the flag read the error on purpose;
// each has its own expectation here, so a new one cannot go untested.
TEST(OpcodeTable, ErrorOperandsStopEveryInstructionThatDoesNotOwnThem) {
  Builder b;
  const uint32_t absent = b.Slot("principal.absent", Root::kPrincipal, SlotType::kInt);
  const uint32_t list = b.Const(CInts({1}));
  const uint32_t one = b.Const(CInt(1));
  const uint32_t yes = b.Const(CBool(true)), no = b.Const(CBool(false));
  b.Patterns("ps", {{"x", false, false}});
  // r0 = an error (absent attribute), r1 = [1], r2 = r3 = 1.
  const std::vector<Instr> prologue = {I(Op::kLoadSlot, 0, 0, absent), I(Op::kLoadConst, 1, 0, list),
                                       I(Op::kLoadConst, 2, 0, one), I(Op::kLoadConst, 3, 0, one)};
  auto chunk = [&](std::vector<Instr> tail) {
    std::vector<Instr> code = prologue;
    for (Instr& in : tail)
      if (GetOpInfo(in.op).format[2] == 'J') in.c += static_cast<uint32_t>(prologue.size());
    code.insert(code.end(), tail.begin(), tail.end());
    return b.Chunk(code, 6);
  };
  struct Strict {
    Op op;
    int operand;  // 1: b, 2: c
    uint32_t chunk;
  };
  std::vector<Strict> strict;
  std::map<Op, std::pair<uint32_t, std::string>> own;  // chunk, what it gives
  for (int i = 0; i < static_cast<int>(Op::kCount); ++i) {
    const Op op = static_cast<Op>(i);
    const char* f = GetOpInfo(op).format;
    if (f[1] != 'R' && f[2] != 'R') continue;
    if (!HasOpFlag(op, kOpOwnErrors)) {
      for (int k = 1; k <= 2; ++k) {
        if (f[k] != 'R') continue;
        uint32_t fc = k == 2 ? 0 : 1;  // the error, or the list
        if (f[2] == 'K') fc = list;
        if (f[2] == 'P' || f[2] == 'N' || f[2] == '_') fc = 0;
        strict.push_back({op, k, chunk({I(op, 5, k == 1 ? 0 : 1, fc), I(Op::kRet, 5)})});
      }
      continue;
    }
    switch (op) {
      case Op::kMove:
        own[op] = {chunk({I(op, 5, 0), I(Op::kRet, 5)}), "error: attribute is absent"};
        break;
      case Op::kHasField:
        own[op] = {chunk({I(op, 5, 0, 0), I(Op::kRet, 5)}), "bool false"};
        break;
      case Op::kAnd:
        own[op] = {chunk({I(Op::kLoadConst, 4, 0, no), I(op, 5, 0, 4), I(Op::kRet, 5)}), "bool false"};
        break;
      case Op::kOr:
        own[op] = {chunk({I(Op::kLoadConst, 4, 0, yes), I(op, 5, 4, 0), I(Op::kRet, 5)}), "bool true"};
        break;
      case Op::kIterBegin:
        // Iterating an error skips the body, which would set r4 to true.
        own[op] = {chunk({I(Op::kLoadConst, 4, 0, no), I(op, 2, 0, 4), I(Op::kLoadConst, 4, 0, yes),
                          I(Op::kIterNext, 2, 0, 2), I(Op::kRet, 4)}),
                   "bool false"};
        break;
      case Op::kIterEnd:
        own[op] = {chunk({I(op, 5, 0), I(Op::kRet, 5)}), "error: attribute is absent"};
        break;
      default:
        ADD_FAILURE() << GetOpInfo(op).mnemonic << " has kOpOwnErrors but no expectation in this test";
    }
  }
  Runner r(b);
  for (const Strict& c : strict) {
    const Outcome o = r.Run(c.chunk);
    SCOPED_TRACE(std::string(GetOpInfo(c.op).mnemonic) + " with an error in " + "_bc"[c.operand]);
    EXPECT_VM_ERROR(o, "attribute is absent");
    EXPECT_EQ(o.slot, static_cast<int32_t>(absent)) << GetOpInfo(c.op).mnemonic;
  }
  for (const auto& [op, want] : own) EXPECT_EQ(Describe(r.Run(want.first)), want.second) << GetOpInfo(op).mnemonic;
  EXPECT_GE(strict.size(), 30u);
  EXPECT_EQ(own.size(), 6u);
}

// One instruction of every opcode, with valid operands.
std::vector<Instr> EveryOpcode(uint32_t slot, uint32_t konst, uint32_t pset) {
  std::vector<Instr> code;
  for (int i = 0; i < static_cast<int>(Op::kCount); ++i) {
    const Op op = static_cast<Op>(i);
    const uint32_t pc = static_cast<uint32_t>(code.size());
    switch (op) {
      case Op::kIterBegin:
        code.push_back(I(op, 3, 0, pc + 2));
        code.push_back(I(Op::kIterNext, 3, 0, pc + 1));
        continue;
      case Op::kIterNext:
      case Op::kRet:
        continue;  // with iter_begin / at the end
      case Op::kJump:
      case Op::kJumpIfFalse:
      case Op::kJumpIfTrue:
        code.push_back(I(op, 0, 0, pc + 1));
        continue;
      default:
        break;
    }
    const char* f = GetOpInfo(op).format;
    uint32_t fields[3] = {0, 0, 0};
    for (int k = 0; k < 3; ++k) {
      switch (f[k]) {
        case 'R':
          fields[k] = k == 0 ? 2u : (k == 1 ? 0u : 1u);
          break;
        case 'S':
          fields[k] = slot;
          break;
        case 'K':
          fields[k] = konst;
          break;
        case 'P':
          fields[k] = pset;
          break;
        case 'N':
          fields[k] = 7;
          break;
        default:
          break;
      }
    }
    code.push_back(I(op, fields[0], fields[1], fields[2]));
  }
  code.push_back(I(Op::kRet, 2));
  return code;
}

TEST(OpcodeTable, DisassemblerPrintsEveryMnemonic) {
  Builder b;
  const uint32_t k = b.Const(CInt(12345));
  const uint32_t ps = b.Patterns("my_patterns", {{"x", false, false}});
  const uint32_t ch = b.Chunk(EveryOpcode(kSlotRequestUserText, k, ps), 8);
  b.PredicateRule(ch, "every opcode");
  ASSERT_EQ(VerifyAndLink(&b.p()), "");
  const std::string text = Disassemble(b.p());

  // Each instruction line: "    <pc>  <mnemonic padded> <operands>".
  std::istringstream lines(text);
  std::string line;
  std::set<std::string> printed;
  std::set<std::string> table;
  for (int i = 0; i < static_cast<int>(Op::kCount); ++i) table.insert(GetOpInfo(static_cast<Op>(i)).mnemonic);
  std::map<std::string, std::string> operands;  // mnemonic -> its operands as printed
  int instr_lines = 0;
  while (std::getline(lines, line)) {
    std::istringstream ls(line);
    unsigned pc;
    std::string mnemonic;
    if (line.rfind("    ", 0) != 0 || !(ls >> pc >> mnemonic)) continue;
    ++instr_lines;
    EXPECT_TRUE(table.count(mnemonic)) << "printed a mnemonic not in the opcode table: " << line;
    printed.insert(mnemonic);
    std::string rest;
    std::getline(ls, rest);
    rest.erase(0, rest.find_first_not_of(' '));
    operands[mnemonic] = rest;
  }
  EXPECT_EQ(instr_lines, static_cast<int>(b.p().chunks[ch].size));
  EXPECT_EQ(printed, table) << text;
  // Operands rendered by format letter.
  EXPECT_EQ(operands["nop"], "");
  EXPECT_EQ(operands["load_slot"], "r2, request.user_text");
  EXPECT_EQ(operands["load_const"], "r2, k0=12345");
  EXPECT_EQ(operands["scan_any"], "r2, r0, my_patterns");
  EXPECT_EQ(operands["field"], "r2, r0, #7");
  EXPECT_EQ(operands["add"], "r2, r0, r1");
  EXPECT_EQ(operands["eq_k"], "r2, r0, k0=12345");
  EXPECT_EQ(operands["not"], "r2, r0");
  EXPECT_EQ(operands["ret"], "r2");
  EXPECT_EQ(operands["jump"].substr(0, 1), "@");
  EXPECT_EQ(operands["jump_if_false"].substr(0, 5), "r0, @");
  EXPECT_EQ(operands["iter_begin"].substr(0, 9), "r3, r0, @");
  EXPECT_EQ(operands["iter_next"].substr(0, 5), "r3, @");
  EXPECT_NE(text.find("p0  every opcode    [regs 8]"), std::string::npos) << text;
}

TEST(OpcodeTable, ExamplePoliciesDisassembleWithTableMnemonicsOnly) {
  std::set<std::string> table;
  for (int i = 0; i < static_cast<int>(Op::kCount); ++i) table.insert(GetOpInfo(static_cast<Op>(i)).mnemonic);
  for (const char* name : {"support_assistant", "coding_assistant", "knowledge_assistant"}) {
    SCOPED_TRACE(name);
    CompileResult r = CompileFile(std::string(GAVEL_SOURCE_DIR) + "/policies/" + name + ".policy");
    ASSERT_TRUE(r.ok()) << r.RenderDiagnostics();
    const std::string text = Disassemble(*r.program);
    std::istringstream lines(text);
    std::string line;
    int n = 0;
    while (std::getline(lines, line)) {
      std::istringstream ls(line);
      unsigned pc;
      std::string mnemonic;
      if (line.rfind("    ", 0) != 0 || !(ls >> pc >> mnemonic)) continue;
      ++n;
      EXPECT_TRUE(table.count(mnemonic)) << line;
    }
    EXPECT_GT(n, 20);
  }
}

}  // namespace
}  // namespace gavel
