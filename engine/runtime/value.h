// Runtime values: what a slot, a constant or a VM register holds during one
// decision. Trivially copyable, 16 bytes; strings and lists point into storage
// owned by the bundle (constants) or by the worker's arena (decoded requests).
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

namespace gavel {

enum class Kind : uint8_t {
  kMissing = 0,  // absent attribute; reading it is a rule error
  kBool,
  kInt,
  kFloat,
  kString,
  kDuration,  // milliseconds, in i
  kList,      // items[0..len); sets are lists too (constant sets are sorted)
  kMap,       // items[0..2*len): key, value, key, value ... (keys are strings)
  kRecord,    // items[0..len): fields in declaration order
  kIter,      // VM-internal: an iteration cursor over a list
  kError,     // VM-internal: the result of a failed operation (a rule error)
};

struct Value {
  Kind kind = Kind::kMissing;
  // A list whose items are all strings or all ints, sorted ascending without
  // duplicates (a constant set, a decoded set slot): `in` binary-searches it.
  uint8_t sorted = 0;
  uint16_t reserved2 = 0;
  uint32_t len = 0;  // string bytes, list/record items, map entries
  union {
    bool b;
    int64_t i;
    double f;
    const char* s;
    const Value* items;
  };
  Value() : i(0) {}

  static Value Bool(bool v) {
    Value x;
    x.kind = Kind::kBool;
    x.b = v;
    return x;
  }
  static Value Int(int64_t v) {
    Value x;
    x.kind = Kind::kInt;
    x.i = v;
    return x;
  }
  static Value Float(double v) {
    Value x;
    x.kind = Kind::kFloat;
    x.f = v;
    return x;
  }
  static Value Duration(int64_t ms) {
    Value x;
    x.kind = Kind::kDuration;
    x.i = ms;
    return x;
  }
  static Value String(const char* p, uint32_t n) {
    Value x;
    x.kind = Kind::kString;
    x.s = p;
    x.len = n;
    return x;
  }
  static Value String(std::string_view v) { return String(v.data(), static_cast<uint32_t>(v.size())); }
  static Value Aggregate(Kind k, const Value* items, uint32_t n) {
    Value x;
    x.kind = k;
    x.items = items;
    x.len = n;
    return x;
  }
  bool missing() const { return kind == Kind::kMissing; }
  std::string_view str() const { return kind == Kind::kString ? std::string_view(s, len) : std::string_view(); }
};
static_assert(sizeof(Value) == 16, "Value must stay 16 bytes");

const char* KindName(Kind k);

}  // namespace gavel
