// Name resolution, typing and constant folding. Errors carry codes:
//   E02xx names and declarations, E03xx types, E04xx effects and usage rules,
//   W01xx warnings.
#include "engine/compiler/checker.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include "engine/compiler/regex_check.h"
#include "engine/compiler/screen_compile.h"
#include "engine/screen/validators.h"

namespace gavel {

namespace {

TypePtr T(Type::K k) { return Type::Make(k); }

TypePtr MessageType() {
  static TypePtr t =
      Type::Record("message", {{"role", T(Type::kString)}, {"content", T(Type::kString)}, {"name", T(Type::kString)}});
  return t;
}
TypePtr ToolType() {
  static TypePtr t = Type::Record("tool", {{"name", T(Type::kString)}, {"type", T(Type::kString)}});
  return t;
}
TypePtr UsageType() {
  static TypePtr t = Type::Record("usage", {{"input_tokens", T(Type::kInt)}, {"output_tokens", T(Type::kInt)}});
  return t;
}

const char* const kRoots[] = {"request", "response", "principal", "context", "env"};

bool IsRoot(const std::string& n) {
  for (const char* r : kRoots)
    if (n == r) return true;
  return false;
}

// Message segments were already checked as part of their literal.
std::string Unescape(const std::string& raw) {
  std::string out, why;
  UnescapeLiteral(raw, &out, &why);
  return out;
}

bool ValidCode(const std::string& c) {
  if (c.empty() || c.size() > 64) return false;
  for (char ch : c)
    if (!(std::islower(static_cast<unsigned char>(ch)) || std::isdigit(static_cast<unsigned char>(ch)) || ch == '_' ||
          ch == '.' || ch == '-'))
      return false;
  return true;
}

// --- constant folding on ConstVal --------------------------------------------

double AsF(const ConstVal& v) { return v.kind == Kind::kFloat ? v.f : static_cast<double>(v.i); }

int Cmp(const ConstVal& a, const ConstVal& b) {
  if (a.kind == Kind::kString) return a.s < b.s ? -1 : (a.s > b.s ? 1 : 0);
  if (a.kind == Kind::kBool) return int(a.b) - int(b.b);
  if (a.kind == Kind::kFloat || b.kind == Kind::kFloat) {
    double x = AsF(a), y = AsF(b);
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  return a.i < b.i ? -1 : (a.i > b.i ? 1 : 0);
}

bool Member(const ConstVal& x, const ConstVal& c) {
  if (c.kind == Kind::kString) return c.s.find(x.s) != std::string::npos;
  if (c.kind == Kind::kMap) {
    for (size_t i = 0; i < c.items.size(); i += 2)
      if (c.items[i].s == x.s) return true;
    return false;
  }
  for (const ConstVal& it : c.items)
    if (it.kind != Kind::kList && it.kind != Kind::kMap && it.kind != Kind::kRecord && Cmp(it, x) == 0) return true;
  return false;
}

}  // namespace

Checker::Checker(PolicyAst* ast, Diagnostics* diags, const CompileLimits& limits, std::string stdlib_dir,
                 std::string policy_path)
    : ast_(ast),
      diags_(diags),
      limits_(limits),
      stdlib_dir_(std::move(stdlib_dir)),
      policy_path_(std::move(policy_path)) {}

TypePtr Checker::Error(const Expr& e, const std::string& code, const std::string& msg) {
  diags_->Error(code, e.range, msg);
  return T(Type::kError);
}

void Checker::UnknownName(const Expr& e, const std::string& name, const std::vector<std::string>& candidates,
                          const std::string& what) {
  std::string msg = "unknown " + what + " '" + name + "'";
  std::string best = Closest(name.substr(name.rfind('.') + 1), candidates);
  if (!best.empty()) msg += " (did you mean '" + best + "'?)";
  SourceRange r = e.range;
  // Point at the last component of a dotted name.
  if (e.kind == ExprKind::kMember && e.range.end >= e.text.size())
    r.begin = e.range.end - static_cast<uint32_t>(e.text.size());
  diags_->Error("E0201", r, msg);
}

void Checker::DeclareBuiltins() {
  const std::vector<std::pair<const char*, TypePtr>> builtin = {
      {"request.model", T(Type::kString)},
      {"request.endpoint", T(Type::kString)},
      {"request.messages", Type::ListOf(MessageType())},
      {"request.tools", Type::ListOf(ToolType())},
      {"request.max_tokens", T(Type::kInt)},
      {"request.stream", T(Type::kBool)},
      {"request.temperature", T(Type::kFloat)},
      {"request.user", T(Type::kString)},
      {"request.metadata", Type::MapOf(T(Type::kString))},
      {"request.text", T(Type::kString)},
      {"request.user_text", T(Type::kString)},
      {"request.system_text", T(Type::kString)},
      {"request.tool_text", T(Type::kString)},
      {"request.input_tokens", T(Type::kInt)},
      {"response.text", T(Type::kString)},
      {"response.usage", UsageType()},
      {"response.finish_reason", T(Type::kString)},
      {"env.time", T(Type::kInt)},
  };
  static_assert(kBuiltinSlotCount == 18, "keep the checker's built-in table in step with program.h");
  for (auto& [name, type] : builtin) {
    SlotInfo s;
    s.name = name;
    s.root = s.name.rfind("request.", 0) == 0    ? Root::kRequest
             : s.name.rfind("response.", 0) == 0 ? Root::kResponse
                                                 : Root::kEnv;
    s.type = SlotType::kBuiltin;
    scope_.slot_index[s.name] = static_cast<uint32_t>(scope_.slots.size());
    scope_.slots.push_back(s);
    scope_.slot_types.push_back(type);
    scope_.slot_defaults.emplace_back();
  }
}

TypePtr Checker::SchemaType(const TypeAst& t, SlotType* st) {
  auto scalar = [](const std::string& n) -> TypePtr {
    if (n == "bool") return T(Type::kBool);
    if (n == "int") return T(Type::kInt);
    if (n == "float") return T(Type::kFloat);
    if (n == "string") return T(Type::kString);
    if (n == "duration") return T(Type::kDuration);
    return nullptr;
  };
  auto fail = [&](const std::string& why) -> TypePtr {
    diags_->Error("E0301", t.range, why);
    return nullptr;
  };
  if (t.args.empty()) {
    TypePtr s = scalar(t.name);
    if (!s) {
      std::string best = Closest(t.name, {"bool", "int", "float", "string", "duration", "list", "set", "map"});
      return fail("unknown type '" + t.name + "'" + (best.empty() ? "" : " (did you mean '" + best + "'?)"));
    }
    *st = s->k == Type::kBool     ? SlotType::kBool
          : s->k == Type::kInt    ? SlotType::kInt
          : s->k == Type::kFloat  ? SlotType::kFloat
          : s->k == Type::kString ? SlotType::kString
                                  : SlotType::kDuration;
    return s;
  }
  if ((t.name == "list" || t.name == "set") && t.args.size() == 1 && t.args[0].args.empty()) {
    TypePtr e = scalar(t.args[0].name);
    if (e && e->k == Type::kString) {
      *st = t.name == "list" ? SlotType::kListString : SlotType::kSetString;
    } else if (e && e->k == Type::kInt) {
      *st = t.name == "list" ? SlotType::kListInt : SlotType::kSetInt;
    } else if (e && e->k == Type::kFloat && t.name == "list") {
      *st = SlotType::kListFloat;
    } else {
      return fail(t.name + "<" + t.args[0].name + "> is not a supported attribute type (" + t.name +
                  " of string or int" + (t.name == "list" ? " or float" : "") + ")");
    }
    return t.name == "list" ? Type::ListOf(e) : Type::SetOf(e);
  }
  if (t.name == "map" && t.args.size() == 2 && t.args[0].name == "string" && t.args[1].args.empty()) {
    TypePtr v = scalar(t.args[1].name);
    if (!v || v->k == Type::kDuration) return fail("map values must be string, int, float or bool");
    *st = v->k == Type::kString  ? SlotType::kMapString
          : v->k == Type::kInt   ? SlotType::kMapInt
          : v->k == Type::kFloat ? SlotType::kMapFloat
                                 : SlotType::kMapBool;
    return Type::MapOf(v);
  }
  return fail("unsupported attribute type (use bool, int, float, string, duration, list<T>, set<T> or map<string, T>)");
}

void Checker::CheckSchema(Decl& d) {
  if (d.name != "principal" && d.name != "context") {
    diags_->Error("E0202", d.name_range, "a schema describes 'principal' or 'context', not '" + d.name + "'");
    return;
  }
  const Root root = d.name == "principal" ? Root::kPrincipal : Root::kContext;
  for (SchemaField& f : d.fields) {
    const std::string path = d.name + "." + f.name;
    if (scope_.slot_index.count(path)) {
      diags_->Error("E0203", f.range, "attribute '" + path + "' declared twice");
      continue;
    }
    SlotType st = SlotType::kString;
    TypePtr type = SchemaType(f.type, &st);
    if (!type) continue;
    SlotInfo s;
    s.name = path;
    s.root = root;
    s.type = st;
    ConstVal def;
    if (f.default_value) {
      TypePtr dt = Check(*f.default_value, Phase::kRequest);
      if (dt->k != Type::kError) {
        if (type->k == Type::kMap && dt->k == Type::kSet && dt->elem->k == Type::kAny) {
          def.kind = Kind::kMap;  // `{}` is also the empty map
        } else if (!f.default_value->value) {
          diags_->Error("E0302", f.default_value->range, "a default must be a constant");
        } else if (!SameType(type, dt) && !(type->k == Type::kFloat && dt->k == Type::kInt) &&
                   !(type->k == Type::kSet && dt->k == Type::kSet && SameType(type->elem, dt->elem))) {
          diags_->Error("E0303", f.default_value->range,
                        "default of type " + TypeName(dt) + " for attribute of type " + TypeName(type));
        } else {
          def = *f.default_value->value;
          if (type->k == Type::kFloat && def.kind == Kind::kInt) def = ConstVal::Float(static_cast<double>(def.i));
        }
      }
    }
    scope_.slot_index[path] = static_cast<uint32_t>(scope_.slots.size());
    scope_.slots.push_back(s);
    scope_.slot_types.push_back(type);
    scope_.slot_defaults.push_back(def);
  }
}

// A regex the screening engine cannot run is an error at the construct; one
// that Hyperscan refuses (empty match, too large) an error at the pattern.
bool Checker::CheckScreenPattern(const Pattern& p, SourceRange where) {
  if (p.regex) {
    RegexProblem problem;
    if (FindUnsupportedRegex(p.source, &problem)) {
      const uint32_t at = where.begin + 1 + static_cast<uint32_t>(problem.offset);
      diags_->Error("E0215", {at, at + 1}, problem.reason);
      return false;
    }
  }
  const std::string why = CheckPatternCompiles(p.source, p.regex, p.caseless, p.validator != 0);
  if (!why.empty()) {
    diags_->Error("E0215", where, "this pattern cannot be screened: " + why);
    return false;
  }
  return true;
}

void Checker::DeclarePatterns(Decl& d, const std::string& prefix) {
  const std::string name = prefix + d.name;
  if (scope_.patterns.count(name) || scope_.consts.count(name)) {
    diags_->Error("E0203", d.name_range, "'" + name + "' declared twice");
    return;
  }
  // Flags: `caseless`, or a validator that candidates must pass.
  const std::vector<std::string> known = {"caseless", "luhn", "ssn", "iban", "entropy"};
  auto apply = [&](const std::string& f, SourceRange where, bool* caseless, uint8_t* validator) {
    Validator v;
    if (f == "caseless") {
      *caseless = true;
    } else if (ValidatorByName(f, &v)) {
      *validator = static_cast<uint8_t>(v);
    } else {
      const std::string best = Closest(f, known);
      diags_->Error("E0204", where,
                    "unknown pattern flag '" + f + "' (flags: caseless, luhn, ssn, iban, entropy)" +
                        (best.empty() ? "" : "; did you mean '" + best + "'?"));
    }
  };
  bool set_caseless = false;
  uint8_t set_validator = 0;
  for (const std::string& f : d.flags) apply(f, d.name_range, &set_caseless, &set_validator);
  PatternSet ps;
  ps.name = name;
  int rejected = 0;
  for (PatternItem& it : d.items) {
    Pattern p;
    p.source = it.text;
    p.regex = it.regex;
    p.caseless = set_caseless;
    p.validator = set_validator;
    p.kind = name;
    for (const std::string& f : it.flags) apply(f, it.range, &p.caseless, &p.validator);
    if (p.source.empty()) {
      diags_->Error("E0205", it.range, "a pattern must not be empty (it would match everywhere)");
      continue;
    }
    bool duplicate = false;
    for (const Pattern& q : ps.patterns)
      duplicate |= q.source == p.source && q.regex == p.regex && q.caseless == p.caseless && q.validator == p.validator;
    if (duplicate) {
      diags_->Warning("W0106", it.range, "pattern listed twice in '" + name + "'");
      continue;
    }
    if (!CheckScreenPattern(p, it.range)) {
      ++rejected;
      continue;
    }
    ps.patterns.push_back(std::move(p));
  }
  if (ps.patterns.empty() && rejected) {
    // Its patterns were reported; keep the name so rules that use it do not
    // report it again as unknown.
    scope_.patterns[name] = static_cast<uint32_t>(scope_.pattern_sets.size());
    scope_.pattern_sets.push_back(std::move(ps));
    return;
  }
  if (ps.patterns.empty()) {
    diags_->Error("E0205", d.name_range, "pattern set '" + name + "' has no patterns");
    return;
  }
  scope_.patterns[name] = static_cast<uint32_t>(scope_.pattern_sets.size());
  scope_.pattern_sets.push_back(std::move(ps));
}

void Checker::Import(Decl& d) {
  if (std::find(scope_.modules.begin(), scope_.modules.end(), d.name) != scope_.modules.end()) {
    diags_->Error("E0203", d.name_range, "module '" + d.name + "' imported twice");
    return;
  }
  std::string rel = d.name;
  std::replace(rel.begin(), rel.end(), '.', '/');
  const std::string path = stdlib_dir_ + "/" + rel + ".policy";
  std::ifstream in(path, std::ios::binary);
  if (stdlib_dir_.empty() || !in) {
    diags_->Error("E0206", d.name_range,
                  "unknown module '" + d.name + "' (no " + rel + ".policy in the standard library)");
    return;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  Source src(path, ss.str());
  Diagnostics mdiags;
  auto mast = std::make_unique<PolicyAst>();
  if (!ParsePolicy(src, limits_.max_nesting, mast.get(), &mdiags)) {
    diags_->Error("E0207", d.name_range, "module '" + d.name + "' does not parse:\n" + mdiags.Render(src));
    return;
  }
  for (Decl& md : mast->decls) {
    if (md.kind == DeclKind::kPattern || md.kind == DeclKind::kPatterns) {
      DeclarePatterns(md, d.name + ".");
    } else if (md.kind != DeclKind::kPackage) {
      diags_->Error("E0207", d.name_range, "module '" + d.name + "' may declare only patterns");
    }
  }
  // An `any` set of a module: every pattern of the module.
  PatternSet any;
  any.name = d.name + ".any";
  if (!scope_.patterns.count(any.name)) {
    for (auto& [n, idx] : scope_.patterns)
      if (n.rfind(d.name + ".", 0) == 0)
        for (const Pattern& p : scope_.pattern_sets[idx].patterns) {
          bool seen = false;
          for (const Pattern& q : any.patterns)
            seen |=
                q.source == p.source && q.regex == p.regex && q.caseless == p.caseless && q.validator == p.validator;
          if (!seen) any.patterns.push_back(p);
        }
    if (!any.patterns.empty()) {
      scope_.patterns[any.name] = static_cast<uint32_t>(scope_.pattern_sets.size());
      scope_.pattern_sets.push_back(std::move(any));
    }
  }
  scope_.modules.push_back(d.name);
  module_asts_.push_back(std::move(mast));
}

void Checker::CollectDecls() {
  bool have_package = false, have_version = false, have_default = false, have_on_error = false;
  std::set<std::string> rule_names;
  for (Decl& d : ast_->decls) {
    switch (d.kind) {
      case DeclKind::kPackage:
        if (have_package) diags_->Error("E0208", d.range, "package declared twice");
        have_package = true;
        scope_.package = d.name;
        break;
      case DeclKind::kVersion:
        if (have_version) diags_->Error("E0208", d.range, "version declared twice");
        have_version = true;
        scope_.version = d.value;
        break;
      case DeclKind::kDefault:
        if (have_default) diags_->Error("E0208", d.range, "default declared twice");
        have_default = true;
        scope_.default_deny = d.value == "deny";
        break;
      case DeclKind::kOnError:
        if (have_on_error) diags_->Error("E0208", d.range, "on_error declared twice");
        have_on_error = true;
        scope_.on_error_deny = d.value == "deny";
        break;
      case DeclKind::kImport:
        Import(d);
        break;
      case DeclKind::kSchema:
        break;
      case DeclKind::kConst:
        if (scope_.consts.count(d.name) || scope_.patterns.count(d.name) || IsRoot(d.name)) {
          diags_->Error("E0203", d.name_range, "'" + d.name + "' declared twice");
        } else {
          scope_.consts[d.name].decl = &d;
        }
        break;
      case DeclKind::kPattern:
      case DeclKind::kPatterns:
        if (IsRoot(d.name))
          diags_->Error("E0203", d.name_range, "'" + d.name + "' is a built-in name");
        else
          DeclarePatterns(d, "");
        break;
      case DeclKind::kRule:
      case DeclKind::kLimit:
      case DeclKind::kBudget:
        if (!rule_names.insert(d.name).second) diags_->Error("E0203", d.name_range, "'" + d.name + "' declared twice");
        break;
    }
  }
  if (!have_package) diags_->Error("E0209", {0, 0}, "missing 'package' declaration");
}

bool Checker::Run() {
  DeclareBuiltins();
  CollectDecls();
  // Schemas before everything that may read attributes.
  std::set<std::string> schemas;
  for (Decl& d : ast_->decls)
    if (d.kind == DeclKind::kSchema) {
      if (!schemas.insert(d.name).second)
        diags_->Error("E0203", d.name_range, "schema '" + d.name + "' declared twice");
      else
        CheckSchema(d);
    }
  for (auto& [name, c] : scope_.consts) CheckConst(c);
  bool warned_usage = false;
  for (Decl& d : ast_->decls) {
    if (d.kind == DeclKind::kRule) CheckRule(d);
    if (d.kind == DeclKind::kLimit) CheckLimit(d);
    if (d.kind == DeclKind::kBudget) CheckBudget(d);
    if ((d.kind == DeclKind::kLimit || d.kind == DeclKind::kBudget) && !warned_usage) {
      warned_usage = true;
      diags_->Warning("W0104", d.name_range,
                      "limits and budgets are checked but not enforced until the usage ledger is built");
    }
  }
  return !diags_->has_errors();
}

void Checker::CheckConst(Scope::ConstInfo& c) {
  if (c.state == 2) return;
  if (c.state == 1) {
    diags_->Error("E0210", c.decl->name_range, "constant '" + c.decl->name + "' refers to itself");
    c.type = T(Type::kError);
    c.state = 2;
    return;
  }
  c.state = 1;
  TypePtr t = Check(*c.decl->expr, Phase::kRequest);
  if (t->k != Type::kError && !c.decl->expr->value)
    diags_->Error("E0302", c.decl->expr->range,
                  "a constant must be computable at compile time (it may not read attributes)");
  if (t->k == Type::kPattern || t->k == Type::kRegex)
    diags_->Error("E0302", c.decl->expr->range, "a constant cannot hold a pattern; declare it with 'patterns'");
  c.type = t;
  c.value = c.decl->expr->value;
  c.state = 2;
}

TypePtr Checker::CheckExpr(Expr& e, Phase phase) { return Check(e, phase); }

bool Checker::AttributePath(const Expr& e, std::string* path) const {
  if (e.kind == ExprKind::kIdent) {
    *path = e.text;
    return true;
  }
  if (e.kind == ExprKind::kMember && !e.parens) {
    std::string base;
    if (!AttributePath(*e.kids[0], &base)) return false;
    *path = base + "." + e.text;
    return true;
  }
  return false;
}

TypePtr Checker::Check(Expr& e, Phase phase) {
  // The parser bounds each expression; constants that refer to constants
  // nest their checks too, so the bound is kept across them here.
  if (++depth_ > ExprDepthLimit(limits_.max_nesting)) {
    --depth_;
    return e.type = Error(e, "E0006",
                          "expression nested deeper than " + std::to_string(ExprDepthLimit(limits_.max_nesting)) +
                              " levels, counting the constants it refers to");
  }
  TypePtr t;
  switch (e.kind) {
    case ExprKind::kInt:
      t = T(Type::kInt);
      e.value = std::make_shared<ConstVal>(ConstVal::Int(e.ival));
      break;
    case ExprKind::kFloat:
      t = T(Type::kFloat);
      e.value = std::make_shared<ConstVal>(ConstVal::Float(e.fval));
      break;
    case ExprKind::kString:
      // Outside messages `${...}` is literal text; CheckMessage splits messages.
      t = T(Type::kString);
      e.value = std::make_shared<ConstVal>(ConstVal::Str(e.text));
      break;
    case ExprKind::kDuration:
      t = T(Type::kDuration);
      e.value = std::make_shared<ConstVal>(ConstVal::Duration(e.ival));
      break;
    case ExprKind::kBool:
      t = T(Type::kBool);
      e.value = std::make_shared<ConstVal>(ConstVal::Bool(e.bval));
      break;
    case ExprKind::kRegex: {
      t = T(Type::kRegex);
      const std::string name = "/" + e.text + "/";
      auto it = scope_.patterns.find(name);
      if (it == scope_.patterns.end()) {
        Pattern pat;
        pat.source = e.text;
        pat.regex = true;
        pat.kind = name;
        if (pat.source.empty()) {
          diags_->Error("E0205", e.range, "a pattern must not be empty (it would match everywhere)");
          break;
        }
        if (!CheckScreenPattern(pat, e.range)) break;
        PatternSet ps;
        ps.name = name;
        ps.patterns.push_back(std::move(pat));
        it = scope_.patterns.emplace(name, static_cast<uint32_t>(scope_.pattern_sets.size())).first;
        scope_.pattern_sets.push_back(std::move(ps));
      }
      e.index = static_cast<int32_t>(it->second);
      break;
    }
    case ExprKind::kIdent: {
      for (auto v = vars_.rbegin(); v != vars_.rend(); ++v)
        if (v->name == e.text) {
          t = v->type;
          break;
        }
      if (t) break;
      if (auto c = scope_.consts.find(e.text); c != scope_.consts.end()) {
        CheckConst(c->second);
        t = c->second.type;
        e.value = c->second.value;
        break;
      }
      if (auto p = scope_.patterns.find(e.text); p != scope_.patterns.end()) {
        t = T(Type::kPattern);
        e.index = static_cast<int32_t>(p->second);
        break;
      }
      if (IsRoot(e.text)) {
        t = Error(e, "E0211", "'" + e.text + "' is not a value; use one of its attributes, e.g. " + e.text + ".<name>");
        break;
      }
      std::vector<std::string> cands(std::begin(kRoots), std::end(kRoots));
      for (auto& [n, c] : scope_.consts) cands.push_back(n);
      for (auto& [n, p] : scope_.patterns) cands.push_back(n);
      for (auto& v : vars_) cands.push_back(v.name);
      UnknownName(e, e.text, cands, "name");
      t = T(Type::kError);
      break;
    }
    case ExprKind::kMember:
      t = CheckMember(e, phase);
      break;
    case ExprKind::kIndex: {
      TypePtr c = Check(*e.kids[0], phase), k = Check(*e.kids[1], phase);
      if (c->k == Type::kError || k->k == Type::kError) {
        t = T(Type::kError);
        break;
      }
      if (c->k == Type::kList) {
        if (k->k != Type::kInt)
          t = Error(*e.kids[1], "E0304", "a list index must be an int, not " + TypeName(k));
        else
          t = c->elem;
      } else if (c->k == Type::kMap) {
        if (k->k != Type::kString)
          t = Error(*e.kids[1], "E0304", "a map key must be a string, not " + TypeName(k));
        else
          t = c->elem;
      } else {
        t = Error(e, "E0304", "cannot index a value of type " + TypeName(c));
      }
      break;
    }
    case ExprKind::kNeg: {
      TypePtr x = Check(*e.kids[0], phase);
      if (x->k != Type::kError && !x->numeric() && x->k != Type::kDuration)
        t = Error(e, "E0305", "cannot negate a value of type " + TypeName(x));
      else
        t = x;
      break;
    }
    case ExprKind::kNot: {
      TypePtr x = Check(*e.kids[0], phase);
      if (x->k != Type::kError && x->k != Type::kBool)
        t = Error(e, "E0305", "'not' needs a bool, not " + TypeName(x));
      else
        t = T(Type::kBool);
      break;
    }
    case ExprKind::kBinary:
      t = CheckBinary(e, phase);
      break;
    case ExprKind::kCall:
      t = CheckCall(e, phase);
      break;
    case ExprKind::kSet:
    case ExprKind::kList: {
      TypePtr el = T(Type::kAny);
      bool ok = true;
      for (auto& k : e.kids) {
        TypePtr kt = Check(*k, phase);
        if (kt->k == Type::kError) {
          ok = false;
          continue;
        }
        if (kt->k == Type::kPattern || kt->k == Type::kRegex) {
          Error(*k, "E0306", "patterns cannot be collection items");
          ok = false;
          continue;
        }
        TypePtr u = Unify(el, kt);
        if (!u) {
          Error(*k, "E0306", "item of type " + TypeName(kt) + " in a collection of " + TypeName(el));
          ok = false;
          continue;
        }
        if (e.kind == ExprKind::kSet &&
            (kt->k == Type::kList || kt->k == Type::kSet || kt->k == Type::kMap || kt->k == Type::kRecord)) {
          Error(*k, "E0306", "set items must be scalars");
          ok = false;
          continue;
        }
        if (!k->value) {
          Error(*k, "E0302", "collection literals must be constant");
          ok = false;
          continue;
        }
        el = u;
      }
      t = !ok ? T(Type::kError) : e.kind == ExprKind::kSet ? Type::SetOf(el) : Type::ListOf(el);
      break;
    }
    case ExprKind::kMap: {
      bool quoted = !e.key_quoted.empty() && e.key_quoted[0];
      bool ok = true;
      std::set<std::string> seen;
      for (size_t i = 0; i < e.kids.size(); ++i) {
        if (e.key_quoted[i] != quoted) {
          Error(*e.kids[i], "E0307", "mix of quoted map keys and unquoted record fields");
          ok = false;
        }
        if (!seen.insert(e.keys[i]).second) {
          Error(*e.kids[i], "E0307", "key '" + e.keys[i] + "' given twice");
          ok = false;
        }
      }
      std::vector<TypePtr> kt;
      for (auto& k : e.kids) {
        kt.push_back(Check(*k, phase));
        if (kt.back()->k == Type::kError)
          ok = false;
        else if (!k->value) {
          Error(*k, "E0302", "map literals must be constant");
          ok = false;
        }
      }
      if (!ok) {
        t = T(Type::kError);
        break;
      }
      if (quoted) {
        TypePtr v = T(Type::kAny);
        for (size_t i = 0; i < kt.size(); ++i) {
          TypePtr u = Unify(v, kt[i]);
          if (!u) {
            Error(*e.kids[i], "E0306", "value of type " + TypeName(kt[i]) + " in a map of " + TypeName(v));
            ok = false;
            break;
          }
          v = u;
        }
        t = ok ? Type::MapOf(v) : T(Type::kError);
      } else {
        // A record: fields in name order, so that records of the same shape
        // have the same layout wherever they are written.
        std::vector<size_t> order(e.kids.size());
        for (size_t i = 0; i < order.size(); ++i) order[i] = i;
        std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return e.keys[a] < e.keys[b]; });
        std::vector<std::pair<std::string, TypePtr>> fields;
        for (size_t i : order) fields.emplace_back(e.keys[i], kt[i]);
        t = Type::Record("", std::move(fields));
      }
      break;
    }
    case ExprKind::kQuant: {
      TypePtr l = Check(*e.kids[0], phase);
      TypePtr el = T(Type::kError);
      if (l->k != Type::kError) {
        if (l->collection())
          el = l->elem;
        else
          Error(*e.kids[0], "E0308", "'" + e.op + "' iterates over a list or set, not " + TypeName(l));
      }
      vars_.push_back({e.text, el});
      TypePtr b = Check(*e.kids[1], phase);
      vars_.pop_back();
      if (b->k != Type::kError && b->k != Type::kBool)
        Error(*e.kids[1], "E0305", "the condition of '" + e.op + "' must be a bool, not " + TypeName(b));
      t = T(Type::kBool);
      break;
    }
  }
  if (!t) t = T(Type::kError);
  e.type = t;
  if (t->k != Type::kError && !e.value) Fold(e);
  --depth_;
  return t;
}

TypePtr Checker::CheckMember(Expr& e, Phase phase) {
  std::string path;
  if (AttributePath(e, &path)) {
    const std::string root = path.substr(0, path.find('.'));
    bool shadowed = false;
    for (auto& v : vars_) shadowed |= v.name == root;
    if (!shadowed && IsRoot(root)) {
      auto it = scope_.slot_index.find(path);
      if (it != scope_.slot_index.end()) {
        if (root == "response" && phase != Phase::kResponse)
          return Error(e, "E0213", "'" + path + "' is only available in rules declared 'on response'");
        e.slot = static_cast<int32_t>(it->second);
        return scope_.slot_types[it->second];
      }
      // A deeper path (response.usage.input_tokens) resolves through its base.
      const std::string base = path.substr(0, path.rfind('.'));
      if (!scope_.slot_index.count(base) || e.kids[0]->kind == ExprKind::kIdent) {
        std::vector<std::string> cands;
        for (auto& [n, i] : scope_.slot_index)
          if (n.rfind(root + ".", 0) == 0) cands.push_back(n.substr(root.size() + 1));
        if ((root == "principal" || root == "context") && cands.empty()) {
          diags_->Error("E0201", e.range, "unknown attribute '" + path + "' (no 'schema " + root + "' declares it)");
          return T(Type::kError);
        }
        UnknownName(e, path, cands, "attribute");
        return T(Type::kError);
      }
    }
    if (!shadowed && scope_.patterns.count(path)) {
      e.index = static_cast<int32_t>(scope_.patterns[path]);
      return T(Type::kPattern);
    }
    if (!shadowed && std::find(scope_.modules.begin(), scope_.modules.end(), path.substr(0, path.rfind('.'))) !=
                         scope_.modules.end()) {
      std::vector<std::string> cands;
      const std::string mod = path.substr(0, path.rfind('.'));
      for (auto& [n, i] : scope_.patterns)
        if (n.rfind(mod + ".", 0) == 0) cands.push_back(n.substr(mod.size() + 1));
      UnknownName(e, path, cands, "pattern");
      return T(Type::kError);
    }
  }
  TypePtr b = Check(*e.kids[0], phase);
  if (b->k == Type::kError) return b;
  if (b->k != Type::kRecord)
    return Error(e, "E0309", "a value of type " + TypeName(b) + " has no attribute '" + e.text + "'");
  int idx = b->FieldIndex(e.text);
  if (idx < 0) {
    std::vector<std::string> cands;
    for (auto& f : b->fields) cands.push_back(f.first);
    UnknownName(e, e.text, cands, "field of " + TypeName(b) + ":");
    return T(Type::kError);
  }
  e.index = idx;
  return b->fields[idx].second;
}

TypePtr Checker::CheckBinary(Expr& e, Phase phase) {
  TypePtr a = Check(*e.kids[0], phase), b = Check(*e.kids[1], phase);
  if (a->k == Type::kError || b->k == Type::kError) return T(Type::kError);
  const std::string& op = e.op;
  const bool negated = op.rfind("not ", 0) == 0;
  const std::string base = negated ? op.substr(4) : op;
  auto mismatch = [&](const std::string& what) {
    return Error(
        e, "E0310",
        "cannot apply '" + op + "' to " + TypeName(a) + " and " + TypeName(b) + (what.empty() ? "" : ": " + what));
  };
  if (base == "contains" && b->k == Type::kPattern) {
    if (a->k != Type::kString) return mismatch("patterns are searched in strings");
    e.index = e.kids[1]->index;
    return T(Type::kBool);
  }
  if (base == "matches") {
    if (a->k != Type::kString || b->k != Type::kRegex) return mismatch("use text matches /regex/");
    e.index = e.kids[1]->index;
    return T(Type::kBool);
  }
  if (a->k == Type::kPattern || b->k == Type::kPattern)
    return Error(e, "E0311", "a pattern set can only be used as 'text contains set' or in count(set in text)");
  if (a->k == Type::kRegex || b->k == Type::kRegex)
    return Error(e, "E0311", "a regex literal can only be used as 'text matches /regex/'");
  if (op == "and" || op == "or") {
    if (a->k != Type::kBool || b->k != Type::kBool) return mismatch("both sides must be bool");
    return T(Type::kBool);
  }
  if (op == "+" || op == "-" || op == "*" || op == "/" || op == "%") {
    if (a->numeric() && b->numeric()) {
      if (op == "%" && (a->k != Type::kInt || b->k != Type::kInt)) return mismatch("'%' needs ints");
      return a->k == Type::kFloat || b->k == Type::kFloat ? T(Type::kFloat) : T(Type::kInt);
    }
    if (a->k == Type::kDuration && b->k == Type::kDuration && (op == "+" || op == "-")) return a;
    if (a->k == Type::kString && b->k == Type::kString && op == "+") return a;
    return mismatch("");
  }
  if (op == "<" || op == "<=" || op == ">" || op == ">=") {
    if ((a->numeric() && b->numeric()) || (a->k == b->k && (a->k == Type::kString || a->k == Type::kDuration)))
      return T(Type::kBool);
    return mismatch("");
  }
  if (op == "==" || op == "!=") {
    if ((a->numeric() && b->numeric()) ||
        (a->k == b->k && (a->k == Type::kString || a->k == Type::kDuration || a->k == Type::kBool)))
      return T(Type::kBool);
    return mismatch(a->k == b->k ? "only scalars can be compared" : "the types differ");
  }
  if (base == "in") {
    if (b->collection()) {
      if (b->elem->k == Type::kAny || (a->numeric() && b->elem->numeric()) ||
          (SameType(a, b->elem) && a->k != Type::kList && a->k != Type::kSet && a->k != Type::kMap &&
           a->k != Type::kRecord))
        return T(Type::kBool);
      return mismatch("the item type differs from the collection's");
    }
    if (b->k == Type::kMap) {
      if (a->k != Type::kString) return mismatch("map keys are strings");
      return T(Type::kBool);
    }
    if (b->k == Type::kString) {
      if (a->k != Type::kString) return mismatch("substring test needs two strings");
      return T(Type::kBool);
    }
    return mismatch("the right side must be a set, list, map or string");
  }
  if (base == "contains") {
    if (a->k == Type::kString) {
      if (b->k != Type::kString) return mismatch("a string contains a string or a pattern set");
      return T(Type::kBool);
    }
    if (a->collection()) {
      if (a->elem->k == Type::kAny || (b->numeric() && a->elem->numeric()) || SameType(a->elem, b))
        return T(Type::kBool);
      return mismatch("the item type differs from the collection's");
    }
    if (a->k == Type::kMap) {
      if (b->k != Type::kString) return mismatch("map keys are strings");
      return T(Type::kBool);
    }
    return mismatch("");
  }
  if (base == "startswith" || base == "endswith") {
    if (a->k != Type::kString || b->k != Type::kString) return mismatch("both sides must be strings");
    return T(Type::kBool);
  }
  return Error(e, "E0310", "unknown operator '" + op + "'");
}

TypePtr Checker::CheckCall(Expr& e, Phase phase) {
  const std::string& f = e.text;
  auto arity = [&](size_t n) {
    if (e.kids.size() != n) {
      Error(e, "E0312",
            f + "() takes " + std::to_string(n) + " argument" + (n == 1 ? "" : "s") + ", got " +
                std::to_string(e.kids.size()));
      return false;
    }
    return true;
  };
  if (f == "has") {
    if (!arity(1)) return T(Type::kError);
    Expr& a = *e.kids[0];
    if (a.kind != ExprKind::kMember)
      return Error(a, "E0313", "has() takes an attribute, such as has(request.max_tokens)");
    TypePtr t = Check(a, phase);
    if (t->k == Type::kError) return t;
    if (a.slot < 0 && a.index < 0)
      return Error(a, "E0313", "has() takes an attribute, such as has(request.max_tokens)");
    return T(Type::kBool);
  }
  if (f == "count") {
    if (!arity(1)) return T(Type::kError);
    Expr& a = *e.kids[0];
    if (a.kind != ExprKind::kBinary || a.op != "in")
      return Error(a, "E0314", "count() takes 'patterns in text', such as count(std.pii.any in request.text)");
    TypePtr s = Check(*a.kids[0], phase), t = Check(*a.kids[1], phase);
    if (s->k == Type::kError || t->k == Type::kError) return T(Type::kError);
    if (s->k != Type::kPattern)
      return Error(*a.kids[0], "E0314", "count() counts the patterns of a pattern set, not " + TypeName(s));
    if (t->k != Type::kString) return Error(*a.kids[1], "E0314", "count() searches a string, not " + TypeName(t));
    a.type = T(Type::kInt);
    e.index = a.kids[0]->index;
    return T(Type::kInt);
  }
  std::vector<TypePtr> args;
  for (auto& k : e.kids) args.push_back(Check(*k, phase));
  for (auto& t : args)
    if (t->k == Type::kError) return t;
  if (f == "len") {
    if (!arity(1)) return T(Type::kError);
    if (args[0]->k != Type::kString && !args[0]->collection() && args[0]->k != Type::kMap)
      return Error(e, "E0315", "len() of a string, list, set or map, not " + TypeName(args[0]));
    return T(Type::kInt);
  }
  if (f == "lower" || f == "upper") {
    if (!arity(1)) return T(Type::kError);
    if (args[0]->k != Type::kString) return Error(e, "E0315", f + "() of a string, not " + TypeName(args[0]));
    return T(Type::kString);
  }
  if (f == "tokens") {
    if (!arity(1)) return T(Type::kError);
    if (args[0]->k != Type::kString) return Error(e, "E0315", "tokens() of a string, not " + TypeName(args[0]));
    return T(Type::kInt);
  }
  if (f == "cost") {
    if (!arity(3)) return T(Type::kError);
    if (args[0]->k != Type::kString || !args[1]->numeric() || !args[2]->numeric())
      return Error(e, "E0315", "cost(model, input_tokens, output_tokens) takes a string and two numbers");
    auto it = scope_.consts.find("prices");
    if (it == scope_.consts.end())
      return Error(e, "E0316", "cost() reads the price table from a constant named 'prices'; none is declared");
    CheckConst(it->second);
    TypePtr pt = it->second.type;
    if (!pt || pt->k != Type::kMap || !pt->elem || pt->elem->k != Type::kRecord || pt->elem->fields.size() != 2 ||
        pt->elem->fields[0].first != "input" || pt->elem->fields[1].first != "output" ||
        !pt->elem->fields[0].second->numeric() || !pt->elem->fields[1].second->numeric())
      return Error(e, "E0316",
                   "'prices' must map model names to {input: number, output: number} (USD per million tokens)");
    return T(Type::kFloat);
  }
  std::string best = Closest(f, {"has", "len", "lower", "upper", "tokens", "cost", "count"});
  return Error(e, "E0201", "unknown function '" + f + "'" + (best.empty() ? "" : " (did you mean '" + best + "'?)"));
}

void Checker::Fold(Expr& e) {
  auto set = [&](ConstVal v) { e.value = std::make_shared<ConstVal>(std::move(v)); };
  auto kv = [&](size_t i) -> const ConstVal* { return i < e.kids.size() ? e.kids[i]->value.get() : nullptr; };
  switch (e.kind) {
    case ExprKind::kSet:
    case ExprKind::kList: {
      ConstVal v;
      v.kind = Kind::kList;
      v.is_set = e.kind == ExprKind::kSet;
      const bool to_float = e.type->elem && e.type->elem->k == Type::kFloat;
      for (auto& k : e.kids) {
        if (!k->value) return;
        ConstVal item = *k->value;
        if (to_float && item.kind == Kind::kInt) item = ConstVal::Float(static_cast<double>(item.i));
        v.items.push_back(std::move(item));
      }
      if (v.is_set) {
        // Sets are sorted and deduplicated, so the runtime can binary-search them.
        std::sort(v.items.begin(), v.items.end(), [](const ConstVal& a, const ConstVal& b) { return Cmp(a, b) < 0; });
        v.items.erase(std::unique(v.items.begin(), v.items.end(),
                                  [](const ConstVal& a, const ConstVal& b) { return Cmp(a, b) == 0; }),
                      v.items.end());
      }
      set(std::move(v));
      return;
    }
    case ExprKind::kMap: {
      ConstVal v;
      const bool record = e.type->k == Type::kRecord;
      v.kind = record ? Kind::kRecord : Kind::kMap;
      if (record) {
        for (auto& f : e.type->fields)
          for (size_t i = 0; i < e.keys.size(); ++i)
            if (e.keys[i] == f.first) {
              ConstVal item = *e.kids[i]->value;
              if (f.second->k == Type::kFloat && item.kind == Kind::kInt)
                item = ConstVal::Float(static_cast<double>(item.i));
              v.items.push_back(item);
            }
      } else {
        for (size_t i = 0; i < e.keys.size(); ++i) {
          v.items.push_back(ConstVal::Str(e.keys[i]));
          ConstVal item = *e.kids[i]->value;
          if (e.type->elem->k == Type::kFloat && item.kind == Kind::kInt)
            item = ConstVal::Float(static_cast<double>(item.i));
          if (e.type->elem->k == Type::kRecord && item.kind == Kind::kRecord)
            for (size_t f = 0; f < item.items.size() && f < e.type->elem->fields.size(); ++f)
              if (e.type->elem->fields[f].second->k == Type::kFloat && item.items[f].kind == Kind::kInt)
                item.items[f] = ConstVal::Float(static_cast<double>(item.items[f].i));
          v.items.push_back(std::move(item));
        }
      }
      set(std::move(v));
      return;
    }
    case ExprKind::kNeg: {
      const ConstVal* x = kv(0);
      if (!x) return;
      if (x->kind == Kind::kFloat)
        set(ConstVal::Float(-x->f));
      else if (x->i != INT64_MIN) {
        ConstVal v = *x;
        v.i = -x->i;
        set(v);
      }
      return;
    }
    case ExprKind::kNot:
      if (kv(0)) set(ConstVal::Bool(!kv(0)->b));
      return;
    case ExprKind::kMember:
      if (e.slot < 0 && kv(0) && kv(0)->kind == Kind::kRecord && e.index >= 0 &&
          static_cast<size_t>(e.index) < kv(0)->items.size())
        set(kv(0)->items[e.index]);
      return;
    case ExprKind::kIndex: {
      const ConstVal *c = kv(0), *k = kv(1);
      if (!c || !k) return;
      if (c->kind == Kind::kList) {
        const int64_t i = k->i < 0 ? k->i + static_cast<int64_t>(c->items.size()) : k->i;  // -1: the last item
        if (i < 0 || static_cast<size_t>(i) >= c->items.size()) {
          Error(e, "E0317", "index " + std::to_string(k->i) + " is out of range");
          return;
        }
        set(c->items[i]);
      } else if (c->kind == Kind::kMap) {
        for (size_t i = 0; i < c->items.size(); i += 2)
          if (c->items[i].s == k->s) {
            set(c->items[i + 1]);
            return;
          }
        Error(e, "E0317", "key \"" + k->s + "\" is not in the map");
      }
      return;
    }
    case ExprKind::kCall: {
      const ConstVal* x = kv(0);
      if (!x || e.text == "has" || e.text == "count" || e.text == "cost") return;
      if (e.text == "len")
        set(ConstVal::Int(static_cast<int64_t>(x->kind == Kind::kString ? x->s.size()
                                               : x->kind == Kind::kMap  ? x->items.size() / 2
                                                                        : x->items.size())));
      if (e.text == "tokens") set(ConstVal::Int(static_cast<int64_t>((x->s.size() + 3) / 4)));
      if (e.text == "lower" || e.text == "upper") {
        std::string s = x->s;
        for (char& c : s)
          c = e.text == "lower" ? static_cast<char>(std::tolower(static_cast<unsigned char>(c)))
                                : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        set(ConstVal::Str(s));
      }
      return;
    }
    case ExprKind::kBinary: {
      const ConstVal *a = kv(0), *b = kv(1);
      const std::string& op = e.op;
      // `false and x` / `true or x` decide without x.
      if (op == "and" && ((a && !a->b) || (b && !b->b))) {
        set(ConstVal::Bool(false));
        return;
      }
      if (op == "or" && ((a && a->b) || (b && b->b))) {
        set(ConstVal::Bool(true));
        return;
      }
      if (!a || !b || e.index >= 0) return;
      if (op == "and" || op == "or") {
        set(ConstVal::Bool(op == "and" ? a->b && b->b : a->b || b->b));
        return;
      }
      if (op == "+" && a->kind == Kind::kString) {
        set(ConstVal::Str(a->s + b->s));
        return;
      }
      if (op == "+" || op == "-" || op == "*" || op == "/" || op == "%") {
        if (e.type->k == Type::kFloat) {
          double x = AsF(*a), y = AsF(*b);
          if (op == "/" && y == 0) {
            Error(e, "E0317", "division by zero");
            return;
          }
          set(ConstVal::Float(op == "+" ? x + y : op == "-" ? x - y : op == "*" ? x * y : x / y));
        } else {
          int64_t r = 0;
          bool ovf = false;
          if (op == "+")
            ovf = __builtin_add_overflow(a->i, b->i, &r);
          else if (op == "-")
            ovf = __builtin_sub_overflow(a->i, b->i, &r);
          else if (op == "*")
            ovf = __builtin_mul_overflow(a->i, b->i, &r);
          else if (b->i == 0) {
            Error(e, "E0317", "division by zero");
            return;
          } else if (a->i == INT64_MIN && b->i == -1)
            ovf = op == "/";
          else
            r = op == "/" ? a->i / b->i : a->i % b->i;
          if (ovf) {
            Error(e, "E0317", "integer overflow");
            return;
          }
          ConstVal v = *a;
          v.i = r;
          set(v);
        }
        return;
      }
      const bool negated = op.rfind("not ", 0) == 0;
      const std::string base = negated ? op.substr(4) : op;
      bool r;
      if (op == "==")
        r = Cmp(*a, *b) == 0;
      else if (op == "!=")
        r = Cmp(*a, *b) != 0;
      else if (op == "<")
        r = Cmp(*a, *b) < 0;
      else if (op == "<=")
        r = Cmp(*a, *b) <= 0;
      else if (op == ">")
        r = Cmp(*a, *b) > 0;
      else if (op == ">=")
        r = Cmp(*a, *b) >= 0;
      else if (base == "in")
        r = Member(*a, *b);
      else if (base == "contains")
        r = Member(*b, *a);
      else if (base == "startswith")
        r = a->s.compare(0, b->s.size(), b->s) == 0 && a->s.size() >= b->s.size();
      else if (base == "endswith")
        r = a->s.size() >= b->s.size() && a->s.compare(a->s.size() - b->s.size(), b->s.size(), b->s) == 0;
      else
        return;
      set(ConstVal::Bool(negated ? !r : r));
      return;
    }
    default:
      return;
  }
}

void Checker::CheckMessage(Expr& e, Phase phase, const char* what) {
  if (e.kind != ExprKind::kString) {
    Error(e, "E0401", std::string(what) + " must be a string literal (use ${...} inside it for values)");
    return;
  }
  // Split the literal as written into text and ${expr} parts.
  const std::string body = e.raw.size() >= 2 ? e.raw.substr(1, e.raw.size() - 2) : "";
  e.keys.clear();
  e.kids.clear();
  std::string lit;
  size_t i = 0;
  while (i < body.size()) {
    if (body[i] == '\\' && i + 1 < body.size()) {
      lit += body.substr(i, 2);
      i += 2;
      continue;
    }
    if (body.compare(i, 2, "${") == 0) {
      size_t close = body.find('}', i + 2);
      if (close == std::string::npos) {
        diags_->Error("E0402",
                      {e.range.begin + 1 + static_cast<uint32_t>(i), e.range.begin + 3 + static_cast<uint32_t>(i)},
                      "unterminated ${ in message");
        return;
      }
      e.keys.push_back(Unescape(lit));
      lit.clear();
      const std::string inner = body.substr(i + 2, close - i - 2);
      const uint32_t base = e.range.begin + 1 + static_cast<uint32_t>(i + 2);
      ExprPtr x = ParseExpression(inner, base, limits_.max_nesting, diags_);
      if (!x) return;
      TypePtr t = Check(*x, phase);
      if (t->k == Type::kPattern || t->k == Type::kRegex) Error(*x, "E0402", "a pattern set has no value to show");
      e.kids.push_back(std::move(x));
      i = close + 1;
      continue;
    }
    lit += body[i++];
  }
  e.keys.push_back(Unescape(lit));
}

void Checker::CheckRule(Decl& d) {
  Phase phase = Phase::kRequest;
  if (!d.value.empty()) {
    if (d.value == "response")
      phase = Phase::kResponse;
    else if (d.value != "request")
      diags_->Error("E0214", d.window_range, "a rule runs 'on request' or 'on response', not 'on " + d.value + "'");
  }
  if (d.expr) {
    TypePtr t = Check(*d.expr, phase);
    if (t->k != Type::kError && t->k != Type::kBool)
      Error(*d.expr, "E0318", "the condition of a rule must be a bool, not " + TypeName(t));
  }
  EffectAst& ef = d.effect;
  switch (ef.kind) {
    case EffectKind::kDeny:
    case EffectKind::kAllow:
    case EffectKind::kFlag:
      if (ef.message) CheckMessage(*ef.message, phase, "a message");
      break;
    case EffectKind::kRoute: {
      if (!ef.message) break;
      TypePtr t = Check(*ef.message, phase);
      if (t->k != Type::kError && t->k != Type::kString)
        Error(*ef.message, "E0403", "route needs a model name (string), not " + TypeName(t));
      if (phase == Phase::kResponse)
        diags_->Error("E0403", ef.range, "route applies to requests; it cannot be used 'on response'");
      break;
    }
    case EffectKind::kRedact: {
      for (auto& [name, range] : ef.redact_sets) {
        if (auto it = scope_.patterns.find(name); it != scope_.patterns.end()) {
          // Redaction needs where each match starts, which some patterns
          // (long bounded repeats) cannot give.
          for (const Pattern& pat : scope_.pattern_sets[it->second].patterns) {
            if (pat.validator) continue;  // already compiled for spans
            const std::string why = CheckPatternCompiles(pat.source, pat.regex, pat.caseless, true);
            if (!why.empty()) {
              diags_->Error("E0215", range,
                            "cannot redact " + (pat.regex ? "/" + pat.source + "/" : "\"" + pat.source + "\"") +
                                " (from " + pat.kind + "): " + why);
              break;
            }
          }
        }
        if (!scope_.patterns.count(name)) {
          std::vector<std::string> cands;
          for (auto& [n, i] : scope_.patterns) cands.push_back(n);
          std::string best = Closest(name, cands);
          diags_->Error("E0201", range,
                        "unknown pattern set '" + name + "'" + (best.empty() ? "" : " (did you mean '" + best + "'?)"));
        }
      }
      if (ef.message) {
        TypePtr t = Check(*ef.message, phase);
        const int32_t slot = ef.message->slot;
        const bool text_field =
            slot == static_cast<int32_t>(kSlotRequestMessages) || slot == static_cast<int32_t>(kSlotRequestText) ||
            slot == static_cast<int32_t>(kSlotRequestUserText) ||
            slot == static_cast<int32_t>(kSlotRequestSystemText) ||
            slot == static_cast<int32_t>(kSlotRequestToolText) || slot == static_cast<int32_t>(kSlotResponseText);
        if (t->k != Type::kError && !text_field)
          Error(*ef.message, "E0404",
                "redact applies to the prompt or the answer: request.messages, request.text, request.user_text, "
                "request.system_text, request.tool_text or response.text");
        else if (text_field && (slot == static_cast<int32_t>(kSlotResponseText)) != (phase == Phase::kResponse))
          Error(*ef.message, "E0404",
                phase == Phase::kResponse ? "a rule 'on response' redacts response.text"
                                          : "response.text can be redacted only by a rule 'on response'");
      }
      if (ef.redact_with && ef.redact_with->kind != ExprKind::kString)
        Error(*ef.redact_with, "E0404", "the replacement must be a string literal");
      else if (ef.redact_with) {
        std::string s = ef.redact_with->text;
        for (size_t p = s.find("${"); p != std::string::npos; p = s.find("${", p + 1))
          if (s.compare(p, 7, "${kind}") != 0) Error(*ef.redact_with, "E0404", "a replacement may only use ${kind}");
      }
      break;
    }
  }
  if (ef.has_code && !ValidCode(ef.code))
    diags_->Error("E0405", ef.code_range, "a code is 1-64 lower-case letters, digits, '_', '.' or '-'");
  if (ef.has_status) {
    if (ef.kind != EffectKind::kDeny)
      diags_->Error("E0406", ef.status_range, "only deny takes a status");
    else if (ef.status < 400 || ef.status > 599)
      diags_->Error("E0406", ef.status_range, "a deny status is 400-599");
  }
}

void Checker::CheckLimit(Decl& d) {
  for (auto& p : d.per) {
    TypePtr t = Check(*p, Phase::kRequest);
    if (t->k != Type::kError && t->k != Type::kString && t->k != Type::kInt)
      Error(*p, "E0407", "a limit is kept per string or int key, not " + TypeName(t));
  }
  if (d.when) {
    TypePtr t = Check(*d.when, Phase::kRequest);
    if (t->k != Type::kError && t->k != Type::kBool) Error(*d.when, "E0407", "a limit's 'when' must be a bool");
  }
  if (d.amount <= 0) diags_->Error("E0407", d.range, "a limit must allow at least 1");
  if (d.unit != "requests" && d.unit != "tokens")
    diags_->Error("E0407", d.unit_range, "a limit counts 'requests' or 'tokens', not '" + d.unit + "'");
  static const char* const kWindows[] = {"minute", "hour", "day", "month"};
  bool ok = false;
  for (const char* w : kWindows) ok |= d.window == w;
  if (!ok && !d.window.empty() && std::isdigit(static_cast<unsigned char>(d.window[0]))) {
    ok = d.window.back() != 's' || d.window.size() < 3 || d.window.substr(d.window.size() - 2) != "ms";
    if (d.window == "0s" || d.window == "0m" || d.window == "0h" || d.window == "0d") ok = false;
  }
  if (!ok)
    diags_->Error("E0407", d.window_range, "a window is a duration (30s, 1m, 1h, 1d) or minute, hour, day, month");
}

void Checker::CheckBudget(Decl& d) {
  bool per = false, amount = false, prices = false;
  for (BudgetClause& c : d.clauses) {
    switch (c.kind) {
      case BudgetClause::kPer:
        per = true;
        for (auto& p : c.exprs) {
          TypePtr t = Check(*p, Phase::kRequest);
          if (t->k != Type::kError && t->k != Type::kString && t->k != Type::kInt)
            Error(*p, "E0408", "a budget is kept per string or int key, not " + TypeName(t));
        }
        break;
      case BudgetClause::kAmount: {
        amount = true;
        TypePtr t = Check(*c.exprs[0], Phase::kRequest);
        if (t->k != Type::kError && !t->numeric())
          Error(*c.exprs[0], "E0408", "a budget amount is a number of USD, not " + TypeName(t));
        if (c.word != "day" && c.word != "month") diags_->Error("E0408", c.range, "a budget runs per 'day' or 'month'");
        break;
      }
      case BudgetClause::kPrices: {
        prices = true;
        TypePtr t = Check(*c.exprs[0], Phase::kRequest);
        if (t->k == Type::kError) break;
        if (t->k != Type::kMap || !t->elem || t->elem->k != Type::kRecord || t->elem->FieldIndex("input") < 0 ||
            t->elem->FieldIndex("output") < 0 || !c.exprs[0]->value)
          Error(*c.exprs[0], "E0408",
                "prices must be a constant map of model to {input: USD, output: USD} per million tokens");
        break;
      }
      case BudgetClause::kWarn:
        if (c.percent < 1 || c.percent > 100) diags_->Error("E0408", c.range, "warn at 1% to 100%");
        break;
      case BudgetClause::kWhen: {
        TypePtr t = Check(*c.exprs[0], Phase::kRequest);
        if (t->k != Type::kError && t->k != Type::kBool)
          Error(*c.exprs[0], "E0408", "a budget's 'when' must be a bool");
        break;
      }
    }
  }
  if (!per) diags_->Error("E0408", d.name_range, "budget '" + d.name + "' needs 'per <key>'");
  if (!amount) diags_->Error("E0408", d.name_range, "budget '" + d.name + "' needs '<amount> usd per month|day'");
  if (!prices) diags_->Error("E0408", d.name_range, "budget '" + d.name + "' needs 'prices <constant>'");
}

}  // namespace gavel
