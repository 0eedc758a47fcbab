// Compiler diagnostics: `file:line:col: error[CODE]: message`, then the source
// line with a caret under the span, as policy authors see them in policyc.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace gavel {

struct SourceRange {
  uint32_t begin = 0;  // byte offsets into the source
  uint32_t end = 0;
};

enum class Severity { kError, kWarning, kNote };

// The codes of engine/compiler/diagnostic_codes.def, one enum per severity so
// that a call site cannot report an error code as a warning or the reverse.
enum class Err {
#define GAVEL_ERROR(name, code, meaning) name,
#define GAVEL_WARNING(name, code, meaning)
#include "engine/compiler/diagnostic_codes.def"
#undef GAVEL_ERROR
#undef GAVEL_WARNING
};
enum class Warn {
#define GAVEL_ERROR(name, code, meaning)
#define GAVEL_WARNING(name, code, meaning) name,
#include "engine/compiler/diagnostic_codes.def"
#undef GAVEL_ERROR
#undef GAVEL_WARNING
};

// One row of the table, in the table's order.
struct DiagnosticInfo {
  const char* code;  // "E0201"
  Severity severity;
  const char* meaning;  // Markdown
};
const std::vector<DiagnosticInfo>& DiagnosticTable();
const char* CodeOf(Err e);
const char* CodeOf(Warn w);
// The table as docs/language.md shows it (a Markdown table).
std::string DiagnosticTableMarkdown();

struct Diagnostic {
  Severity severity = Severity::kError;
  std::string code;  // "E0201"
  SourceRange range;
  std::string message;
};

class Source {
 public:
  Source(std::string path, std::string text);
  const std::string& path() const { return path_; }
  const std::string& text() const { return text_; }
  // 1-based line and column. Columns count Unicode code points from the start
  // of the line (a tab is one), as docs/language.md states; offsets are bytes.
  void Position(uint32_t offset, uint32_t* line, uint32_t* col) const;
  std::string LineText(uint32_t line) const;

 private:
  std::string path_;
  std::string text_;
  std::vector<uint32_t> line_starts_;
};

class Diagnostics {
 public:
  // Codes come only from the table: a string code cannot be passed.
  void Error(Err code, SourceRange r, std::string message) {
    Add(Severity::kError, CodeOf(code), r, std::move(message));
  }
  void Warning(Warn code, SourceRange r, std::string message) {
    Add(Severity::kWarning, CodeOf(code), r, std::move(message));
  }
  bool has_errors() const { return errors_ > 0; }
  int errors() const { return errors_; }
  int warnings() const { return warnings_; }
  const std::vector<Diagnostic>& items() const { return items_; }
  void set_limit(int max_errors) { max_errors_ = max_errors; }
  bool at_limit() const { return errors_ >= max_errors_; }
  void Sort();
  // Renders every diagnostic against source (path, line, caret).
  std::string Render(const Source& source) const;
  // Renders diagnostics that have no source (file could not be read).
  std::string RenderPlain(const std::string& path) const;

 private:
  void Add(Severity s, const char* code, SourceRange r, std::string message);

  std::vector<Diagnostic> items_;
  int errors_ = 0;
  int warnings_ = 0;
  int max_errors_ = 50;
};

}  // namespace gavel
