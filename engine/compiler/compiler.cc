// The compiler driver: source -> AST -> checker -> codegen -> verified
// Program. Any exception from below (ANTLR, allocation) is turned into a
// diagnostic here; none escapes.
#include "engine/compiler/compiler.h"

#include <fstream>
#include <sstream>

#include "engine/compiler/ast.h"
#include "engine/compiler/checker.h"
#include "engine/compiler/codegen.h"
#include "engine/runtime/bundle.h"

#ifndef GAVEL_STDLIB_DIR
#define GAVEL_STDLIB_DIR ""
#endif

namespace gavel {

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
    r.diagnostics.Error("E0007", {0, 0},
                        "source is " + std::to_string(text.size()) + " bytes; the limit is " +
                            std::to_string(limits.max_source_bytes));
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
    std::string err = VerifyAndLink(p.get());
    if (!err.empty()) {
      r.diagnostics.Error("E0504", {0, 0}, "internal: generated program fails verification: " + err);
      return r;
    }
    WriteBundle(p.get());  // sets the program's identity hash to its bundle's
    r.program = std::move(p);
  } catch (const std::exception& e) {
    r.diagnostics.Error("E0505", {0, 0}, std::string("internal compiler error: ") + e.what());
  }
  return r;
}

CompileResult CompileFile(const std::string& path, const CompileLimits& limits, const std::string& stdlib_dir) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    CompileResult r;
    r.source = std::make_unique<Source>(path, "");
    r.diagnostics.Error("E0008", {0, 0}, "cannot read " + path);
    return r;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return CompileSource(path, ss.str(), limits, stdlib_dir);
}

}  // namespace gavel
