// The compiler driver: source -> AST -> checker -> codegen -> verified
// Program. Any exception from below (ANTLR, allocation) is turned into a
// diagnostic here; none escapes.
#include "engine/compiler/compiler.h"

#include <fstream>
#include <sstream>

#include "engine/compiler/ast.h"
#include "engine/compiler/checker.h"
#include "engine/compiler/codegen.h"
#include "engine/compiler/screen_compile.h"
#include "engine/runtime/bundle.h"

#ifndef GAVEL_STDLIB_DIR
#define GAVEL_STDLIB_DIR ""
#endif

namespace gavel {

size_t FirstInvalidUtf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || i + n > s.size()) return i;
    uint32_t cp = n == 1 ? c : n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
    for (size_t k = 1; k < n; ++k) {
      const unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return i;
    i += n;
  }
  return std::string::npos;
}

std::string CompileResult::RenderDiagnostics() const {
  if (source) return diagnostics.Render(*source);
  return diagnostics.RenderPlain("<input>");
}

CompileResult CompileSource(const std::string& path, const std::string& text, const CompileLimits& limits,
                            const std::string& stdlib_dir) {
  CompileResult r;
  r.source = std::make_unique<Source>(path, text);
  r.diagnostics.set_limit(limits.max_errors);
  if (text.size() > limits.max_source_bytes) {
    r.diagnostics.Error(
        Err::kSourceTooLarge, {0, 0},
        "source is " + std::to_string(text.size()) + " bytes; the limit is " + std::to_string(limits.max_source_bytes));
    return r;
  }
  // ANTLR converts the text to code points and throws on invalid UTF-8;
  // find the first bad byte first so the error has a location.
  if (size_t bad = FirstInvalidUtf8(text); bad != std::string::npos) {
    r.diagnostics.Error(Err::kInvalidUtf8, {static_cast<uint32_t>(bad), static_cast<uint32_t>(bad + 1)},
                        "invalid UTF-8 at byte " + std::to_string(bad));
    return r;
  }
  try {
    PolicyAst ast;
    if (!ParsePolicy(*r.source, limits.max_nesting, &ast, &r.diagnostics)) {
      r.diagnostics.Sort();
      return r;
    }
    Checker checker(&ast, &r.diagnostics, limits, stdlib_dir.empty() ? GAVEL_STDLIB_DIR : stdlib_dir, path);
    const bool checked = checker.Run();
    std::unique_ptr<Program> p;
    if (checked) p = GenerateProgram(ast, checker.scope(), *r.source, limits, &r.diagnostics, &r.worst_case_cost);
    r.diagnostics.Sort();
    if (!p || r.diagnostics.has_errors()) return r;
    if (std::string serr = BuildScreenData(p.get()); !serr.empty()) {
      r.diagnostics.Error(Err::kScreenCompile, {0, 0}, "the patterns cannot be compiled for screening: " + serr);
      return r;
    }
    std::string err = VerifyAndLink(p.get());
    if (!err.empty()) {
      r.diagnostics.Error(Err::kInternalVerify, {0, 0}, "internal: generated program fails verification: " + err);
      return r;
    }
    WriteBundle(p.get());  // sets the program's identity hash to its bundle's
    r.program = std::move(p);
  } catch (const std::exception& e) {
    r.diagnostics.Error(Err::kInternalCompiler, {0, 0}, std::string("internal compiler error: ") + e.what());
  }
  return r;
}

CompileResult CompileFile(const std::string& path, const CompileLimits& limits, const std::string& stdlib_dir) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    CompileResult r;
    r.source = std::make_unique<Source>(path, "");
    r.diagnostics.Error(Err::kUnreadable, {0, 0}, "cannot read " + path);
    return r;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return CompileSource(path, ss.str(), limits, stdlib_dir);
}

}  // namespace gavel
