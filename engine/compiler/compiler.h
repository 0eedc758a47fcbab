// The compiler's entry points: policy source text in, a linked Program (and
// diagnostics) out. Everything here runs at build time, never at decision time;
// exceptions thrown inside (ANTLR) never leave these functions.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/compiler/diagnostics.h"
#include "engine/runtime/program.h"

namespace gavel {

struct CompileLimits {
  size_t max_source_bytes = 4u << 20;  // larger source files are refused
  int max_nesting = 64;                // expression nesting depth
  int max_errors = 50;                 // stop reporting after this many
  int max_dnf_terms = 256;             // conjunctions a rule condition may expand to
};

struct CompileResult {
  std::unique_ptr<Program> program;  // null if any error was reported; linked
  Diagnostics diagnostics;           // errors and warnings, in source order
  uint64_t worst_case_cost = 0;      // instructions a decision may execute, bounded by the decoder's caps
  std::unique_ptr<Source> source;    // the text the diagnostics point into
  bool ok() const { return program != nullptr; }
  // Every diagnostic rendered with file:line:col, the source line and a caret.
  std::string RenderDiagnostics() const;
};

// Compiles one policy file. `path` is used for diagnostics and to resolve
// imports (stdlib modules are looked up in `stdlib_dir`).
CompileResult CompileSource(const std::string& path, const std::string& text, const CompileLimits& limits = {},
                            const std::string& stdlib_dir = "");

// Reads and compiles a file; an unreadable file is an error diagnostic.
CompileResult CompileFile(const std::string& path, const CompileLimits& limits = {},
                          const std::string& stdlib_dir = "");

// Byte offset of the first byte that is not valid UTF-8, or npos.
size_t FirstInvalidUtf8(const std::string& s);

// Canonical formatting (policyc fmt). Comments are kept. Returns false with
// diagnostics if the source does not parse.
bool FormatSource(const std::string& path, const std::string& text, std::string* out, Diagnostics* diags);

}  // namespace gavel
