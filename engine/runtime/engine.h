// The runtime's entry points: an Engine is a loaded, verified bundle, immutable
// and shared by threads; a Worker is one thread's scratch and decides requests
// against any engine. Engine failures are a Status (status.h); errors inside
// rules are part of the decision.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/base/cache_line.h"
#include "engine/runtime/arena.h"
#include "engine/runtime/decode.h"
#include "engine/runtime/program.h"
#include "engine/runtime/signature.h"
#include "engine/runtime/status.h"
#include "engine/runtime/vm.h"
#include "engine/screen/screen.h"

namespace gavel {

class Engine {
 public:
  // Loads a bundle from bytes. Returns nullptr and *status (status may be
  // null) when it is refused: the codes of OpenBundle and ReadBundle
  // (bundle.h), and kOutOfMemory, which Load reports rather than throws.
  // With trusted keys, the bundle must be signed by one of them, and the
  // signature is verified before anything else is read.
  static std::shared_ptr<const Engine> Load(const void* data, size_t size, const std::vector<PublicKey>& trusted,
                                            Status* status);
  // The same, for tools that only print why: *err is the status's message.
  static std::shared_ptr<const Engine> Load(const void* data, size_t size, std::string* err);
  static std::shared_ptr<const Engine> Load(const void* data, size_t size, const std::vector<PublicKey>& trusted,
                                            std::string* err);
  // Takes a program the compiler just built (and linked).
  static std::shared_ptr<const Engine> FromProgram(std::unique_ptr<Program> p);

  const Program& program() const { return *program_; }
  const std::string& hash_hex() const { return hash_hex_; }
  // The key id whose signature was verified when loading, or "unsigned".
  const std::string& signer() const { return signer_; }

 private:
  std::unique_ptr<Program> program_;  // linked in place: never moved
  std::string hash_hex_;
  std::string signer_ = "unsigned";
};

// One deciding rule (or rule error) of a decision.
struct Reason {
  uint32_t rule = 0;
  std::string message;
};

// A container whose elements keep their capacity across decisions.
template <typename T>
class Reused {
 public:
  T& Push() {
    if (n_ == items_.size()) items_.emplace_back();
    return items_[n_++];
  }
  void Clear() { n_ = 0; }
  size_t size() const { return n_; }
  bool empty() const { return n_ == 0; }
  const T& operator[](size_t i) const { return items_[i]; }
  T& at(size_t i) { return items_[i]; }
  const T* begin() const { return items_.data(); }
  const T* end() const { return items_.data() + n_; }

 private:
  LocalVector<T> items_;
  size_t n_ = 0;
};

// One span a redact rule masks, in a text leaf of the body (see TextLeaf).
// Overlapping spans of one leaf are merged; the merged span keeps the kind
// and replacement of the span that starts first (the longer one on a tie, the
// earlier rule after that). The matched text itself is never kept.
struct Redaction {
  uint32_t field = 0;           // index into Decision::redacted
  uint32_t begin = 0, end = 0;  // UTF-8 byte offsets into the leaf's decoded string
  uint32_t rule = 0;
  std::string kind;         // "std.pii.credit_card"
  std::string replacement;  // the rule's `with`, ${kind} filled in
};

// A text leaf after redaction.
struct RedactedField {
  std::string path;  // "request.messages[1].content"
  std::string text;  // the leaf's string with every span replaced
  Root root = Root::kRequest;
  uint32_t leaf = 0;  // index into the worker's text leaves
};

enum class RuleOutcome : uint8_t { kNotEvaluated, kFalse, kTrue, kError };

struct Decision {
  bool allow = true;
  uint16_t status = 200;
  std::string code;     // the deciding code: the first deny's code, or a built-in one
  std::string message;  // the first deny's message
  bool has_route = false;
  std::string route;
  // Every rule that fired, in rule order, with its rendered message (a route's
  // message is its target model).
  Reused<Reason> fired;
  Reused<Reason> errors;  // rules whose condition (or message) errored
  // Redactions of the firing redact rules, by field in body order then offset
  // (a denied request is not forwarded; its redactions are listed all the same).
  Reused<Redaction> redactions;
  Reused<RedactedField> redacted;
  uint32_t denies = 0, allows = 0, flags = 0;
  uint64_t eval_ns = 0;
  Phase phase = Phase::kRequest;
  bool invalid_input = false;  // the input could not be decoded; message says why
  // Explain data: each predicate's value and error, each rule's outcome.
  LocalVector<uint64_t> pred_true, pred_error;
  LocalVector<VmError> pred_error_info;
  LocalVector<RuleOutcome> outcomes;
  const Engine* engine = nullptr;

  // One JSON object, no trailing newline.
  void AppendJson(std::string* out) const;
  std::string ToJson() const {
    std::string s;
    AppendJson(&s);
    return s;
  }
};

struct DecideOptions {
  Phase phase = Phase::kRequest;
  DecodeLimits limits;
};

struct WorkerOptions {
  // How the worker screens content (engine/screen/screen.h): Hyperscan in a
  // build with it, else the literal backend, which makes regex rules errors.
  ScreenBackend screen_backend = DefaultScreenBackend();
};

class alignas(kCacheLine) Worker {
 public:
  Worker() = default;
  explicit Worker(const WorkerOptions& options) { scan_.set_backend(options.screen_backend); }

  // Decides one request (or response) against engine. The decision stays valid
  // until the next call on this worker.
  const Decision& Decide(const Engine& engine, const DecodeInput& input, const DecideOptions& options = {});

  const Value* slots() const { return slots_.data(); }
  // The text leaves of the last decision's bodies (for tools and tests: the
  // original strings that redactions refer to).
  const std::vector<TextLeaf>& leaves() const { return scratch_.leaves; }
  const ScanState& scan_state() const { return scan_; }

  // A span a redact rule found, before merging (internal).
  struct RawSpan {
    uint32_t leaf, begin, end, rule, id;
    const std::string* kind;
  };

 private:
  friend class ResponseStream;
  struct StreamText {
    std::string_view all;  // the response text so far
    size_t window_begin;   // first byte not yet forwarded
    uint64_t* bits;        // the stream's detections (Words() words), updated with validated window matches
  };
  const Decision& DecideImpl(const Engine& engine, const DecodeInput& input, const DecideOptions& options,
                             StreamText* stream);
  // A decision in three steps: the phase's predicates into the bitsets
  // pred_true and pred_error; each rule's outcome from the rule matrix, and
  // the effects of those that fire (messages, route, redaction spans); then
  // precedence among the effects (deny, on_error, default deny).
  void Evaluate(const Program& p, Phase phase);
  void EvaluatePredicates(const Program& p, Phase phase);
  void EvaluateRules(const Program& p, Phase phase);
  void ApplyPrecedence(const Program& p, Phase phase);
  bool CollectSpans(const Program& p, uint32_t rule, std::string* err);
  void ApplyRedactions(const Program& p);

  void RenderMessage(const Program& p, const Rule& r, std::string* out);

  Arena arena_;
  DecodeScratch scratch_;
  LocalVector<Value> slots_;
  LocalVector<Value> regs_;
  ScanState scan_;
  std::vector<RawSpan> spans_;
  std::vector<uint32_t> leaf_field_;  // per text leaf: its index in d_.redacted, or UINT32_MAX
  Decision d_;
};

void AppendJsonString(std::string_view s, std::string* out);

// A rule error in words: "principal.team: attribute is absent".
std::string ErrorText(const Program& p, const VmError& e);

}  // namespace gavel
