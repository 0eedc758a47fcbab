// Constant folding is the VM's arithmetic: a constant's value, or its error, is
// what a decision would compute, and an error is reported once (E0317), where
// it happens, with no "must be computable" after it.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/compiler/compiler.h"
#include "engine/runtime/arena.h"
#include "engine/runtime/vm.h"

namespace gavel {
namespace {

struct Outcome {
  bool ok = false;
  std::string value;                     // the constant `c`, rendered by the VM, when ok
  std::vector<std::string> errors;       // "E0317 division by zero @ <text>"
  std::vector<std::string> error_codes;  // just the codes
};

// Compiles `decls` with a rule showing constant `c` and reads c back by
// running the rule's message chunk on the VM.
Outcome Compile(const std::string& decls) {
  const std::string source = "package fold\n" + decls + "\nrule show { when true flag \"${c}\" }\n";
  CompileResult r = CompileSource("fold.policy", source);
  Outcome o;
  for (const Diagnostic& d : r.diagnostics.items()) {
    if (d.severity != Severity::kError) continue;
    o.errors.push_back(d.code + " " + d.message + " @ " + source.substr(d.range.begin, d.range.end - d.range.begin));
    o.error_codes.push_back(d.code);
  }
  if (!r.ok()) return o;
  const Program& p = *r.program;
  std::vector<Value> slots(p.slots.size()), regs(p.max_regs);
  Arena arena;
  Value v;
  VmError err;
  if (!RunChunk(p, p.rules.at(0).message.at(0).chunk, slots.data(), regs.data(), &arena, &v, &err)) return o;
  o.ok = true;
  AppendValue(v, &o.value);
  return o;
}

std::string Folded(const std::string& expr) {
  Outcome o = Compile("const c = " + expr);
  EXPECT_TRUE(o.ok) << expr << ": " << (o.errors.empty() ? "" : o.errors[0]);
  return o.value;
}

TEST(FoldTest, OverflowInAConstantIsReportedOnceNotAlsoAsUncomputable) {
  Outcome o = Compile("const c = 9223372036854775807 + 1");
  ASSERT_EQ(o.errors.size(), 1u);
  EXPECT_EQ(o.errors[0], "E0317 integer overflow @ 9223372036854775807 + 1");
}

TEST(FoldTest, DivisionByZeroNestedInAConstantIsReportedOnceWhereItHappens) {
  Outcome o = Compile("const c = (1 % (1 % 1))");
  ASSERT_EQ(o.errors.size(), 1u);
  EXPECT_EQ(o.errors[0], "E0317 division by zero @ (1 % (1 % 1))");
  o = Compile("const c = 3 + (1 / (2 - 2)) * 4");
  ASSERT_EQ(o.errors.size(), 1u);
  EXPECT_EQ(o.errors[0], "E0317 division by zero @ (1 / (2 - 2))");
}

TEST(FoldTest, NegatingTheSmallestIntIsAnOverflowNotUncomputable) {
  // Folding used to leave -INT64_MIN unfolded, so the constant was reported as
  // reading attributes; the VM fails it as an overflow.
  Outcome o = Compile("const c = -(-9223372036854775807 - 1)");
  ASSERT_EQ(o.errors.size(), 1u);
  EXPECT_EQ(o.errors[0], "E0317 integer overflow @ -(-9223372036854775807 - 1)");
}

TEST(FoldTest, NanComparisonFailsAsInTheVm) {
  // Folding used to call NaN equal to everything; the VM cannot order NaN.
  Outcome o = Compile("const n = 1.0e308 * 10.0 - 1.0e308 * 10.0\nconst c = n == n");
  ASSERT_EQ(o.errors.size(), 1u);
  EXPECT_EQ(o.errors[0], "E0317 comparison of values of different kinds @ n == n");
}

TEST(FoldTest, NanIsNotAMemberOfAnything) {
  // Folding used to find NaN in any list of floats.
  EXPECT_EQ(Folded("(1.0e308 * 10.0 - 1.0e308 * 10.0) in [1.0, 2.0]"), "false");
  EXPECT_EQ(Folded("(1.0e308 * 10.0 - 1.0e308 * 10.0) not in {1.0, 2.0}"), "true");
}

TEST(FoldTest, AnErrorThatAndOrDecideAwayIsNotReported) {
  // At decision time `false and x` is false whatever x does; a constant is too.
  EXPECT_EQ(Folded("false and (1 / 0 == 1)"), "false");
  EXPECT_EQ(Folded("(1 / 0 == 1) or true"), "true");
  Outcome o = Compile("const c = true and (1 / 0 == 1)");
  ASSERT_EQ(o.errors.size(), 1u);
  EXPECT_EQ(o.errors[0], "E0317 division by zero @ 1 / 0");
}

TEST(FoldTest, AConstantUsingAFailedConstantAddsNoError) {
  Outcome o = Compile("const a = 1 / 0\nconst c = a + 1");
  ASSERT_EQ(o.errors.size(), 1u);
  EXPECT_EQ(o.errors[0], "E0317 division by zero @ 1 / 0");
}

TEST(FoldTest, AFailedItemDoesNotMakeItsLiteralUnconstant) {
  Outcome o = Compile("const c = [1, 2 / 0, 3]");
  EXPECT_EQ(o.error_codes, std::vector<std::string>{"E0317"});
  o = Compile("const c = {\"a\": 1, \"b\": -(-9223372036854775807 - 1)}");
  EXPECT_EQ(o.error_codes, std::vector<std::string>{"E0317"});
  o = Compile("const c = [[1][2]]");
  ASSERT_EQ(o.errors.size(), 1u);
  EXPECT_EQ(o.errors[0], "E0317 list index out of range: 2 @ [1][2]");
}

TEST(FoldTest, AMissingKeyIsNamed) {
  Outcome o = Compile("const c = {\"a\": 1}[\"b\"]");
  ASSERT_EQ(o.errors.size(), 1u);
  EXPECT_EQ(o.errors[0], "E0317 key not found in map: \"b\" @ {\"a\": 1}[\"b\"]");
}

TEST(FoldTest, FailuresInRulesAndDefaultsAreReportedOnce) {
  CompileResult r = CompileSource("f.policy",
                                  "package f\nschema principal {\n  n: int = 1 / 0\n}\n"
                                  "rule r { when principal.n > 5 % 0 flag }\n"
                                  "rule s { when principal.n > 1 flag \"${[1][3]}\" }\n");
  std::vector<std::string> codes;
  for (const Diagnostic& d : r.diagnostics.items())
    if (d.severity == Severity::kError) codes.push_back(d.code + " " + d.message);
  EXPECT_EQ(codes, (std::vector<std::string>{"E0317 division by zero", "E0317 division by zero",
                                             "E0317 list index out of range: 3"}));
}

TEST(FoldTest, AFailedPriceTableIsReportedOnceNotAlsoAsMalformed) {
  CompileResult r = CompileSource("f.policy",
                                  "package f\nconst prices = {\"m\": {input: 1 / 0, output: 2}}\n"
                                  "rule r { when cost(\"m\", 1, 1) > 1.0 flag }\n");
  std::vector<std::string> codes;
  for (const Diagnostic& d : r.diagnostics.items())
    if (d.severity == Severity::kError) codes.push_back(d.code + " " + d.message);
  EXPECT_EQ(codes, std::vector<std::string>{"E0317 division by zero"});
}

TEST(FoldTest, ValuesAreTheVmsValues) {
  EXPECT_EQ(Folded("7 / 2"), "3");
  EXPECT_EQ(Folded("-7 / 2"), "-3");
  EXPECT_EQ(Folded("-7 % 3"), "-1");
  EXPECT_EQ(Folded("7 / 2.0"), "3.5");
  EXPECT_EQ(Folded("(-9223372036854775807 - 1) % -1"), "0");
  EXPECT_EQ(Compile("const c = (-9223372036854775807 - 1) / -1").error_codes, std::vector<std::string>{"E0317"});
  EXPECT_EQ(Folded("1h + 30m"), "90m");
  EXPECT_EQ(Folded("-(1500ms)"), "-1500ms");
  EXPECT_EQ(Folded("lower(\"AbC\") + upper(\"x\u00e9\")"), "abcX\u00e9");
  EXPECT_EQ(Folded("len(\"h\u00e9\") + tokens(\"abcde\") + len({\"a\": 1})"), "6");
  EXPECT_EQ(Folded("({b: 2, a: 1.5}).b"), "2");
  EXPECT_EQ(Folded("\"ab\" in \"cabd\" and \"x\" not in {\"a\": 1} and [1, 2] contains 2.0"), "true");
  EXPECT_EQ(Folded("\"abc\" startswith \"ab\" and not (\"abc\" endswith \"b\")"), "true");
  EXPECT_EQ(Folded("1 == 1.0 and 2 > 1.5 and \"b\" > \"a\" and 2s < 1m"), "true");
}

TEST(FoldTest, SetsAreOrderedAsTheVmSearchesThem) {
  // The VM binary-searches constant sets of strings and ints; folding sorts
  // them by the VM's own comparison, bytes unsigned.
  EXPECT_EQ(Folded("{\"b\", \"\u00e9\", \"a\", \"B\", \"a\"}"), "[B, a, b, \u00e9]");
  EXPECT_EQ(Folded("{3, -9223372036854775807 - 1, 0, 3, 9223372036854775807}"),
            "[-9223372036854775808, 0, 3, 9223372036854775807]");
  for (const char* x : {"\"b\"", "\"\u00e9\"", "\"a\"", "\"B\""})
    EXPECT_EQ(Folded(std::string(x) + " in {\"b\", \"\u00e9\", \"a\", \"B\"}"), "true") << x;
  EXPECT_EQ(Folded("\"c\" in {\"b\", \"\u00e9\", \"a\", \"B\"}"), "false");
}

}  // namespace
}  // namespace gavel
