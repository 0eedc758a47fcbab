// `policyc docs-diagnostics`: keeps docs/language.md's diagnostics table equal
// to engine/compiler/diagnostic_codes.def. The ctest docs_diagnostics_table
// runs it with --check, so a code added to the table without regenerating the
// documentation fails the build's tests with the command that fixes it.
#include "policyc/doc_tables.h"

#include <cstdio>

#include "engine/compiler/diagnostics.h"
#include "policyc/io.h"

namespace gavel::policyc {

namespace {
const char kBegin[] = "<!-- begin generated diagnostics table: edit engine/compiler/diagnostic_codes.def -->\n";
const char kEnd[] = "<!-- end generated diagnostics table -->\n";
}  // namespace

bool SpliceDiagnosticsTable(const std::string& doc, const std::string& table, std::string* out, std::string* err) {
  const size_t b = doc.find(kBegin);
  const size_t e = doc.find(kEnd);
  if (b == std::string::npos || e == std::string::npos || e < b) {
    *err = "no generated diagnostics table (the lines `" + std::string(kBegin, sizeof(kBegin) - 2) + "` and `" +
           std::string(kEnd, sizeof(kEnd) - 2) + "`)";
    return false;
  }
  const size_t body = b + sizeof(kBegin) - 1;
  *out = doc.substr(0, body) + table + doc.substr(e);
  return true;
}

int RunDiagnosticsDoc(const std::vector<std::string>& args) {
  const std::string table = DiagnosticTableMarkdown();
  if (args.empty()) {
    std::fputs(table.c_str(), stdout);
    return 0;
  }
  if (args.size() != 2 || (args[0] != "-w" && args[0] != "--check")) {
    std::fputs("usage: policyc docs-diagnostics [-w | --check] FILE\n", stderr);
    return 2;
  }
  const std::string& path = args[1];
  std::string doc, updated, err;
  if (!ReadInput(path, &doc, &err) || !SpliceDiagnosticsTable(doc, table, &updated, &err)) {
    std::fprintf(stderr, "policyc: %s: %s\n", path.c_str(), err.c_str());
    return 1;
  }
  if (args[0] == "--check") {
    if (updated == doc) return 0;
    std::fprintf(stderr,
                 "%s: the diagnostics table differs from engine/compiler/diagnostic_codes.def; regenerate it with\n"
                 "  policyc docs-diagnostics -w %s\n",
                 path.c_str(), path.c_str());
    return 1;
  }
  if (updated != doc && !WriteFileReplacing(path, updated, &err)) {
    std::fprintf(stderr, "policyc: %s\n", err.c_str());
    return 1;
  }
  return 0;
}

}  // namespace gavel::policyc
