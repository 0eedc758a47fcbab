// The reference evaluator: a tree walk over the checked AST that spells out
// docs/language.md one sentence at a time. It must not call into codegen, the
// VM or the engine (that is what it is compared against); it reads only the
// checker's annotations (slot, index, type, constant values).
#include "tests/reference_eval.h"

#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <regex>
#include <stdexcept>

#include "engine/screen/normalize.h"
#include "engine/screen/validators.h"

namespace gavel {
namespace reference {

namespace {

// A rule error inside an atomic predicate: it ends the predicate.
struct RuleError {
  std::string what;
};

[[noreturn]] void Fail(const std::string& what) { throw RuleError{what}; }

RValue Bool(bool b) {
  RValue v;
  v.k = RValue::kBool;
  v.b = b;
  return v;
}
RValue Int(int64_t i) {
  RValue v;
  v.k = RValue::kInt;
  v.i = i;
  return v;
}
RValue Float(double f) {
  RValue v;
  v.k = RValue::kFloat;
  v.f = f;
  return v;
}
RValue Str(std::string s) {
  RValue v;
  v.k = RValue::kString;
  v.s = std::move(s);
  return v;
}
RValue Dur(int64_t ms) {
  RValue v;
  v.k = RValue::kDuration;
  v.i = ms;
  return v;
}

bool IsNum(const RValue& v) { return v.k == RValue::kInt || v.k == RValue::kFloat; }
double AsDouble(const RValue& v) { return v.k == RValue::kFloat ? v.f : static_cast<double>(v.i); }

// An int compared with a float is first converted to the nearest double
// (docs: types table): -1, 0, 1, or 2 when unordered (NaN).
int CmpIntDouble(int64_t i, double d) {
  if (std::isnan(d)) return 2;
  const double x = static_cast<double>(i);
  return x < d ? -1 : (x > d ? 1 : 0);
}

// -1, 0, 1, or 2 when unordered; throws if the two cannot be compared (the
// checker rules that out, so it would be a reference bug).
int Compare(const RValue& a, const RValue& b) {
  if (a.k == RValue::kInt && b.k == RValue::kInt) return a.i < b.i ? -1 : (a.i > b.i ? 1 : 0);
  if (a.k == RValue::kInt && b.k == RValue::kFloat) return CmpIntDouble(a.i, b.f);
  if (a.k == RValue::kFloat && b.k == RValue::kInt) {
    int c = CmpIntDouble(b.i, a.f);
    return c == 2 ? 2 : -c;
  }
  if (a.k == RValue::kFloat && b.k == RValue::kFloat) {
    if (std::isnan(a.f) || std::isnan(b.f)) return 2;
    return a.f < b.f ? -1 : (a.f > b.f ? 1 : 0);
  }
  if (a.k == RValue::kString && b.k == RValue::kString) {
    int c = a.s.compare(b.s);  // char_traits<char>::compare: unsigned bytes
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  if (a.k == RValue::kDuration && b.k == RValue::kDuration) return a.i < b.i ? -1 : (a.i > b.i ? 1 : 0);
  if (a.k == RValue::kBool && b.k == RValue::kBool) return int(a.b) - int(b.b);
  throw std::logic_error("reference: comparing incomparable values");
}

bool Equal(const RValue& a, const RValue& b) {
  if (a.k != b.k && !(IsNum(a) && IsNum(b))) return false;
  if (a.k == RValue::kList || a.k == RValue::kSet || a.k == RValue::kMap || a.k == RValue::kRecord) return false;
  return Compare(a, b) == 0;
}

RValue MakeSet(std::vector<RValue> items) {
  RValue v;
  v.k = RValue::kSet;
  for (RValue& it : items) {
    bool dup = false;
    for (const RValue& have : v.items) dup |= Equal(have, it);
    if (!dup) v.items.push_back(std::move(it));
  }
  return v;
}

RValue FromSlot(const Value& v, const TypePtr& t) {
  RValue r;
  switch (v.kind) {
    case Kind::kMissing:
      return r;
    case Kind::kBool:
      return Bool(v.b);
    case Kind::kInt:
      return Int(v.i);
    case Kind::kFloat:
      return Float(v.f);
    case Kind::kString:
      return Str(std::string(v.s, v.len));
    case Kind::kDuration:
      return Dur(v.i);
    case Kind::kList: {
      std::vector<RValue> items;
      for (uint32_t i = 0; i < v.len; ++i) items.push_back(FromSlot(v.items[i], t ? t->elem : nullptr));
      if (t && t->k == Type::kSet) return MakeSet(std::move(items));
      r.k = RValue::kList;
      r.items = std::move(items);
      return r;
    }
    case Kind::kMap:
      r.k = RValue::kMap;
      for (uint32_t i = 0; i < v.len; ++i)
        r.entries.emplace_back(std::string(v.items[2 * i].s, v.items[2 * i].len),
                               FromSlot(v.items[2 * i + 1], t ? t->elem : nullptr));
      return r;
    case Kind::kRecord:
      r.k = RValue::kRecord;
      for (uint32_t i = 0; i < v.len; ++i) {
        TypePtr ft = t && i < t->fields.size() ? t->fields[i].second : nullptr;
        r.items.push_back(FromSlot(v.items[i], ft));
      }
      return r;
    case Kind::kIter:
    case Kind::kError:
      break;
  }
  throw std::logic_error("reference: unexpected slot kind");
}

char LowerAscii(char c) { return c >= 'A' && c <= 'Z' ? char(c + 32) : c; }
char UpperAscii(char c) { return c >= 'a' && c <= 'z' ? char(c - 32) : c; }

// "Literal patterns are searched as substrings (ASCII case-insensitively with
// caseless)."
// Screening sees text after normalization (invisible characters removed,
// full-width forms folded); literals are normalized the same way.
std::string Normalized(const std::string& s) {
  NormalizedText n;
  return NormalizeForScreening(s.data(), s.size(), &n) ? n.text : s;
}

// A regex pattern, by the standard library's ECMAScript engine: independent
// of the screening engine, and enough for the simple regexes the generated
// policies use.
bool RegexOccurs(const std::string& text, const Pattern& p) {
  std::regex::flag_type f = std::regex::ECMAScript;
  if (p.caseless) f |= std::regex::icase;
  const std::string t = Normalized(text);
  const std::regex re(p.source, f);
  if (!p.validator) return std::regex_search(t, re);
  // A validated pattern counts if some match passes: try the leftmost match
  // starting at each offset.
  for (size_t at = 0; at < t.size(); ++at) {
    std::smatch m;
    if (!std::regex_search(t.cbegin() + at, t.cend(), m, re, std::regex_constants::match_continuous)) continue;
    if (Validate(static_cast<Validator>(p.validator), std::string_view(&t[at], m.length(0)))) return true;
  }
  return false;
}

bool Occurs(const std::string& raw, const Pattern& p) {
  if (p.regex) return RegexOccurs(raw, p);
  const std::string text = Normalized(raw);
  if (!p.caseless) return text.find(Normalized(p.source)) != std::string::npos;
  std::string t = text, n = Normalized(p.source);
  for (char& c : t) c = LowerAscii(c);
  for (char& c : n) c = LowerAscii(c);
  return t.find(n) != std::string::npos;
}

bool IsAggregate(const RValue& v) {
  return v.k == RValue::kList || v.k == RValue::kSet || v.k == RValue::kMap || v.k == RValue::kRecord;
}

// x in c: element of a list or set, key of a map, substring of a string.
bool Member(const RValue& x, const RValue& c) {
  switch (c.k) {
    case RValue::kList:
    case RValue::kSet:
      for (const RValue& it : c.items)
        if (!IsAggregate(it) && Equal(it, x)) return true;
      return false;
    case RValue::kMap:
      for (const auto& [k, v] : c.entries)
        if (k == x.s) return true;
      return false;
    case RValue::kString:
      return c.s.find(x.s) != std::string::npos;
    default:
      throw std::logic_error("reference: membership in a scalar");
  }
}

class Evaluator {
 public:
  Evaluator(const Scope& scope, const Value* slots) : scope_(scope), slots_(slots), cache_(scope.slots.size()) {}

  // A bool expression's three-valued result: "an error does not matter when
  // another part of an and is false or another part of an or is true" -- at
  // the top of a rule's condition and inside predicates alike.
  Truth Try(const Expr& e, std::string* why) {
    try {
      RValue v = Eval(e);
      if (v.k != RValue::kBool) throw std::logic_error("reference: condition is not a bool");
      return v.b ? Truth::kTrue : Truth::kFalse;
    } catch (const RuleError& err) {
      *why = err.what;
      return Truth::kError;
    }
  }

  Truth Kleene(const std::string& op, const Expr& x, const Expr& y, std::string* why) {
    std::string wa, wb;
    const Truth a = Try(x, &wa), b = Try(y, &wb);
    const Truth absorbing = op == "and" ? Truth::kFalse : Truth::kTrue;
    if (a == absorbing || b == absorbing) return absorbing;
    if (a == Truth::kError || b == Truth::kError) {
      *why = a == Truth::kError ? wa : wb;
      return Truth::kError;
    }
    return a;  // both are the non-absorbing value
  }

  // Evaluation of one expression; an error (thrown) propagates through every
  // operator except and/or/any/all (Kleene) and has() (never an error).
  RValue Eval(const Expr& e) {
    switch (e.kind) {
      case ExprKind::kInt:
        return Int(e.ival);
      case ExprKind::kFloat:
        return Float(e.fval);
      case ExprKind::kString:
        return Str(e.text);
      case ExprKind::kDuration:
        return Dur(e.ival);
      case ExprKind::kBool:
        return Bool(e.bval);
      case ExprKind::kRegex:
        throw std::logic_error("reference: a regex has no value");
      case ExprKind::kIdent: {
        for (auto v = vars_.rbegin(); v != vars_.rend(); ++v)
          if (v->first == e.text) return v->second;
        return Constant(e.text);
      }
      case ExprKind::kMember: {
        if (e.slot >= 0) return Slot(static_cast<size_t>(e.slot));
        RValue base = Eval(*e.kids[0]);
        if (base.k != RValue::kRecord) throw std::logic_error("reference: field of a non-record");
        if (e.index < 0 || static_cast<size_t>(e.index) >= base.items.size() ||
            base.items[e.index].k == RValue::kMissing)
          Fail("field '" + e.text + "' is absent");
        return base.items[e.index];
      }
      case ExprKind::kIndex: {
        RValue c = Eval(*e.kids[0]);
        RValue k = Eval(*e.kids[1]);
        if (c.k == RValue::kList) {
          // As documented: a negative index counts from the end, -1 is the last item.
          const int64_t n = static_cast<int64_t>(c.items.size());
          const int64_t i = k.i < 0 ? k.i + n : k.i;
          if (i < 0 || i >= n) Fail("list index out of range");
          return c.items[static_cast<size_t>(i)];
        }
        if (c.k == RValue::kMap) {
          for (auto& [key, v] : c.entries)
            if (key == k.s) return v;
          Fail("missing map key \"" + k.s + "\"");
        }
        throw std::logic_error("reference: indexing a non-collection");
      }
      case ExprKind::kNeg: {
        RValue x = Eval(*e.kids[0]);
        if (x.k == RValue::kFloat) return Float(-x.f);
        if (x.i == INT64_MIN) Fail("integer overflow");
        x.i = -x.i;
        return x;
      }
      case ExprKind::kNot: {
        RValue x = Eval(*e.kids[0]);
        return Bool(!x.b);
      }
      case ExprKind::kBinary:
        return Binary(e);
      case ExprKind::kCall:
        return Call(e);
      case ExprKind::kSet:
      case ExprKind::kList: {
        std::vector<RValue> items;
        for (auto& k : e.kids) items.push_back(Eval(*k));
        if (e.kind == ExprKind::kSet) return MakeSet(std::move(items));
        RValue v;
        v.k = RValue::kList;
        v.items = std::move(items);
        return v;
      }
      case ExprKind::kMap: {
        RValue v;
        if (e.type->k == Type::kRecord) {
          v.k = RValue::kRecord;
          for (auto& f : e.type->fields)
            for (size_t i = 0; i < e.keys.size(); ++i)
              if (e.keys[i] == f.first) v.items.push_back(Eval(*e.kids[i]));
        } else {
          v.k = RValue::kMap;
          for (size_t i = 0; i < e.keys.size(); ++i) v.entries.emplace_back(e.keys[i], Eval(*e.kids[i]));
        }
        return v;
      }
      case ExprKind::kQuant: {
        // "any is true if some item is true (else it errors if some item
        // errored, else false), and all is false if some item is false (else
        // it errors if some item errored, else true)"
        RValue l = Eval(*e.kids[0]);
        const bool any = e.op == "any";
        std::string first_error;
        for (const RValue& item : l.items) {
          vars_.emplace_back(e.text, item);
          std::string why;
          const Truth t = Try(*e.kids[1], &why);
          vars_.pop_back();
          if (t == (any ? Truth::kTrue : Truth::kFalse)) return Bool(any);
          if (t == Truth::kError && first_error.empty()) first_error = why;
        }
        if (!first_error.empty()) Fail(first_error);
        return Bool(!any);
      }
    }
    throw std::logic_error("reference: unknown expression kind");
  }

  // A constant's value, evaluated here from its declaration rather than taken
  // from the checker's folding: folding is what this reference checks.
  RValue Constant(const std::string& name) {
    auto c = scope_.consts.find(name);
    if (c == scope_.consts.end() || !c->second.decl || !c->second.decl->expr)
      throw std::logic_error("reference: unresolved name " + name);
    // A constant sees no quantifier variables.
    std::vector<std::pair<std::string, RValue>> saved;
    saved.swap(vars_);
    struct Restore {
      std::vector<std::pair<std::string, RValue>>* vars;
      std::vector<std::pair<std::string, RValue>>* saved;
      ~Restore() { vars->swap(*saved); }
    } restore{&vars_, &saved};
    return Eval(*c->second.decl->expr);
  }

 private:
  RValue Slot(size_t i) {
    if (!cache_[i]) cache_[i] = std::make_unique<RValue>(FromSlot(slots_[i], scope_.slot_types[i]));
    if (cache_[i]->k == RValue::kMissing) Fail(scope_.slots[i].name + ": attribute is absent");
    return *cache_[i];
  }

  bool SlotPresent(size_t i) { return slots_[i].kind != Kind::kMissing; }

  RValue Arith(const std::string& op, const RValue& a, const RValue& b) {
    if (op == "+" && a.k == RValue::kString) return Str(a.s + b.s);
    const bool ints =
        (a.k == RValue::kInt && b.k == RValue::kInt) || (a.k == RValue::kDuration && b.k == RValue::kDuration);
    if (ints) {
      int64_t r = 0;
      if (op == "+") {
        if (__builtin_add_overflow(a.i, b.i, &r)) Fail("integer overflow");
      } else if (op == "-") {
        if (__builtin_sub_overflow(a.i, b.i, &r)) Fail("integer overflow");
      } else if (op == "*") {
        if (__builtin_mul_overflow(a.i, b.i, &r)) Fail("integer overflow");
      } else {
        if (b.i == 0) Fail("division by zero");
        if (op == "/") {
          if (a.i == INT64_MIN && b.i == -1) Fail("integer overflow");
          r = a.i / b.i;  // truncates
        } else {
          // The remainder of INT64_MIN by -1 is 0: nothing overflows.
          r = b.i == -1 ? 0 : a.i % b.i;
        }
      }
      RValue v = a;
      v.i = r;
      return v;
    }
    // "int/float mixed -> float"
    const double x = AsDouble(a), y = AsDouble(b);
    if (op == "+") return Float(x + y);
    if (op == "-") return Float(x - y);
    if (op == "*") return Float(x * y);
    if (op == "/") {
      if (y == 0) Fail("division by zero");
      return Float(x / y);
    }
    throw std::logic_error("reference: '%' of floats");
  }

  // "text contains set": true if any pattern of the set occurs.
  int64_t Scan(uint32_t set, const std::string& text, bool count) {
    const PatternSet& ps = scope_.pattern_sets.at(set);
    // count(): "the number of distinct patterns of the set that occur".
    std::vector<const Pattern*> seen;
    int64_t n = 0;
    for (const Pattern& p : ps.patterns) {
      bool dup = false;
      for (const Pattern* q : seen) dup |= q->source == p.source && q->caseless == p.caseless && q->regex == p.regex;
      if (dup) continue;
      seen.push_back(&p);
      if (Occurs(text, p)) {
        ++n;
        if (!count) return 1;
      }
    }
    return n;
  }

  RValue Binary(const Expr& e) {
    const std::string& op = e.op;
    if (op == "and" || op == "or") {
      std::string why;
      const Truth t = Kleene(op, *e.kids[0], *e.kids[1], &why);
      if (t == Truth::kError) Fail(why);
      return Bool(t == Truth::kTrue);
    }
    const bool negated = op.rfind("not ", 0) == 0;
    const std::string base = negated ? op.substr(4) : op;
    auto result = [&](bool r) { return Bool(negated ? !r : r); };
    if (base == "matches") {
      RValue t = Eval(*e.kids[0]);
      if (t.k != RValue::kString) Fail("matches on a non-string");
      return result(Scan(static_cast<uint32_t>(e.kids[1]->index), t.s, false) > 0);
    }
    if (base == "contains" && e.kids[1]->type && e.kids[1]->type->k == Type::kPattern) {
      RValue t = Eval(*e.kids[0]);
      return result(Scan(static_cast<uint32_t>(e.kids[1]->index), t.s, false) > 0);
    }
    RValue a = Eval(*e.kids[0]);
    RValue b = Eval(*e.kids[1]);
    if (op == "+" || op == "-" || op == "*" || op == "/" || op == "%") return Arith(op, a, b);
    if (op == "==" || op == "!=" || op == "<" || op == "<=" || op == ">" || op == ">=") {
      const int c = Compare(a, b);
      if (c == 2) Fail("comparison involving NaN");  // docs: a rule error
      if (op == "==") return Bool(c == 0);
      if (op == "!=") return Bool(c != 0);
      if (op == "<") return Bool(c < 0);
      if (op == "<=") return Bool(c <= 0);
      if (op == ">") return Bool(c > 0);
      return Bool(c >= 0);
    }
    if (base == "in") return result(Member(a, b));
    if (base == "contains") return result(Member(b, a));
    if (base == "startswith") return result(a.s.size() >= b.s.size() && a.s.compare(0, b.s.size(), b.s) == 0);
    if (base == "endswith")
      return result(a.s.size() >= b.s.size() && a.s.compare(a.s.size() - b.s.size(), b.s.size(), b.s) == 0);
    throw std::logic_error("reference: unknown operator " + op);
  }

  RValue Call(const Expr& e) {
    const std::string& f = e.text;
    if (f == "has") {
      // "It is false (never an error) when any step of the path is absent."
      const Expr& a = *e.kids[0];
      if (a.kind == ExprKind::kIndex) {
        // has(m[k]): "true when the map attribute is present and holds the key".
        RValue m, k;
        try {
          m = Eval(*a.kids[0]);
        } catch (const RuleError&) {
          return Bool(false);
        }
        k = Eval(*a.kids[1]);
        if (m.k != RValue::kMap) throw std::logic_error("reference: has() of an entry of a non-map");
        return Bool(Member(k, m));
      }
      if (a.slot >= 0) return Bool(SlotPresent(static_cast<size_t>(a.slot)));
      RValue base;
      try {
        base = Eval(*a.kids[0]);
      } catch (const RuleError&) {
        return Bool(false);
      }
      if (base.k != RValue::kRecord) throw std::logic_error("reference: has() of a non-record field");
      return Bool(a.index >= 0 && static_cast<size_t>(a.index) < base.items.size() &&
                  base.items[a.index].k != RValue::kMissing);
    }
    if (f == "count") {
      const Expr& in = *e.kids[0];
      RValue t = Eval(*in.kids[1]);
      return Int(Scan(static_cast<uint32_t>(in.kids[0]->index), t.s, true));
    }
    std::vector<RValue> args;
    for (auto& k : e.kids) args.push_back(Eval(*k));
    if (f == "len") {
      const RValue& x = args[0];
      if (x.k == RValue::kString) return Int(static_cast<int64_t>(x.s.size()));
      if (x.k == RValue::kMap) return Int(static_cast<int64_t>(x.entries.size()));
      return Int(static_cast<int64_t>(x.items.size()));
    }
    if (f == "lower" || f == "upper") {
      std::string s = args[0].s;
      for (char& c : s) c = f == "lower" ? LowerAscii(c) : UpperAscii(c);
      return Str(s);
    }
    if (f == "tokens") return Int(static_cast<int64_t>((args[0].s.size() + 3) / 4));
    if (f == "cost") {
      // "USD for in input and out output tokens of model, from the constant
      // named prices ... (USD per million tokens)"
      const auto& c = scope_.consts.at("prices");
      RValue prices = Constant("prices");
      const int in_field = c.type->elem->FieldIndex("input"), out_field = c.type->elem->FieldIndex("output");
      for (auto& [model, rec] : prices.entries)
        if (model == args[0].s)
          return Float(
              (AsDouble(args[1]) * AsDouble(rec.items[in_field]) + AsDouble(args[2]) * AsDouble(rec.items[out_field])) /
              1e6);
      Fail("model \"" + args[0].s + "\" has no price");
    }
    throw std::logic_error("reference: unknown function " + f);
  }

  const Scope& scope_;
  const Value* slots_;
  std::vector<std::unique_ptr<RValue>> cache_;
  std::vector<std::pair<std::string, RValue>> vars_;
};

void CollectExpr(const Expr& e, std::vector<std::string>* strings, std::vector<int64_t>* ints,
                 std::vector<double>* floats, std::vector<int64_t>* durations);

void CollectConst(const ConstVal& c, std::vector<std::string>* strings, std::vector<int64_t>* ints,
                  std::vector<double>* floats, std::vector<int64_t>* durations) {
  switch (c.kind) {
    case Kind::kString:
      strings->push_back(c.s);
      break;
    case Kind::kInt:
      ints->push_back(c.i);
      break;
    case Kind::kFloat:
      floats->push_back(c.f);
      break;
    case Kind::kDuration:
      durations->push_back(c.i);
      break;
    case Kind::kList:
    case Kind::kRecord:
      for (const ConstVal& it : c.items) CollectConst(it, strings, ints, floats, durations);
      break;
    case Kind::kMap:
      for (const ConstVal& it : c.items) CollectConst(it, strings, ints, floats, durations);
      break;
    default:
      break;
  }
}

void CollectExpr(const Expr& e, std::vector<std::string>* strings, std::vector<int64_t>* ints,
                 std::vector<double>* floats, std::vector<int64_t>* durations) {
  if (e.value) CollectConst(*e.value, strings, ints, floats, durations);
  if (e.kind == ExprKind::kString && !e.text.empty()) strings->push_back(e.text);
  for (auto& k : e.kids) CollectExpr(*k, strings, ints, floats, durations);
}

}  // namespace

const char* TruthName(Truth t) {
  switch (t) {
    case Truth::kNotEvaluated:
      return "not evaluated";
    case Truth::kFalse:
      return "false";
    case Truth::kTrue:
      return "true";
    case Truth::kError:
      return "error";
  }
  return "?";
}

void RenderValue(const RValue& v, std::string* out) {
  char buf[64];
  switch (v.k) {
    case RValue::kMissing:
      *out += "(absent)";
      return;
    case RValue::kBool:
      *out += v.b ? "true" : "false";
      return;
    case RValue::kInt:
      snprintf(buf, sizeof buf, "%" PRId64, v.i);
      *out += buf;
      return;
    case RValue::kDuration: {
      // "durations in the largest unit that divides them (90m, 1h, 1500ms)"
      static const struct {
        int64_t ms;
        const char* unit;
      } kUnits[] = {{86400000, "d"}, {3600000, "h"}, {60000, "m"}, {1000, "s"}, {1, "ms"}};
      for (const auto& u : kUnits)
        if (v.i % u.ms == 0) {
          snprintf(buf, sizeof buf, "%" PRId64 "%s", v.i / u.ms, u.unit);
          break;
        }
      *out += buf;
      return;
    }
    case RValue::kFloat:
      snprintf(buf, sizeof buf, "%g", v.f);
      *out += buf;
      return;
    case RValue::kString:
      *out += v.s;
      return;
    case RValue::kList:
    case RValue::kSet: {
      *out += "[";
      for (size_t i = 0; i < v.items.size() && i < 16; ++i) {
        if (i) *out += ", ";
        RenderValue(v.items[i], out);
      }
      if (v.items.size() > 16) *out += ", ...";
      *out += "]";
      return;
    }
    case RValue::kMap: {
      *out += "{";
      for (size_t i = 0; i < v.entries.size() && i < 16; ++i) {
        if (i) *out += ", ";
        *out += v.entries[i].first + ": ";
        RenderValue(v.entries[i].second, out);
      }
      if (v.entries.size() > 16) *out += ", ...";
      *out += "}";
      return;
    }
    case RValue::kRecord:
      *out += "(record)";
      return;
  }
}

ReferencePolicy::ReferencePolicy() = default;
ReferencePolicy::~ReferencePolicy() = default;

bool ReferencePolicy::Load(const std::string& path, const std::string& text, std::string* err) {
  return Load(path, text, false, err);
}

bool ReferencePolicy::LoadAllowingFailedConstants(const std::string& path, const std::string& text, std::string* err) {
  return Load(path, text, true, err);
}

bool ReferencePolicy::Load(const std::string& path, const std::string& text, bool allow_failed_constants,
                           std::string* err) {
  source_ = std::make_unique<Source>(path, text);
  ast_ = std::make_unique<PolicyAst>();
  diags_ = std::make_unique<Diagnostics>();
  CompileLimits limits;
  if (!ParsePolicy(*source_, limits.max_nesting, ast_.get(), diags_.get())) {
    *err = diags_->Render(*source_);
    return false;
  }
  checker_ = std::make_unique<Checker>(ast_.get(), diags_.get(), limits, GAVEL_SOURCE_DIR "/stdlib", path);
  bool only_failed_constants = allow_failed_constants;
  if (!checker_->Run())
    for (const Diagnostic& d : diags_->items())
      only_failed_constants &= d.severity != Severity::kError || d.code == "E0317";
  if (diags_->has_errors() && !only_failed_constants) {
    *err = diags_->Render(*source_);
    return false;
  }
  scope_ = &checker_->scope();
  rules_.clear();
  for (const Decl& d : ast_->decls) {
    if (d.kind != DeclKind::kRule) continue;
    RuleInfo r;
    r.name = d.name;
    r.phase = d.value == "response" ? Phase::kResponse : Phase::kRequest;
    r.effect = d.effect.kind;
    r.code = d.effect.has_code ? d.effect.code : "";
    r.status = d.effect.has_status ? d.effect.status : 0;
    r.decl = &d;
    rules_.push_back(r);
  }
  return true;
}

Truth ReferencePolicy::Condition(size_t r, const Value* slots, std::string* why) const {
  const Decl& d = *rules_[r].decl;
  if (!d.expr) return Truth::kTrue;  // "A rule without when always fires."
  Evaluator ev(*scope_, slots);
  return ev.Try(*d.expr, why);
}

bool ReferencePolicy::EvalConstant(const std::string& name, RValue* out, std::string* why) const {
  const std::vector<Value> slots(scope_->slots.size());  // constants read no attribute
  Evaluator ev(*scope_, slots.data());
  try {
    *out = ev.Constant(name);
    return true;
  } catch (const RuleError& err) {
    *why = err.what;
    return false;
  }
}

bool ReferencePolicy::RedactMasks(const EffectAst& ef, const Value* slots) const {
  const int32_t slot = ef.message ? ef.message->slot : -1;
  std::vector<std::string> texts;
  auto role_of = [](std::string_view role) {
    if (role == "user") return 1;
    if (role == "system" || role == "developer") return 2;
    if (role == "tool" || role == "function") return 3;
    return 0;
  };
  if (slot == static_cast<int32_t>(kSlotResponseText)) {
    const Value& v = slots[kSlotResponseText];
    if (v.kind == Kind::kString) texts.emplace_back(v.s, v.len);
  } else {
    const int want = slot == static_cast<int32_t>(kSlotRequestUserText)     ? 1
                     : slot == static_cast<int32_t>(kSlotRequestSystemText) ? 2
                     : slot == static_cast<int32_t>(kSlotRequestToolText)   ? 3
                                                                            : -1;
    const Value& list = slots[kSlotRequestMessages];
    if (list.kind == Kind::kList) {
      for (uint32_t i = 0; i < list.len; ++i) {
        const Value* f = list.items[i].items;
        if (want >= 0 && role_of(std::string_view(f[kMessageRole].s, f[kMessageRole].len)) != want) continue;
        texts.emplace_back(f[kMessageContent].s, f[kMessageContent].len);
      }
    }
  }
  for (const auto& [name, range] : ef.redact_sets) {
    auto it = scope_->patterns.find(name);
    if (it == scope_->patterns.end()) continue;
    for (const Pattern& p : scope_->pattern_sets[it->second].patterns)
      for (const std::string& t : texts)
        if (Occurs(t, p)) return true;
  }
  return false;
}

RefDecision ReferencePolicy::Decide(const Value* slots, Phase phase) const {
  RefDecision out;
  out.outcomes.assign(rules_.size(), Truth::kNotEvaluated);
  bool route_decided = false;
  for (size_t r = 0; r < rules_.size(); ++r) {
    const RuleInfo& rule = rules_[r];
    if (rule.phase != phase) continue;
    std::string why;
    const Truth t = Condition(r, slots, &why);
    out.outcomes[r] = t;
    if (t == Truth::kError) out.errors.emplace_back(r, why);
    if (t != Truth::kTrue) continue;
    const EffectAst& ef = rule.decl->effect;
    Evaluator ev(*scope_, slots);
    if (rule.effect == EffectKind::kRoute) {
      // "the first firing route rule in rule order decides the model; later
      // firing route rules are not applied and not listed."
      if (route_decided) continue;
      route_decided = true;
      try {
        RValue m = ev.Eval(*ef.message);
        out.has_route = true;
        out.route = m.s;
        out.fired.emplace_back(r, m.s);
      } catch (const RuleError& e) {
        out.errors.emplace_back(r, "route: " + e.what);
      }
      continue;
    }
    if (rule.effect == EffectKind::kRedact) {
      // "A redact rule is listed only when it masked something": some pattern
      // of its sets occurs in a text of its field.
      if (RedactMasks(ef, slots)) out.fired.emplace_back(r, "redacted by rule " + rule.name);
      continue;
    }
    std::string msg;
    if (!ef.message) {
      // Documented defaults: deny "denied by rule <name>", allow and flag "rule <name>".
      msg = (rule.effect == EffectKind::kDeny    ? "denied by rule "
             : rule.effect == EffectKind::kAllow ? "allowed by rule "
             : rule.effect == EffectKind::kFlag  ? "flagged by rule "
                                                 : "rule ") +
            rule.name;
    } else {
      const Expr& m = *ef.message;
      for (size_t i = 0; i < m.keys.size(); ++i) {
        msg += m.keys[i];
        if (i >= m.kids.size()) continue;
        try {
          RenderValue(ev.Eval(*m.kids[i]), &msg);
        } catch (const RuleError& e) {
          msg += "${?}";
          out.errors.emplace_back(r, "message: " + e.what);
        }
      }
    }
    out.fired.emplace_back(r, msg);
  }

  // Precedence (docs/language.md, "Evaluation and decisions").
  bool allow_fired = false;
  for (auto& [r, msg] : out.fired) allow_fired |= rules_[r].effect == EffectKind::kAllow;
  for (auto& [r, msg] : out.fired) {
    if (rules_[r].effect != EffectKind::kDeny) continue;
    out.allow = false;
    out.status = rules_[r].status ? static_cast<uint16_t>(rules_[r].status) : 403;
    out.code = rules_[r].code.empty() ? rules_[r].name : rules_[r].code;
    out.message = msg;
    break;
  }
  if (out.allow && scope_->on_error_deny && !out.errors.empty()) {
    out.allow = false;
    out.status = 403;
    out.code = "policy_error";
    out.message = "rule " + rules_[out.errors[0].first].name + " could not be evaluated: ";
  } else if (out.allow && scope_->default_deny && phase == Phase::kRequest && !allow_fired) {
    out.allow = false;
    out.status = 403;
    out.code = "no_allow_rule";
  }
  if (!out.allow) {
    out.has_route = false;
    out.route.clear();
  }
  return out;
}

void ReferencePolicy::CollectLiterals(std::vector<std::string>* strings, std::vector<int64_t>* ints,
                                      std::vector<double>* floats, std::vector<int64_t>* durations) const {
  for (const Decl& d : ast_->decls) {
    if (d.expr) CollectExpr(*d.expr, strings, ints, floats, durations);
    if (d.effect.message) CollectExpr(*d.effect.message, strings, ints, floats, durations);
    for (const SchemaField& f : d.fields)
      if (f.default_value) CollectExpr(*f.default_value, strings, ints, floats, durations);
    for (const PatternItem& it : d.items)
      if (!it.regex) strings->push_back(it.text);
  }
  for (const auto& [name, c] : scope_->consts)
    if (c.value) CollectConst(*c.value, strings, ints, floats, durations);
}

}  // namespace reference
}  // namespace gavel
