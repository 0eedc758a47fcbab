// The rule VM's interpreter. Every instruction checks the kinds of the values
// it reads, so the worst a hostile but verified bundle can do is produce rule
// errors; loops are bounded by list lengths and by a step budget.
#include "engine/runtime/vm.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <string_view>

#include "engine/screen/screen.h"

namespace gavel {

namespace {

inline bool IsNum(const Value& v) { return v.kind == Kind::kInt || v.kind == Kind::kFloat; }
inline double AsF(const Value& v) { return v.kind == Kind::kFloat ? v.f : static_cast<double>(v.i); }
inline std::string_view Sv(const Value& v) { return std::string_view(v.s, v.len); }

// Three-way comparison of two scalars. Returns false if they are not comparable.
bool Compare(const Value& x, const Value& y, int* out) {
  if (x.kind == Kind::kString && y.kind == Kind::kString) {
    int c = Sv(x).compare(Sv(y));
    *out = c < 0 ? -1 : (c > 0 ? 1 : 0);
    return true;
  }
  if ((x.kind == Kind::kInt && y.kind == Kind::kInt) || (x.kind == Kind::kDuration && y.kind == Kind::kDuration)) {
    *out = x.i < y.i ? -1 : (x.i > y.i ? 1 : 0);
    return true;
  }
  if (IsNum(x) && IsNum(y)) {
    double a = AsF(x), b = AsF(y);
    if (a != a || b != b) return false;
    *out = a < b ? -1 : (a > b ? 1 : 0);
    return true;
  }
  if (x.kind == Kind::kBool && y.kind == Kind::kBool) {
    *out = int(x.b) - int(y.b);
    return true;
  }
  return false;
}

bool ScalarEq(const Value& x, const Value& y) {
  int c;
  return Compare(x, y, &c) && c == 0;
}

// Membership of x in container c: list/set element, map key, or substring.
bool Member(const Value& x, const Value& c, bool* out) {
  switch (c.kind) {
    case Kind::kList:
      if (c.sorted == 1 && (x.kind == Kind::kString || x.kind == Kind::kInt)) {
        if (c.len == 0 || c.items[0].kind != x.kind) {
          *out = false;
          return true;
        }
        uint32_t lo = 0, hi = c.len;
        while (lo < hi) {
          uint32_t mid = (lo + hi) / 2;
          int cmp = 0;
          if (!Compare(c.items[mid], x, &cmp)) break;  // the verifier keeps sorted sets of one kind
          if (cmp == 0) {
            *out = true;
            return true;
          }
          if (cmp < 0)
            lo = mid + 1;
          else
            hi = mid;
        }
        *out = false;
        return true;
      }
      for (uint32_t i = 0; i < c.len; ++i)
        if (ScalarEq(c.items[i], x)) {
          *out = true;
          return true;
        }
      *out = false;
      return true;
    case Kind::kMap:
      if (x.kind != Kind::kString) return false;
      for (uint32_t i = 0; i < c.len; ++i)
        if (Sv(c.items[2 * i]) == Sv(x)) {
          *out = true;
          return true;
        }
      *out = false;
      return true;
    case Kind::kString:
      if (x.kind != Kind::kString) return false;
      *out = Sv(c).find(Sv(x)) != std::string_view::npos;
      return true;
    default:
      return false;
  }
}

// The comparison instructions' meaning, shared by the interpreter and RunFast
// so the two cannot drift. op is one of eq..ge or eq_k..ge_k. Returns false
// when the values do not compare (different kinds, NaN).
bool CompareBy(Op op, const Value& x, const Value& y, bool* out) {
  const int which = CompareIndex(op);  // the row of kByOrder: opcodes.h asserts the order
  if (which <= 1 && x.kind == Kind::kString && y.kind == Kind::kString) {
    // Equality of strings needs no ordering: different lengths decide at once.
    const bool same = x.len == y.len && std::memcmp(x.s, y.s, x.len) == 0;
    *out = which == 0 ? same : !same;
    return true;
  }
  int c;
  if (!Compare(x, y, &c)) return false;
  static constexpr bool kByOrder[6][3] = {// c < 0, c == 0, c > 0
                                          {false, true, false}, {true, false, true},  {true, false, false},
                                          {true, true, false},  {false, false, true}, {false, true, true}};
  *out = kByOrder[which][c + 1];
  return true;
}

const Value* MemoFind(const StringMemo& m, Op op, const Value& a, const Value* b) {
  for (const StringMemo::Entry& e : m.entries)
    if (e.op == static_cast<uint8_t>(op) && e.a == a.s && e.alen == a.len &&
        (b == nullptr || (e.b == b->s && e.blen == b->len)) && e.result.kind == Kind::kString)
      return &e.result;
  return nullptr;
}

void MemoPut(StringMemo* m, Op op, const Value& a, const Value* b, const Value& result) {
  StringMemo::Entry& e = m->entries[m->next];
  m->next = (m->next + 1) % StringMemo::kEntries;
  e.op = static_cast<uint8_t>(op);
  e.a = a.s;
  e.alen = a.len;
  e.b = b ? b->s : nullptr;
  e.blen = b ? b->len : 0;
  e.result = result;
}

// Room for a VM-built string of n bytes, or null past the per-decision cap.
char* StringRoom(Arena* arena, uint64_t n) {
  if (n > UINT32_MAX || arena->vm_string_bytes + n > Arena::kMaxVmStringBytes) return nullptr;
  arena->vm_string_bytes += n;
  return arena->bytes.Alloc(static_cast<size_t>(n) + 1);
}

// add, sub, mul, div and mod: ints (overflow and division by zero are
// errors), numbers mixing ints and floats (no mod), durations (add and sub
// only) and strings (add: concatenation, built in the arena). Returns null
// with *out set, or what went wrong.
const char* Arithmetic(Op op, const Value& x, const Value& y, Arena* arena, Value* out) {
  if (op == Op::kAdd && x.kind == Kind::kString && y.kind == Kind::kString) {
    if (const Value* m = MemoFind(arena->memo, op, x, &y)) {
      *out = *m;
      return nullptr;
    }
    char* buf = StringRoom(arena, uint64_t(x.len) + y.len);
    if (buf == nullptr) return "strings built by this decision exceed 64 MiB";
    std::memcpy(buf, x.s, x.len);
    std::memcpy(buf + x.len, y.s, y.len);
    *out = Value::String(buf, x.len + y.len);
    MemoPut(&arena->memo, op, x, &y, *out);
    return nullptr;
  }
  const bool ints = (x.kind == Kind::kInt && y.kind == Kind::kInt) ||
                    (x.kind == Kind::kDuration && y.kind == Kind::kDuration && (op == Op::kAdd || op == Op::kSub));
  if (ints) {
    int64_t r = 0;
    bool ovf = false;
    switch (op) {
      case Op::kAdd:
        ovf = __builtin_add_overflow(x.i, y.i, &r);
        break;
      case Op::kSub:
        ovf = __builtin_sub_overflow(x.i, y.i, &r);
        break;
      case Op::kMul:
        ovf = __builtin_mul_overflow(x.i, y.i, &r);
        break;
      default:
        if (y.i == 0) return "division by zero";
        if (x.i == INT64_MIN && y.i == -1) {
          if (op == Op::kDiv) return "integer overflow";
          r = 0;  // the remainder is 0; only the quotient overflows
        } else {
          r = op == Op::kDiv ? x.i / y.i : x.i % y.i;
        }
    }
    if (ovf) return "integer overflow";
    Value v = x;
    v.i = r;
    *out = v;
    return nullptr;
  }
  if (IsNum(x) && IsNum(y) && op != Op::kMod) {
    const double a = AsF(x), b = AsF(y);
    double r;
    switch (op) {
      case Op::kAdd:
        r = a + b;
        break;
      case Op::kSub:
        r = a - b;
        break;
      case Op::kMul:
        r = a * b;
        break;
      default:
        if (b == 0) return "division by zero";
        r = a / b;
    }
    *out = Value::Float(r);
    return nullptr;
  }
  return "arithmetic on values of the wrong kind";
}

}  // namespace

bool RunFast(const Program& p, const FastPredicate& f, const Value* slots, bool* out, VmError* err) {
  const Value& v = slots[f.slot];
  if (v.kind == Kind::kMissing) {
    err->what = "attribute is absent";
    err->slot = static_cast<int32_t>(f.slot);
    return false;
  }
  const Value& k = p.consts[f.constant];
  bool r = false;
  if (f.op == Op::kInK) {
    if (!Member(v, k, &r)) {
      err->what = "membership test on values of the wrong kind";
      err->slot = -1;
      return false;
    }
  } else if (!CompareBy(f.op, v, k, &r)) {
    err->what = "comparison of values of different kinds";
    err->slot = -1;
    return false;
  }
  *out = f.negate ? !r : r;
  return true;
}

int64_t EstimateTokens(const char* text, size_t len) {
  (void)text;
  return static_cast<int64_t>((len + 3) / 4);
}

void AppendValue(const Value& v, std::string* out) {
  char buf[64];
  switch (v.kind) {
    case Kind::kMissing:
      *out += "(absent)";
      return;
    case Kind::kBool:
      *out += v.b ? "true" : "false";
      return;
    case Kind::kInt:
      snprintf(buf, sizeof buf, "%" PRId64, v.i);
      *out += buf;
      return;
    case Kind::kDuration: {
      // The largest unit that divides it, as a policy author writes durations.
      static const struct {
        int64_t ms;
        const char* unit;
      } kUnits[] = {{86400000, "d"}, {3600000, "h"}, {60000, "m"}, {1000, "s"}, {1, "ms"}};
      for (const auto& u : kUnits)
        if (v.i % u.ms == 0 || u.ms == 1) {
          snprintf(buf, sizeof buf, "%" PRId64 "%s", v.i / u.ms, u.unit);
          break;
        }
      *out += buf;
      return;
    }
    case Kind::kFloat:
      snprintf(buf, sizeof buf, "%g", v.f);
      *out += buf;
      return;
    case Kind::kString:
      out->append(v.s, v.len);
      return;
    case Kind::kList:
    case Kind::kMap: {
      *out += v.kind == Kind::kList ? "[" : "{";
      const uint32_t n = std::min<uint32_t>(v.len, 16);
      for (uint32_t i = 0; i < n; ++i) {
        if (i) *out += ", ";
        if (v.kind == Kind::kMap) {
          AppendValue(v.items[2 * i], out);
          *out += ": ";
          AppendValue(v.items[2 * i + 1], out);
        } else if (v.items[i].kind == Kind::kList || v.items[i].kind == Kind::kMap ||
                   v.items[i].kind == Kind::kRecord) {
          *out += "...";
        } else {
          AppendValue(v.items[i], out);
        }
      }
      if (v.len > n) *out += ", ...";
      *out += v.kind == Kind::kList ? "]" : "}";
      return;
    }
    case Kind::kRecord:
      *out += "(record)";
      return;
    case Kind::kIter:
      *out += "(iterator)";
      return;
    case Kind::kError:
      *out += "(error)";
      return;
  }
}

#define FAIL(msg)    \
  do {               \
    failure = (msg); \
    goto failed;     \
  } while (0)

namespace {
inline Value ErrorValue() {
  Value v;
  v.kind = Kind::kError;
  return v;
}
// Which register operands (bit 1: b, bit 2: c) make an instruction yield an
// error without running when they hold one: every register operand b or c of
// an instruction without kOpOwnErrors. 256 entries, one per byte value.
struct StrictOperands {
  uint8_t mask[256] = {};
  constexpr StrictOperands() {
    for (int op = 0; op < static_cast<int>(Op::kCount); ++op) {
      const OpInfo& info = kOpTable[op];
      if (info.flags & kOpOwnErrors) continue;
      mask[op] = static_cast<uint8_t>((info.format[1] == 'R' ? 1 : 0) | (info.format[2] == 'R' ? 2 : 0));
    }
  }
};
constexpr StrictOperands kStrict;

// Kleene truth value: 1 true, 0 false, -1 unknown (an error or a non-bool).
inline int Truth(const Value& v) { return v.kind == Kind::kBool ? (v.b ? 1 : 0) : -1; }
}  // namespace

bool RunChunk(const Program& p, uint32_t chunk, const Value* slots, Value* regs, Arena* arena, Value* result,
              VmError* err) {
  const Chunk& ch = p.chunks[chunk];
  const Instr* code = p.code.data() + ch.begin;
  const Value* consts = p.consts.data();
  uint32_t pc = 0;
  // Registers start empty, so nothing from an earlier chunk (or engine) is read.
  for (uint32_t i = 0; i < ch.nregs; ++i) regs[i] = Value();
  err->what = nullptr;
  err->slot = -1;
  for (;;) {
    const Instr in = code[pc++];
    Value& A = regs[in.a];
    const char* failure = nullptr;
    if (const uint8_t strict = kStrict.mask[static_cast<uint8_t>(in.op)]) {
      if (((strict & 1) && regs[in.b].kind == Kind::kError) || ((strict & 2) && regs[in.c].kind == Kind::kError)) {
        A = ErrorValue();  // propagate; the first failure already named the error
        continue;
      }
    }
    switch (in.op) {
      case Op::kNop:
        break;
      case Op::kLoadSlot:
        if (slots[in.c].kind == Kind::kMissing) {
          if (!err->what) err->slot = static_cast<int32_t>(in.c);
          FAIL("attribute is absent");
        }
        A = slots[in.c];
        break;
      case Op::kHasSlot:
        A = Value::Bool(slots[in.c].kind != Kind::kMissing);
        break;
      case Op::kLoadConst:
        A = consts[in.c];
        break;
      case Op::kMove:
        A = regs[in.b];
        break;
      case Op::kField:
      case Op::kHasField: {
        const Value& r = regs[in.b];
        if (in.op == Op::kHasField && (r.kind == Kind::kMissing || r.kind == Kind::kError)) {
          A = Value::Bool(false);  // has(a.b.c) is false when a.b is absent
          break;
        }
        if (r.kind != Kind::kRecord) FAIL("field access on a value that is not a record");
        const bool present = in.c < r.len && r.items[in.c].kind != Kind::kMissing;
        if (in.op == Op::kHasField) {
          A = Value::Bool(present);
        } else {
          if (!present) FAIL("field is absent");
          A = r.items[in.c];
        }
        break;
      }
      case Op::kIndex: {
        const Value& c = regs[in.b];
        const Value& k = regs[in.c];
        if (c.kind == Kind::kList) {
          if (k.kind != Kind::kInt) FAIL("list index is not an int");
          // A negative index counts from the end: -1 is the last item.
          const int64_t i = k.i < 0 ? k.i + static_cast<int64_t>(c.len) : k.i;
          if (i < 0 || i >= static_cast<int64_t>(c.len)) FAIL("list index out of range");
          A = c.items[i];
        } else if (c.kind == Kind::kMap) {
          if (k.kind != Kind::kString) FAIL("map key is not a string");
          uint32_t i = 0;
          while (i < c.len && Sv(c.items[2 * i]) != Sv(k)) ++i;
          if (i == c.len) FAIL("key not found in map");
          A = c.items[2 * i + 1];
        } else {
          FAIL("indexing a value that is not a list or map");
        }
        break;
      }
      case Op::kLen: {
        const Value& r = regs[in.b];
        if (r.kind != Kind::kString && r.kind != Kind::kList && r.kind != Kind::kMap) FAIL("len of a scalar");
        A = Value::Int(r.len);
        break;
      }
      case Op::kNot:
        if (regs[in.b].kind != Kind::kBool) FAIL("not of a non-bool");
        A = Value::Bool(!regs[in.b].b);
        break;
      case Op::kAnd:
      case Op::kOr: {
        const int x = Truth(regs[in.b]), y = Truth(regs[in.c]);
        const int dominant = in.op == Op::kAnd ? 0 : 1;
        if (x == dominant || y == dominant) {
          A = Value::Bool(dominant == 1);
        } else if (x < 0 || y < 0) {
          FAIL(regs[in.b].kind == Kind::kError || regs[in.c].kind == Kind::kError ? "operand failed"
                                                                                  : "and/or of a non-bool");
        } else {
          A = Value::Bool(dominant == 0);
        }
        break;
      }
      case Op::kNeg: {
        const Value& r = regs[in.b];
        if (r.kind == Kind::kInt || r.kind == Kind::kDuration) {
          if (r.i == INT64_MIN) FAIL("integer overflow");
          Value v = r;
          v.i = -r.i;
          A = v;
        } else if (r.kind == Kind::kFloat) {
          A = Value::Float(-r.f);
        } else {
          FAIL("negation of a non-number");
        }
        break;
      }
      case Op::kAdd:
      case Op::kSub:
      case Op::kMul:
      case Op::kDiv:
      case Op::kMod: {
        Value v;
        if (const char* why = Arithmetic(in.op, regs[in.b], regs[in.c], arena, &v)) FAIL(why);
        A = v;
        break;
      }
      case Op::kToFloat:
        if (!IsNum(regs[in.b])) FAIL("conversion of a non-number");
        A = Value::Float(AsF(regs[in.b]));
        break;
      case Op::kEq:
      case Op::kNe:
      case Op::kLt:
      case Op::kLe:
      case Op::kGt:
      case Op::kGe:
      case Op::kEqK:
      case Op::kNeK:
      case Op::kLtK:
      case Op::kLeK:
      case Op::kGtK:
      case Op::kGeK: {
        const Value& y = IsCompareK(in.op) ? consts[in.c] : regs[in.c];
        bool r;
        if (!CompareBy(in.op, regs[in.b], y, &r)) FAIL("comparison of values of different kinds");
        A = Value::Bool(r);
        break;
      }
      case Op::kIn:
      case Op::kInK: {
        bool r;
        if (!Member(regs[in.b], in.op == Op::kInK ? consts[in.c] : regs[in.c], &r))
          FAIL("membership test on values of the wrong kind");
        A = Value::Bool(r);
        break;
      }
      case Op::kStartsWith:
      case Op::kEndsWith: {
        const Value &x = regs[in.b], &y = regs[in.c];
        if (x.kind != Kind::kString || y.kind != Kind::kString) FAIL("startswith/endswith of a non-string");
        bool r = y.len <= x.len && (in.op == Op::kStartsWith ? std::memcmp(x.s, y.s, y.len) == 0
                                                             : std::memcmp(x.s + x.len - y.len, y.s, y.len) == 0);
        A = Value::Bool(r);
        break;
      }
      case Op::kScanAny:
      case Op::kScanCount: {
        const Value& t = regs[in.b];
        if (t.kind != Kind::kString) FAIL("screening a non-string");
        const PatternSet& set = p.pattern_sets[in.c];
        // The worker's screening state answers every set from one scan of
        // the text (its memo holds the bitset); there is no other path.
        if (!arena->scan) FAIL("screening needs a worker's screening state");
        const char* why = nullptr;
        const uint64_t* bits = arena->scan->Scan(t.s, t.len, &why);
        if (!bits) FAIL(why);
        int64_t count = 0;
        for (uint32_t id : set.ids) {
          if (bits[id / 64] >> (id % 64) & 1) {
            ++count;
            if (in.op == Op::kScanAny) break;
          }
        }
        A = in.op == Op::kScanAny ? Value::Bool(count > 0) : Value::Int(count);
        break;
      }
      case Op::kLower:
      case Op::kUpper: {
        const Value x = regs[in.b];  // a copy: r[a] may be r[b]
        if (x.kind != Kind::kString) FAIL("lower/upper of a non-string");
        if (const Value* m = MemoFind(arena->memo, in.op, x, nullptr)) {
          A = *m;
          break;
        }
        char* buf = StringRoom(arena, x.len);
        if (buf == nullptr) FAIL("strings built by this decision exceed 64 MiB");
        for (uint32_t i = 0; i < x.len; ++i) {
          char c = x.s[i];
          if (in.op == Op::kLower && c >= 'A' && c <= 'Z') c = char(c + 32);
          if (in.op == Op::kUpper && c >= 'a' && c <= 'z') c = char(c - 32);
          buf[i] = c;
        }
        A = Value::String(buf, x.len);
        MemoPut(&arena->memo, in.op, x, nullptr, A);
        break;
      }
      case Op::kTokens:
        if (regs[in.b].kind != Kind::kString) FAIL("tokens of a non-string");
        A = Value::Int(EstimateTokens(regs[in.b].s, regs[in.b].len));
        break;
      case Op::kCost: {
        const Value &model = regs[in.b], &tin = regs[in.b + 1], &tout = regs[in.b + 2];
        const Value& prices = consts[in.c];
        if (model.kind != Kind::kString || !IsNum(tin) || !IsNum(tout) || prices.kind != Kind::kMap)
          FAIL("cost() of values of the wrong kind");
        uint32_t i = 0;
        while (i < prices.len && Sv(prices.items[2 * i]) != Sv(model)) ++i;
        if (i == prices.len) FAIL("model has no price");
        const Value& rec = prices.items[2 * i + 1];
        if (rec.kind != Kind::kRecord || rec.len < 2 || !IsNum(rec.items[0]) || !IsNum(rec.items[1]))
          FAIL("price entry is not {input, output}");
        A = Value::Float((AsF(tin) * AsF(rec.items[0]) + AsF(tout) * AsF(rec.items[1])) / 1e6);
        break;
      }
      case Op::kJump:
        pc = in.c;
        break;
      case Op::kJumpIfFalse:
      case Op::kJumpIfTrue:
        // An error decides nothing: execution goes on as for the other value.
        if (A.kind == Kind::kBool && A.b == (in.op == Op::kJumpIfTrue)) pc = in.c;
        break;
      case Op::kIterBegin: {
        const Value l = regs[in.b];  // a copy: writing the item register must not change it
        if (l.kind != Kind::kList) {
          if (!err->what) err->what = "iterating a value that is not a list";
          A = ErrorValue();
          pc = in.c;  // never enter the body without an item
          break;
        }
        if (l.len == 0) {
          Value done;
          done.kind = Kind::kIter;
          A = done;
          pc = in.c;
          break;
        }
        Value it = l;
        it.kind = Kind::kIter;
        regs[in.a + 1] = l.items[0];
        it.items = l.items + 1;
        it.len = l.len - 1;
        regs[in.a] = it;
        break;
      }
      case Op::kIterNext: {
        Value& it = regs[in.a];
        if (it.kind != Kind::kIter) FAIL("iter_next without iter_begin");
        if (it.len > 0) {
          // A resource limit, not a value: the whole chunk fails, so no
          // enclosing loop can go on past it.
          if (arena->steps_left == 0) {
            err->what = "step budget exhausted";
            err->slot = -1;
            return false;
          }
          --arena->steps_left;
          regs[in.a + 1] = it.items[0];
          ++it.items;
          --it.len;
          pc = in.c;
        }
        break;
      }
      case Op::kIterEnd:
        if (regs[in.b].kind == Kind::kError) A = ErrorValue();
        break;
      case Op::kRet:
        if (A.kind == Kind::kError) {
          if (!err->what) err->what = "rule error";
          return false;
        }
        *result = A;
        err->what = nullptr;
        err->slot = -1;
        return true;
      case Op::kCount:
        // Not an instruction, and the verifier refuses any opcode from here
        // on. No default: -Wswitch names an opcode the VM does not run.
        FAIL("unknown instruction");
    }
    continue;
  failed:
    // The first failure names the error; later ones only propagate it.
    if (!err->what) err->what = failure;
    regs[in.a] = ErrorValue();
  }
}

#undef FAIL

bool CompareScalars(const Value& x, const Value& y, int* order) { return Compare(x, y, order); }

}  // namespace gavel
