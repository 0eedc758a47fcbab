// Turning a policy file or a bundle file into a loaded Engine, the one path
// every policyc subcommand that evaluates takes. A policy is always compiled
// and then round-tripped through bundle bytes, so evaluating a policy and
// evaluating its bundle cannot differ. Prints nothing itself.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "engine/runtime/engine.h"

namespace gavel::policyc {

// True if `bytes` are a bundle (they start with the magic "GAVELBND", or
// "GAVELSIG" for a signed one) or
// binary data no policy source can be: a truncated magic or a NUL byte. Such
// files go to the bundle loader, whose refusal says what is wrong.
bool LooksLikeBundle(const std::string& bytes);

// A policy compiled to bundle bytes.
struct CompiledPolicy {
  std::string bundle;
  uint64_t worst_case_cost = 0;
  size_t rules = 0;
  size_t predicates = 0;
};

// Compiles policy source `text` (read from `path`). On success returns true;
// *report holds rendered warnings, if any. On failure returns false and
// *report holds the rendered errors.
bool CompilePolicy(const std::string& path, const std::string& text, const std::string& stdlib_dir, CompiledPolicy* out,
                   std::string* report);

struct LoadedPolicy {
  std::shared_ptr<const Engine> engine;
  bool from_bundle = false;      // the file was a bundle, not source
  uint64_t worst_case_cost = 0;  // known only when compiled from source
  size_t bundle_bytes = 0;
};

// Reads `path` ("-" = stdin) and loads it, compiling it first if it is not a
// bundle. *report receives diagnostics (warnings on success, errors or the
// refusal reason on failure), each naming the file.
bool LoadPolicyOrBundle(const std::string& path, const std::string& stdlib_dir, LoadedPolicy* out, std::string* report);

}  // namespace gavel::policyc
