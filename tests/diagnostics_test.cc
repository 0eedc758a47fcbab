// Diagnostics as policy authors meet them: every code comes from
// diagnostic_codes.def (and nothing else uses one), positions count code
// points after multi-byte text on the same and earlier lines, and the hints
// for spellings of other languages, misspelled keywords and `1e4`.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "engine/compiler/compiler.h"
#include "engine/runtime/program.h"

namespace gavel {
namespace {

// One diagnostic as an author reads it: code, line:col and the text under the caret.
struct Seen {
  std::string code;
  uint32_t line = 0, col = 0;
  std::string under;
  std::string message;
};

std::vector<Seen> Diagnose(const std::string& text, CompileResult* keep = nullptr) {
  CompileResult r = CompileSource("t.policy", text);
  std::vector<Seen> out;
  for (const Diagnostic& d : r.diagnostics.items()) {
    Seen s;
    s.code = d.code;
    r.source->Position(d.range.begin, &s.line, &s.col);
    s.under = text.substr(d.range.begin, d.range.end - d.range.begin);
    s.message = d.message;
    out.push_back(s);
  }
  if (keep) *keep = std::move(r);
  return out;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// --- the table ----------------------------------------------------------------

TEST(DiagnosticTable, CodesAreUniqueWellFormedAndMatchTheirSeverity) {
  std::set<std::string> seen;
  for (const DiagnosticInfo& d : DiagnosticTable()) {
    const std::string code = d.code;
    EXPECT_TRUE(std::regex_match(code, std::regex("[EW][0-9]{4}"))) << code;
    EXPECT_TRUE(seen.insert(code).second) << code << " is in the table twice";
    EXPECT_EQ(code[0] == 'E', d.severity == Severity::kError) << code;
    EXPECT_FALSE(std::string(d.meaning).empty()) << code;
  }
  EXPECT_STREQ(CodeOf(Err::kSyntax), "E0001");
  EXPECT_STREQ(CodeOf(Err::kInvalidUtf8), "E0009");
  EXPECT_STREQ(CodeOf(Warn::kDuplicatePattern), "W0106");
}

// Every `E0123`/`W0123` written anywhere in the compiler, policyc, the C API,
// the documentation or the golden expectations is a code of the table. Call
// sites cannot pass a string (Diagnostics::Error takes an Err), so a code
// appearing in a string or a comment elsewhere would be one the table lacks.
TEST(DiagnosticTable, NoCodeIsUsedThatTheTableLacks) {
  std::set<std::string> table;
  for (const DiagnosticInfo& d : DiagnosticTable()) table.insert(d.code);
  namespace fs = std::filesystem;
  const fs::path root = GAVEL_SOURCE_DIR;
  const std::regex code(R"(\b[EW]0[0-9]{3}\b)");
  int files = 0;
  for (const char* dir : {"engine/compiler", "policyc", "capi", "docs", "tests/golden", "stdlib", "policies"}) {
    for (const auto& entry : fs::recursive_directory_iterator(root / dir)) {
      if (!entry.is_regular_file()) continue;
      const std::string text = ReadFile(entry.path().string());
      ++files;
      for (auto it = std::sregex_iterator(text.begin(), text.end(), code); it != std::sregex_iterator(); ++it)
        EXPECT_TRUE(table.count(it->str())) << entry.path() << " uses " << it->str() << ", which the table lacks";
    }
  }
  EXPECT_GT(files, 20);
}

TEST(DiagnosticTable, MarkdownHasOneRowPerCode) {
  const std::string md = DiagnosticTableMarkdown();
  for (const DiagnosticInfo& d : DiagnosticTable())
    EXPECT_NE(md.find(std::string("| ") + d.code + " | "), std::string::npos) << d.code;
  EXPECT_NE(md.find("| E0009 | error | "), std::string::npos);
  EXPECT_NE(md.find("| W0106 | warning | "), std::string::npos);
  // Every row has exactly its four cell borders: a `|` in a meaning is escaped.
  std::istringstream rows(md);
  for (std::string row; std::getline(rows, row);) {
    int borders = 0;
    for (size_t i = 0; i < row.size(); ++i) borders += row[i] == '|' && (i == 0 || row[i - 1] != '\\');
    EXPECT_EQ(borders, 4) << row;
  }
}

// --- positions after multi-byte text --------------------------------------------

TEST(DiagnosticPosition, UnknownAttributeAfterMultibyteCommentTwoLinesAbove) {
  const std::string text =
      "package t\n"
      "\n"
      "// naïve comment — with “quotes” and 日本語 text\n"
      "\n"
      "rule r { when request.modle == \"x\"  deny \"x\" }\n";
  auto d = Diagnose(text);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].code, "E0201");
  EXPECT_EQ(d[0].line, 5u);
  EXPECT_EQ(d[0].col, 23u);  // `modle`, the last component of request.modle
  EXPECT_EQ(d[0].under, "modle");
}

TEST(DiagnosticPosition, ColumnsCountCodePointsBeforeTheErrorOnTheSameLine) {
  // “é” is 1 code point and 2 bytes; the quotes are 3 bytes each.
  const std::string text = "package t\nconst “x” = 1\n";
  auto d = Diagnose(text);
  ASSERT_FALSE(d.empty());
  EXPECT_EQ(d[0].code, "E0002");
  EXPECT_EQ(d[0].line, 2u);
  EXPECT_EQ(d[0].col, 7u);
  EXPECT_EQ(d[0].under, "“");

  const std::string same_line = "package t\nrule r { when \"日本語\" == request.modle deny \"x\" }\n";
  d = Diagnose(same_line);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].line, 2u);
  EXPECT_EQ(d[0].col, 32u);  // bytes would say 38
  EXPECT_EQ(d[0].under, "modle");
}

TEST(DiagnosticPosition, SyntaxErrorAfterMultibyteText) {
  const std::string text = "package t\n// “é”\nrule r { when \"é\" == \"é\" denny \"x\" }\n";
  auto d = Diagnose(text);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].code, "E0001");
  EXPECT_EQ(d[0].line, 3u);
  EXPECT_EQ(d[0].col, 26u);
  EXPECT_EQ(d[0].under, "denny");
}

TEST(DiagnosticPosition, InterpolationErrorAfterMultibyteTextInTheMessage) {
  const std::string text = "package t\n// —\nrule r { deny \"café ${request.modle}\" }\n";
  auto d = Diagnose(text);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].code, "E0201");
  EXPECT_EQ(d[0].line, 3u);
  EXPECT_EQ(d[0].col, 31u);
  EXPECT_EQ(d[0].under, "modle");
}

TEST(DiagnosticPosition, RenderedCaretSitsUnderTheErrorAfterMultibyteText) {
  const std::string text = "package t\nrule r { when \"ü\" == request.modle deny \"x\" }\n";
  CompileResult r = CompileSource("t.policy", text);
  const std::string shown = r.RenderDiagnostics();
  EXPECT_NE(shown.find("t.policy:2:30: error[E0201]"), std::string::npos) << shown;
  EXPECT_NE(shown.find("   | rule r { when \"ü\" == request.modle deny \"x\" }\n"
                       "   |                              ^^^^^\n"),
            std::string::npos)
      << shown;
}

// policies/support_assistant.policy has multi-byte text (curly quotes) before
// its limit and rules. W0104 was reported at 171:64, inside the comment above
// `limit key_rpm`; `explain` and `test --coverage` print Rule::line, and a
// rule on line 149 was reported at 146. One test: the compile is the slow part.
TEST(DiagnosticPosition, SupportAssistantW0104AndRuleLines) {
  const std::string path = std::string(GAVEL_SOURCE_DIR) + "/policies/support_assistant.policy";
  const std::string text = ReadFile(path);
  const size_t limit = text.find("limit key_rpm");
  ASSERT_NE(limit, std::string::npos);
  ASSERT_TRUE(std::any_of(text.begin(), text.begin() + limit, [](char c) { return (c & 0x80) != 0; }))
      << "the policy no longer has multi-byte text before its limit";
  CompileResult r = CompileSource(path, text, {}, std::string(GAVEL_SOURCE_DIR) + "/stdlib");
  ASSERT_TRUE(r.ok()) << r.RenderDiagnostics();
  bool found = false;
  for (const Diagnostic& d : r.diagnostics.items()) {
    if (d.code != "W0104") continue;
    found = true;
    EXPECT_EQ(text.substr(d.range.begin, d.range.end - d.range.begin), "key_rpm");
    uint32_t line, col;
    r.source->Position(d.range.begin, &line, &col);
    EXPECT_EQ(r.source->LineText(line).rfind("limit key_rpm", 0), 0u) << line;
    EXPECT_EQ(col, 7u);
  }
  EXPECT_TRUE(found);
  for (const Rule& rule : r.program->rules) {
    const std::string line = r.source->LineText(rule.line);
    EXPECT_EQ(line.rfind("rule " + rule.name + " ", 0), 0u)
        << "rule " << rule.name << " reported at line " << rule.line << ": " << line;
  }
  EXPECT_GT(r.program->rules.size(), 10u);
}

TEST(DiagnosticPosition, InvalidUtf8IsReportedAtItsByte) {
  auto d = Diagnose("package t\n// é \xff\n");
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].code, "E0009");
  EXPECT_NE(d[0].message.find("byte 16"), std::string::npos) << d[0].message;
}

// --- hints --------------------------------------------------------------------

std::vector<Seen> Rule(const std::string& body) { return Diagnose("package t\nrule r { " + body + " }\n"); }

TEST(DiagnosticHint, SingleEqualsSuggestsDoubleEquals) {
  auto d = Rule("when request.model = \"x\" deny \"x\"");
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].under, "=");
  EXPECT_NE(d[0].message.find("(did you mean '=='?)"), std::string::npos) << d[0].message;
}

TEST(DiagnosticHint, CSpelledOperatorsSuggestWords) {
  struct Case {
    std::string body, under, hint;
  } cases[] = {
      {"when request.stream && true deny \"x\"", "&&", "'and'"},
      {"when request.stream & true deny \"x\"", "&", "'and'"},
      {"when request.stream || true deny \"x\"", "||", "'or'"},
      {"when !request.stream deny \"x\"", "!", "'not'"},
  };
  for (const Case& c : cases) {
    auto d = Rule(c.body);
    ASSERT_EQ(d.size(), 1u) << c.body;
    EXPECT_EQ(d[0].code, "E0002");
    EXPECT_EQ(d[0].under, c.under);
    EXPECT_NE(d[0].message.find("(did you mean " + c.hint + "?)"), std::string::npos) << d[0].message;
  }
  // `!=` is the language's own operator: no hint, no error.
  EXPECT_TRUE(Rule("when request.model != \"x\" deny \"x\"").empty());
}

TEST(DiagnosticHint, MisspelledKeywordsSuggestTheKeyword) {
  struct Case {
    std::string text, under, hint;
  } cases[] = {
      {"package t\nrule r { when request.stream denny \"x\" }\n", "denny", "'deny'"},
      {"package t\nrule r { denny \"x\" }\n", "denny", "'deny'"},
      {"package t\nrule r { alow }\n", "alow", "'allow'"},
      {"package t\nrulle r { deny \"x\" }\n", "rulle", "'rule'"},
      {"pacakge t\n", "pacakge", "'package'"},
      // After a whole effect or expression ANTLR expects only `}`: all keywords are candidates.
      {"package t\nrule r { when request.stream deny \"x\" statuss 403 }\n", "statuss", "'status'"},
      {"package t\nrule r { when request.stream anf true deny \"x\" }\n", "anf", "'and'"},
  };
  for (const Case& c : cases) {
    auto d = Diagnose(c.text);
    ASSERT_FALSE(d.empty()) << c.text;
    EXPECT_EQ(d[0].code, "E0001");
    EXPECT_EQ(d[0].under, c.under);
    EXPECT_NE(d[0].message.find("(did you mean " + c.hint + "?)"), std::string::npos) << d[0].message;
  }
  // A short name near no keyword gets no guess.
  auto d = Rule("when request.stream xy \"x\"");
  ASSERT_FALSE(d.empty());
  EXPECT_EQ(d[0].message.find("did you mean"), std::string::npos) << d[0].message;
}

TEST(DiagnosticHint, UnknownAttributeSuggestsTheField) {
  auto d = Rule("when request.modle == \"x\" deny \"x\"");
  ASSERT_EQ(d.size(), 1u);
  EXPECT_NE(d[0].message.find("(did you mean 'model'?)"), std::string::npos) << d[0].message;
}

TEST(DiagnosticHint, ExponentWithoutFractionSaysHowToWriteIt) {
  struct Case {
    std::string literal, fixed;
  } cases[] = {{"1e4", "1.0e4"}, {"1E4", "1.0E4"}, {"25e+3", "25.0e+3"}, {"1e-4", "1.0e-4"}};
  for (const Case& c : cases) {
    auto d = Rule("when request.max_tokens > " + c.literal + " deny \"x\"");
    ASSERT_EQ(d.size(), 1u) << c.literal;
    EXPECT_EQ(d[0].code, "E0010");
    EXPECT_EQ(d[0].under, c.literal);
    EXPECT_NE(d[0].message.find("write '" + c.fixed + "'"), std::string::npos) << d[0].message;
  }
  EXPECT_TRUE(Rule("when request.max_tokens > 1.0e4 deny \"x\"").empty());
  // A name that merely starts with e after a space is not an exponent.
  auto d = Diagnose("package t\nconst e4 = 1\nrule r { when request.max_tokens > e4 deny \"x\" }\n");
  EXPECT_TRUE(d.empty());
}

// --- corners ------------------------------------------------------------------

TEST(DiagnosticCorner, UnknownModuleIsOneErrorAtTheImport) {
  const std::string text =
      "package t\n"
      "import std.nope\n"
      "rule a { when std.nope.email in request.text deny \"x\" }\n"
      "rule b { when count(std.nope.any in request.text) > 1 deny \"x\" }\n"
      "rule c { redact std.nope.email in request.text with \"x\" }\n";
  auto d = Diagnose(text);
  ASSERT_EQ(d.size(), 1u) << d[1].message;
  EXPECT_EQ(d[0].code, "E0206");
  EXPECT_EQ(d[0].line, 2u);
  EXPECT_EQ(d[0].under, "std.nope");
}

TEST(DiagnosticCorner, HasOfAMapEntryCompiles) {
  const std::string text =
      "package t\n"
      "schema principal {\n"
      "  quotas: map<string, int> = {}\n"
      "}\n"
      "rule r { when has(request.metadata[\"ticket\"]) deny \"x\" }\n"
      "rule s { when has(principal.quotas[\"x\"]) deny \"y\" }\n";
  CompileResult r;
  auto d = Diagnose(text, &r);
  EXPECT_TRUE(d.empty()) << d[0].message;
  EXPECT_TRUE(r.ok());
  // Not an attribute's map: still refused, with the spelling that works.
  d = Rule("when has([\"a\"][0]) deny \"x\"");
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].code, "E0313");
  EXPECT_NE(d[0].message.find("has(request.metadata[\"ticket_id\"])"), std::string::npos) << d[0].message;
}

}  // namespace
}  // namespace gavel
