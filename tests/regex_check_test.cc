// Tests for the unsupported-regex checker (engine/compiler/regex_check.h):
// every construct the screening engine cannot run is found at the right
// offset with a reason that names it, and tricky patterns that only look like
// those constructs (escaped, inside classes, quoted, literal braces) pass.

#include "engine/compiler/regex_check.h"

#include <gtest/gtest.h>

#include <string>

namespace gavel {
namespace {

struct Case {
  const char* pattern;
  size_t offset;
  const char* reason_part;  // a piece of the reason that names the construct
};

void ExpectProblem(const Case& c) {
  RegexProblem p;
  ASSERT_TRUE(FindUnsupportedRegex(c.pattern, &p)) << c.pattern;
  EXPECT_EQ(p.offset, c.offset) << c.pattern << ": " << p.reason;
  EXPECT_NE(p.reason.find(c.reason_part), std::string::npos) << c.pattern << ": " << p.reason;
}

TEST(RegexCheckTest, BackReferences) {
  const Case cases[] = {
      {"(a)\\1", 3, "back-references like \\1 are not supported"},
      {"(a)x\\9", 4, "back-references like \\9"},
      {"\\8", 0, "write 8"},  // PCRE reads \8 as a back-reference; ask for the digit instead
      {"(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)(k)(l)\\12", 36, "back-references like \\12"},
      {"(a)\\g1", 3, "back-references like \\g1"},
      {"(a)\\g{1}", 3, "\\g{1}"},
      {"(a)\\g{-1}", 3, "\\g{-1}"},
      {"(a)\\g-1", 3, "\\g-1"},
      {"(?<n>a)\\g{n}", 7, "\\g{n}"},
      {"(?<n>a)\\k<n>", 7, "\\k<n>"},
      {"(?<n>a)\\k'n'", 7, "\\k'n'"},
      {"(?<n>a)\\k{n}", 7, "\\k{n}"},
      {"(?P<n>a)(?P=n)", 8, "back-references like (?P=n)"},
  };
  for (const Case& c : cases) ExpectProblem(c);
  RegexProblem p;
  ASSERT_TRUE(FindUnsupportedRegex("(a)\\1", &p));
  EXPECT_NE(p.reason.find("one pass without remembering what a group matched"), std::string::npos);
}

TEST(RegexCheckTest, Lookaround) {
  const Case cases[] = {
      {"a(?=b)", 1, "lookahead assertions like (?=...)"},
      {"a(?!b)", 1, "lookahead assertions like (?!...)"},
      {"(?<=a)b", 0, "lookbehind assertions like (?<=...)"},
      {"x(?<!a)b", 1, "lookbehind assertions like (?<!...)"},
      {"(?:a|(?=b))", 5, "lookahead"},
  };
  for (const Case& c : cases) ExpectProblem(c);
}

TEST(RegexCheckTest, AtomicGroupsAndPossessiveQuantifiers) {
  const Case cases[] = {
      {"(?>ab)c", 0, "write a plain group (?:...)"},
      {"x*+", 1, "possessive quantifiers like *+ are not supported"},
      {"x++", 1, "like ++"},
      {"x?+", 1, "like ?+"},
      {"x{2}+", 1, "like {2}+"},
      {"x{2,}+", 1, "like {2,}+"},
      {"x{2,5}+", 1, "write {2,5}"},
      {"[ab]*+", 4, "possessive"},
      {"(?:ab)++", 6, "possessive"},
      {"\\d++", 2, "possessive"},
      {"\\x{41}{2}+", 6, "possessive"},  // the braces of \x{..} are not a quantifier, the next ones are
      {"\\Qab\\E*+", 6, "possessive"},   // quantifies the last quoted character
      {"a(?#note)*+", 9, "possessive"},  // a comment is invisible
      {"(?x)a *+", 6, "possessive"},     // spaces are ignored in x mode
  };
  for (const Case& c : cases) ExpectProblem(c);
}

TEST(RegexCheckTest, ConditionalsRecursionAndSubroutines) {
  const Case cases[] = {
      {"(a)?(?(1)b|c)", 4, "conditional groups"},
      {"(?(?=a)b|c)", 0, "conditional groups"},
      {"a(?R)?b", 1, "recursion and subroutine calls like (?R)"},
      {"(a)(?1)", 3, "like (?1)"},
      {"(a)(?+1)(b)", 3, "like (?+1)"},
      {"(a)(?-1)", 3, "like (?-1)"},
      {"(?<n>a)(?&n)", 7, "like (?&n)"},
      {"(?P<n>a)(?P>n)", 8, "like (?P>n)"},
      {"(?<n>a)\\g<n>", 7, "recursion and subroutine calls like \\g<n>"},
      {"(a)\\g'1'", 3, "recursion and subroutine calls like \\g'1'"},
  };
  for (const Case& c : cases) ExpectProblem(c);
}

TEST(RegexCheckTest, EscapesTheEngineCannotRun) {
  const Case cases[] = {
      {"\\Gab", 0, "\\G (the end of the previous match)"},
      {"ab\\Kc", 2, "\\K (restart the reported match here)"},
      {"a\\Cb", 1, "\\C (one byte"},
      {"a\\Rb", 1, "\\R (any line break)"},
      {"a\\Nb", 1, "write [^\\n]"},
      {"a\\X", 1, "write \\P{M}\\p{M}*"},
      {"\\Uabc\\E", 0, "\\U changes the case"},
      {"\\la", 0, "\\l changes the case"},
      {"[a\\z]", 2, "\\z has no meaning inside a character class"},
      {"[\\R]", 1, "\\R has no meaning inside a character class"},
      {"[[.a.]]", 1, "POSIX collating elements like [.a.]"},
      {"[[=e=]]", 1, "POSIX collating elements like [=e=]"},
  };
  for (const Case& c : cases) ExpectProblem(c);
}

TEST(RegexCheckTest, CalloutsCodeVerbsAndOptions) {
  const Case cases[] = {
      {"a(?C)b", 1, "callouts like (?C)"},
      {"a(?C12)b", 1, "callouts like (?C12)"},
      {"a(?{ code })", 1, "embedded code"},
      {"a(??{ code })", 1, "embedded code"},
      {"a(*SKIP)b", 1, "backtracking control verbs like (*SKIP)"},
      {"a(*FAIL)|b", 1, "can simply be deleted"},
      {"a(*F)|b", 1, "(*F)"},
      {"a(*PRUNE)b", 1, "(*PRUNE)"},
      {"a(*COMMIT)b", 1, "(*COMMIT)"},
      {"a(*THEN)b", 1, "(*THEN)"},
      {"a(*ACCEPT)b", 1, "(*ACCEPT)"},
      {"a(*MARK:m)b", 1, "(*MARK:m)"},
      {"a(*:m)b", 1, "(*:m)"},
      {"(*UTF8)abc", 0, "pattern options like (*UTF8)"},
      {"(*UCP)abc", 0, "pattern options like (*UCP)"},
      {"(*CRLF)abc", 0, "pattern options like (*CRLF)"},
      {"(*SKIP)abc", 0, "backtracking control verbs"},
      {"(?|(a)|(b))", 0, "branch-reset groups"},
      {"(?U)a+", 0, "the inline option U in (?U)"},
      {"(?iJ:a)", 0, "the inline option J"},
      {"(?^)a", 0, "the inline option ^"},
  };
  for (const Case& c : cases) ExpectProblem(c);
}

TEST(RegexCheckTest, ReportsTheFirstConstruct) {
  ExpectProblem({"x(?=a)(a)\\1", 1, "lookahead"});
  ExpectProblem({"(a)\\1(?=a)", 3, "back-references"});
}

// Each of these compiles with Hyperscan 5.4 in UTF-8 mode.
TEST(RegexCheckTest, TrickyPatternsThatAreFine) {
  const char* fine[] = {
      "",
      "plain text",
      "\\\\1",                             // a literal backslash, then 1
      "\\\\\\\\1",                         // two literal backslashes, then 1
      "\\0",                               // octal NUL
      "\\12",                              // octal: fewer than 12 groups are open
      "(a)\\012",                          // octal \012
      "\\x41\\x{263A}\\o{101}\\cA\\c\\x",  // hex, octal, control characters (\c\ is one)
      "\\p{L}+\\pL*\\P{Lu}?",              // properties then ordinary quantifiers
      "[(?=a)]",                           // lookahead text inside a class
      "[(?<=a)]",
      "[\\1]",  // octal inside a class
      "[+*?]+",
      "[a*]+b",
      "[]a]+",  // "]" first in a class is literal
      "[^]a]+",
      "[]]*",
      "[\\]]+",
      "[\\Q]\\E]+",  // quoted "]" inside a class
      "[[:alpha:][:digit:]]+",
      "[[:a]b:](?:x)+",  // not a POSIX class: the first "]" ends the class
      "[[]+",            // "[" inside a class is literal
      "[\\b\\d\\s\\w\\h\\v\\x{41}\\p{L}\\e\\a\\f\\n\\r\\t\\-]",
      "\\Q(?=a)\\1*+\\E",         // quoted text
      "\\Q(?=a)",                 // quoted to the end
      "\\Eabc",                   // \E alone does nothing
      "(?#not (?=a \\1 x*+)abc",  // a comment runs to the first ")"
      "(?<name>a)(?P<other>b)(?'third'c)",
      "(?i)abc(?-i)def(?i:ghi)(?:jkl)(?s-m:x)",
      "(?x) a b # (?=comment) \\1 *+\n c",  // x-mode comment
      "(?:ab)+",
      "(?:ab)*?",
      "(ab)+?",
      "x*",
      "x\\*+",  // literal "*", then +
      "x\\++",
      "x+?y??z*?",
      "a{2}",
      "a{2,}b{2,5}",
      "a{2}?",
      "a{x}+",   // "{x}" is literal text
      "a{,2}+",  // "{,2}" is literal text to the engine
      "a{2,x}+",
      "a{}+",
      "\\{2}+",  // escaped brace: literal
      "a\\{2\\}+",
      "\\d{3}-\\d{2}-\\d{4}",
      "[A-Z0-9._%+-]+@[A-Z0-9.-]+\\.[A-Z]{2,}",
      "(?i)ignore (all )?(previous|prior) instructions",
      "\\bAKIA[0-9A-Z]{16}\\b",
      "-----BEGIN (RSA |EC )?PRIVATE KEY-----",
      "^a|b$",
      "\\Aabc\\z",
      "(?<n>a)",
      "caf\xC3\xA9+",  // UTF-8 literal quantified
  };
  for (const char* p : fine) {
    RegexProblem out;
    out.offset = 77;
    out.reason = "untouched";
    EXPECT_FALSE(FindUnsupportedRegex(p, &out)) << p << ": " << out.reason;
    EXPECT_EQ(out.offset, 77u);
    EXPECT_EQ(out.reason, "untouched");
  }
}

TEST(RegexCheckTest, XModeEndsWithItsGroup) {
  // (?x) inside a group stops at its end: the # afterwards is literal and the
  // lookahead after it is real.
  ExpectProblem({"(?:(?x) # c\n)#(?=a)", 14, "lookahead"});
  ExpectProblem({"(?x:#(?=a)\n)(?=b)", 12, "lookahead"});
  RegexProblem p;
  EXPECT_FALSE(FindUnsupportedRegex("(?x)(a # (?=c)\n)# (?=d)", &p)) << p.reason;
  ExpectProblem({"(?x-x)#(?=a)", 7, "lookahead"});
}

TEST(RegexCheckTest, MalformedPatternsAreLeftToTheCompiler) {
  // Syntax errors are not unsupported constructs: the engine's compiler
  // reports them. The checker must neither crash nor read past the end.
  const char* malformed[] = {"\\",     "a\\",    "[abc",  "[",   "[^",  "[]",  "(abc",     "abc)", "(?", "(?#abc",
                             "\\Qabc", "\\x{41", "\\p{L", "\\c", "a{2", "[\\", "[[:alpha", "(?P",  "(?<"};
  for (const char* p : malformed) {
    RegexProblem out;
    EXPECT_FALSE(FindUnsupportedRegex(p, &out)) << p << ": " << out.reason;
  }
  // Quantifiers with nothing to repeat are the compiler's to report, even when
  // a "+" follows: "{2}" at the start, and a "+" after a space in x mode
  // (which repeats the repeat rather than making it possessive).
  for (const char* p : {"{2}", "{2}+", "*+", "(++)", "a|++", "(?x)a{2} + ", "(?x)a* +"}) {
    RegexProblem out;
    EXPECT_FALSE(FindUnsupportedRegex(p, &out)) << p << ": " << out.reason;
  }
  // Constructs cut short at the end are still reported where they start.
  ExpectProblem({"ab(?=", 2, "lookahead"});
  ExpectProblem({"ab\\g", 2, "back-references"});
  ExpectProblem({"ab\\k<x", 2, "back-references"});
  ExpectProblem({"ab(*SKIP", 2, "backtracking control verbs"});
}

}  // namespace
}  // namespace gavel
