// `policyc test`: runs the cases of `.test.yaml` files against their policies
// and prints PASS/FAIL, per-field differences, optional rule coverage, and the
// `N passed, M failed` summary CI reads. Stateless cases only: cases that need
// the usage ledger are reported as errors, never run half-way.
#pragma once

#include <string>
#include <vector>

namespace gavel::policyc {

struct TestOptions {
  bool coverage = false;  // list rules no case made fire
  bool verbose = false;   // print every decision, and explanations of failures
  std::string stdlib_dir;
};

// Runs every test file named in `paths` (files, or folders searched
// recursively for *.test.yaml). Results go to stdout, file errors and compiler
// diagnostics to stderr. Returns the exit code: 0 if all passed, else 1.
int RunTests(const std::vector<std::string>& paths, const TestOptions& options);

}  // namespace gavel::policyc
