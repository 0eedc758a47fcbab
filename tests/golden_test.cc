// Golden tests: the exact diagnostics of broken policies (tests/golden/
// diagnostics/*.policy -> .out), the exact disassembly of every example policy
// (tests/golden/dump/*.dump), and that the formatter maps every example to
// itself. GAVEL_UPDATE_GOLDEN=1 rewrites the expected files; review the diff.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/compiler/compiler.h"
#include "engine/runtime/program.h"

namespace gavel {
namespace {

namespace fs = std::filesystem;

std::string Read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool Updating() { return std::getenv("GAVEL_UPDATE_GOLDEN") != nullptr; }

void CheckGolden(const fs::path& expected_path, const std::string& actual) {
  if (Updating()) {
    std::ofstream(expected_path, std::ios::binary) << actual;
    return;
  }
  ASSERT_TRUE(fs::exists(expected_path)) << expected_path << " is missing; run with GAVEL_UPDATE_GOLDEN=1";
  EXPECT_EQ(Read(expected_path), actual) << "golden mismatch: " << expected_path;
}

std::vector<fs::path> Files(const fs::path& dir, const std::string& ext) {
  std::vector<fs::path> out;
  for (auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ext) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

const fs::path kRoot = GAVEL_SOURCE_DIR;

TEST(GoldenDiagnostics, EveryBrokenPolicyReportsExactly) {
  auto files = Files(kRoot / "tests/golden/diagnostics", ".policy");
  ASSERT_GE(files.size(), 8u);
  for (const fs::path& p : files) {
    SCOPED_TRACE(p.filename().string());
    // Paths relative to the repository, so the output does not depend on the checkout.
    CompileResult r = CompileSource("tests/golden/diagnostics/" + p.filename().string(), Read(p));
    std::string out = r.RenderDiagnostics();
    out += r.ok() ? "result: compiled\n" : "result: refused\n";
    CheckGolden(fs::path(p).replace_extension(".out"), out);
  }
}

TEST(GoldenDiagnostics, BrokenPoliciesAreRefused) {
  for (const fs::path& p : Files(kRoot / "tests/golden/diagnostics", ".policy")) {
    CompileResult r = CompileSource(p.filename().string(), Read(p));
    if (p.filename() == "constant_false.policy") {
      EXPECT_TRUE(r.ok()) << "a constant-false condition is a warning, not an error";
      EXPECT_EQ(r.diagnostics.warnings(), 1);
    } else {
      EXPECT_FALSE(r.ok()) << p;
      EXPECT_GT(r.diagnostics.errors(), 0) << p;
    }
  }
}

TEST(GoldenDump, EveryExamplePolicyDisassemblesExactly) {
  auto files = Files(kRoot / "policies", ".policy");
  ASSERT_GE(files.size(), 3u);
  for (const fs::path& p : files) {
    SCOPED_TRACE(p.filename().string());
    CompileResult r = CompileSource(p.filename().string(), Read(p));
    ASSERT_TRUE(r.ok()) << r.RenderDiagnostics();
    CheckGolden(kRoot / "tests/golden/dump" / fs::path(p.filename()).replace_extension(".dump"),
                Disassemble(*r.program));
  }
}

TEST(Format, EveryExampleFormatsToItself) {
  for (const fs::path& p : Files(kRoot / "policies", ".policy")) {
    SCOPED_TRACE(p.filename().string());
    const std::string text = Read(p);
    std::string out;
    Diagnostics d;
    ASSERT_TRUE(FormatSource(p.string(), text, &out, &d));
    EXPECT_EQ(text, out);
  }
}

TEST(Format, IsIdempotentOnMessyInput) {
  const std::string messy =
      "// header\n\npackage   a.b\nversion \"1\"   // trailing\n\n\n// about x\nconst x={\"b\",\"a\"}\n"
      "schema principal{team:string=\"x\" // who\n roles:set<string>}\n"
      "rule r on response{ // r\n  when ( response.text contains \"k\" )and not response.finish_reason==\"stop\" "
      "// inner\n deny \"no ${response.text}\" code \"c\" status 451 }\n"
      "patterns p caseless { \"a\" // one\n /b+/ }\n// tail\n";
  std::string once, twice;
  Diagnostics d1, d2;
  ASSERT_TRUE(FormatSource("m.policy", messy, &once, &d1));
  ASSERT_TRUE(FormatSource("m.policy", once, &twice, &d2));
  EXPECT_EQ(once, twice);
  for (const char* c : {"// header", "// trailing", "// about x", "// who", "// r", "// inner", "// one", "// tail"})
    EXPECT_NE(once.find(c), std::string::npos) << "formatter lost comment " << c;
  // The formatted text compiles to the same program as the original.
  CompileResult a = CompileSource("m.policy", messy), b = CompileSource("m.policy", once);
  ASSERT_TRUE(a.ok()) << a.RenderDiagnostics();
  ASSERT_TRUE(b.ok()) << b.RenderDiagnostics();
  EXPECT_EQ(Disassemble(*a.program), Disassemble(*b.program));
}

TEST(Limits, OversizedSourceIsRefused) {
  CompileLimits limits;
  limits.max_source_bytes = 1000;
  CompileResult r = CompileSource("big.policy", "package a\n" + std::string(2000, ' '), limits);
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.RenderDiagnostics().find("E0007"), std::string::npos);
}

TEST(Limits, LongOperatorChainsAreRefusedWithoutCrashing) {
  std::string cond = "request.model == \"a\"";
  for (int i = 0; i < 5000; ++i) cond += " or request.model == \"a\"";
  CompileResult r = CompileSource("chain.policy", "package a\nrule r {\n  when " + cond + "\n  deny\n}\n");
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.RenderDiagnostics().find("E0006"), std::string::npos);
}

TEST(Limits, ManyErrorsStopAtTheLimit) {
  std::string src = "package a\n";
  for (int i = 0; i < 200; ++i) src += "rule r" + std::to_string(i) + " { when nope" + std::to_string(i) + " deny }\n";
  CompileResult r = CompileSource("many.policy", src);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.diagnostics.errors(), 50);
  EXPECT_NE(r.RenderDiagnostics().find("too many errors"), std::string::npos);
}

}  // namespace
}  // namespace gavel
