// QuoteString is the one quoter of policy string literals (formatter, predicate
// identity, tests that write policies): whatever bytes it quotes must parse back
// to exactly those bytes, survive `policyc fmt`, and never read as `${...}`.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/compiler/ast.h"
#include "engine/compiler/compiler.h"

namespace gavel {
namespace {

// Encodes a code point as UTF-8.
std::string Utf8(uint32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else if (cp < 0x800) {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    s += static_cast<char>(0xE0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    s += static_cast<char>(0xF0 | (cp >> 18));
    s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

// Every byte value that can occur in UTF-8 text (policy source must be UTF-8):
// each ASCII byte alone, every two-byte sequence (all lead bytes C2-DF and all
// continuation bytes), and three- and four-byte sequences for every other lead
// byte, plus the strings that once printed as interpolations.
std::vector<std::string> Samples() {
  std::vector<std::string> out;
  for (uint32_t b = 0; b < 0x80; ++b) out.push_back(std::string(1, static_cast<char>(b)));
  for (uint32_t cp = 0x80; cp < 0x800; ++cp) out.push_back(Utf8(cp));
  for (uint32_t lead = 0xE0; lead <= 0xEF; ++lead) {
    const uint32_t cp = ((lead & 0x0F) << 12) | 0x0A5A;
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;  // surrogates are not UTF-8; ED still appears below
    out.push_back(Utf8(cp < 0x800 ? 0x0800 : cp));
  }
  out.push_back(Utf8(0xD7FF));                                                                      // lead byte ED
  for (uint32_t cp : {0x10000u, 0x4A5A5u, 0x8A5A5u, 0xCA5A5u, 0x10FFFFu}) out.push_back(Utf8(cp));  // F0-F4
  for (const char* s : {"${", "${x}", "$", "a${request.model}b", "\\${", "$${{", "\"${\"", "tab\there\nnew\r\x01\x7f"})
    out.push_back(s);
  std::string all_ascii;
  for (int b = 0; b < 0x80; ++b) all_ascii += static_cast<char>(b);
  out.push_back(all_ascii);
  return out;
}

// The string literal and the quoted map key of `const c = Q` and `const m = {Q: 1}`.
bool ParseBack(const std::string& text, std::string* literal, std::string* key, std::string* why) {
  Source src("quote.policy", text);
  Diagnostics diags;
  PolicyAst ast;
  if (!ParsePolicy(src, 64, &ast, &diags) || diags.has_errors() || ast.decls.size() != 2) {
    *why = "does not parse";
    return false;
  }
  const Expr* c = ast.decls[0].expr.get();
  const Expr* m = ast.decls[1].expr.get();
  if (!c || c->kind != ExprKind::kString || !m || m->kind != ExprKind::kMap || m->keys.size() != 1 ||
      !m->key_quoted[0]) {
    *why = "parses to something else";
    return false;
  }
  *literal = c->text;
  *key = m->keys[0];
  return true;
}

std::string Shown(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "\\x%02x", c);
    out += buf;
  }
  return out;
}

TEST(QuoteTest, EveryByteRoundTripsThroughQuotingParsingAndFormatting) {
  for (const std::string& s : Samples()) {
    SCOPED_TRACE("string bytes " + Shown(s));
    const std::string q = QuoteString(s);
    ASSERT_GE(q.size(), 2u);
    // One line, no raw control character, no unescaped `${`.
    for (size_t i = 0; i < q.size(); ++i) {
      const unsigned char c = static_cast<unsigned char>(q[i]);
      EXPECT_FALSE(c < 0x20 || c == 0x7f) << "raw control byte in " << q;
      if (q[i] == '$') {
        EXPECT_EQ(q[i - 1], '\\') << q;
      }
    }
    const std::string text = "const c = " + q + "\nconst m = {" + q + ": 1}\n";
    std::string literal, key, why;
    ASSERT_TRUE(ParseBack(text, &literal, &key, &why)) << why << ":\n" << text;
    EXPECT_EQ(literal, s);
    EXPECT_EQ(key, s);

    // fmt prints the key with QuoteString; what it prints parses back the same
    // and formats to itself.
    std::string formatted, again;
    Diagnostics d1, d2;
    ASSERT_TRUE(FormatSource("quote.policy", text, &formatted, &d1)) << text;
    ASSERT_TRUE(ParseBack(formatted, &literal, &key, &why)) << why << ":\n" << formatted;
    EXPECT_EQ(literal, s);
    EXPECT_EQ(key, s);
    ASSERT_TRUE(FormatSource("quote.policy", formatted, &again, &d2));
    EXPECT_EQ(again, formatted);

    // A canonical form printed from an unquoted value (as predicate names are)
    // is the quoted form.
    Expr e;
    e.kind = ExprKind::kString;
    e.text = s;
    EXPECT_EQ(PrintExpr(e), q);
  }
}

TEST(QuoteTest, QuotedDollarBraceInAMessageIsTextNotAnInterpolation) {
  for (const std::string s : {"${", "${request.model}", "cost: $5 ${", "${nope"}) {
    SCOPED_TRACE(s);
    const std::string text = "package q\nrule r { when request.model == \"m\" deny " + QuoteString(s) + " }\n";
    CompileResult r = CompileSource("q.policy", text);
    ASSERT_TRUE(r.ok()) << r.RenderDiagnostics();
    ASSERT_EQ(r.program->rules.size(), 1u);
    const Rule& rule = r.program->rules[0];
    ASSERT_EQ(rule.message.size(), 1u);
    EXPECT_FALSE(rule.message[0].is_expr);
    EXPECT_EQ(rule.message[0].text, s);
  }
}

TEST(QuoteTest, EscapesAreTheDocumentedOnes) {
  EXPECT_EQ(QuoteString(""), "\"\"");
  EXPECT_EQ(QuoteString("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(QuoteString("${x}"), "\"\\${x}\"");
  EXPECT_EQ(QuoteString("\n\t\r"), "\"\\n\\t\\r\"");
  EXPECT_EQ(QuoteString(std::string("\x00\x1f\x7f", 3)), "\"\\u0000\\u001F\\u007F\"");
  EXPECT_EQ(QuoteString("caf\xc3\xa9"), "\"caf\xc3\xa9\"");
}

}  // namespace
}  // namespace gavel
