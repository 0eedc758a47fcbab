// The seam between the screening layer's common work (normalization, the
// per-decision memo, validation within budget, span coalescing: screen.cc)
// and a screening backend, which only finds where patterns match. Internal to
// engine/screen; a new backend (a table-driven automaton carried in the
// bundle, for builds where Hyperscan cannot run) implements these two
// classes and adds a ScreenBackend value.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "engine/screen/patterns.h"
#include "engine/screen/screen.h"

namespace gavel {

// One match [begin, end) of a pattern in the scanned text. Returns false to
// stop the search. May throw (std::bad_alloc); a backend lets it through
// only after its own state is consistent again.
using MatchFn = bool (*)(void* ctx, uint32_t begin, uint32_t end);

// One worker's match finding with one backend. Texts are already normalized;
// errors are static text.
class Matcher {
 public:
  virtual ~Matcher() = default;
  virtual ScreenBackend backend() const = 0;

  // Readies the matcher for a program's patterns and loaded databases (null:
  // none), growing per-worker scratch only when they changed. Throws
  // std::bad_alloc when out of memory; returns false with *err when it
  // cannot screen them otherwise.
  virtual bool Prepare(const std::vector<ScreenPattern>& patterns, const std::shared_ptr<const ScreenDb>& db,
                       const char** err) = 0;

  // Sets the bit of every pattern that matches somewhere in text, validated
  // or not (a validated pattern's bit is a candidate, which the caller
  // confirms through Matches). `found` has room for every pattern and is
  // zeroed by the caller.
  virtual bool Detect(const char* text, uint32_t n, uint64_t* found, const char** err) = 0;

  // Every match of pattern `id` with its leftmost start, in order of end,
  // until fn returns false.
  virtual bool Matches(uint32_t id, const char* text, uint32_t n, MatchFn fn, void* ctx, const char** err) = 0;

  // Stream-mode state for the prepared patterns, or null with *err unset
  // when this backend has no stream mode for them (the caller then screens
  // windows of the text instead). Null with *err set on failure.
  virtual std::unique_ptr<MatchStream> OpenStream(const char** err) = 0;
};

// A text screened in pieces: state carried from piece to piece, so matches
// across pieces are found. Validated patterns are not reported.
class MatchStream {
 public:
  virtual ~MatchStream() = default;
  // Scans the next piece with `m`, a worker's matcher prepared for the same
  // databases (a worker's scratch may serve many streams); ORs the patterns
  // found into bits.
  virtual bool Feed(Matcher* m, const char* s, uint32_t n, uint64_t* bits, const char** err) = 0;
  // The end of the text: patterns anchored there report now.
  virtual bool Close(Matcher* m, uint64_t* bits, const char** err) = 0;
};

// The backends. NewHyperscanMatcher returns null in a build without Hyperscan.
std::unique_ptr<Matcher> NewHyperscanMatcher();
std::unique_ptr<Matcher> NewLiteralMatcher();

inline void SetBit(uint64_t* b, uint32_t i) { b[i / 64] |= uint64_t(1) << (i % 64); }

}  // namespace gavel
