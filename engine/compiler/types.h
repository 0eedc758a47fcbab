// The checker's types and compile-time constant values. Types exist only in
// the compiler: the runtime trusts kinds it checks itself, not these.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/compiler/ast.h"
#include "engine/runtime/value.h"

namespace gavel {

struct Type {
  enum K {
    kError,
    kAny,
    kBool,
    kInt,
    kFloat,
    kString,
    kDuration,
    kList,
    kSet,
    kMap,
    kRecord,
    kPattern,
    kRegex
  } k = kError;
  TypePtr elem;                                         // list/set element, map value
  std::vector<std::pair<std::string, TypePtr>> fields;  // record fields, in runtime order
  std::string name;                                     // record name, for messages

  static TypePtr Make(K k);
  static TypePtr ListOf(TypePtr e);
  static TypePtr SetOf(TypePtr e);
  static TypePtr MapOf(TypePtr v);  // keys are strings
  static TypePtr Record(std::string name, std::vector<std::pair<std::string, TypePtr>> fields);
  bool numeric() const { return k == kInt || k == kFloat; }
  bool collection() const { return k == kList || k == kSet; }
  int FieldIndex(const std::string& f) const;
};

std::string TypeName(const TypePtr& t);
// Same type, where kAny (an empty collection's element) matches anything.
bool SameType(const TypePtr& a, const TypePtr& b);
// The type both can be used as (int and float unify to float), or null.
TypePtr Unify(const TypePtr& a, const TypePtr& b);

// A value known at compile time: constants, literals, schema defaults.
struct ConstVal {
  Kind kind = Kind::kMissing;
  bool b = false;
  int64_t i = 0;
  double f = 0;
  std::string s;
  std::vector<ConstVal> items;  // list/set items; map: key, value, ...; record fields in type order
  bool is_set = false;

  static ConstVal Bool(bool v) {
    ConstVal c;
    c.kind = Kind::kBool;
    c.b = v;
    return c;
  }
  static ConstVal Int(int64_t v) {
    ConstVal c;
    c.kind = Kind::kInt;
    c.i = v;
    return c;
  }
  static ConstVal Float(double v) {
    ConstVal c;
    c.kind = Kind::kFloat;
    c.f = v;
    return c;
  }
  static ConstVal Str(std::string v) {
    ConstVal c;
    c.kind = Kind::kString;
    c.s = std::move(v);
    return c;
  }
  static ConstVal Duration(int64_t ms) {
    ConstVal c;
    c.kind = Kind::kDuration;
    c.i = ms;
    return c;
  }
  // A canonical text, used to deduplicate constants in the pool.
  std::string Key() const;
};

// Edit distance, for "did you mean".
size_t EditDistance(const std::string& a, const std::string& b);
// The closest candidate within a small distance, or "".
std::string Closest(const std::string& name, const std::vector<std::string>& candidates);

}  // namespace gavel
