// Compile-or-load for policyc. The compiler owns diagnostics rendering; this
// file only decides between source and bundle and adds the file name to
// messages that have none (bundle refusals).
#include "policyc/load.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "engine/compiler/compiler.h"
#include "engine/runtime/bundle.h"
#include "policyc/io.h"

namespace gavel::policyc {

bool LooksLikeBundle(const std::string& bytes) {
  for (const char* magic : {"GAVELBND", "GAVELSIG"}) {
    const size_t n = std::min(bytes.size(), std::strlen(magic));
    if (n > 0 && std::memcmp(bytes.data(), magic, n) == 0) return true;
  }
  return bytes.find('\0') != std::string::npos;
}

bool CompilePolicy(const std::string& path, const std::string& text, const std::string& stdlib_dir, CompiledPolicy* out,
                   std::string* report) {
  CompileResult result = CompileSource(DisplayName(path), text, CompileLimits(), stdlib_dir);
  report->clear();
  if (!result.diagnostics.items().empty()) *report = result.RenderDiagnostics();
  if (!result.ok()) {
    // A compiler that fails without saying why must still not look like success.
    if (report->empty()) *report = DisplayName(path) + ": error: the policy did not compile\n";
    return false;
  }
  out->worst_case_cost = result.worst_case_cost;
  out->rules = result.program->rules.size();
  out->predicates = result.program->predicates.size();
  out->bundle = WriteBundle(result.program.get());
  return true;
}

bool LoadPolicyOrBundle(const std::string& path, const std::string& stdlib_dir, LoadedPolicy* out,
                        std::string* report) {
  report->clear();
  std::string bytes, err;
  if (!ReadInput(path, &bytes, &err)) {
    *report = "error: " + err + "\n";
    return false;
  }
  *out = LoadedPolicy();
  if (LooksLikeBundle(bytes)) {
    out->from_bundle = true;
  } else {
    CompiledPolicy compiled;
    if (!CompilePolicy(path, bytes, stdlib_dir, &compiled, report)) return false;
    out->worst_case_cost = compiled.worst_case_cost;
    bytes = std::move(compiled.bundle);
  }
  out->bundle_bytes = bytes.size();
  out->engine = Engine::Load(bytes.data(), bytes.size(), &err);
  if (out->engine == nullptr) {
    // For a freshly compiled policy this is a compiler/runtime disagreement,
    // which deserves a distinct message from a damaged bundle file.
    *report += "error: " + DisplayName(path) +
               (out->from_bundle ? ": bundle refused: " : ": the compiled bundle was refused by the runtime: ") + err +
               "\n";
    return false;
  }
  return true;
}

}  // namespace gavel::policyc
