// File and stdin access for policyc: whole-file reads (with `-` meaning
// stdin) and replace-by-rename writes. Errors come back as messages naming
// the path; nothing here throws or exits.
#pragma once

#include <string>

namespace gavel::policyc {

// Reads all of `path` into *out; "-" reads standard input. On failure returns
// false and sets *err to "PATH: reason".
bool ReadInput(const std::string& path, std::string* out, std::string* err);

// Writes `data` to `path` through a temporary file in the same directory and a
// rename, so a reader never sees a half-written bundle or policy.
bool WriteFileReplacing(const std::string& path, const std::string& data, std::string* err);

// The name to show for `path` in messages ("<stdin>" for "-").
std::string DisplayName(const std::string& path);

}  // namespace gavel::policyc
