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
  // 1-based line and column (columns count UTF-8 code points).
  void Position(uint32_t offset, uint32_t* line, uint32_t* col) const;
  std::string LineText(uint32_t line) const;

 private:
  std::string path_;
  std::string text_;
  std::vector<uint32_t> line_starts_;
};

class Diagnostics {
 public:
  void Add(Severity s, std::string code, SourceRange r, std::string message);
  void Error(std::string code, SourceRange r, std::string message) {
    Add(Severity::kError, std::move(code), r, std::move(message));
  }
  void Warning(std::string code, SourceRange r, std::string message) {
    Add(Severity::kWarning, std::move(code), r, std::move(message));
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
  std::vector<Diagnostic> items_;
  int errors_ = 0;
  int warnings_ = 0;
  int max_errors_ = 50;
};

}  // namespace gavel
