// Ahead-of-time compilation of a program's patterns into Hyperscan databases
// for a generic x86-64 platform, serialized into the bundle so that loading
// never compiles a regex.
#pragma once

#include <string>

#include "engine/runtime/program.h"

namespace gavel {

// The Hyperscan expression of a pattern: a regex as written, a literal with
// every byte that is not a letter or digit escaped.
std::string ScreenExpression(const std::string& source, bool regex);

// The largest counted repeat ({n,m}) a regex may use.
constexpr uint64_t kMaxRepeat = 1000;

// Compiles one pattern alone as the screening engine will: for detection, and
// with `som` also for finding spans. Returns "" or Hyperscan's reason in plain
// words.
std::string CheckPatternCompiles(const std::string& source, bool regex, bool caseless, bool som);

// Builds p->screen_data for p's pattern sets (ids assigned by
// AssignScreenIds). Span databases are built for validated patterns and for
// every pattern a redact rule names. Returns "" or what failed.
std::string BuildScreenData(Program* p);

}  // namespace gavel
