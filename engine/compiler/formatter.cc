// policyc fmt: one canonical layout for every policy, comments kept. The
// output is a pure function of the AST (plus comments), so formatting is
// idempotent by construction; tests check that every example formats to itself.
#include <string>

#include "engine/compiler/ast.h"
#include "engine/compiler/compiler.h"

namespace gavel {

namespace {

constexpr size_t kWidth = 100;

void Comments(const std::vector<std::string>& lines, const std::string& indent, std::string* out) {
  for (const std::string& c : lines) {
    if (c.empty())
      *out += "\n";
    else
      *out += indent + c + "\n";
  }
}

void EndLine(const std::string& trailing, std::string* out) {
  if (!trailing.empty()) *out += "  " + trailing;
  *out += "\n";
}

std::string TypeText(const TypeAst& t) {
  std::string s = t.name;
  if (!t.args.empty()) {
    s += "<";
    for (size_t i = 0; i < t.args.size(); ++i) s += (i ? ", " : "") + TypeText(t.args[i]);
    s += ">";
  }
  return s;
}

// A long collection literal, one item per line with a trailing comma.
std::string Block(const Expr& e, const std::string& indent) {
  std::string s = e.kind == ExprKind::kList ? "[\n" : "{\n";
  for (size_t i = 0; i < e.kids.size(); ++i) {
    s += indent + "  ";
    if (e.kind == ExprKind::kMap) s += (e.key_quoted[i] ? QuoteString(e.keys[i]) : e.keys[i]) + ": ";
    s += PrintExpr(*e.kids[i]) + ",\n";
  }
  return s + indent + (e.kind == ExprKind::kList ? "]" : "}");
}

// A long and/or chain, one operand per line.
std::string Condition(const Expr& e, const std::string& indent) {
  std::string one = PrintExpr(e);
  if (one.size() + indent.size() + 5 <= kWidth || e.kind != ExprKind::kBinary || (e.op != "and" && e.op != "or") ||
      e.parens)
    return one;
  std::vector<const Expr*> parts;
  const Expr* x = &e;
  while (x->kind == ExprKind::kBinary && x->op == e.op && !x->parens) {
    parts.push_back(x->kids[1].get());
    x = x->kids[0].get();
  }
  parts.push_back(x);
  std::string s = PrintExpr(*parts.back());
  for (size_t i = parts.size() - 1; i-- > 0;) s += "\n" + indent + "    " + e.op + " " + PrintExpr(*parts[i]);
  return s;
}

std::string Effect(const EffectAst& ef) {
  std::string s;
  switch (ef.kind) {
    case EffectKind::kDeny:
      s = "deny";
      break;
    case EffectKind::kAllow:
      s = "allow";
      break;
    case EffectKind::kRoute:
      s = "route";
      break;
    case EffectKind::kFlag:
      s = "flag";
      break;
    case EffectKind::kRedact: {
      s = "redact ";
      for (size_t i = 0; i < ef.redact_sets.size(); ++i) s += (i ? ", " : "") + ef.redact_sets[i].first;
      if (ef.message) s += " in " + PrintExpr(*ef.message);
      if (ef.redact_with) s += " with " + PrintExpr(*ef.redact_with);
      return s;
    }
  }
  if (ef.message) s += " " + PrintExpr(*ef.message);
  if (ef.has_code) s += " code " + QuoteString(ef.code);
  if (ef.has_status) s += " status " + std::to_string(ef.status);
  return s;
}

void FormatDecl(const Decl& d, std::string* out) {
  switch (d.kind) {
    case DeclKind::kPackage:
      *out += "package " + d.name;
      EndLine(d.trailing, out);
      break;
    case DeclKind::kVersion:
      *out += "version " + d.raw;
      EndLine(d.trailing, out);
      break;
    case DeclKind::kDefault:
      *out += "default " + d.value;
      EndLine(d.trailing, out);
      break;
    case DeclKind::kOnError:
      *out += "on_error " + d.value;
      EndLine(d.trailing, out);
      break;
    case DeclKind::kImport:
      *out += "import " + d.name;
      EndLine(d.trailing, out);
      break;
    case DeclKind::kSchema:
      *out += "schema " + d.name + " {";
      EndLine(d.trailing, out);
      for (const SchemaField& f : d.fields) {
        Comments(f.comments, "  ", out);
        *out += "  " + f.name + ": " + TypeText(f.type);
        if (f.default_value) *out += " = " + PrintExpr(*f.default_value);
        EndLine(f.trailing, out);
      }
      Comments(d.inner_comments, "  ", out);
      *out += "}\n";
      break;
    case DeclKind::kConst: {
      Comments(d.inner_comments, "", out);
      std::string line = "const " + d.name + " = " + PrintExpr(*d.expr);
      const Expr& e = *d.expr;
      if (line.size() > kWidth && !e.parens && e.kids.size() > 1 &&
          (e.kind == ExprKind::kSet || e.kind == ExprKind::kList || e.kind == ExprKind::kMap)) {
        // A comment written after the opening brace stays there.
        std::string block = Block(e, "");
        if (!d.trailing.empty()) block.insert(block.find('\n'), "  " + d.trailing);
        *out += "const " + d.name + " = " + block + "\n";
      } else {
        *out += line;
        EndLine(d.trailing, out);
      }
      break;
    }
    case DeclKind::kPattern: {
      *out += "pattern " + d.name;
      for (auto& f : d.flags) *out += " " + f;
      *out += " = ";
      if (!d.items.empty()) {
        *out += d.items[0].raw;
        for (auto& f : d.items[0].flags) *out += " " + f;
      }
      EndLine(d.trailing, out);
      break;
    }
    case DeclKind::kPatterns:
      *out += "patterns " + d.name;
      for (auto& f : d.flags) *out += " " + f;
      *out += " {";
      EndLine(d.trailing, out);
      for (const PatternItem& it : d.items) {
        Comments(it.comments, "  ", out);
        *out += "  " + it.raw;
        for (auto& f : it.flags) *out += " " + f;
        EndLine(it.trailing, out);
      }
      Comments(d.inner_comments, "  ", out);
      *out += "}\n";
      break;
    case DeclKind::kRule:
      *out += "rule " + d.name;
      if (!d.value.empty()) *out += " on " + d.value;
      *out += " {";
      EndLine(d.trailing, out);
      Comments(d.inner_comments, "  ", out);
      if (d.expr) *out += "  when " + Condition(*d.expr, "  ") + "\n";
      *out += "  " + Effect(d.effect) + "\n}\n";
      break;
    case DeclKind::kLimit: {
      Comments(d.inner_comments, "", out);
      *out += "limit " + d.name + " { per ";
      for (size_t i = 0; i < d.per.size(); ++i) *out += (i ? ", " : "") + PrintExpr(*d.per[i]);
      if (d.when) *out += " when " + PrintExpr(*d.when);
      *out += " " + std::to_string(d.amount) + " " + d.unit + " per " + d.window + " }";
      EndLine(d.trailing, out);
      break;
    }
    case DeclKind::kBudget:
      *out += "budget " + d.name + " {";
      EndLine(d.trailing, out);
      Comments(d.inner_comments, "  ", out);
      for (const BudgetClause& c : d.clauses) {
        *out += "  ";
        switch (c.kind) {
          case BudgetClause::kPer:
            *out += "per ";
            for (size_t i = 0; i < c.exprs.size(); ++i) *out += (i ? ", " : "") + PrintExpr(*c.exprs[i]);
            break;
          case BudgetClause::kAmount:
            *out += PrintExpr(*c.exprs[0]) + " usd per " + c.word;
            break;
          case BudgetClause::kPrices:
            *out += "prices " + PrintExpr(*c.exprs[0]);
            break;
          case BudgetClause::kWarn:
            *out += "warn at " + std::to_string(c.percent) + "%";
            break;
          case BudgetClause::kWhen:
            *out += "when " + PrintExpr(*c.exprs[0]);
            break;
        }
        *out += "\n";
      }
      *out += "}\n";
      break;
  }
}

}  // namespace

bool FormatSource(const std::string& path, const std::string& text, std::string* out, Diagnostics* diags) {
  // The same limits as compiling: what `policyc check` refuses, fmt refuses.
  const CompileLimits limits;
  if (text.size() > limits.max_source_bytes) {
    diags->Error(
        Err::kSourceTooLarge, {0, 0},
        "source is " + std::to_string(text.size()) + " bytes; the limit is " + std::to_string(limits.max_source_bytes));
    return false;
  }
  if (size_t bad = FirstInvalidUtf8(text); bad != std::string::npos) {
    diags->Error(Err::kInvalidUtf8, {static_cast<uint32_t>(bad), static_cast<uint32_t>(bad + 1)},
                 "invalid UTF-8 at byte " + std::to_string(bad));
    return false;
  }
  Source source(path, text);
  PolicyAst ast;
  if (!ParsePolicy(source, limits.max_nesting, &ast, diags)) return false;
  out->clear();
  for (const Decl& d : ast.decls) {
    Comments(d.comments, "", out);
    FormatDecl(d, out);
  }
  Comments(ast.tail_comments, "", out);
  return true;
}

}  // namespace gavel
