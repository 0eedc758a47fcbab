// Content screening at run time: the loaded pattern databases of a program
// (shared, immutable) and one worker's scanning state (scratch, normalization
// buffer, the per-decision scan memo).
//
// Every text is screened once per decision, however many predicates and sets
// read it: one scan over all patterns of the program yields the bitset of
// patterns that occur, and each `contains`/`count`/`matches` reads its bits.
// Detection never asks for the start of a match; spans are found afterwards,
// with a per-pattern database, only for patterns that matched and only when a
// validator or a redact rule needs them.
//
// Validation is bounded by construction, so a decision's screening work is
// linear in its text: a validated pattern can report a candidate at every end
// of a long run, so each candidate is validated on at most
// kMaxValidatedMatch bytes (validators.h says what a longer one counts as),
// and all the validator calls for one text read at most
// ValidationBudget(text length) bytes in all. Once a text's budget is spent,
// its further candidates count as validated (fail closed: a pattern that
// cannot be checked is taken to be present, so deny and redact rules err on
// the side of acting). Ordinary text stays far below the budget.
//
// Matches are found by a screening backend (matcher.h), chosen per worker at
// run time (ScanState::set_backend): Hyperscan (runtime part only: loading
// deserializes databases the compiler built and never compiles a regex), or
// the literal backend, which searches literal patterns directly and reports a
// rule error for regex patterns. A build without Hyperscan
// (GAVEL_HAVE_HYPERSCAN unset, e.g. wasm32) has the literal backend only.
// Normalization, the memo, validation and span coalescing are common to all
// backends (screen.cc), so backends differ only in how they find matches.
//
// This layer sits below the runtime: it reads the pattern data of
// patterns.h and nothing of engine/runtime (docs/design.md, Layering).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/base/cache_line.h"
#include "engine/screen/normalize.h"
#include "engine/screen/patterns.h"

namespace gavel {

// The screening backends. A worker uses one for all its decisions; tests run
// one corpus through each and compare.
enum class ScreenBackend : uint8_t {
  kHyperscan,  // Hyperscan's runtime over the bundle's databases (native builds)
  kLiteral,    // direct literal search; regex patterns are rule errors
};

// Hyperscan when this build has it, else the literal backend.
ScreenBackend DefaultScreenBackend();
// Whether this build can screen with b (Hyperscan needs GAVEL_HAVE_HYPERSCAN).
bool ScreenBackendBuilt(ScreenBackend b);
const char* ScreenBackendName(ScreenBackend b);  // "hyperscan", "literal"

class Matcher;      // matcher.h: one backend's match finding for one worker
class MatchStream;  // matcher.h: one backend's stream-mode state

class ScreenDb {
 public:
  ~ScreenDb();
  ScreenDb(const ScreenDb&) = delete;
  ScreenDb& operator=(const ScreenDb&) = delete;

  // Deserializes the databases of `data`, built for `patterns` (their ids
  // assigned). Returns null with *err set when the data is refused, null
  // with *err empty when there is nothing to load (no patterns, or a build
  // without Hyperscan).
  static std::shared_ptr<const ScreenDb> Load(const std::vector<ScreenPattern>& patterns, const ScreenData& data,
                                              std::string* err);

  struct Impl;
  const Impl& impl() const { return *impl_; }

 private:
  ScreenDb();
  std::unique_ptr<Impl> impl_;
};

// The validator bytes one text may cost per scan or span search: a base for
// short texts and a fixed number of bytes per byte of text.
constexpr uint64_t kValidationBudgetBase = 256u << 10;
constexpr uint64_t kValidationBudgetPerByte = 64;
inline uint64_t ValidationBudget(uint64_t text_len) {
  return kValidationBudgetBase + kValidationBudgetPerByte * text_len;
}
// Each validator call is also charged this much, for its fixed cost.
constexpr uint64_t kValidationCallCost = 16;

// Work done by a ScanState since Begin, for tests that bound it without a
// clock and for benchmarks.
struct ScreenWork {
  uint64_t candidates = 0;       // matches of validated patterns that reached validation
  uint64_t validations = 0;      // validator calls
  uint64_t validated_bytes = 0;  // bytes handed to validators, plus kValidationCallCost per call
  uint64_t unchecked = 0;        // candidates counted as passing because the text's budget was spent
  uint64_t span_scans = 0;       // per-pattern span database scans
  uint64_t span_bytes = 0;       // bytes those scans read
  uint64_t budgeted_bytes = 0;   // sum of the lengths of the texts whose candidates were validated
};

// A match span in the bytes of the text as given (before normalization).
using SpanFn = void (*)(void* ctx, uint32_t begin, uint32_t end);

class ScanState {
 public:
  ScanState();
  ~ScanState();
  ScanState(const ScanState&) = delete;
  ScanState& operator=(const ScanState&) = delete;

  // The backend later decisions screen with (DefaultScreenBackend() unless
  // set). Takes effect at the next Begin.
  void set_backend(ScreenBackend b) { backend_ = b; }
  ScreenBackend backend() const { return backend_; }

  // Starts a decision against a program's screen patterns and loaded
  // databases (null: none, and the program is screened literally whatever
  // the backend): forgets the previous decision's scans and makes the
  // backend's scratch fit the databases (allocating only when they grew).
  // Returns false with *err when the backend cannot screen (its scratch
  // cannot be allocated, or this build lacks it); every Scan and Spans of
  // the decision then fails with that reason. Both arguments must outlive
  // the decision.
  bool Begin(const std::vector<ScreenPattern>& patterns, const std::shared_ptr<const ScreenDb>& db, std::string* err);

  // The screen patterns (validated) that occur in the text, as a bitset of
  // Words() words; the text is scanned at most once per decision. Returns
  // null with *err (static text) when it cannot be screened.
  const uint64_t* Scan(const char* s, uint32_t len, const char** err);

  // Every validated match of screen pattern `id` in the text, as spans of the
  // original bytes, in order of their end; consecutive matches with the same
  // start are reported once, as the longest (a redaction masks their union
  // either way). Returns false with *err on failure.
  bool Spans(const char* s, uint32_t len, uint32_t id, SpanFn fn, void* ctx, const char** err);

  uint32_t Words() const { return words_; }
  // Texts scanned since Begin (memo hits not counted).
  uint32_t scans() const { return scans_; }
  const ScreenWork& work() const { return work_; }
  const std::vector<ScreenPattern>* patterns() const { return patterns_; }

  // Records the scan result of a text screened another way (a streamed
  // response: the stream's cumulative matches stand for the whole text).
  void Seed(const char* s, uint32_t len, const uint64_t* bits);

  // Screening one text without the memo (streaming uses this for windows).
  bool ScanUncached(const char* s, uint32_t len, uint64_t* bits, const char** err);

  // The matcher this decision screens with: the chosen backend's, or the
  // literal one for a program without databases; null when Begin failed.
  Matcher* matcher() { return matcher_; }

 private:
  struct MemoEntry {
    const char* s = nullptr;
    uint32_t len = 0;
    uint32_t bits = 0;  // offset into memo_bits_
  };
  static constexpr int kMemo = 32;

  ScreenBackend backend_ = DefaultScreenBackend();
  const std::vector<ScreenPattern>* patterns_ = nullptr;
  std::unique_ptr<Matcher> hyperscan_;  // made on first use
  std::unique_ptr<Matcher> literal_;    // made on first use
  Matcher* matcher_ = nullptr;
  const char* failed_ = nullptr;  // why this decision cannot screen (Begin failed)
  uint32_t words_ = 0;
  NormalizedText norm_;
  MemoEntry memo_[kMemo];
  int memo_n_ = 0, memo_next_ = 0;
  uint32_t scans_ = 0;
  ScreenWork work_;
  LocalVector<uint64_t> memo_bits_;  // kMemo * words_
  LocalVector<uint64_t> cand_;       // candidates awaiting their validator
};

// The stream-mode state of one text screened in pieces (a streamed
// response): matches that cross piece boundaries are found, however far
// apart their start and end are. Validated patterns are not reported here
// (a validator needs the whole match); see ResponseStream. The state belongs
// to the backend of the worker that feeds it first; a worker with another
// backend or policy is refused.
class ScreenStream {
 public:
  ScreenStream();
  ~ScreenStream();
  ScreenStream(const ScreenStream&) = delete;
  ScreenStream& operator=(const ScreenStream&) = delete;

  // Starts a stream over a program's patterns and databases; the state of
  // the feeding worker's backend is made by the first Feed. Hyperscan's
  // stream mode carries its automata's state; the literal backend carries
  // the text's last bytes, as many as the longest pattern needs, and fails
  // every Feed of a program with a regex pattern (a stream that cannot be
  // screened is never waved through). Returns false with *err on failure.
  bool Open(const std::vector<ScreenPattern>& patterns, const std::shared_ptr<const ScreenDb>& db, std::string* err);
  // Scans the next normalized bytes; ORs the patterns found into bits.
  // `st` must have begun a decision on the same patterns.
  bool Feed(ScanState* st, const char* s, uint32_t len, uint64_t* bits, const char** err);
  // Ends the stream (patterns anchored at the end of text report here).
  bool Close(ScanState* st, uint64_t* bits, const char** err);

 private:
  const std::vector<ScreenPattern>* patterns_ = nullptr;
  std::shared_ptr<const ScreenDb> db_;  // kept alive for the stream state
  bool opened_ = false;                 // the first Feed made stream_
  std::unique_ptr<MatchStream> stream_;
};

}  // namespace gavel
