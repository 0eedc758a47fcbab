// Lowering to the rule VM. Registers are allocated by bumping (a chunk is a
// single expression, so lifetimes are trivial); constants are interned once per
// program; identical predicates (same canonical text) share one chunk and bit.
#include "engine/compiler/codegen.h"

#include <algorithm>
#include <cstring>
#include <map>

namespace gavel {

namespace {

constexpr uint64_t kLoopBound = 4096;  // the decoder's cap on list lengths

struct Conj {
  std::vector<uint32_t> pos, neg;
  bool operator==(const Conj& o) const { return pos == o.pos && neg == o.neg; }
};
using Formula = std::vector<Conj>;  // a disjunction; empty = false; {{}} = true

class Gen {
 public:
  Gen(Scope& scope, const Source& source, const CompileLimits& limits, Diagnostics* diags)
      : scope_(scope), source_(source), limits_(limits), diags_(diags), p_(std::make_unique<Program>()) {}

  std::unique_ptr<Program> Run(PolicyAst& ast, uint64_t* cost);
  std::unique_ptr<Program> RunExpression(const Expr& e);

 private:
  struct ChunkBuilder {
    std::vector<Instr> code;
    int next_reg = 0;
    bool overflow = false;
    uint64_t mult = 1;
    uint64_t cost = 0;
    std::vector<std::pair<std::string, int>> vars;
  };

  uint32_t Intern(const ConstVal& v);
  uint32_t InternAt(const ConstVal& v, uint32_t index);
  uint32_t InternString(const std::string& s);
  int Reg(ChunkBuilder& cb) {
    if (cb.next_reg >= 254) {
      cb.overflow = true;
      return 0;
    }
    return cb.next_reg++;
  }
  size_t Emit(ChunkBuilder& cb, Op op, uint32_t a, uint32_t b, uint32_t c) {
    cb.code.push_back(Instr{op, static_cast<uint8_t>(a), static_cast<uint16_t>(b), c});
    cb.cost += cb.mult;
    return cb.code.size() - 1;
  }
  int GenExpr(const Expr& e, ChunkBuilder& cb);
  int GenBinary(const Expr& e, ChunkBuilder& cb);
  int GenQuant(const Expr& e, ChunkBuilder& cb);
  uint32_t Finish(ChunkBuilder& cb, int result, const Expr& where);
  uint32_t ValueChunk(const Expr& e);
  Formula Lower(const Expr& e, bool negate);
  uint32_t PredicateFor(const Expr& e);
  Formula And(const Formula& a, const Formula& b, const Expr& where);
  Formula Or(const Formula& a, const Formula& b, const Expr& where);
  std::string UsageText(const Decl& d);

  Scope& scope_;
  const Source& source_;
  CompileLimits limits_;
  Diagnostics* diags_;
  std::unique_ptr<Program> p_;
  std::map<std::string, uint32_t> const_index_;
  std::map<std::string, uint32_t> string_index_;
  std::map<std::string, uint32_t> predicate_index_;
  uint64_t total_cost_ = 0;
  bool too_complex_reported_ = false;
};

uint32_t Gen::InternString(const std::string& s) {
  auto it = string_index_.find(s);
  if (it != string_index_.end()) return it->second;
  uint32_t off = static_cast<uint32_t>(p_->strings.size());
  p_->strings += s;
  string_index_[s] = off;
  return off;
}

// Items of an aggregate are laid out contiguously after it; their own items
// come later still, so every reference points forward.
uint32_t Gen::InternAt(const ConstVal& v, uint32_t index) {
  ConstEntry e;
  e.kind = v.kind;
  switch (v.kind) {
    case Kind::kBool:
      e.payload = v.b;
      break;
    case Kind::kInt:
    case Kind::kDuration:
      e.payload = static_cast<uint64_t>(v.i);
      break;
    case Kind::kFloat:
      std::memcpy(&e.payload, &v.f, sizeof v.f);
      break;
    case Kind::kString:
      e.payload = InternString(v.s);
      e.len = static_cast<uint32_t>(v.s.size());
      break;
    case Kind::kList:
    case Kind::kMap:
    case Kind::kRecord: {
      const uint32_t n = static_cast<uint32_t>(v.items.size());
      e.len = v.kind == Kind::kMap ? n / 2 : n;
      e.payload = n ? p_->const_entries.size() : 0;
      if (v.is_set && v.kind == Kind::kList) {
        bool sortable = true;
        for (auto& it : v.items)
          sortable &= it.kind == (v.items.empty() ? Kind::kString : v.items[0].kind) &&
                      (it.kind == Kind::kString || it.kind == Kind::kInt);
        e.sorted = sortable ? 1 : 0;
      }
      const uint32_t first = static_cast<uint32_t>(p_->const_entries.size());
      p_->const_entries.resize(p_->const_entries.size() + n);
      for (uint32_t i = 0; i < n; ++i) InternAt(v.items[i], first + i);
      break;
    }
    default:
      break;
  }
  p_->const_entries[index] = e;
  return index;
}

uint32_t Gen::Intern(const ConstVal& v) {
  const std::string key = v.Key();
  auto it = const_index_.find(key);
  if (it != const_index_.end()) return it->second;
  const uint32_t index = static_cast<uint32_t>(p_->const_entries.size());
  p_->const_entries.emplace_back();
  InternAt(v, index);
  const_index_[key] = index;
  return index;
}

int Gen::GenExpr(const Expr& e, ChunkBuilder& cb) {
  if (e.value) {
    int r = Reg(cb);
    Emit(cb, Op::kLoadConst, r, 0, Intern(*e.value));
    return r;
  }
  if (e.slot >= 0) {
    int r = Reg(cb);
    Emit(cb, Op::kLoadSlot, r, 0, static_cast<uint32_t>(e.slot));
    return r;
  }
  switch (e.kind) {
    case ExprKind::kIdent:
      for (auto v = cb.vars.rbegin(); v != cb.vars.rend(); ++v)
        if (v->first == e.text) return v->second;
      break;
    case ExprKind::kMember: {
      int b = GenExpr(*e.kids[0], cb);
      int r = Reg(cb);
      Emit(cb, Op::kField, r, b, static_cast<uint32_t>(e.index));
      return r;
    }
    case ExprKind::kIndex: {
      int c = GenExpr(*e.kids[0], cb), k = GenExpr(*e.kids[1], cb);
      int r = Reg(cb);
      Emit(cb, Op::kIndex, r, c, k);
      return r;
    }
    case ExprKind::kNeg:
    case ExprKind::kNot: {
      int x = GenExpr(*e.kids[0], cb);
      int r = Reg(cb);
      Emit(cb, e.kind == ExprKind::kNeg ? Op::kNeg : Op::kNot, r, x, 0);
      return r;
    }
    case ExprKind::kBinary:
      return GenBinary(e, cb);
    case ExprKind::kQuant:
      return GenQuant(e, cb);
    case ExprKind::kCall: {
      const std::string& f = e.text;
      int r;
      if (f == "has" && e.kids[0]->kind == ExprKind::kIndex) {
        // has(m[k]): m is present and holds k. `and` lets false win over the
        // error `k in m` raises when m is absent.
        const Expr& m = *e.kids[0]->kids[0];
        int present = Reg(cb);
        if (m.slot >= 0) {
          Emit(cb, Op::kHasSlot, present, 0, static_cast<uint32_t>(m.slot));
        } else {
          int b = GenExpr(*m.kids[0], cb);
          Emit(cb, Op::kHasField, present, b, static_cast<uint32_t>(m.index));
        }
        int map = GenExpr(m, cb), key = GenExpr(*e.kids[0]->kids[1], cb);
        int held = Reg(cb);
        Emit(cb, Op::kIn, held, key, map);
        r = Reg(cb);
        Emit(cb, Op::kAnd, r, present, held);
        return r;
      }
      if (f == "has") {
        const Expr& a = *e.kids[0];
        r = Reg(cb);
        if (a.slot >= 0) {
          Emit(cb, Op::kHasSlot, r, 0, static_cast<uint32_t>(a.slot));
        } else {
          int b = GenExpr(*a.kids[0], cb);
          Emit(cb, Op::kHasField, r, b, static_cast<uint32_t>(a.index));
        }
        return r;
      }
      if (f == "count") {
        int t = GenExpr(*e.kids[0]->kids[1], cb);
        r = Reg(cb);
        Emit(cb, Op::kScanCount, r, t, static_cast<uint32_t>(e.index));
        return r;
      }
      if (f == "cost") {
        int args[3];
        for (int i = 0; i < 3; ++i) args[i] = GenExpr(*e.kids[i], cb);
        int base = Reg(cb);
        Reg(cb);
        Reg(cb);
        for (int i = 0; i < 3; ++i) Emit(cb, Op::kMove, base + i, args[i], 0);
        r = Reg(cb);
        Emit(cb, Op::kCost, r, base, Intern(*scope_.consts["prices"].value));
        return r;
      }
      int x = GenExpr(*e.kids[0], cb);
      r = Reg(cb);
      Op op = f == "len" ? Op::kLen : f == "lower" ? Op::kLower : f == "upper" ? Op::kUpper : Op::kTokens;
      Emit(cb, op, r, x, 0);
      return r;
    }
    default:
      break;
  }
  // The checker rejects everything else; keep the chunk well-formed regardless.
  diags_->Error(Err::kInternalCodegen, e.range, "internal: expression cannot be compiled");
  int r = Reg(cb);
  Emit(cb, Op::kLoadConst, r, 0, Intern(ConstVal::Bool(false)));
  return r;
}

int Gen::GenBinary(const Expr& e, ChunkBuilder& cb) {
  const std::string& op = e.op;
  const bool negated = op.rfind("not ", 0) == 0;
  const std::string base = negated ? op.substr(4) : op;
  if (op == "and" || op == "or") {
    // r = a; if a decides (false for and, true for or) skip b; else
    // r = a and/or b with Kleene logic. An error on the left does not jump,
    // so b can still decide.
    int r = Reg(cb);
    int a = GenExpr(*e.kids[0], cb);
    Emit(cb, Op::kMove, r, a, 0);
    size_t skip = Emit(cb, op == "and" ? Op::kJumpIfFalse : Op::kJumpIfTrue, r, 0, 0);
    int b = GenExpr(*e.kids[1], cb);
    Emit(cb, op == "and" ? Op::kAnd : Op::kOr, r, r, b);
    cb.code[skip].c = static_cast<uint32_t>(cb.code.size());
    return r;
  }
  int r;
  auto maybe_not = [&](int x) {
    if (!negated) return x;
    int n = Reg(cb);
    Emit(cb, Op::kNot, n, x, 0);
    return n;
  };
  if ((base == "contains" && e.index >= 0) || base == "matches") {
    int t = GenExpr(*e.kids[0], cb);
    r = Reg(cb);
    Emit(cb, Op::kScanAny, r, t, static_cast<uint32_t>(e.index));
    return maybe_not(r);
  }
  static const std::map<std::string, std::pair<Op, Op>> kCompare = {
      {"==", {Op::kEq, Op::kEqK}}, {"!=", {Op::kNe, Op::kNeK}}, {"<", {Op::kLt, Op::kLtK}},
      {"<=", {Op::kLe, Op::kLeK}}, {">", {Op::kGt, Op::kGtK}},  {">=", {Op::kGe, Op::kGeK}}};
  if (auto it = kCompare.find(op); it != kCompare.end()) {
    int a = GenExpr(*e.kids[0], cb);
    r = Reg(cb);
    if (e.kids[1]->value) {
      Emit(cb, it->second.second, r, a, Intern(*e.kids[1]->value));
    } else {
      int b = GenExpr(*e.kids[1], cb);
      Emit(cb, it->second.first, r, a, b);
    }
    return r;
  }
  if (base == "in" || base == "contains") {
    // `x in c` and `c contains x` are the same membership test.
    const Expr& item = base == "in" ? *e.kids[0] : *e.kids[1];
    const Expr& container = base == "in" ? *e.kids[1] : *e.kids[0];
    int x = GenExpr(item, cb);
    r = Reg(cb);
    if (container.value) {
      Emit(cb, Op::kInK, r, x, Intern(*container.value));
    } else {
      int c = GenExpr(container, cb);
      Emit(cb, Op::kIn, r, x, c);
    }
    return maybe_not(r);
  }
  if (base == "startswith" || base == "endswith") {
    int a = GenExpr(*e.kids[0], cb), b = GenExpr(*e.kids[1], cb);
    r = Reg(cb);
    Emit(cb, base == "startswith" ? Op::kStartsWith : Op::kEndsWith, r, a, b);
    return maybe_not(r);
  }
  static const std::map<std::string, Op> kArith = {
      {"+", Op::kAdd}, {"-", Op::kSub}, {"*", Op::kMul}, {"/", Op::kDiv}, {"%", Op::kMod}};
  int a = GenExpr(*e.kids[0], cb), b = GenExpr(*e.kids[1], cb);
  r = Reg(cb);
  auto it = kArith.find(op);
  Emit(cb, it == kArith.end() ? Op::kAdd : it->second, r, a, b);
  return r;
}

// any x in L: body  ->
//   r = false; l = L; iter_begin it, l, @end
//   loop: b = body; r = r or b; jump_if_true r, @end; iter_next it, @loop
//   end: iter_end r, it
// `all` starts from true and folds with `and`, stopping at false. Folding
// with Kleene logic makes an error in one item matter only if no other item
// decides the answer.
int Gen::GenQuant(const Expr& e, ChunkBuilder& cb) {
  const bool any = e.op == "any";
  int r = Reg(cb);
  Emit(cb, Op::kLoadConst, r, 0, Intern(ConstVal::Bool(!any)));
  int l = GenExpr(*e.kids[0], cb);
  int it = Reg(cb);
  Reg(cb);  // it + 1: the current item
  size_t begin = Emit(cb, Op::kIterBegin, it, l, 0);
  const uint32_t loop = static_cast<uint32_t>(cb.code.size());
  cb.vars.emplace_back(e.text, it + 1);
  const uint64_t saved = cb.mult;
  cb.mult = std::min<uint64_t>(cb.mult * kLoopBound, uint64_t(1) << 40);
  int b = GenExpr(*e.kids[1], cb);
  Emit(cb, any ? Op::kOr : Op::kAnd, r, r, b);
  size_t stop = Emit(cb, any ? Op::kJumpIfTrue : Op::kJumpIfFalse, r, 0, 0);
  Emit(cb, Op::kIterNext, it, 0, loop);
  cb.mult = saved;
  cb.vars.pop_back();
  const uint32_t end = static_cast<uint32_t>(cb.code.size());
  cb.code[begin].c = end;
  cb.code[stop].c = end;
  Emit(cb, Op::kIterEnd, r, it, 0);
  return r;
}

uint32_t Gen::Finish(ChunkBuilder& cb, int result, const Expr& where) {
  Emit(cb, Op::kRet, result, 0, 0);
  if (cb.overflow) {
    diags_->Error(Err::kTooManyRegisters, where.range, "expression needs more than 254 registers; split it");
    cb.next_reg = 1;
  }
  Chunk c;
  c.begin = static_cast<uint32_t>(p_->code.size());
  c.size = static_cast<uint32_t>(cb.code.size());
  c.nregs = static_cast<uint16_t>(std::max(1, cb.next_reg));
  p_->code.insert(p_->code.end(), cb.code.begin(), cb.code.end());
  p_->chunks.push_back(c);
  total_cost_ += cb.cost;
  return static_cast<uint32_t>(p_->chunks.size() - 1);
}

uint32_t Gen::ValueChunk(const Expr& e) {
  ChunkBuilder cb;
  int r = GenExpr(e, cb);
  return Finish(cb, r, e);
}

uint32_t Gen::PredicateFor(const Expr& e) {
  std::string key = PrintExpr(e);
  if (e.parens && key.size() >= 2) key = key.substr(1, key.size() - 2);
  auto it = predicate_index_.find(key);
  if (it != predicate_index_.end()) return it->second;
  Predicate pr;
  pr.chunk = ValueChunk(e);
  pr.text = key;
  p_->predicates.push_back(pr);
  const uint32_t id = static_cast<uint32_t>(p_->predicates.size() - 1);
  predicate_index_[key] = id;
  return id;
}

Formula Gen::And(const Formula& a, const Formula& b, const Expr& where) {
  Formula out;
  for (const Conj& x : a)
    for (const Conj& y : b) {
      Conj c;
      std::set_union(x.pos.begin(), x.pos.end(), y.pos.begin(), y.pos.end(), std::back_inserter(c.pos));
      std::set_union(x.neg.begin(), x.neg.end(), y.neg.begin(), y.neg.end(), std::back_inserter(c.neg));
      // `p and not p` is kept: it is false, but an error when p errors, and
      // on_error must see that error.
      if (std::find(out.begin(), out.end(), c) == out.end()) out.push_back(std::move(c));
      if (static_cast<int>(out.size()) > limits_.max_dnf_terms) {
        if (!too_complex_reported_)
          diags_->Error(Err::kTooManyConjunctions, where.range,
                        "condition expands to more than " + std::to_string(limits_.max_dnf_terms) +
                            " alternatives; move parts of it into separate rules or a quantifier");
        too_complex_reported_ = true;
        return out;
      }
    }
  return out;
}

Formula Gen::Or(const Formula& a, const Formula& b, const Expr& where) {
  Formula out = a;
  for (const Conj& c : b)
    if (std::find(out.begin(), out.end(), c) == out.end()) out.push_back(c);
  if (static_cast<int>(out.size()) > limits_.max_dnf_terms && !too_complex_reported_) {
    diags_->Error(Err::kTooManyConjunctions, where.range,
                  "condition expands to more than " + std::to_string(limits_.max_dnf_terms) + " alternatives");
    too_complex_reported_ = true;
  }
  return out;
}

Formula Gen::Lower(const Expr& e, bool negate) {
  if (e.value && e.value->kind == Kind::kBool) {
    if (e.value->b != negate) return Formula{Conj{}};
    return Formula{};
  }
  if (e.kind == ExprKind::kNot) return Lower(*e.kids[0], !negate);
  if (e.kind == ExprKind::kBinary && (e.op == "and" || e.op == "or")) {
    Formula a = Lower(*e.kids[0], negate), b = Lower(*e.kids[1], negate);
    const bool conj = (e.op == "and") != negate;
    return conj ? And(a, b, e) : Or(a, b, e);
  }
  const uint32_t p = PredicateFor(e);
  Conj c;
  (negate ? c.neg : c.pos).push_back(p);
  return Formula{c};
}

std::string Gen::UsageText(const Decl& d) {
  std::string s;
  if (d.kind == DeclKind::kLimit) {
    s = "per ";
    for (size_t i = 0; i < d.per.size(); ++i) s += (i ? ", " : "") + PrintExpr(*d.per[i]);
    if (d.when) s += " when " + PrintExpr(*d.when);
    s += " " + std::to_string(d.amount) + " " + d.unit + " per " + d.window;
    return s;
  }
  for (const BudgetClause& c : d.clauses) {
    if (!s.empty()) s += "; ";
    switch (c.kind) {
      case BudgetClause::kPer:
        s += "per ";
        for (size_t i = 0; i < c.exprs.size(); ++i) s += (i ? ", " : "") + PrintExpr(*c.exprs[i]);
        break;
      case BudgetClause::kAmount:
        s += PrintExpr(*c.exprs[0]) + " usd per " + c.word;
        break;
      case BudgetClause::kPrices:
        s += "prices " + PrintExpr(*c.exprs[0]);
        break;
      case BudgetClause::kWarn:
        s += "warn at " + std::to_string(c.percent) + "%";
        break;
      case BudgetClause::kWhen:
        s += "when " + PrintExpr(*c.exprs[0]);
        break;
    }
  }
  return s;
}

std::unique_ptr<Program> Gen::Run(PolicyAst& ast, uint64_t* cost) {
  Program& p = *p_;
  p.package = scope_.package;
  p.version = scope_.version;
  p.default_deny = scope_.default_deny;
  p.on_error_deny = scope_.on_error_deny;
  p.slots = scope_.slots;
  for (size_t i = 0; i < p.slots.size(); ++i)
    if (scope_.slot_defaults[i].kind != Kind::kMissing)
      p.slots[i].default_const = static_cast<int32_t>(Intern(scope_.slot_defaults[i]));
  p.pattern_sets = scope_.pattern_sets;

  std::vector<Formula> formulas;
  for (Decl& d : ast.decls) {
    if (d.kind == DeclKind::kLimit || d.kind == DeclKind::kBudget) {
      p.usage_rules.push_back(UsageRule{d.name, d.kind == DeclKind::kLimit ? "limit" : "budget", UsageText(d)});
      continue;
    }
    if (d.kind != DeclKind::kRule) continue;
    Rule r;
    r.name = d.name;
    r.phase = d.value == "response" ? Phase::kResponse : Phase::kRequest;
    uint32_t line, col;
    source_.Position(d.range.begin, &line, &col);
    r.line = line;
    const EffectAst& ef = d.effect;
    r.effect = ef.kind == EffectKind::kDeny    ? Effect::kDeny
               : ef.kind == EffectKind::kAllow ? Effect::kAllow
               : ef.kind == EffectKind::kRoute ? Effect::kRoute
               : ef.kind == EffectKind::kFlag  ? Effect::kFlag
                                               : Effect::kRedact;
    r.status = ef.has_status ? static_cast<uint16_t>(ef.status) : 0;
    r.code = ef.code;
    if (ef.message && (ef.kind == EffectKind::kDeny || ef.kind == EffectKind::kAllow || ef.kind == EffectKind::kFlag)) {
      const Expr& m = *ef.message;
      for (size_t i = 0; i < m.keys.size(); ++i) {
        if (!m.keys[i].empty()) r.message.push_back(MessagePart{false, m.keys[i], 0});
        if (i < m.kids.size()) r.message.push_back(MessagePart{true, "", ValueChunk(*m.kids[i])});
      }
      if (r.message.empty()) r.message.push_back(MessagePart{false, "", 0});
    }
    if (ef.kind == EffectKind::kRoute && ef.message) r.target_chunk = static_cast<int32_t>(ValueChunk(*ef.message));
    if (ef.kind == EffectKind::kRedact) {
      for (auto& [name, range] : ef.redact_sets) r.redact_sets.push_back(scope_.patterns[name]);
      if (ef.message) r.redact_field_slot = ef.message->slot;
      if (ef.redact_with) r.redact_with = ef.redact_with->text;
    }
    too_complex_reported_ = false;
    Formula f = d.expr ? Lower(*d.expr, false) : Formula{Conj{}};
    if (d.expr && f.empty())
      diags_->Warning(Warn::kNeverFires, d.expr->range,
                      "the condition of rule '" + d.name + "' is always false; it never fires");
    formulas.push_back(std::move(f));
    p.rules.push_back(std::move(r));
  }

  p.words = static_cast<uint32_t>(std::max<size_t>(1, (p.predicates.size() + 63) / 64));
  uint32_t conj = 0;
  for (size_t i = 0; i < p.rules.size(); ++i) {
    p.rules[i].conj_begin = conj;
    p.rules[i].conj_count = static_cast<uint32_t>(formulas[i].size());
    for (const Conj& c : formulas[i]) {
      std::vector<uint64_t> row(2 * p.words, 0);
      for (uint32_t x : c.pos) row[x / 64] |= uint64_t(1) << (x % 64);
      for (uint32_t x : c.neg) row[p.words + x / 64] |= uint64_t(1) << (x % 64);
      p.masks.insert(p.masks.end(), row.begin(), row.end());
      ++conj;
    }
  }
  if (cost) *cost = total_cost_;
  return std::move(p_);
}

std::unique_ptr<Program> Gen::RunExpression(const Expr& e) {
  p_->slots.assign(scope_.slots.begin(), scope_.slots.begin() + kBuiltinSlotCount);
  ValueChunk(e);
  p_->words = 1;
  return std::move(p_);
}

}  // namespace

std::unique_ptr<Program> GenerateExpressionProgram(const Expr& e, Scope& scope, Diagnostics* diags) {
  static const Source kNoSource("", "");
  Gen g(scope, kNoSource, CompileLimits(), diags);
  return g.RunExpression(e);
}

std::unique_ptr<Program> GenerateProgram(PolicyAst& ast, Scope& scope, const Source& source,
                                         const CompileLimits& limits, Diagnostics* diags, uint64_t* worst_case_cost) {
  Gen g(scope, source, limits, diags);
  return g.Run(ast, worst_case_cost);
}

}  // namespace gavel
