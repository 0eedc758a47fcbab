// Constant folding through the rule VM. An operator node is lowered by codegen
// to a one-chunk program whose operands are its kids' constants, or absent
// slots where a kid is unknown or failed, and run by RunChunk: the folded value
// or error is the one a decision would compute. Only collection literals, which
// the VM never builds, are assembled here (sets ordered by the VM's comparison).
#include "engine/compiler/fold.h"

#include <algorithm>

#include "engine/compiler/codegen.h"
#include "engine/runtime/arena.h"
#include "engine/runtime/vm.h"

namespace gavel {

namespace {

// A VM value (the chunk's result) as a compile-time constant; `t` says which
// lists are sets.
ConstVal FromValue(const Value& v, const Type* t) {
  ConstVal c;
  c.kind = v.kind;
  switch (v.kind) {
    case Kind::kBool:
      c.b = v.b;
      break;
    case Kind::kInt:
    case Kind::kDuration:
      c.i = v.i;
      break;
    case Kind::kFloat:
      c.f = v.f;
      break;
    case Kind::kString:
      c.s.assign(v.s, v.len);
      break;
    case Kind::kList:
      c.is_set = t && t->k == Type::kSet;
      for (uint32_t i = 0; i < v.len; ++i) c.items.push_back(FromValue(v.items[i], t ? t->elem.get() : nullptr));
      break;
    case Kind::kMap:
      for (uint32_t i = 0; i < v.len; ++i) {
        c.items.push_back(FromValue(v.items[2 * i], nullptr));
        c.items.push_back(FromValue(v.items[2 * i + 1], t ? t->elem.get() : nullptr));
      }
      break;
    case Kind::kRecord:
      for (uint32_t i = 0; i < v.len; ++i)
        c.items.push_back(FromValue(v.items[i], t && i < t->fields.size() ? t->fields[i].second.get() : nullptr));
      break;
    default:
      break;
  }
  return c;
}

// A scalar constant as the VM holds it (strings point into the constant).
Value ScalarValue(const ConstVal& c) {
  switch (c.kind) {
    case Kind::kBool:
      return Value::Bool(c.b);
    case Kind::kInt:
      return Value::Int(c.i);
    case Kind::kDuration:
      return Value::Duration(c.i);
    case Kind::kFloat:
      return Value::Float(c.f);
    case Kind::kString:
      return Value::String(c.s);
    default:
      return Value();
  }
}

ConstVal ToFloat(ConstVal v) { return v.kind == Kind::kInt ? ConstVal::Float(static_cast<double>(v.i)) : v; }

// Sets are sorted and deduplicated so the runtime can binary-search them, by
// the order the VM's search compares with. Items the VM cannot order (NaN)
// go last and are never equal to anything, as the VM's membership has it.
void SortSet(std::vector<ConstVal>* items) {
  auto before = [](const ConstVal& a, const ConstVal& b) {
    int order = 0;
    const bool ab = CompareScalars(ScalarValue(a), ScalarValue(b), &order);
    if (ab) return order < 0;
    int self = 0;
    const bool a_orders = CompareScalars(ScalarValue(a), ScalarValue(a), &self);
    const bool b_orders = CompareScalars(ScalarValue(b), ScalarValue(b), &self);
    return a_orders && !b_orders;
  };
  auto same = [](const ConstVal& a, const ConstVal& b) {
    int order = 0;
    return CompareScalars(ScalarValue(a), ScalarValue(b), &order) && order == 0;
  };
  std::stable_sort(items->begin(), items->end(), before);
  items->erase(std::unique(items->begin(), items->end(), same), items->end());
}

ConstVal Collection(const Expr& e, const std::vector<FoldOperand>& ops) {
  ConstVal v;
  if (e.kind == ExprKind::kSet || e.kind == ExprKind::kList) {
    v.kind = Kind::kList;
    v.is_set = e.kind == ExprKind::kSet;
    const bool to_float = e.type->elem && e.type->elem->k == Type::kFloat;
    for (const FoldOperand& op : ops) v.items.push_back(to_float ? ToFloat(*op.value) : *op.value);
    if (v.is_set) SortSet(&v.items);
    return v;
  }
  const bool record = e.type->k == Type::kRecord;
  v.kind = record ? Kind::kRecord : Kind::kMap;
  if (record) {
    // Fields in the type's order (by name), not as written.
    for (auto& f : e.type->fields)
      for (size_t i = 0; i < e.keys.size(); ++i)
        if (e.keys[i] == f.first)
          v.items.push_back(f.second->k == Type::kFloat ? ToFloat(*ops[i].value) : *ops[i].value);
    return v;
  }
  for (size_t i = 0; i < e.keys.size(); ++i) {
    v.items.push_back(ConstVal::Str(e.keys[i]));
    ConstVal item = *ops[i].value;
    if (e.type->elem->k == Type::kFloat) item = ToFloat(item);
    if (e.type->elem->k == Type::kRecord && item.kind == Kind::kRecord)
      for (size_t f = 0; f < item.items.size() && f < e.type->elem->fields.size(); ++f)
        if (e.type->elem->fields[f].second->k == Type::kFloat) item.items[f] = ToFloat(item.items[f]);
    v.items.push_back(std::move(item));
  }
  return v;
}

// Operators the VM evaluates for folding. Quantifiers, has(), count(), cost()
// and pattern searches depend on the request or are left to decisions.
bool RunsOnVm(const Expr& e) {
  if (e.type->k == Type::kPattern || e.type->k == Type::kRegex) return false;
  switch (e.kind) {
    case ExprKind::kNeg:
    case ExprKind::kNot:
    case ExprKind::kIndex:
      return true;
    case ExprKind::kMember:
      return e.slot < 0 && e.index >= 0;
    case ExprKind::kBinary:
      return e.index < 0 && e.op != "matches" && e.op != "not matches";
    case ExprKind::kCall:
      return e.text == "len" || e.text == "lower" || e.text == "upper" || e.text == "tokens";
    default:
      return false;
  }
}

}  // namespace

FoldResult FoldExpression(const Expr& e, const std::vector<FoldOperand>& operands, Scope& scope, Diagnostics* diags) {
  FoldResult r;
  if (e.kind == ExprKind::kSet || e.kind == ExprKind::kList || e.kind == ExprKind::kMap) {
    // A literal holds its items' values; the first failed item is its error.
    for (size_t i = 0; i < operands.size(); ++i) {
      if (operands[i].state == FoldOperand::kFailed) {
        r.state = FoldResult::kFailed;
        r.operand = static_cast<int>(i);
        return r;
      }
      if (operands[i].state != FoldOperand::kValue) return r;
    }
    r.state = FoldResult::kValue;
    r.value = std::make_shared<ConstVal>(Collection(e, operands));
    return r;
  }
  if (!RunsOnVm(e) || operands.size() != e.kids.size() || operands.size() >= kBuiltinSlotCount) return r;
  bool any_known = false;
  for (const FoldOperand& op : operands) any_known |= op.state != FoldOperand::kUnknown;
  if (!any_known) return r;

  // The node as codegen sees it, its kids replaced by their constants or, when
  // unknown or failed, by reads of absent slots (slot i for kid i): to the VM
  // an absent attribute is an error value, which is what both are.
  Expr node;
  node.kind = e.kind;
  node.range = e.range;
  node.text = e.text;
  node.op = e.op;
  node.type = e.type;
  node.slot = e.slot;
  node.index = e.index;
  for (size_t i = 0; i < operands.size(); ++i) {
    auto kid = std::make_unique<Expr>();
    kid->kind = e.kids[i]->kind;
    kid->range = e.kids[i]->range;
    kid->type = e.kids[i]->type;
    if (operands[i].state == FoldOperand::kValue)
      kid->value = operands[i].value;
    else
      kid->slot = static_cast<int32_t>(i);
    node.kids.push_back(std::move(kid));
  }
  Diagnostics internal;
  std::unique_ptr<Program> p = GenerateExpressionProgram(node, scope, &internal);
  std::string why = p && !internal.has_errors() ? VerifyAndLink(p.get()) : "not generated";
  if (!why.empty()) {
    // Codegen and the verifier accept every checked expression; if one day
    // they do not, say so rather than fold differently.
    diags->Error(Err::kInternalCodegen, e.range, "internal: constant expression cannot be evaluated (" + why + ")");
    return r;
  }
  Value slots[kBuiltinSlotCount];  // all absent
  std::vector<Value> regs(p->max_regs);
  Arena arena;
  Value out;
  VmError err;
  if (RunChunk(*p, 0, slots, regs.data(), &arena, &out, &err)) {
    r.state = FoldResult::kValue;
    r.value = std::make_shared<ConstVal>(FromValue(out, e.type.get()));
    return r;
  }
  // The VM names the first failure. A read of a placeholder slot means that
  // kid decided: its error, or (unknown) no constant at all.
  if (err.slot >= 0 && static_cast<size_t>(err.slot) < operands.size()) {
    if (operands[err.slot].state == FoldOperand::kFailed) {
      r.state = FoldResult::kFailed;
      r.operand = err.slot;
    }
    return r;
  }
  r.state = FoldResult::kFailed;
  r.error = err.what ? err.what : "rule error";
  return r;
}

}  // namespace gavel
