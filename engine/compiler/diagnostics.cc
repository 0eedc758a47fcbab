// Rendering of compiler diagnostics in the house format:
//   file:line:col: error[E0201]: message
//      | <source line>
//      |        ^^^^
#include "engine/compiler/diagnostics.h"

#include <algorithm>
#include <iterator>

namespace gavel {

Source::Source(std::string path, std::string text) : path_(std::move(path)), text_(std::move(text)) {
  line_starts_.push_back(0);
  for (uint32_t i = 0; i < text_.size(); ++i)
    if (text_[i] == '\n') line_starts_.push_back(i + 1);
}

void Source::Position(uint32_t offset, uint32_t* line, uint32_t* col) const {
  offset = std::min<uint32_t>(offset, static_cast<uint32_t>(text_.size()));
  auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
  const uint32_t l = static_cast<uint32_t>(it - line_starts_.begin());  // 1-based
  uint32_t c = 1;
  for (uint32_t i = line_starts_[l - 1]; i < offset; ++i)
    if ((static_cast<unsigned char>(text_[i]) & 0xC0) != 0x80) ++c;
  *line = l;
  *col = c;
}

std::string Source::LineText(uint32_t line) const {
  if (line == 0 || line > line_starts_.size()) return "";
  uint32_t b = line_starts_[line - 1];
  uint32_t e = line < line_starts_.size() ? line_starts_[line] - 1 : static_cast<uint32_t>(text_.size());
  std::string s = text_.substr(b, e - b);
  if (!s.empty() && s.back() == '\r') s.pop_back();
  return s;
}

namespace {
const DiagnosticInfo kTable[] = {
#define GAVEL_ERROR(name, code, meaning) {code, Severity::kError, meaning},
#define GAVEL_WARNING(name, code, meaning) {code, Severity::kWarning, meaning},
#include "engine/compiler/diagnostic_codes.def"
#undef GAVEL_ERROR
#undef GAVEL_WARNING
};
const char* const kErrorCodes[] = {
#define GAVEL_ERROR(name, code, meaning) code,
#define GAVEL_WARNING(name, code, meaning)
#include "engine/compiler/diagnostic_codes.def"
#undef GAVEL_ERROR
#undef GAVEL_WARNING
};
const char* const kWarningCodes[] = {
#define GAVEL_ERROR(name, code, meaning)
#define GAVEL_WARNING(name, code, meaning) code,
#include "engine/compiler/diagnostic_codes.def"
#undef GAVEL_ERROR
#undef GAVEL_WARNING
};
}  // namespace

const std::vector<DiagnosticInfo>& DiagnosticTable() {
  static const std::vector<DiagnosticInfo> table(std::begin(kTable), std::end(kTable));
  return table;
}

const char* CodeOf(Err e) { return kErrorCodes[static_cast<size_t>(e)]; }
const char* CodeOf(Warn w) { return kWarningCodes[static_cast<size_t>(w)]; }

std::string DiagnosticTableMarkdown() {
  std::string out = "| code | severity | meaning |\n| --- | --- | --- |\n";
  for (const DiagnosticInfo& d : DiagnosticTable()) {
    // A `|` would end the cell, even inside backticks.
    std::string meaning;
    for (const char* c = d.meaning; *c; ++c) meaning += *c == '|' ? std::string("\\|") : std::string(1, *c);
    out += std::string("| ") + d.code + " | " + (d.severity == Severity::kError ? "error" : "warning") + " | " +
           meaning + " |\n";
  }
  return out;
}

void Diagnostics::Add(Severity s, const char* code, SourceRange r, std::string message) {
  if (s == Severity::kError) {
    if (errors_ >= max_errors_) return;
    ++errors_;
  } else if (s == Severity::kWarning) {
    ++warnings_;
  }
  items_.push_back(Diagnostic{s, code, r, std::move(message)});
}

void Diagnostics::Sort() {
  std::stable_sort(items_.begin(), items_.end(),
                   [](const Diagnostic& a, const Diagnostic& b) { return a.range.begin < b.range.begin; });
}

namespace {
const char* SeverityName(Severity s) {
  switch (s) {
    case Severity::kError:
      return "error";
    case Severity::kWarning:
      return "warning";
    case Severity::kNote:
      return "note";
  }
  return "error";
}
}  // namespace

std::string Diagnostics::Render(const Source& source) const {
  std::string out;
  for (const Diagnostic& d : items_) {
    uint32_t line, col;
    uint32_t begin = d.range.begin;
    // An error at the very end points at the last character, not past the final newline.
    const std::string& t = source.text();
    while (begin > 0 && begin >= t.size() && (t.empty() || t[begin - 1] == '\n' || begin > t.size())) --begin;
    source.Position(begin, &line, &col);
    out += source.path() + ":" + std::to_string(line) + ":" + std::to_string(col) + ": " + SeverityName(d.severity);
    if (!d.code.empty()) out += "[" + d.code + "]";
    out += ": " + d.message + "\n";
    std::string text = source.LineText(line);
    // Long lines are shown as a window around the column.
    constexpr uint32_t kWindow = 100;
    if (text.size() > kWindow && col > kWindow / 2) {
      uint32_t skip = col - kWindow / 2;
      size_t byte = 0;
      for (uint32_t cp = 0; byte < text.size() && cp < skip; ++byte)
        if ((static_cast<unsigned char>(text[byte]) & 0xC0) != 0x80 && byte > 0) ++cp;
      while (byte < text.size() && (static_cast<unsigned char>(text[byte]) & 0xC0) == 0x80) ++byte;
      text = "..." + text.substr(byte);
      col = col - skip + 3;
    }
    if (text.size() > kWindow + 3) {
      size_t cut = kWindow + 3;
      while (cut < text.size() && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) ++cut;
      text = text.substr(0, cut) + "...";
    }
    std::string gutter = "   | ";
    out += gutter;
    for (char c : text) out += c == '\t' ? ' ' : c;
    out += "\n" + gutter;
    // caret under the span, clipped to this line; columns count code points
    uint32_t end_line, end_col, begin_line, begin_col;
    source.Position(std::max(d.range.end, d.range.begin), &end_line, &end_col);
    source.Position(begin, &begin_line, &begin_col);
    uint32_t width = end_line == line && end_col > begin_col ? end_col - begin_col : 1;
    uint32_t line_len = 0;
    for (char c : text)
      if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++line_len;
    if (col - 1 + width > line_len + 1) width = std::max<uint32_t>(1, line_len + 1 - (col - 1));
    out += std::string(col - 1, ' ') + std::string(width, '^') + "\n";
  }
  if (errors_ >= max_errors_) out += source.path() + ": too many errors, stopping\n";
  return out;
}

std::string Diagnostics::RenderPlain(const std::string& path) const {
  std::string out;
  for (const Diagnostic& d : items_) {
    out += path + ": " + SeverityName(d.severity);
    if (!d.code.empty()) out += "[" + d.code + "]";
    out += ": " + d.message + "\n";
  }
  return out;
}

}  // namespace gavel
