// The front end's depth and size limits, operator by operator of the grammar:
// a chain at the limit is accepted by check, compile and fmt alike, one past it
// is refused with E0006 at a file:line:col, and a 40,000-long chain is refused
// without exhausting the stack (these used to crash policyc check and fmt).
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "engine/compiler/ast.h"
#include "engine/compiler/compiler.h"

namespace gavel {
namespace {

const int kDepth = ExprDepthLimit(CompileLimits().max_nesting);  // 256
const int kNesting = CompileLimits().max_nesting;                // 64
const int kOperators = OperatorLimit(CompileLimits().max_nesting);

std::string Repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

// A binary operator chained left-deep: `lhs op rhs op rhs ...`, `ops` times.
// The leftmost operand sits `ops + 1` levels deep.
std::string Chain(const std::string& lhs, const std::string& op, const std::string& rhs, int ops) {
  return lhs + Repeat(" " + op + " " + rhs, ops);
}

struct Shape {
  std::string name;
  // An expression whose tree is `levels` deep.
  std::function<std::string(int levels)> expr;
  bool compiles;  // whether the expression at the limit also type-checks
};

// Every binary operator of grammar/Policy.g4 (mulExpr, addExpr, relExpr,
// eqExpr, memberOpExpr with and without `not`, andExpr, orExpr), the postfix
// ones (memberExpr, indexExpr), quantifiers, and a prefix operator recursing
// through a binary one (notExpr, which ANTLR parses by recursion per level).
std::vector<Shape> Shapes() {
  std::vector<Shape> v;
  auto binary = [&](const std::string& name, const std::string& lhs, const std::string& op, const std::string& rhs,
                    bool compiles) {
    v.push_back({name, [=](int levels) { return Chain(lhs, op, rhs, levels - 1); }, compiles});
  };
  binary("mul", "1", "*", "1", true);
  binary("div", "1", "/", "1", true);
  binary("mod", "1", "%", "1", true);
  binary("add", "1", "+", "1", true);
  binary("sub", "1", "-", "1", true);
  binary("lt", "1", "<", "1", false);
  binary("le", "1", "<=", "1", false);
  binary("gt", "1", ">", "1", false);
  binary("ge", "1", ">=", "1", false);
  binary("eq", "true", "==", "true", true);
  binary("ne", "true", "!=", "true", true);
  binary("in", "\"a\"", "in", "\"a\"", false);
  binary("not_in", "\"a\"", "not in", "\"a\"", false);
  binary("contains", "\"a\"", "contains", "\"a\"", false);
  binary("not_contains", "\"a\"", "not contains", "\"a\"", false);
  binary("matches", "\"a\"", "matches", "\"a\"", false);
  binary("not_matches", "\"a\"", "not matches", "\"a\"", false);
  binary("startswith", "\"a\"", "startswith", "\"a\"", false);
  binary("not_startswith", "\"a\"", "not startswith", "\"a\"", false);
  binary("endswith", "\"a\"", "endswith", "\"a\"", false);
  binary("not_endswith", "\"a\"", "not endswith", "\"a\"", false);
  binary("and", "true", "and", "true", true);
  binary("or", "true", "or", "true", true);
  v.push_back({"member", [](int levels) { return "x" + Repeat(".a", levels - 1); }, false});
  v.push_back({"index", [](int levels) { return "x" + Repeat("[0]", levels - 1); }, false});
  v.push_back({"any", [](int levels) { return Repeat("any x in l: ", levels - 1) + "true"; }, false});
  v.push_back({"all", [](int levels) { return Repeat("all x in l: ", levels - 1) + "true"; }, false});
  // not (1 == not (1 == ... )): two levels per pair; an odd depth ends in `1`.
  v.push_back({"not_eq", [](int levels) { return Repeat("not 1 == ", (levels - 1) / 2) + "1"; }, false});
  return v;
}

bool HasE0006(const Diagnostics& d) {
  for (const Diagnostic& x : d.items())
    if (x.code == "E0006") return true;
  return false;
}

std::string Policy(const std::string& expr) { return "package a\nconst c = " + expr + "\n"; }

TEST(FrontendLimits, EveryOperatorChainAtTheDepthLimitIsAccepted) {
  for (const Shape& s : Shapes()) {
    SCOPED_TRACE(s.name);
    const std::string src = Policy(s.expr(kDepth));
    CompileResult r = CompileSource("at.policy", src);
    EXPECT_FALSE(HasE0006(r.diagnostics)) << r.RenderDiagnostics();
    if (s.compiles) {
      EXPECT_TRUE(r.ok()) << r.RenderDiagnostics();
    }
    std::string out;
    Diagnostics d;
    ASSERT_TRUE(FormatSource("at.policy", src, &out, &d)) << d.Render(Source("at.policy", src));
    // Formatting keeps the tree: the output formats to itself.
    std::string again;
    Diagnostics d2;
    ASSERT_TRUE(FormatSource("at.policy", out, &again, &d2));
    EXPECT_EQ(out, again);
  }
}

TEST(FrontendLimits, EveryOperatorChainOneLevelOverTheDepthLimitIsRefused) {
  for (const Shape& s : Shapes()) {
    SCOPED_TRACE(s.name);
    // not_eq grows two levels per pair.
    const int levels = s.name == "not_eq" ? kDepth + 2 : kDepth + 1;
    const std::string src = Policy(s.expr(levels));
    CompileResult r = CompileSource("over.policy", src);
    EXPECT_FALSE(r.ok());
    const std::string rendered = r.RenderDiagnostics();
    EXPECT_NE(rendered.find("over.policy:2:"), std::string::npos) << rendered;
    EXPECT_NE(rendered.find("error[E0006]: expression nested deeper than 256 levels"), std::string::npos) << rendered;
    std::string out;
    Diagnostics d;
    EXPECT_FALSE(FormatSource("over.policy", src, &out, &d));
    EXPECT_TRUE(HasE0006(d)) << d.Render(Source("over.policy", src));
  }
}

// Chains of `% < >= != matches startswith` and of indexing were not counted
// by the pre-scan and overflowed the stack in the AST builder (check, compile)
// and in the printer (fmt); the others were counted but overflowed under ASan.
TEST(FrontendLimits, FortyThousandLongChainsOfEveryOperatorAreRefusedWithoutCrashing) {
  for (const Shape& s : Shapes()) {
    SCOPED_TRACE(s.name);
    const std::string src = Policy(s.expr(40000));
    CompileResult r = CompileSource("long.policy", src);
    EXPECT_FALSE(r.ok());
    EXPECT_TRUE(HasE0006(r.diagnostics)) << r.RenderDiagnostics().substr(0, 400);
    std::string out;
    Diagnostics d;
    EXPECT_FALSE(FormatSource("long.policy", src, &out, &d));
    EXPECT_TRUE(HasE0006(d));
  }
}

// Quantifiers count one operator (`in`) per level, so a long run of them
// stays under the operator count and reaches ANTLR, which recurses once per
// quantifier; the parser stops it before the builder sees the tree.
TEST(FrontendLimits, NestedQuantifiersAreStoppedInsideTheParser) {
  const std::string src = Policy(Repeat("any x in l: ", kOperators - 8) + "true");
  CompileResult r = CompileSource("q.policy", src);
  EXPECT_FALSE(r.ok());
  const std::string rendered = r.RenderDiagnostics();
  EXPECT_NE(rendered.find("error[E0006]: expression nested deeper than 256 levels"), std::string::npos) << rendered;
  // The parser reports where it stopped: past the 256th quantifier, not at the start.
  EXPECT_EQ(rendered.find("q.policy:2:11:"), std::string::npos) << rendered;
}

TEST(FrontendLimits, MessageInterpolationOverTheDepthLimitIsRefused) {
  const std::string src =
      "package a\nrule r {\n  deny \"${" + Chain("1", "%", "1", kDepth) + "}\"\n}\n";  // kDepth + 1 levels
  CompileResult r = CompileSource("m.policy", src);
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.RenderDiagnostics().find("m.policy:3:"), std::string::npos) << r.RenderDiagnostics();
  EXPECT_TRUE(HasE0006(r.diagnostics));
}

TEST(FrontendLimits, BracketNestingAtAndOverTheLimit) {
  for (const std::string open : {"(", "[", "f("}) {
    SCOPED_TRACE(open);
    const std::string close = open == "[" ? "]" : ")";
    auto nest = [&](int n) { return Policy(Repeat(open, n) + "1" + Repeat(close, n)); };
    CompileResult at = CompileSource("b.policy", nest(kNesting));
    EXPECT_FALSE(HasE0006(at.diagnostics)) << at.RenderDiagnostics();
    std::string out;
    Diagnostics d;
    EXPECT_TRUE(FormatSource("b.policy", nest(kNesting), &out, &d));
    CompileResult over = CompileSource("b.policy", nest(kNesting + 1));
    EXPECT_NE(over.RenderDiagnostics().find("error[E0006]: nesting deeper than 64 levels"), std::string::npos);
    CompileResult huge = CompileSource("b.policy", nest(40000));
    EXPECT_TRUE(HasE0006(huge.diagnostics));
  }
}

TEST(FrontendLimits, PrefixOperatorsInARowAtAndOverTheLimit) {
  for (const std::string prefix : {"-", "not "}) {
    SCOPED_TRACE(prefix);
    const std::string operand = prefix == "-" ? "1" : "true";
    CompileResult at = CompileSource("p.policy", Policy(Repeat(prefix, kNesting) + operand));
    EXPECT_TRUE(at.ok()) << at.RenderDiagnostics();
    CompileResult over = CompileSource("p.policy", Policy(Repeat(prefix, kNesting + 1) + operand));
    EXPECT_NE(over.RenderDiagnostics().find("prefix operators in a row"), std::string::npos);
    CompileResult huge = CompileSource("p.policy", Policy(Repeat(prefix, 40000) + operand));
    EXPECT_TRUE(HasE0006(huge.diagnostics));
  }
}

// Deep type arguments recursed in ANTLR, the AST builder, the checker and the
// formatter's type printer.
TEST(FrontendLimits, TypeArgumentsAtAndOverTheLimit) {
  auto schema = [](int n) {
    return "package a\nschema principal {\n  f: " + Repeat("list<", n) + "string" + Repeat(">", n) + "\n}\n";
  };
  std::string out;
  Diagnostics d;
  EXPECT_TRUE(FormatSource("t.policy", schema(kNesting), &out, &d));
  EXPECT_FALSE(HasE0006(CompileSource("t.policy", schema(kNesting)).diagnostics));
  CompileResult over = CompileSource("t.policy", schema(kNesting + 1));
  EXPECT_NE(over.RenderDiagnostics().find("t.policy:3:"), std::string::npos);
  EXPECT_NE(over.RenderDiagnostics().find("type arguments nested deeper than 64 levels"), std::string::npos);
  EXPECT_TRUE(HasE0006(CompileSource("t.policy", schema(40000)).diagnostics));
}

TEST(FrontendLimits, OperatorsPerDeclarationAtAndOverTheLimit) {
  // Shallow: a list of `1 + 1` items, one operator each.
  auto items = [](int n) {
    std::string s = "[";
    for (int i = 0; i < n; ++i) s += std::string(i ? ", " : "") + "1 + 1";
    return Policy(s + "]");
  };
  CompileResult at = CompileSource("o.policy", items(kOperators));
  EXPECT_TRUE(at.ok()) << at.RenderDiagnostics();
  CompileResult over = CompileSource("o.policy", items(kOperators + 1));
  EXPECT_NE(over.RenderDiagnostics().find("declaration has more than " + std::to_string(kOperators) + " operators"),
            std::string::npos)
      << over.RenderDiagnostics();
  // The count starts again at each declaration.
  CompileResult two = CompileSource("o.policy", items(kOperators) + "const d = " + Chain("1", "+", "1", 100) + "\n");
  EXPECT_TRUE(two.ok()) << two.RenderDiagnostics();
  // A name that is also a declaration keyword does not restart the count.
  CompileResult keyword = CompileSource("o.policy", Policy(Repeat("1 - limit - ", kOperators) + "1"));
  EXPECT_NE(keyword.RenderDiagnostics().find("operators"), std::string::npos) << keyword.RenderDiagnostics();
}

// Constants that refer to constants nest the checker's walk; a long
// chain (5,000 here) is refused at the depth limit instead of recursing
// through all of it.
TEST(FrontendLimits, LongChainOfConstantsIsRefusedWithoutCrashing) {
  std::string src = "package a\n";
  for (int i = 0; i < 5000; ++i) src += "const c" + std::to_string(i) + " = c" + std::to_string(i + 1) + " + 1\n";
  src += "const c5000 = 1\n";
  CompileResult r = CompileSource("k.policy", src);
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.RenderDiagnostics().find("counting the constants it refers to"), std::string::npos);
  std::string out;
  Diagnostics d;
  EXPECT_TRUE(FormatSource("k.policy", src, &out, &d));
}

}  // namespace
}  // namespace gavel
