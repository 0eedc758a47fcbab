// Types, constant values and name suggestions for the checker.
#include "engine/compiler/types.h"

#include <algorithm>
#include <cstdio>

namespace gavel {

TypePtr Type::Make(K k) {
  auto t = std::make_shared<Type>();
  t->k = k;
  return t;
}
TypePtr Type::ListOf(TypePtr e) {
  auto t = std::make_shared<Type>();
  t->k = kList;
  t->elem = std::move(e);
  return t;
}
TypePtr Type::SetOf(TypePtr e) {
  auto t = std::make_shared<Type>();
  t->k = kSet;
  t->elem = std::move(e);
  return t;
}
TypePtr Type::MapOf(TypePtr v) {
  auto t = std::make_shared<Type>();
  t->k = kMap;
  t->elem = std::move(v);
  return t;
}
TypePtr Type::Record(std::string name, std::vector<std::pair<std::string, TypePtr>> fields) {
  auto t = std::make_shared<Type>();
  t->k = kRecord;
  t->name = std::move(name);
  t->fields = std::move(fields);
  return t;
}
int Type::FieldIndex(const std::string& f) const {
  for (size_t i = 0; i < fields.size(); ++i)
    if (fields[i].first == f) return static_cast<int>(i);
  return -1;
}

std::string TypeName(const TypePtr& t) {
  if (!t) return "?";
  switch (t->k) {
    case Type::kError:
      return "<error>";
    case Type::kAny:
      return "any";
    case Type::kBool:
      return "bool";
    case Type::kInt:
      return "int";
    case Type::kFloat:
      return "float";
    case Type::kString:
      return "string";
    case Type::kDuration:
      return "duration";
    case Type::kList:
      return "list<" + TypeName(t->elem) + ">";
    case Type::kSet:
      return "set<" + TypeName(t->elem) + ">";
    case Type::kMap:
      return "map<string, " + TypeName(t->elem) + ">";
    case Type::kPattern:
      return "pattern set";
    case Type::kRegex:
      return "regex";
    case Type::kRecord: {
      if (!t->name.empty()) return t->name;
      std::string s = "{";
      for (size_t i = 0; i < t->fields.size(); ++i)
        s += (i ? ", " : "") + t->fields[i].first + ": " + TypeName(t->fields[i].second);
      return s + "}";
    }
  }
  return "?";
}

bool SameType(const TypePtr& a, const TypePtr& b) {
  if (!a || !b) return false;
  if (a->k == Type::kAny || b->k == Type::kAny || a->k == Type::kError || b->k == Type::kError) return true;
  if (a->k != b->k) return false;
  switch (a->k) {
    case Type::kList:
    case Type::kSet:
    case Type::kMap:
      return SameType(a->elem, b->elem);
    case Type::kRecord:
      if (a->fields.size() != b->fields.size()) return false;
      for (size_t i = 0; i < a->fields.size(); ++i)
        if (a->fields[i].first != b->fields[i].first || !SameType(a->fields[i].second, b->fields[i].second))
          return false;
      return true;
    default:
      return true;
  }
}

TypePtr Unify(const TypePtr& a, const TypePtr& b) {
  if (!a || a->k == Type::kAny) return b;
  if (!b || b->k == Type::kAny) return a;
  if (a->numeric() && b->numeric()) return a->k == Type::kFloat || b->k == Type::kFloat ? Type::Make(Type::kFloat) : a;
  if (a->k != b->k) return nullptr;
  if (a->k == Type::kList || a->k == Type::kSet || a->k == Type::kMap) {
    TypePtr e = Unify(a->elem, b->elem);
    if (!e) return nullptr;
    return a->k == Type::kList ? Type::ListOf(e) : a->k == Type::kSet ? Type::SetOf(e) : Type::MapOf(e);
  }
  if (a->k == Type::kRecord) {
    if (a->fields.size() != b->fields.size()) return nullptr;
    std::vector<std::pair<std::string, TypePtr>> f;
    for (size_t i = 0; i < a->fields.size(); ++i) {
      if (a->fields[i].first != b->fields[i].first) return nullptr;
      TypePtr u = Unify(a->fields[i].second, b->fields[i].second);
      if (!u) return nullptr;
      f.emplace_back(a->fields[i].first, u);
    }
    return Type::Record(a->name, std::move(f));
  }
  return a;
}

std::string ConstVal::Key() const {
  char buf[64];
  switch (kind) {
    case Kind::kBool:
      return b ? "b1" : "b0";
    case Kind::kInt:
      return "i" + std::to_string(i);
    case Kind::kDuration:
      return "d" + std::to_string(i);
    case Kind::kFloat:
      snprintf(buf, sizeof buf, "f%.17g", f);
      return buf;
    case Kind::kString:
      return "s" + std::to_string(s.size()) + ":" + s;
    case Kind::kList:
    case Kind::kMap:
    case Kind::kRecord: {
      std::string k = std::string(kind == Kind::kList  ? (is_set ? "S" : "L")
                                  : kind == Kind::kMap ? "M"
                                                       : "R") +
                      std::to_string(items.size()) + "(";
      for (const ConstVal& c : items) k += c.Key() + ",";
      return k + ")";
    }
    default:
      return "?";
  }
}

size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string Closest(const std::string& name, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_d = std::max<size_t>(2, name.size() / 3) + 1;
  for (const std::string& c : candidates) {
    size_t d = EditDistance(name, c);
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  return best;
}

}  // namespace gavel
