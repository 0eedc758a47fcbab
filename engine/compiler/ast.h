// The policy AST: what the parser builds from ANTLR's parse tree and what the
// checker, the code generator and the formatter read. Every node keeps its
// source range so that every later stage can point at the text.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/compiler/diagnostics.h"

namespace gavel {

struct Type;
using TypePtr = std::shared_ptr<const Type>;

enum class ExprKind {
  kInt,
  kFloat,
  kString,
  kRegex,
  kDuration,
  kBool,
  kIdent,   // text = name
  kMember,  // kids[0] . text
  kIndex,   // kids[0] [ kids[1] ]
  kNeg,
  kNot,
  kBinary,  // kids[0] op kids[1]; op is one of + - * / % < <= > >= == != and or in "not in" contains
            // "not contains" matches "not matches" startswith "not startswith" endswith "not endswith"
  kCall,    // text(kids...)
  kSet,
  kList,
  kMap,    // keys[i]: kids[i]; key_quoted[i] says how the key was written
  kQuant,  // op "any"/"all", text = variable, kids = {list, body}
};

struct Expr {
  ExprKind kind = ExprKind::kBool;
  SourceRange range;
  std::string text;  // identifier, member, call name, string value (unescaped), regex source, variable
  std::string op;
  int64_t ival = 0;  // int literal; duration in milliseconds
  double fval = 0;
  bool bval = false;
  std::string raw;      // literal as written (numbers, durations, strings), for the formatter
  bool parens = false;  // written in parentheses (kept by the formatter)
  std::vector<std::unique_ptr<Expr>> kids;
  std::vector<std::string> keys;
  std::vector<bool> key_quoted;
  // Filled by the checker.
  TypePtr type;
  int32_t slot = -1;                             // attribute path -> slot
  int32_t index = -1;                            // record field index, or pattern set index
  std::shared_ptr<const struct ConstVal> value;  // folded, when known at compile time
};
using ExprPtr = std::unique_ptr<Expr>;

struct TypeAst {
  std::string name;
  std::vector<TypeAst> args;
  SourceRange range;
};

struct SchemaField {
  std::string name;
  SourceRange range;
  TypeAst type;
  ExprPtr default_value;
  std::vector<std::string> comments;  // lines before the field
  std::string trailing;               // comment at the end of its line
};

struct PatternItem {
  bool regex = false;
  std::string text;  // unescaped literal, or regex source
  std::string raw;   // as written
  std::vector<std::string> flags;
  SourceRange range;
  std::vector<std::string> comments;
  std::string trailing;
};

enum class EffectKind { kDeny, kAllow, kRoute, kFlag, kRedact };

struct EffectAst {
  EffectKind kind = EffectKind::kDeny;
  SourceRange range;
  ExprPtr message;  // deny/allow/flag message, route target, redact field
  bool has_code = false;
  std::string code;
  SourceRange code_range;
  bool has_status = false;
  int64_t status = 0;
  SourceRange status_range;
  std::vector<std::pair<std::string, SourceRange>> redact_sets;  // dotted names
  ExprPtr redact_with;
};

struct BudgetClause {
  enum Kind { kPer, kAmount, kPrices, kWarn, kWhen } kind = kPer;
  std::vector<ExprPtr> exprs;
  std::string word;  // amount's period
  int64_t percent = 0;
  SourceRange range;
};

enum class DeclKind {
  kPackage,
  kVersion,
  kDefault,
  kOnError,
  kImport,
  kSchema,
  kConst,
  kPattern,
  kPatterns,
  kRule,
  kLimit,
  kBudget
};

struct Decl {
  DeclKind kind = DeclKind::kPackage;
  SourceRange range;
  SourceRange name_range;
  std::string name;   // package/import dotted name, schema/const/pattern/rule/limit/budget name
  std::string value;  // version string (unescaped), default/on_error word, rule phase
  std::string raw;    // version as written
  std::vector<SchemaField> fields;
  ExprPtr expr;  // const value, rule condition
  std::vector<std::string> flags;
  std::vector<PatternItem> items;
  EffectAst effect;
  // limit
  std::vector<ExprPtr> per;
  ExprPtr when;
  int64_t amount = 0;
  std::string unit;    // requests | tokens
  std::string window;  // 1m, minute, ...
  SourceRange window_range;
  SourceRange unit_range;
  // budget
  std::vector<BudgetClause> clauses;
  // comments
  std::vector<std::string> comments;        // lines before the declaration (blank line = "")
  std::string trailing;                     // comment at the end of its first line
  std::vector<std::string> inner_comments;  // comments inside a block, before its closing brace
};

struct PolicyAst {
  std::vector<Decl> decls;
  std::vector<std::string> tail_comments;  // after the last declaration
};

// How deep an expression may nest: every operator, [index], .member, call,
// bracket and quantifier adds a level. The parser refuses deeper input (E0006)
// before anything walks it recursively, so the checker, constant folding, the
// code generator and the formatter may recurse over expressions freely.
inline int ExprDepthLimit(int max_nesting) { return 4 * max_nesting; }

// How many infix and postfix operators one declaration may hold (E0006); it
// keeps ANTLR's lookahead, quadratic in them, cheap.
inline int OperatorLimit(int max_nesting) { return 16 * max_nesting; }

// Parses source into an AST. Syntax errors go to diags (several per run where
// ANTLR recovers); the AST is only meaningful when diags has no errors.
bool ParsePolicy(const Source& source, int max_nesting, PolicyAst* out, Diagnostics* diags);

// Parses one expression (a `${...}` interpolation); offsets are shifted by base.
ExprPtr ParseExpression(const std::string& text, uint32_t base, int max_nesting, Diagnostics* diags);

// Prints an expression in canonical form (formatter, predicate names, explain).
std::string PrintExpr(const Expr& e);

// Unescapes the text between a string literal's quotes (\n \t \r \" \\ \$ \/
// \uXXXX). Returns false with the reason on a bad escape.
bool UnescapeLiteral(const std::string& raw, std::string* out, std::string* why);

// Quotes any bytes as a string literal that parses back to exactly those bytes:
// `"`, `\`, `$` and control characters are escaped. The one quoter for the
// formatter, predicate identity and tests that write policies.
std::string QuoteString(const std::string& s);

}  // namespace gavel
