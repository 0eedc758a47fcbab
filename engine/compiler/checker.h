// The checker: resolves names (attributes, constants, patterns, variables),
// types every expression, folds what is known at compile time (through the VM,
// fold.h), and validates declarations. It annotates the AST in place; codegen
// reads the annotations.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "engine/compiler/ast.h"
#include "engine/compiler/compiler.h"
#include "engine/compiler/types.h"
#include "engine/runtime/program.h"

namespace gavel {

struct Scope {
  std::vector<SlotInfo> slots;
  std::map<std::string, uint32_t> slot_index;
  std::vector<TypePtr> slot_types;
  struct ConstInfo {
    Decl* decl = nullptr;
    TypePtr type;
    std::shared_ptr<const ConstVal> value;
    int state = 0;  // 0 unchecked, 1 checking, 2 done
  };
  std::map<std::string, ConstInfo> consts;
  std::map<std::string, uint32_t> patterns;  // name (qualified for modules) -> set index
  std::vector<PatternSet> pattern_sets;
  std::vector<ConstVal> slot_defaults;  // parallel to slots; kMissing = none
  std::vector<std::string> modules;
  std::string package, version;
  bool default_deny = false;
  bool on_error_deny = true;
};

class Checker {
 public:
  Checker(PolicyAst* ast, Diagnostics* diags, const CompileLimits& limits, std::string stdlib_dir,
          std::string policy_path);
  // Checks the whole policy; fills scope(). Returns false on errors.
  bool Run();
  Scope& scope() { return scope_; }

  // Types an expression in a rule of the given phase (public for interpolations).
  TypePtr CheckExpr(Expr& e, Phase phase);

 private:
  struct Var {
    std::string name;
    TypePtr type;
  };
  void DeclareBuiltins();
  void CollectDecls();
  void CheckSchema(Decl& d);
  TypePtr SchemaType(const TypeAst& t, SlotType* st);
  void CheckConst(Scope::ConstInfo& c);
  void DeclarePatterns(Decl& d, const std::string& prefix);
  bool CheckScreenPattern(const Pattern& p, SourceRange where);
  void Import(Decl& d);
  void CheckRule(Decl& d);
  void CheckMessage(Expr& e, Phase phase, const char* what);
  void CheckLimit(Decl& d);
  void CheckBudget(Decl& d);

  TypePtr Check(Expr& e, Phase phase);
  TypePtr CheckMember(Expr& e, Phase phase);
  TypePtr CheckBinary(Expr& e, Phase phase);
  TypePtr CheckCall(Expr& e, Phase phase);
  bool AttributePath(const Expr& e, std::string* path) const;
  // Folds a checked node through the VM (engine/compiler/fold.h).
  void Fold(Expr& e);
  bool Failed(const Expr& e) const { return failures_.count(&e) != 0; }
  // A constant, or a constant expression that fails at every decision.
  bool Known(const Expr& e) const { return e.value != nullptr || Failed(e); }
  // Reports, once each, the failures that reach the value of `e`: those not
  // decided away by a constant and/or around them.
  void ReportFoldFailures(const Expr& e);
  void UnknownName(const Expr& e, const std::string& name, const std::vector<std::string>& candidates,
                   const std::string& what);
  TypePtr Error(const Expr& e, Err code, const std::string& msg);

  PolicyAst* ast_;
  Diagnostics* diags_;
  CompileLimits limits_;
  std::string stdlib_dir_;
  std::string policy_path_;
  Scope scope_;
  std::vector<Var> vars_;
  std::vector<std::unique_ptr<PolicyAst>> module_asts_;
  // Modules whose import failed (already reported): names under them are not
  // reported again, so one bad import is one error.
  std::vector<std::string> failed_modules_;
  bool InFailedModule(const std::string& path) const;
  int depth_ = 0;
  // A constant expression that fails keeps the VM's error, and the node it
  // started at, until it is reported (E0317) or decided away.
  struct FoldFailure {
    const Expr* origin = nullptr;
    std::string what;
  };
  std::map<const Expr*, FoldFailure> failures_;
  std::set<const Expr*> reported_;  // origins already reported
};

}  // namespace gavel
