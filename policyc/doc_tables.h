// Tables of docs/language.md that are generated from the code rather than
// written by hand: today the diagnostics table, from diagnostic_codes.def.
// `policyc docs-diagnostics` (left out of the help: it serves gavel's own
// build and CI) prints, rewrites or checks it.
#pragma once

#include <string>
#include <vector>

namespace gavel::policyc {

// args are the words after the subcommand: `[-w | --check] FILE` or nothing
// (print the table). Returns the exit status.
int RunDiagnosticsDoc(const std::vector<std::string>& args);

// Replaces what lies between the generated-table markers in `doc` with
// `table`. False (and *err) when the markers are missing or out of order.
bool SpliceDiagnosticsTable(const std::string& doc, const std::string& table, std::string* out, std::string* err);

}  // namespace gavel::policyc
