// The C API over the C++ runtime: handles, error messages with their codes,
// hot reload with rollback, shadow bundles and the decision log. Nothing
// thrown below may leave a function here (see Guard); steady-state decisions
// allocate nothing.
#define GAVEL_BUILDING 1
#include "gavel.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include "engine/runtime/bundle.h"
#include "engine/runtime/engine.h"
#include "engine/runtime/status.h"
#include "engine/runtime/stream.h"

using gavel::AttributeValue;
using gavel::Decision;
using gavel::Engine;
using gavel::Kind;
using gavel::Program;
using gavel::SlotType;
using gavel::Value;

struct gavel_options_t {
  size_t max_request_bytes = 8u << 20;
  gavel::TrustedKeys trusted_keys;  // copied into the engine at open, fixed from then on
};

// What a worker needs of its engine, copied under the engine's lock whenever
// the engine's version changes, so that deciding reads no shared state.
struct EngineSnapshot {
  std::shared_ptr<const Engine> active;
  std::shared_ptr<const Engine> shadow;
  gavel_shadow_fn shadow_fn = nullptr;
  void* shadow_arg = nullptr;
  gavel_log_fn log_fn = nullptr;
  void* log_arg = nullptr;
  double sample_rate = 0;
};

struct gavel_engine_t {
  gavel_options_t options;
  mutable std::mutex mu;
  EngineSnapshot state;                    // guarded by mu
  std::shared_ptr<const Engine> previous;  // guarded by mu
  std::atomic<uint64_t> version{1};        // bumped on every change of `state`
  std::atomic<uint64_t> generation{0};     // bundles made active
  std::atomic<uint64_t> shadow_decisions{0};
  std::atomic<uint64_t> shadow_differences{0};
  std::atomic<uint64_t> next_worker{1};
};

struct gavel_stream_t {
  gavel::ResponseStream rs;
  std::string out;
  // A write or finish that ran out of memory may have fed the piece to the
  // screening stream without forwarding it: the stream cannot be resumed.
  bool failed = false;
};

struct gavel_decision_t {
  const Decision* d = nullptr;
  mutable std::string json;
  mutable bool json_ready = false;
};

struct alignas(gavel::kCacheLine) gavel_input_t {
  struct Attr {
    enum Type { kString, kInt, kFloat, kBool, kStringList } type = kString;
    std::string name;
    std::string s;
    int64_t i = 0;
    double f = 0;
    std::vector<std::string> list;
  };
  gavel::DecodeInput in;
  bool response_phase = false;
  std::vector<Attr> attrs;  // [0, nattrs) are set; the rest keep their memory
  size_t nattrs = 0;
  bool out_of_memory = false;  // a setter failed; gavel_decide reports it

  // The next attribute's storage; it counts (nattrs) only once fully set, so
  // a setter that throws never leaves a half-set attribute behind.
  Attr& Next() {
    if (nattrs == attrs.size()) attrs.emplace_back();
    return attrs[nattrs];
  }
};

struct alignas(gavel::kCacheLine) gavel_worker_t {
  gavel_engine_t* engine = nullptr;
  uint64_t seen_version = 0;
  EngineSnapshot snap;
  // The engine the current decision was made with: the decision points into
  // it, so it lives until the next successful decision, even if a reload
  // and a failed call have moved the snapshot on.
  std::shared_ptr<const Engine> decided;
  gavel::Worker active;
  gavel::Worker shadow;
  gavel_decision_t decision;
  gavel_decision_t shadow_decision;
  std::vector<AttributeValue> attributes;
  std::vector<AttributeValue> shadow_attributes;
  std::vector<Value> list_items;
  std::string log_line;
  uint64_t id = 0;
  uint64_t seq = 0;
  uint64_t rng = 0x9E3779B97F4A7C15ull;
};

namespace {

// The runtime's status codes are the C API's error codes, number for number:
// gavel.h documents them, status.h defines them.
#define GAVEL_SAME_CODE(c, k) \
  static_assert(static_cast<int>(c) == static_cast<int>(gavel::StatusCode::k), #c " differs from StatusCode::" #k)
GAVEL_SAME_CODE(GAVEL_OK, kOk);
GAVEL_SAME_CODE(GAVEL_ERR_INVALID_ARGUMENT, kInvalidArgument);
GAVEL_SAME_CODE(GAVEL_ERR_CORRUPT_BUNDLE, kCorruptBundle);
GAVEL_SAME_CODE(GAVEL_ERR_NEWER_FORMAT, kNewerFormat);
GAVEL_SAME_CODE(GAVEL_ERR_OLDER_FORMAT, kOlderFormat);
GAVEL_SAME_CODE(GAVEL_ERR_UNSIGNED, kUnsigned);
GAVEL_SAME_CODE(GAVEL_ERR_UNTRUSTED_KEY, kUntrustedKey);
GAVEL_SAME_CODE(GAVEL_ERR_BAD_SIGNATURE, kBadSignature);
GAVEL_SAME_CODE(GAVEL_ERR_OUT_OF_MEMORY, kOutOfMemory);
GAVEL_SAME_CODE(GAVEL_ERR_TOO_LARGE, kTooLarge);
GAVEL_SAME_CODE(GAVEL_ERR_FAILED_PRECONDITION, kFailedPrecondition);
GAVEL_SAME_CODE(GAVEL_ERR_INTERNAL, kInternal);
#undef GAVEL_SAME_CODE
constexpr gavel_error_t kLastCode = GAVEL_ERR_INTERNAL;

// A message is laid out as its text, a NUL and one byte holding its code:
// C callers see an ordinary string, and gavel_error_code finds the code
// after the NUL without any state beside the message.
//
// The message of an error whose own message could not be allocated is this
// static one, and gavel_free knows not to free it: a caller that frees every
// message with gavel_free, as gavel.h asks, never sees the difference.
constexpr char kOutOfMemory[] = "out of memory\0\x08";
static_assert(kOutOfMemory[sizeof("out of memory")] == GAVEL_ERR_OUT_OF_MEMORY, "kOutOfMemory's code byte");

// Sets *errptr to the concatenated parts and their code, malloc'd. Never
// throws and never leaves a failure without a message: kOutOfMemory when
// malloc fails. A NUL inside a part (a caller's attribute name may hold one)
// becomes '?', so that the text ends where C reads its end and the code
// follows it.
void SetError(char** errptr, gavel_error_t code, std::string_view a, std::string_view b = {},
              std::string_view c = {}) noexcept {
  if (errptr == nullptr) return;
  gavel_free(*errptr);
  char* copy = static_cast<char*>(std::malloc(a.size() + b.size() + c.size() + 2));
  if (copy == nullptr) {
    *errptr = const_cast<char*>(kOutOfMemory);
    return;
  }
  // std::replace_copy rather than memcpy: an empty part's data() may be
  // null, which memcpy does not allow even for zero bytes.
  char* end = std::replace_copy(a.begin(), a.end(), copy, '\0', '?');
  end = std::replace_copy(b.begin(), b.end(), end, '\0', '?');
  end = std::replace_copy(c.begin(), c.end(), end, '\0', '?');
  end[0] = '\0';
  end[1] = static_cast<char>(code);
  *errptr = copy;
}

// Every exported function that allocates, locks or calls into the runtime
// runs its body through Guard, the one place where exceptions stop: any
// exception (std::bad_alloc above all) becomes the function's documented
// failure value, with a message naming the function in *errptr when it has
// an errptr. Functions outside Guard say why they cannot throw.
template <typename R, typename Body>
R Guard(const char* function, char** errptr, R failure, Body&& body) noexcept {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    SetError(errptr, GAVEL_ERR_OUT_OF_MEMORY, function, ": out of memory");
  } catch (const std::exception& ex) {
    SetError(errptr, GAVEL_ERR_INTERNAL, function, ": ", ex.what());
  } catch (...) {
    SetError(errptr, GAVEL_ERR_INTERNAL, function, ": unknown exception");
  }
  return failure;
}

// Guard for functions that return nothing: true if the body ran to its end.
// Such a function either takes effect or, failing, leaves things as they
// were (and records the failure where gavel.h says it is reported later).
template <typename Body>
bool GuardVoid(Body&& body) noexcept {
  try {
    body();
    return true;
  } catch (...) {
    return false;
  }
}

// What a worker's decision reads as once deciding threw half way (out of
// memory): the runtime's decision was partly overwritten, so it is replaced
// by a deny that names no bundle (and so no rule) rather than read torn.
const Decision& NoDecision() {
  static const Decision kNone = [] {
    Decision d;
    d.allow = false;
    d.status = 500;
    d.code = "no_decision";
    d.message = "out of memory";
    return d;
  }();
  return kNone;
}

// Until disarmed, points the worker's decision at NoDecision() when it goes
// out of scope: armed from the moment the runtime starts overwriting the
// worker's decision until the call has succeeded.
class DecisionInvalidator {
 public:
  explicit DecisionInvalidator(gavel_worker_t* w) : w_(w) {}
  DecisionInvalidator(const DecisionInvalidator&) = delete;
  DecisionInvalidator& operator=(const DecisionInvalidator&) = delete;
  ~DecisionInvalidator() {
    if (w_ == nullptr) return;
    w_->decision.d = &NoDecision();
    w_->decision.json_ready = false;
  }
  void Disarm() { w_ = nullptr; }

 private:
  gavel_worker_t* w_;
};

char* Dup(const std::string& s) {
  char* copy = static_cast<char*>(std::malloc(s.size() + 1));
  if (copy) std::memcpy(copy, s.c_str(), s.size() + 1);
  return copy;
}

std::shared_ptr<const Engine> LoadBundle(const char* bundle, size_t len, const gavel::TrustedKeys& trusted,
                                         char** errptr) {
  if (bundle == nullptr || len == 0) {
    SetError(errptr, GAVEL_ERR_INVALID_ARGUMENT, "empty bundle");
    return nullptr;
  }
  gavel::Status status;
  auto e = Engine::Load(bundle, len, trusted, &status);
  if (e) return e;
  // Out of memory goes through Guard like everywhere else, so that its
  // message names the function that ran out.
  if (status.code() == gavel::StatusCode::kOutOfMemory) throw std::bad_alloc();
  SetError(errptr, static_cast<gavel_error_t>(status.code()), status.message());
  return nullptr;
}

const char* Out(std::string_view s, size_t* len) {
  if (len) *len = s.size();
  return s.data();
}

// Types of the built-in attributes a host may set directly.
Kind BuiltinKind(uint32_t slot) {
  switch (slot) {
    case gavel::kSlotRequestModel:
    case gavel::kSlotRequestEndpoint:
    case gavel::kSlotRequestUser:
    case gavel::kSlotRequestText:
    case gavel::kSlotRequestUserText:
    case gavel::kSlotRequestSystemText:
    case gavel::kSlotRequestToolText:
    case gavel::kSlotResponseText:
    case gavel::kSlotResponseFinishReason:
      return Kind::kString;
    case gavel::kSlotRequestMaxTokens:
    case gavel::kSlotRequestInputTokens:
    case gavel::kSlotEnvTime:
      return Kind::kInt;
    case gavel::kSlotRequestStream:
      return Kind::kBool;
    case gavel::kSlotRequestTemperature:
      return Kind::kFloat;
    default:
      return Kind::kMissing;  // structured: only through JSON
  }
}

Kind SchemaKind(SlotType t, bool* list) {
  *list = false;
  switch (t) {
    case SlotType::kBool:
      return Kind::kBool;
    case SlotType::kInt:
      return Kind::kInt;
    case SlotType::kFloat:
      return Kind::kFloat;
    case SlotType::kString:
      return Kind::kString;
    case SlotType::kListString:
    case SlotType::kSetString:
      *list = true;
      return Kind::kString;
    default:
      return Kind::kMissing;
  }
}

const char* AttrTypeName(gavel_input_t::Attr::Type t) {
  switch (t) {
    case gavel_input_t::Attr::kString:
      return "string";
    case gavel_input_t::Attr::kInt:
      return "int";
    case gavel_input_t::Attr::kFloat:
      return "float";
    case gavel_input_t::Attr::kBool:
      return "bool";
    case gavel_input_t::Attr::kStringList:
      return "string list";
  }
  return "?";
}

// Resolves the input's attributes against a program into slot values.
bool ResolveAttributes(gavel_worker_t* w, const Program& p, const gavel_input_t* in, std::vector<AttributeValue>* out,
                       char** errptr) {
  out->resize(in->nattrs);
  size_t total_items = 0;
  for (size_t i = 0; i < in->nattrs; ++i)
    if (in->attrs[i].type == gavel_input_t::Attr::kStringList) total_items += in->attrs[i].list.size();
  if (w->list_items.size() < total_items) w->list_items.resize(total_items);
  size_t next_item = 0;
  for (size_t i = 0; i < in->nattrs; ++i) {
    const gavel_input_t::Attr& a = in->attrs[i];
    const int32_t slot = gavel::FindSlot(p, a.name);
    if (slot < 0) {
      SetError(errptr, GAVEL_ERR_INVALID_ARGUMENT,
               "unknown attribute '" + a.name + "' (the policy declares no such attribute)");
      return false;
    }
    Kind want;
    bool list = false;
    if (static_cast<uint32_t>(slot) < gavel::kBuiltinSlotCount) {
      want = BuiltinKind(static_cast<uint32_t>(slot));
    } else {
      want = SchemaKind(p.slots[slot].type, &list);
    }
    const Kind have = a.type == gavel_input_t::Attr::kString || a.type == gavel_input_t::Attr::kStringList
                          ? Kind::kString
                      : a.type == gavel_input_t::Attr::kInt   ? Kind::kInt
                      : a.type == gavel_input_t::Attr::kFloat ? Kind::kFloat
                                                              : Kind::kBool;
    const bool have_list = a.type == gavel_input_t::Attr::kStringList;
    const bool int_as_float = want == Kind::kFloat && have == Kind::kInt && !list && !have_list;
    if (want == Kind::kMissing || ((want != have || list != have_list) && !int_as_float)) {
      SetError(errptr, GAVEL_ERR_INVALID_ARGUMENT,
               "attribute '" + a.name + "' cannot be set from a " + AttrTypeName(a.type) +
                   (want == Kind::kMissing ? " (set it through the JSON body)" : ""));
      return false;
    }
    // The same limits the decoder applies to JSON.
    if (a.type == gavel_input_t::Attr::kStringList && a.list.size() > gavel::DecodeLimits().max_list) {
      SetError(errptr, GAVEL_ERR_INVALID_ARGUMENT,
               "attribute '" + a.name + "' has more than " + std::to_string(gavel::DecodeLimits().max_list) + " items");
      return false;
    }
    if (a.type == gavel_input_t::Attr::kInt && a.i < 0 &&
        (slot == gavel::kSlotRequestMaxTokens || slot == gavel::kSlotRequestInputTokens)) {
      SetError(errptr, GAVEL_ERR_INVALID_ARGUMENT, "attribute '" + a.name + "' must not be negative");
      return false;
    }
    AttributeValue& av = (*out)[i];
    av.slot = static_cast<uint32_t>(slot);
    switch (a.type) {
      case gavel_input_t::Attr::kString:
        av.value = Value::String(a.s);
        break;
      case gavel_input_t::Attr::kInt:
        av.value = int_as_float ? Value::Float(static_cast<double>(a.i)) : Value::Int(a.i);
        break;
      case gavel_input_t::Attr::kFloat:
        av.value = Value::Float(a.f);
        break;
      case gavel_input_t::Attr::kBool:
        av.value = Value::Bool(a.i != 0);
        break;
      case gavel_input_t::Attr::kStringList: {
        Value* items = w->list_items.data() + next_item;
        for (size_t k = 0; k < a.list.size(); ++k) items[k] = Value::String(a.list[k]);
        next_item += a.list.size();
        size_t count = a.list.size();
        const bool is_set =
            static_cast<uint32_t>(slot) >= gavel::kBuiltinSlotCount && p.slots[slot].type == SlotType::kSetString;
        if (is_set) {
          // As when decoded from JSON: a set is sorted and has no duplicates.
          std::sort(items, items + count, [](const Value& x, const Value& y) { return x.str() < y.str(); });
          count = static_cast<size_t>(
              std::unique(items, items + count, [](const Value& x, const Value& y) { return x.str() == y.str(); }) -
              items);
        }
        av.value = Value::Aggregate(Kind::kList, count ? items : nullptr, static_cast<uint32_t>(count));
        if (is_set) av.value.sorted = 1;
        break;
      }
    }
  }
  return true;
}

void RefreshSnapshot(gavel_worker_t* w) {
  const uint64_t v = w->engine->version.load(std::memory_order_acquire);
  if (v == w->seen_version) return;
  std::lock_guard<std::mutex> lock(w->engine->mu);
  w->snap = w->engine->state;
  w->seen_version = w->engine->version.load(std::memory_order_relaxed);
}

bool SameOutcome(const Decision& a, const Decision& b) {
  if (a.allow != b.allow || a.status != b.status || a.code != b.code || a.has_route != b.has_route ||
      a.route != b.route || a.fired.size() != b.fired.size())
    return false;
  const Program& pa = a.engine->program();
  const Program& pb = b.engine->program();
  for (size_t i = 0; i < a.fired.size(); ++i)
    if (pa.rules[a.fired[i].rule].name != pb.rules[b.fired[i].rule].name) return false;
  return true;
}

void AppendNames(const Decision& d, gavel::Effect only, bool all, std::string* out) {
  const Program& p = d.engine->program();
  *out += '[';
  bool first = true;
  for (const gavel::Reason& r : d.fired) {
    if (!all && p.rules[r.rule].effect != only) continue;
    if (!first) *out += ',';
    first = false;
    gavel::AppendJsonString(p.rules[r.rule].name, out);
  }
  *out += ']';
}

// One line per decision: identifiers, names and codes only, never request
// text or anything a rule message may have interpolated from it. The line is
// built in the worker's buffer, so a warm worker logs without allocating; if
// it cannot be built (out of memory) this throws and gavel_decide fails: a
// sampled decision is never returned unlogged.
void LogDecision(gavel_worker_t* w, const Decision& d) {
  std::string& line = w->log_line;
  line.clear();
  char buf[160];
  const auto now =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  snprintf(buf, sizeof buf,
           "{\"time_ms\":%lld,\"id\":\"%" PRIu64 "-%" PRIu64 "\",\"bundle\":", static_cast<long long>(now), w->id,
           w->seq);
  line += buf;
  gavel::AppendJsonString(d.engine->hash_hex(), &line);
  line += ",\"signer\":";
  gavel::AppendJsonString(d.engine->signer(), &line);
  snprintf(buf, sizeof buf, ",\"decision\":\"%s\",\"status\":%u,\"code\":", d.allow ? "allow" : "deny", d.status);
  line += buf;
  gavel::AppendJsonString(d.code, &line);
  line += ",\"rules\":";
  AppendNames(d, gavel::Effect::kDeny, true, &line);
  line += ",\"codes\":[";
  const Program& p = d.engine->program();
  bool first = true;
  for (const gavel::Reason& r : d.fired) {
    const gavel::Rule& rule = p.rules[r.rule];
    if (rule.code.empty() && rule.effect != gavel::Effect::kDeny) continue;
    if (!first) line += ',';
    first = false;
    gavel::AppendJsonString(rule.code.empty() ? rule.name : rule.code, &line);
  }
  line += "],\"flags\":";
  AppendNames(d, gavel::Effect::kFlag, false, &line);
  line += ",\"errors\":[";
  first = true;
  for (const gavel::Reason& r : d.errors) {
    if (!first) line += ',';
    first = false;
    gavel::AppendJsonString(p.rules[r.rule].name, &line);
  }
  // Redaction kinds with their counts, in order of first appearance: never the text.
  line += "],\"redactions\":{";
  for (size_t i = 0; i < d.redactions.size(); ++i) {
    bool seen = false;
    for (size_t j = 0; j < i && !seen; ++j) seen = d.redactions[j].kind == d.redactions[i].kind;
    if (seen) continue;
    size_t n = 0;
    for (size_t j = i; j < d.redactions.size(); ++j) n += d.redactions[j].kind == d.redactions[i].kind;
    if (line.back() != '{') line += ',';
    gavel::AppendJsonString(d.redactions[i].kind, &line);
    snprintf(buf, sizeof buf, ":%zu", n);
    line += buf;
  }
  snprintf(buf, sizeof buf, "},\"eval_ns\":%" PRIu64 "}", d.eval_ns);
  line += buf;
  w->snap.log_fn(w->snap.log_arg, line.data(), line.size());
}

bool Sampled(gavel_worker_t* w, double rate) {
  if (rate >= 1) return true;
  if (rate <= 0) return false;
  // xorshift64*: cheap, per worker, no shared state.
  w->rng ^= w->rng >> 12;
  w->rng ^= w->rng << 25;
  w->rng ^= w->rng >> 27;
  const uint64_t r = w->rng * 2685821657736338717ull;
  return static_cast<double>(r >> 11) * (1.0 / 9007199254740992.0) < rate;
}

// Decides the input against the shadow candidate and compares. A shadow is an
// experiment that must never change what gavel_decide returns, so running out
// of memory here skips this comparison: it is neither counted nor reported
// (a counted difference is always a reported one when a callback is set).
void DecideShadow(gavel_worker_t* w, const gavel_input_t* input, const Decision& d, const gavel::DecideOptions& opts) {
  try {
    // The candidate bundle may lay out slots differently: resolve again. A
    // candidate that does not know an attribute is skipped, not an error of
    // the active decision.
    const Engine& shadow = *w->snap.shadow;
    gavel::DecodeInput sin = input->in;
    if (input->nattrs) {
      char* ignored = nullptr;
      const bool ok = ResolveAttributes(w, shadow.program(), input, &w->shadow_attributes, &ignored);
      gavel_free(ignored);
      if (!ok) return;
      sin.attributes = w->shadow_attributes.data();
      sin.attribute_count = input->nattrs;
    }
    const Decision& sd = w->shadow.Decide(shadow, sin, opts);
    if (SameOutcome(d, sd)) {
      w->engine->shadow_decisions.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    std::string a, b;
    if (w->snap.shadow_fn) {
      a = d.ToJson();
      b = sd.ToJson();
    }
    w->engine->shadow_decisions.fetch_add(1, std::memory_order_relaxed);
    w->engine->shadow_differences.fetch_add(1, std::memory_order_relaxed);
    if (w->snap.shadow_fn) w->snap.shadow_fn(w->snap.shadow_arg, a.data(), a.size(), b.data(), b.size());
  } catch (const std::bad_alloc&) {
  }
}

// Loads a bundle outside the lock (verification can take a while), then
// applies `place` to the engine's state under it and publishes the change.
// Returns 1, or 0 with *errptr when the bundle is refused (state unchanged).
// Whatever throws, throws before the lock: `place` only moves pointers, so
// the state is changed entirely or not at all.
using EnginePtr = std::shared_ptr<const Engine>;
template <typename Place>
int InstallBundle(gavel_engine_t* engine, const char* bundle, size_t bundle_len, char** errptr, Place place) {
  if (engine == nullptr) {
    SetError(errptr, GAVEL_ERR_INVALID_ARGUMENT, "engine is NULL");
    return 0;
  }
  EnginePtr e = LoadBundle(bundle, bundle_len, engine->options.trusted_keys, errptr);
  if (!e) return 0;
  std::lock_guard<std::mutex> lock(engine->mu);
  place(engine, std::move(e));
  engine->version.fetch_add(1, std::memory_order_release);
  return 1;
}

// False with *errptr (GAVEL_ERR_TOO_LARGE) when a body of `in` is over the
// engine's max_request_bytes. A streamed response's text is not in `in`: the
// stream caps it itself.
bool BodiesFit(const gavel_engine_t* engine, const gavel::DecodeInput& in, char** errptr) {
  const size_t limit = engine->options.max_request_bytes;
  const std::string_view bodies[] = {in.request, in.response, in.principal, in.context, in.env};
  static const char* const kNames[] = {"request", "response", "principal", "context", "env"};
  for (int i = 0; i < 5; ++i)
    if (bodies[i].size() > limit) {
      SetError(errptr, GAVEL_ERR_TOO_LARGE,
               std::string(kNames[i]) + " body is " + std::to_string(bodies[i].size()) + " bytes; the limit is " +
                   std::to_string(limit));
      return false;
    }
  return true;
}

// Adds an attribute to the input; a failure to store it (out of memory) is
// remembered and reported by gavel_decide, never half-applied.
template <typename Fill>
void SetAttribute(gavel_input_t* input, const char* name, size_t name_len, gavel_input_t::Attr::Type type, Fill fill) {
  if (input == nullptr) return;
  const bool stored = GuardVoid([&] {
    gavel_input_t::Attr& a = input->Next();
    a.type = type;
    a.name.assign(name ? name : "", name ? name_len : 0);
    fill(a);
    ++input->nattrs;
  });
  if (!stored) input->out_of_memory = true;
}

}  // namespace

extern "C" {

// The library functions, options setters and input setters without
// attributes below only read or assign fields: they allocate nothing and
// cannot throw, so they do not go through Guard.
const char* gavel_version(void) { return GAVEL_VERSION_STRING; }
int gavel_bundle_format(void) { return static_cast<int>(gavel::kBundleFormatVersion); }
void gavel_free(void* ptr) {
  if (ptr != kOutOfMemory) std::free(ptr);
}
gavel_error_t gavel_error_code(const char* err) {
  if (err == nullptr) return GAVEL_OK;
  const unsigned char code = static_cast<unsigned char>(err[std::strlen(err) + 1]);
  return code <= kLastCode ? static_cast<gavel_error_t>(code) : GAVEL_ERR_INTERNAL;
}

gavel_options_t* gavel_options_create(void) {
  return Guard("gavel_options_create", nullptr, static_cast<gavel_options_t*>(nullptr),
               [] { return new (std::nothrow) gavel_options_t(); });
}
// Destroy functions run destructors only, which never throw.
void gavel_options_destroy(gavel_options_t* options) { delete options; }
void gavel_options_set_max_request_bytes(gavel_options_t* options, size_t bytes) {
  if (options) options->max_request_bytes = bytes;
}

int gavel_options_trust_key(gavel_options_t* options, const char* public_key, size_t public_key_len, char** errptr) {
  return Guard("gavel_options_trust_key", errptr, 0, [&] {
    if (options == nullptr) {
      SetError(errptr, GAVEL_ERR_INVALID_ARGUMENT, "options is NULL");
      return 0;
    }
    gavel::PublicKey key;
    std::string err;
    if (!gavel::ParsePublicKey(std::string_view(public_key ? public_key : "", public_key ? public_key_len : 0), &key,
                               &err)) {
      SetError(errptr, GAVEL_ERR_INVALID_ARGUMENT, "not a public key: ", err);
      return 0;
    }
    for (const gavel::PublicKey& k : options->trusted_keys)
      if (k.key == key.key) return 1;
    options->trusted_keys.push_back(key);
    return 1;
  });
}

gavel_engine_t* gavel_engine_open(const gavel_options_t* options, const char* bundle, size_t bundle_len,
                                  char** errptr) {
  return Guard("gavel_engine_open", errptr, static_cast<gavel_engine_t*>(nullptr), [&]() -> gavel_engine_t* {
    auto e = LoadBundle(bundle, bundle_len, options ? options->trusted_keys : gavel::TrustedKeys(), errptr);
    if (!e) return nullptr;
    auto* engine = new gavel_engine_t();
    if (options) engine->options = *options;
    engine->state.active = std::move(e);
    engine->generation = 1;
    return engine;
  });
}

void gavel_engine_destroy(gavel_engine_t* engine) { delete engine; }

int gavel_engine_reload(gavel_engine_t* engine, const char* bundle, size_t bundle_len, char** errptr) {
  return Guard("gavel_engine_reload", errptr, 0, [&] {
    return InstallBundle(engine, bundle, bundle_len, errptr, [](gavel_engine_t* en, EnginePtr e) {
      en->previous = std::move(en->state.active);
      en->state.active = std::move(e);
      en->generation.fetch_add(1, std::memory_order_relaxed);
    });
  });
}

int gavel_engine_rollback(gavel_engine_t* engine, char** errptr) {
  return Guard("gavel_engine_rollback", errptr, 0, [&] {
    if (engine == nullptr) {
      SetError(errptr, GAVEL_ERR_INVALID_ARGUMENT, "engine is NULL");
      return 0;
    }
    std::lock_guard<std::mutex> lock(engine->mu);
    if (!engine->previous) {
      SetError(errptr, GAVEL_ERR_FAILED_PRECONDITION, "no previous bundle to roll back to");
      return 0;
    }
    std::swap(engine->previous, engine->state.active);
    engine->generation.fetch_add(1, std::memory_order_relaxed);
    engine->version.fetch_add(1, std::memory_order_release);
    return 1;
  });
}

char* gavel_engine_bundle_hash(const gavel_engine_t* engine) {
  return Guard("gavel_engine_bundle_hash", nullptr, static_cast<char*>(nullptr), [&]() -> char* {
    if (engine == nullptr) return nullptr;
    std::lock_guard<std::mutex> lock(engine->mu);
    return Dup(engine->state.active->hash_hex());
  });
}

char* gavel_engine_bundle_signer(const gavel_engine_t* engine) {
  return Guard("gavel_engine_bundle_signer", nullptr, static_cast<char*>(nullptr), [&]() -> char* {
    if (engine == nullptr) return nullptr;
    std::lock_guard<std::mutex> lock(engine->mu);
    return Dup(engine->state.active->signer());
  });
}

// Counter reads: atomic loads, which cannot throw.
uint64_t gavel_engine_generation(const gavel_engine_t* engine) {
  return engine ? engine->generation.load(std::memory_order_relaxed) : 0;
}

int gavel_engine_set_shadow(gavel_engine_t* engine, const char* bundle, size_t bundle_len, char** errptr) {
  return Guard("gavel_engine_set_shadow", errptr, 0, [&] {
    return InstallBundle(engine, bundle, bundle_len, errptr, [](gavel_engine_t* en, EnginePtr e) {
      en->state.shadow = std::move(e);
      en->shadow_decisions = 0;
      en->shadow_differences = 0;
    });
  });
}

// The engine setters below allocate nothing; they go through GuardVoid only
// because locking a mutex may throw std::system_error.
void gavel_engine_clear_shadow(gavel_engine_t* engine) {
  if (engine == nullptr) return;
  GuardVoid([&] {
    std::lock_guard<std::mutex> lock(engine->mu);
    engine->state.shadow.reset();
    engine->version.fetch_add(1, std::memory_order_release);
  });
}

void gavel_engine_set_shadow_callback(gavel_engine_t* engine, gavel_shadow_fn fn, void* arg) {
  if (engine == nullptr) return;
  GuardVoid([&] {
    std::lock_guard<std::mutex> lock(engine->mu);
    engine->state.shadow_fn = fn;
    engine->state.shadow_arg = arg;
    engine->version.fetch_add(1, std::memory_order_release);
  });
}

uint64_t gavel_engine_shadow_decisions(const gavel_engine_t* engine) {
  return engine ? engine->shadow_decisions.load(std::memory_order_relaxed) : 0;
}
uint64_t gavel_engine_shadow_differences(const gavel_engine_t* engine) {
  return engine ? engine->shadow_differences.load(std::memory_order_relaxed) : 0;
}

void gavel_engine_set_decision_log(gavel_engine_t* engine, gavel_log_fn fn, void* arg, double sample_rate) {
  if (engine == nullptr) return;
  GuardVoid([&] {
    std::lock_guard<std::mutex> lock(engine->mu);
    engine->state.log_fn = fn;
    engine->state.log_arg = arg;
    engine->state.sample_rate = sample_rate != sample_rate ? 0 : sample_rate;  // NaN logs nothing
    engine->version.fetch_add(1, std::memory_order_release);
  });
}

gavel_worker_t* gavel_worker_create(gavel_engine_t* engine, char** errptr) {
  return Guard("gavel_worker_create", errptr, static_cast<gavel_worker_t*>(nullptr), [&]() -> gavel_worker_t* {
    if (engine == nullptr) {
      SetError(errptr, GAVEL_ERR_INVALID_ARGUMENT, "engine is NULL");
      return nullptr;
    }
    auto* w = new gavel_worker_t();
    w->engine = engine;
    w->id = engine->next_worker.fetch_add(1, std::memory_order_relaxed);
    w->rng ^= w->id * 0xD1B54A32D192ED03ull;
    return w;
  });
}

void gavel_worker_destroy(gavel_worker_t* worker) { delete worker; }

gavel_input_t* gavel_input_create(void) {
  return Guard("gavel_input_create", nullptr, static_cast<gavel_input_t*>(nullptr), [] { return new gavel_input_t(); });
}
void gavel_input_destroy(gavel_input_t* input) { delete input; }
void gavel_input_clear(gavel_input_t* input) {
  if (input == nullptr) return;
  input->in = gavel::DecodeInput();
  input->response_phase = false;
  input->nattrs = 0;
  input->out_of_memory = false;
}

#define GAVEL_SET_BODY(fn, field)                                                    \
  void fn(gavel_input_t* input, const char* json, size_t len) {                      \
    if (input) input->in.field = std::string_view(json ? json : "", json ? len : 0); \
  }
GAVEL_SET_BODY(gavel_input_set_request_json, request)
GAVEL_SET_BODY(gavel_input_set_response_json, response)
GAVEL_SET_BODY(gavel_input_set_principal_json, principal)
GAVEL_SET_BODY(gavel_input_set_context_json, context)
GAVEL_SET_BODY(gavel_input_set_env_json, env)
GAVEL_SET_BODY(gavel_input_set_endpoint, endpoint)
#undef GAVEL_SET_BODY

void gavel_input_set_input_tokens(gavel_input_t* input, int64_t tokens) {
  if (input) input->in.input_tokens = tokens;
}
void gavel_input_set_response_phase(gavel_input_t* input, int response_phase) {
  if (input) input->response_phase = response_phase != 0;
}

// Attribute setters go through GuardVoid inside SetAttribute; a failure is
// recorded in the input and reported by the next gavel_decide.
void gavel_input_set_string(gavel_input_t* input, const char* name, size_t name_len, const char* value,
                            size_t value_len) {
  SetAttribute(input, name, name_len, gavel_input_t::Attr::kString,
               [&](gavel_input_t::Attr& a) { a.s.assign(value ? value : "", value ? value_len : 0); });
}
void gavel_input_set_int(gavel_input_t* input, const char* name, size_t name_len, int64_t value) {
  SetAttribute(input, name, name_len, gavel_input_t::Attr::kInt, [&](gavel_input_t::Attr& a) { a.i = value; });
}
void gavel_input_set_float(gavel_input_t* input, const char* name, size_t name_len, double value) {
  SetAttribute(input, name, name_len, gavel_input_t::Attr::kFloat, [&](gavel_input_t::Attr& a) { a.f = value; });
}
void gavel_input_set_bool(gavel_input_t* input, const char* name, size_t name_len, int value) {
  SetAttribute(input, name, name_len, gavel_input_t::Attr::kBool, [&](gavel_input_t::Attr& a) { a.i = value != 0; });
}
void gavel_input_set_string_list(gavel_input_t* input, const char* name, size_t name_len, const char* const* values,
                                 const size_t* lens, size_t count) {
  SetAttribute(input, name, name_len, gavel_input_t::Attr::kStringList, [&](gavel_input_t::Attr& a) {
    a.list.resize(count);
    for (size_t i = 0; i < count; ++i)
      a.list[i].assign(values && values[i] ? values[i] : "", values && values[i] && lens ? lens[i] : 0);
  });
}

const gavel_decision_t* gavel_decide(gavel_worker_t* w, const gavel_input_t* input, char** errptr) {
  using Result = const gavel_decision_t*;
  return Guard("gavel_decide", errptr, static_cast<Result>(nullptr), [&]() -> Result {
    if (w == nullptr || input == nullptr) {
      SetError(errptr, GAVEL_ERR_INVALID_ARGUMENT, w == nullptr ? "worker is NULL" : "input is NULL");
      return nullptr;
    }
    if (input->out_of_memory) {
      SetError(errptr, GAVEL_ERR_OUT_OF_MEMORY,
               "an attribute could not be stored (out of memory); clear the input and set it again");
      return nullptr;
    }
    if (!BodiesFit(w->engine, input->in, errptr)) return nullptr;
    const size_t limit = w->engine->options.max_request_bytes;
    RefreshSnapshot(w);
    const Engine& engine = *w->snap.active;
    gavel::DecideOptions opts;
    opts.phase = input->response_phase ? gavel::Phase::kResponse : gavel::Phase::kRequest;
    opts.limits.json.max_bytes = limit;
    gavel::DecodeInput in = input->in;
    if (input->nattrs) {
      if (!ResolveAttributes(w, engine.program(), input, &w->attributes, errptr)) return nullptr;
      in.attributes = w->attributes.data();
      in.attribute_count = input->nattrs;
    }
    ++w->seq;
    DecisionInvalidator invalidate(w);
    const Decision& d = w->active.Decide(engine, in, opts);
    // Compared first: copying a shared_ptr every decision would make all
    // threads write the engine's reference count.
    if (w->decided.get() != w->snap.active.get()) w->decided = w->snap.active;
    w->decision.d = &d;
    w->decision.json_ready = false;
    if (w->snap.shadow) DecideShadow(w, input, d, opts);
    if (w->snap.log_fn && Sampled(w, w->snap.sample_rate)) LogDecision(w, d);
    invalidate.Disarm();
    return &w->decision;
  });
}

// The decision accessors below read fields of the decision (or of its
// bundle's program) and return pointers into them: they allocate nothing and
// cannot throw. Only gavel_decision_json renders, and goes through Guard.
int gavel_decision_allowed(const gavel_decision_t* d) { return d && d->d->allow ? 1 : 0; }
int gavel_decision_status(const gavel_decision_t* d) { return d ? d->d->status : 0; }
const char* gavel_decision_code(const gavel_decision_t* d, size_t* len) {
  return Out(d ? std::string_view(d->d->code) : std::string_view(""), len);
}
const char* gavel_decision_message(const gavel_decision_t* d, size_t* len) {
  return Out(d ? std::string_view(d->d->message) : std::string_view(""), len);
}
const char* gavel_decision_route(const gavel_decision_t* d, size_t* len) {
  if (d == nullptr || !d->d->has_route) {
    if (len) *len = 0;
    return nullptr;
  }
  return Out(d->d->route, len);
}

size_t gavel_decision_rule_count(const gavel_decision_t* d) { return d ? d->d->fired.size() : 0; }

static const gavel::Rule* FiredRule(const gavel_decision_t* d, size_t i) {
  if (d == nullptr || i >= d->d->fired.size()) return nullptr;
  return &d->d->engine->program().rules[d->d->fired[i].rule];
}

const char* gavel_decision_rule_name(const gavel_decision_t* d, size_t i, size_t* len) {
  const gavel::Rule* r = FiredRule(d, i);
  return Out(r ? std::string_view(r->name) : std::string_view(""), len);
}
gavel_effect_t gavel_decision_rule_effect(const gavel_decision_t* d, size_t i) {
  const gavel::Rule* r = FiredRule(d, i);
  return r ? static_cast<gavel_effect_t>(r->effect) : GAVEL_EFFECT_ALLOW;
}
const char* gavel_decision_rule_code(const gavel_decision_t* d, size_t i, size_t* len) {
  const gavel::Rule* r = FiredRule(d, i);
  if (r == nullptr) return Out("", len);
  return Out(
      r->code.empty() && r->effect == gavel::Effect::kDeny ? std::string_view(r->name) : std::string_view(r->code),
      len);
}
const char* gavel_decision_rule_message(const gavel_decision_t* d, size_t i, size_t* len) {
  if (FiredRule(d, i) == nullptr) return Out("", len);
  return Out(d->d->fired[i].message, len);
}

size_t gavel_decision_error_count(const gavel_decision_t* d) { return d ? d->d->errors.size() : 0; }
const char* gavel_decision_error_rule(const gavel_decision_t* d, size_t i, size_t* len) {
  if (d == nullptr || i >= d->d->errors.size()) return Out("", len);
  return Out(d->d->engine->program().rules[d->d->errors[i].rule].name, len);
}
const char* gavel_decision_error_message(const gavel_decision_t* d, size_t i, size_t* len) {
  if (d == nullptr || i >= d->d->errors.size()) return Out("", len);
  return Out(d->d->errors[i].message, len);
}

size_t gavel_decision_redaction_count(const gavel_decision_t* d) { return d ? d->d->redactions.size() : 0; }

int gavel_decision_redaction(const gavel_decision_t* d, size_t i, const char** field, size_t* field_len, size_t* begin,
                             size_t* end, const char** kind, size_t* kind_len, const char** replacement,
                             size_t* replacement_len) {
  const bool ok = d != nullptr && i < d->d->redactions.size();
  static const gavel::Redaction kNone;
  const gavel::Redaction& x = ok ? d->d->redactions[i] : kNone;
  const char* f = ok ? Out(d->d->redacted[x.field].path, field_len) : Out("", field_len);
  if (field) *field = f;
  if (begin) *begin = x.begin;
  if (end) *end = x.end;
  const char* k = Out(x.kind, kind_len);
  if (kind) *kind = k;
  const char* r = Out(x.replacement, replacement_len);
  if (replacement) *replacement = r;
  return ok ? 1 : 0;
}

size_t gavel_decision_redacted_count(const gavel_decision_t* d) { return d ? d->d->redacted.size() : 0; }
const char* gavel_decision_redacted_field(const gavel_decision_t* d, size_t i, size_t* len) {
  if (d == nullptr || i >= d->d->redacted.size()) return Out("", len);
  return Out(d->d->redacted[i].path, len);
}
const char* gavel_decision_redacted_text(const gavel_decision_t* d, size_t i, size_t* len) {
  if (d == nullptr || i >= d->d->redacted.size()) return Out("", len);
  return Out(d->d->redacted[i].text, len);
}

const char* gavel_decision_bundle_hash(const gavel_decision_t* d, size_t* len) {
  if (d == nullptr || d->d->engine == nullptr) return Out("", len);  // NoDecision() names no bundle
  return Out(d->d->engine->hash_hex(), len);
}
const char* gavel_decision_bundle_signer(const gavel_decision_t* d, size_t* len) {
  if (d == nullptr || d->d->engine == nullptr) return Out("", len);  // NoDecision() names no bundle
  return Out(d->d->engine->signer(), len);
}
uint64_t gavel_decision_eval_ns(const gavel_decision_t* d) { return d ? d->d->eval_ns : 0; }

const char* gavel_decision_json(const gavel_decision_t* d, size_t* len) {
  if (len) *len = 0;
  return Guard("gavel_decision_json", nullptr, static_cast<const char*>(nullptr), [&]() -> const char* {
    if (d == nullptr) return Out("", len);
    if (!d->json_ready) {
      d->json.clear();
      d->d->AppendJson(&d->json);
      d->json_ready = true;
    }
    return Out(d->json, len);
  });
}

}  // extern "C"

gavel_stream_t* gavel_stream_create(gavel_engine_t* engine, size_t holdback_bytes, char** errptr) {
  return Guard("gavel_stream_create", errptr, static_cast<gavel_stream_t*>(nullptr), [&]() -> gavel_stream_t* {
    if (engine == nullptr) {
      SetError(errptr, GAVEL_ERR_INVALID_ARGUMENT, "engine is NULL");
      return nullptr;
    }
    std::shared_ptr<const Engine> e;
    {
      std::lock_guard<std::mutex> lock(engine->mu);
      e = engine->state.active;
    }
    auto s = std::make_unique<gavel_stream_t>();
    gavel::StreamOptions opts;
    if (holdback_bytes) opts.holdback = static_cast<uint32_t>(std::min<size_t>(holdback_bytes, 1u << 20));
    opts.limits.json.max_bytes = engine->options.max_request_bytes;
    std::string err;
    if (!s->rs.Begin(std::move(e), opts, &err)) {
      // The bundle loaded, so its screening stream cannot fail to open for
      // anything the caller did.
      SetError(errptr, GAVEL_ERR_INTERNAL, err);
      return nullptr;
    }
    return s.release();
  });
}

void gavel_stream_destroy(gavel_stream_t* stream) { delete stream; }

namespace {

const gavel_decision_t* StreamStep(gavel_stream_t* s, gavel_worker_t* w, const gavel_input_t* input, const char* piece,
                                   size_t len, bool finish, const char** out, size_t* out_len, char** errptr) {
  if (out) *out = "";
  if (out_len) *out_len = 0;
  if (s == nullptr || w == nullptr || input == nullptr) {
    SetError(errptr, GAVEL_ERR_INVALID_ARGUMENT,
             s == nullptr   ? "stream is NULL"
             : w == nullptr ? "worker is NULL"
                            : "input is NULL");
    return nullptr;
  }
  if (piece == nullptr && len) {
    SetError(errptr, GAVEL_ERR_INVALID_ARGUMENT, "piece is NULL");
    return nullptr;
  }
  if (s->failed) {
    SetError(errptr, GAVEL_ERR_OUT_OF_MEMORY, "the stream failed earlier (out of memory): end the response");
    return nullptr;
  }
  if (input->out_of_memory) {
    SetError(errptr, GAVEL_ERR_OUT_OF_MEMORY,
             "an attribute could not be stored (out of memory); clear the input and set it again");
    return nullptr;
  }
  const std::shared_ptr<const Engine>& engine = s->rs.engine();
  gavel::DecodeInput in = input->in;
  in.response = std::string_view();
  if (!BodiesFit(w->engine, in, errptr)) return nullptr;
  if (input->nattrs) {
    if (!ResolveAttributes(w, engine->program(), input, &w->attributes, errptr)) return nullptr;
    in.attributes = w->attributes.data();
    in.attribute_count = input->nattrs;
  }
  DecisionInvalidator invalidate(w);
  s->failed = true;  // until this step has succeeded
  const Decision& d = finish ? s->rs.Finish(&w->active, in, &s->out)
                             : s->rs.Write(&w->active, in, std::string_view(piece ? piece : "", len), &s->out);
  if (w->decided.get() != engine.get()) w->decided = engine;
  w->decision.d = &d;
  w->decision.json_ready = false;
  s->failed = false;
  invalidate.Disarm();
  if (out) *out = s->out.data();
  if (out_len) *out_len = s->out.size();
  return &w->decision;
}

}  // namespace

const gavel_decision_t* gavel_stream_write(gavel_stream_t* stream, gavel_worker_t* worker, const gavel_input_t* input,
                                           const char* piece, size_t piece_len, const char** out, size_t* out_len,
                                           char** errptr) {
  return Guard("gavel_stream_write", errptr, static_cast<const gavel_decision_t*>(nullptr),
               [&] { return StreamStep(stream, worker, input, piece, piece_len, false, out, out_len, errptr); });
}

const gavel_decision_t* gavel_stream_finish(gavel_stream_t* stream, gavel_worker_t* worker, const gavel_input_t* input,
                                            const char** out, size_t* out_len, char** errptr) {
  return Guard("gavel_stream_finish", errptr, static_cast<const gavel_decision_t*>(nullptr),
               [&] { return StreamStep(stream, worker, input, nullptr, 0, true, out, out_len, errptr); });
}
