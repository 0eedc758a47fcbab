// The pattern data the screening layer scans for: a program's distinct
// patterns and the databases the compiler built for them. The runtime's
// Program carries these; the screening layer reads only this header's types
// and never the runtime's (it sits below the runtime, docs/design.md).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace gavel {

// One distinct pattern of a program, as the screening engine scans for it.
// Screen pattern ids are assigned by AssignScreenIds (engine/runtime/program.h):
// distinct (source, regex, caseless, validator) in order of first appearance
// over the sets. They are the Hyperscan expression ids of the databases below.
struct ScreenPattern {
  std::string source;  // literal text or regex source
  bool regex = false;
  bool caseless = false;
  uint8_t validator = 0;  // a Validator (validators.h) that candidates must pass
};

// Hyperscan databases the compiler built for a generic x86-64 platform,
// serialized (hs_serialize_database). Empty when the program has no patterns
// or was compiled without Hyperscan.
struct ScreenData {
  std::string block;                // every screen pattern, block mode, no start of match
  std::string stream;               // the same, stream mode (screening a response in chunks)
  std::vector<std::string> spans;   // per screen pattern: block mode with leftmost start of match, or
                                    // empty when no validator or redact rule needs its spans
  std::vector<uint32_t> max_width;  // per screen pattern: longest match in bytes, UINT32_MAX if unbounded
};

}  // namespace gavel
