// alloc_failure_test: running out of memory anywhere in the C API is an error,
// never a crash, a torn decision or a leak. A whole cycle of the API (open,
// decide, stream, reload, rollback, shadow, destroy) is run once per
// allocation it makes, with that allocation (alone, or with every later one
// of the same call) failing. This program replaces malloc and its family for
// the whole process: libgavel's operator new, its own malloc'd strings and
// Hyperscan's allocations all come through here. Uses only gavel.h.
//
// Regressions it guards, each reported by the check named after it:
// - gavel_decision_json let std::bad_alloc cross extern "C" (abort);
// - catch handlers that built their message could throw again (abort);
// - a span callback's exception unwound through Hyperscan, leaving the
//   worker's scratch "in use": later decisions "decided differently" (rule
//   errors instead of redactions) and the scratch "leaked";
// - a throw while growing the screening scratch left a null scratch that
//   the next decision dereferenced (crash);
// - Hyperscan's HS_NOMEM was reported as a "damaged" screening database;
// - a shadow difference was counted before its report could be built
//   ("shadow differences counted, ... reported");
// - a failed call "left the previous decision torn";
// - with no memory left for the message, errptr stayed NULL ("failed
//   without an error message");
// - a failure for lack of memory must carry GAVEL_ERR_OUT_OF_MEMORY, also in
//   the static message, so a gateway can tell it from a refused bundle ("its
//   code is").
#include <cerrno>
#include <cstdarg>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <new>
#include <string>

#include "gavel.h"

// ---- the allocator ---------------------------------------------------------

extern "C" {
void* __libc_malloc(size_t);
void __libc_free(void*);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
void* __libc_memalign(size_t, size_t);
}

namespace {

// Plain globals: the allocator runs before main and inside libc, and the test
// is single-threaded (libgavel starts no threads).
bool armed = false;         // inside a gavel_* call of the cycle
long long alloc_index = 0;  // allocations requested while armed
long long fail_at = 0;      // the allocation to fail (1-based); 0: none
bool fail_rest = false;     // and every later one, until the call returns
long long cycle_n = 0;      // the allocation this cycle fails, for reports
long long injected = 0;     // failures injected so far
long long live = 0;         // blocks allocated and not freed, armed or not

bool FailThis() {
  if (!armed) return false;
  ++alloc_index;
  if (fail_at == 0 || alloc_index < fail_at || (alloc_index > fail_at && !fail_rest)) return false;
  ++injected;
  errno = ENOMEM;
  return true;
}

void* Counted(void* p) {
  if (p) ++live;
  return p;
}

}  // namespace

extern "C" {
void* malloc(size_t n) noexcept { return FailThis() ? nullptr : Counted(__libc_malloc(n)); }
void* calloc(size_t count, size_t n) noexcept { return FailThis() ? nullptr : Counted(__libc_calloc(count, n)); }
void free(void* p) noexcept {
  if (p) --live;
  __libc_free(p);
}
void* realloc(void* p, size_t n) noexcept {
  if (p == nullptr) return malloc(n);
  if (n == 0) {
    free(p);
    return nullptr;
  }
  return FailThis() ? nullptr : __libc_realloc(p, n);
}
void* memalign(size_t align, size_t n) noexcept { return FailThis() ? nullptr : Counted(__libc_memalign(align, n)); }
void* aligned_alloc(size_t align, size_t n) noexcept { return memalign(align, n); }
int posix_memalign(void** out, size_t align, size_t n) noexcept {
  void* p = memalign(align, n);
  if (p == nullptr) return ENOMEM;
  *out = p;
  return 0;
}
void* valloc(size_t n) noexcept { return memalign(4096, n); }
void* pvalloc(size_t n) noexcept { return memalign(4096, (n + 4095) / 4096 * 4096); }
}

// ---- the cycle -------------------------------------------------------------

namespace {

int problems = 0;
const char* mode_name = "reference";

// Reports on stderr, which is unbuffered: reporting allocates nothing that
// outlives the report, so the leak count stays exact.
void Problem(const char* fmt, ...) {
  ++problems;
  if (problems > 60) return;
  std::fprintf(stderr, "alloc_failure_test: FAILED (%s, N = %lld): ", mode_name, cycle_n);
  va_list ap;
  va_start(ap, fmt);
  std::vfprintf(stderr, fmt, ap);
  va_end(ap);
  std::fputc('\n', stderr);
}

std::string ReadFile(const char* path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    std::fprintf(stderr, "alloc_failure_test: cannot read %s\n", path);
    std::exit(2);
  }
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

std::string bundle_a, bundle_b;

const char kRequest[] =
    R"({"model":"large","user":"u-7","messages":[{"role":"system","content":"Be brief."},)"
    R"({"role":"user","content":"Mail the invoice to ann.lee@example.com and to bo@example.org, please."}]})";
const char kPrincipal[] = R"({"team":"red","tier":"free"})";
const char kContext[] = R"({"channel":"web"})";
// A secret split over two pieces; the holdback keeps it from leaking.
const char kPiece1[] = "Here is the key you asked for: sk-abcdefghij";
const char kPiece2[] = "KLMNOPQRSTuvw0123 and nothing else.";

// The observable content of a decision, in one string.
std::string Describe(const gavel_decision_t* d) {
  auto str = [](const char* p, size_t n) { return p ? std::string(p, n) : std::string("(none)"); };
  std::string s;
  size_t n = 0;
  const char* p = nullptr;
  s += gavel_decision_allowed(d) ? "allow " : "deny ";
  s += std::to_string(gavel_decision_status(d));
  p = gavel_decision_code(d, &n);
  s += " code=" + str(p, n);
  p = gavel_decision_message(d, &n);
  s += " message=" + str(p, n);
  p = gavel_decision_route(d, &n);
  s += " route=" + str(p, n);
  for (size_t i = 0; i < gavel_decision_rule_count(d); ++i) {
    p = gavel_decision_rule_name(d, i, &n);
    s += "\n rule " + str(p, n);
    s += " effect=" + std::to_string(gavel_decision_rule_effect(d, i));
    p = gavel_decision_rule_code(d, i, &n);
    s += " code=" + str(p, n);
    p = gavel_decision_rule_message(d, i, &n);
    s += " message=" + str(p, n);
  }
  for (size_t i = 0; i < gavel_decision_error_count(d); ++i) {
    p = gavel_decision_error_rule(d, i, &n);
    s += "\n error " + str(p, n);
    p = gavel_decision_error_message(d, i, &n);
    s += ": " + str(p, n);
  }
  for (size_t i = 0; i < gavel_decision_redaction_count(d); ++i) {
    const char *field, *kind, *with;
    size_t field_len, kind_len, with_len, begin, end;
    if (!gavel_decision_redaction(d, i, &field, &field_len, &begin, &end, &kind, &kind_len, &with, &with_len))
      s += "\n redaction missing";
    s += "\n redaction " + str(field, field_len) + " [" + std::to_string(begin) + "," + std::to_string(end) + ") " +
         str(kind, kind_len) + " -> " + str(with, with_len);
  }
  for (size_t i = 0; i < gavel_decision_redacted_count(d); ++i) {
    p = gavel_decision_redacted_field(d, i, &n);
    s += "\n redacted " + str(p, n);
    p = gavel_decision_redacted_text(d, i, &n);
    s += ": " + str(p, n);
  }
  p = gavel_decision_bundle_hash(d, &n);
  s += "\n bundle " + str(p, n);
  return s;
}

// The decision JSON without its timing, which differs every time.
std::string WithoutTiming(std::string json) {
  const size_t at = json.find(",\"eval_ns\":");
  if (at != std::string::npos) json.erase(at);
  return json;
}

// What the cycle produces when no allocation fails, taken from a first run
// and checked against what bundles A and B say.
struct Reference {
  std::string a, b;  // Describe() of bundle A's and B's decision of the request
  std::string a_json;
  std::string hash_a;
  std::string stream_out;  // the forwarded text of the streamed response
  bool taken = false;
} ref;

struct Callbacks {
  int log_lines = 0;
  int shadow_reports = 0;
} calls;

void OnLog(void* arg, const char* line, size_t len) {
  auto* c = static_cast<Callbacks*>(arg);
  if (len == 0 || line[0] != '{' || line[len] != '\0') Problem("a malformed decision log line");
  ++c->log_lines;
}

void OnShadow(void* arg, const char* active, size_t active_len, const char* shadow, size_t shadow_len) {
  auto* c = static_cast<Callbacks*>(arg);
  if (active_len == 0 || shadow_len == 0 || active[0] != '{' || shadow[0] != '{')
    Problem("a malformed shadow difference");
  ++c->shadow_reports;
}

bool last_call_injected = false;
const char* last_call = "";

// Runs one gavel_* call with the allocator armed. Once a failure has been
// injected, allocation succeeds again for the rest of the cycle: what follows
// checks that the API recovers.
template <typename F>
auto Call(const char* what, F&& f) {
  const long long before = injected;
  last_call = what;
  armed = true;
  auto result = f();
  armed = false;
  last_call_injected = injected > before;
  if (last_call_injected) fail_at = 0;
  return result;
}

// A call that returned its failure value: an injected failure caused it, and
// it said so in a message that gavel_free takes back.
int static_messages = 0;  // failures reported with the static "out of memory"

void CheckFailed(const char* what, char** err) {
  if (!last_call_injected) Problem("%s failed, yet no allocation failed", what);
  if (err == nullptr) return;
  if (*err == nullptr || (*err)[0] == '\0') {
    Problem("%s failed without an error message", what);
  } else if (std::strstr(*err, "out of memory") == nullptr) {
    Problem("%s failed for lack of memory, but says: %s", what, *err);
  } else if (gavel_error_code(*err) != GAVEL_ERR_OUT_OF_MEMORY) {
    Problem("%s failed for lack of memory, but its code is %d: %s", what, gavel_error_code(*err), *err);
  } else if (std::strcmp(*err, "out of memory") == 0) {
    ++static_messages;  // every other message names the function
  }
  gavel_free(*err);
  *err = nullptr;
}

void CheckSucceeded(const char* what, char** err) {
  if (*err != nullptr) {
    Problem("%s succeeded but set *errptr: %s", what, *err);
    gavel_free(*err);
    *err = nullptr;
  }
}

struct Counts {
  int decided = 0;  // successful gavel_decide calls: each logs one line
};

void FillInput(gavel_input_t* in) {
  static const char* const kRoles[] = {"lead", "agent"};
  static const size_t kRoleLens[] = {4, 5};
  gavel_input_set_request_json(in, kRequest, std::strlen(kRequest));
  gavel_input_set_principal_json(in, kPrincipal, std::strlen(kPrincipal));
  gavel_input_set_context_json(in, kContext, std::strlen(kContext));
  gavel_input_set_string(in, "context.channel", 15, "agent_console_with_a_long_name", 30);
  gavel_input_set_string_list(in, "principal.roles", 15, kRoles, kRoleLens, 2);
}

// Decides `in` (its attribute setters failed if input_failed) and checks the
// decision against `want`. A failed call is retried once allocation succeeds
// again, and the decision read before it must be intact or read as
// "no_decision": never torn.
const gavel_decision_t* Decide(const char* what, gavel_worker_t* w, gavel_input_t* in, bool* input_failed,
                               const gavel_decision_t* previous, const std::string& previous_want,
                               const std::string& want, Counts* counts) {
  char* err = nullptr;
  const gavel_decision_t* d = Call(what, [&] { return gavel_decide(w, in, &err); });
  if (d == nullptr) {
    if (*input_failed) {
      // The setters ran out of memory earlier: gavel_decide reports it.
      if (err == nullptr || std::strstr(err, "out of memory") == nullptr)
        Problem("%s: an attribute setter failed, but gavel_decide says: %s", what, err ? err : "(nothing)");
      else if (gavel_error_code(err) != GAVEL_ERR_OUT_OF_MEMORY)
        Problem("%s: an attribute setter failed, but its code is %d: %s", what, gavel_error_code(err), err);
      gavel_free(err);
      err = nullptr;
      gavel_input_clear(in);
      FillInput(in);
      *input_failed = false;
    } else {
      CheckFailed(what, &err);
    }
    if (previous) {
      const std::string now = Describe(previous);
      if (now != previous_want && now.rfind("deny 500 code=no_decision", 0) != 0)
        Problem("%s failed and left the previous decision torn:\n%s", what, now.c_str());
    }
    d = gavel_decide(w, in, &err);
    if (d == nullptr) {
      Problem("%s fails even once memory is back: %s", what, err ? err : "(no message)");
      gavel_free(err);
      return nullptr;
    }
  } else if (*input_failed) {
    Problem("%s decided although an attribute could not be stored", what);
  }
  CheckSucceeded(what, &err);
  ++counts->decided;
  if (ref.taken) {
    const std::string got = Describe(d);
    if (got != want) Problem("%s decided differently:\n%s\nexpected:\n%s", what, got.c_str(), want.c_str());
  }
  return d;
}

// One stream over the two pieces; returns the forwarded text, or sets
// *failed when a call of it failed.
std::string Stream(gavel_engine_t* e, gavel_worker_t* w, gavel_input_t* in, bool* failed) {
  char* err = nullptr;
  *failed = false;
  gavel_stream_t* s = Call("gavel_stream_create", [&] { return gavel_stream_create(e, 16, &err); });
  if (s == nullptr) {
    CheckFailed("gavel_stream_create", &err);
    *failed = true;
    return std::string();
  }
  CheckSucceeded("gavel_stream_create", &err);
  std::string forwarded;
  const char* const pieces[] = {kPiece1, kPiece2, nullptr};
  for (const char* piece : pieces) {
    const char* out = nullptr;
    size_t out_len = 0;
    const char* what = piece ? "gavel_stream_write" : "gavel_stream_finish";
    const gavel_decision_t* d = Call(what, [&] {
      return piece ? gavel_stream_write(s, w, in, piece, std::strlen(piece), &out, &out_len, &err)
                   : gavel_stream_finish(s, w, in, &out, &out_len, &err);
    });
    if (d == nullptr) {
      CheckFailed(what, &err);
      *failed = true;
      if (out == nullptr || out_len != 0) Problem("%s failed but offers text to forward", what);
      // Once memory is back, the stream goes on or refuses, but never
      // forwards what the policy masks.
      d = gavel_stream_finish(s, w, in, &out, &out_len, &err);
      if (d) forwarded.append(out, out_len);
      gavel_free(err);
      err = nullptr;
      if (forwarded.find("sk-abcdefghijKLM") != std::string::npos) Problem("a failed stream leaked the secret");
      break;
    }
    CheckSucceeded(what, &err);
    forwarded.append(out, out_len);
  }
  gavel_stream_destroy(s);
  return forwarded;
}

void Cycle() {
  alloc_index = 0;
  calls = Callbacks();
  Counts counts;
  char* err = nullptr;

  gavel_options_t* opt = Call("gavel_options_create", [] { return gavel_options_create(); });
  if (opt == nullptr) {
    CheckFailed("gavel_options_create", nullptr);
    opt = gavel_options_create();
  }
  gavel_options_set_max_request_bytes(opt, 1u << 20);

  gavel_engine_t* e =
      Call("gavel_engine_open", [&] { return gavel_engine_open(opt, bundle_a.data(), bundle_a.size(), &err); });
  if (e == nullptr) {
    CheckFailed("gavel_engine_open", &err);
    e = gavel_engine_open(opt, bundle_a.data(), bundle_a.size(), &err);
  }
  CheckSucceeded("gavel_engine_open", &err);
  gavel_options_destroy(opt);
  if (e == nullptr) {
    Problem("gavel_engine_open fails even once memory is back");
    return;
  }
  Call("gavel_engine_set_decision_log", [&] {
    gavel_engine_set_decision_log(e, OnLog, &calls, 1.0);
    return 0;
  });
  Call("gavel_engine_set_shadow_callback", [&] {
    gavel_engine_set_shadow_callback(e, OnShadow, &calls);
    return 0;
  });

  gavel_worker_t* w = Call("gavel_worker_create", [&] { return gavel_worker_create(e, &err); });
  if (w == nullptr) {
    CheckFailed("gavel_worker_create", &err);
    w = gavel_worker_create(e, &err);
  }
  CheckSucceeded("gavel_worker_create", &err);
  gavel_input_t* in = Call("gavel_input_create", [] { return gavel_input_create(); });
  if (in == nullptr) {
    CheckFailed("gavel_input_create", nullptr);
    in = gavel_input_create();
  }
  Call("the input setters", [&] {
    FillInput(in);
    return 0;
  });
  bool input_failed = last_call_injected;

  // Bundle A decides; its decision is read whole, rendered and hashed.
  const gavel_decision_t* d = Decide("gavel_decide (A)", w, in, &input_failed, nullptr, "", ref.a, &counts);
  if (d == nullptr) return;
  if (!ref.taken) ref.a = Describe(d);
  size_t json_len = 1;
  const char* json = Call("gavel_decision_json", [&] { return gavel_decision_json(d, &json_len); });
  if (json == nullptr) {
    CheckFailed("gavel_decision_json", nullptr);
    if (json_len != 0) Problem("gavel_decision_json failed but set a length");
    json = gavel_decision_json(d, &json_len);
  }
  if (json == nullptr) {
    Problem("gavel_decision_json fails even once memory is back");
  } else if (!ref.taken) {
    ref.a_json = WithoutTiming(std::string(json, json_len));
  } else if (WithoutTiming(std::string(json, json_len)) != ref.a_json) {
    Problem("gavel_decision_json differs:\n%s", json);
  }
  char* hash = Call("gavel_engine_bundle_hash", [&] { return gavel_engine_bundle_hash(e); });
  if (hash == nullptr) {
    CheckFailed("gavel_engine_bundle_hash", nullptr);
    hash = gavel_engine_bundle_hash(e);
  }
  if (hash == nullptr) {
    Problem("gavel_engine_bundle_hash fails even once memory is back");
  } else if (!ref.taken) {
    ref.hash_a = hash;
  } else if (ref.hash_a != hash) {
    Problem("gavel_engine_bundle_hash differs: %s", hash);
  }
  gavel_free(hash);

  // A streamed response; after a failure, a new stream must work.
  bool stream_failed = false;
  std::string forwarded = Stream(e, w, in, &stream_failed);
  if (stream_failed) {
    if (ref.taken && ref.stream_out.compare(0, forwarded.size(), forwarded) != 0)
      Problem("a failed stream forwarded text the policy did not: %s", forwarded.c_str());
    forwarded = Stream(e, w, in, &stream_failed);
    if (stream_failed) Problem("streams fail even once memory is back");
  }
  if (!ref.taken) {
    ref.stream_out = forwarded;
  } else if (forwarded != ref.stream_out) {
    Problem("the stream forwarded:\n%s\nexpected:\n%s", forwarded.c_str(), ref.stream_out.c_str());
  }
  d = nullptr;  // the stream's decisions replaced it

  // Reload B. A refused reload keeps A deciding, and changes no generation.
  const uint64_t generation = gavel_engine_generation(e);
  int ok = Call("gavel_engine_reload", [&] { return gavel_engine_reload(e, bundle_b.data(), bundle_b.size(), &err); });
  if (!ok) {
    CheckFailed("gavel_engine_reload", &err);
    if (gavel_engine_generation(e) != generation) Problem("a failed reload changed the generation");
    d = Decide("gavel_decide after a failed reload", w, in, &input_failed, nullptr, "", ref.a, &counts);
    ok = gavel_engine_reload(e, bundle_b.data(), bundle_b.size(), &err);
    if (!ok) Problem("gavel_engine_reload fails even once memory is back: %s", err ? err : "");
  }
  CheckSucceeded("gavel_engine_reload", &err);
  if (gavel_engine_generation(e) != generation + 1) Problem("a reload did not count one generation");
  d = Decide("gavel_decide (B)", w, in, &input_failed, d, ref.a, ref.b, &counts);
  if (d == nullptr) return;
  if (!ref.taken) ref.b = Describe(d);

  // Roll back to A.
  ok = Call("gavel_engine_rollback", [&] { return gavel_engine_rollback(e, &err); });
  if (!ok) {
    CheckFailed("gavel_engine_rollback", &err);
    ok = gavel_engine_rollback(e, &err);
  }
  CheckSucceeded("gavel_engine_rollback", &err);
  d = Decide("gavel_decide after rollback", w, in, &input_failed, d, ref.b, ref.a, &counts);
  if (d == nullptr) return;

  // B as the shadow of A: it denies what A flags, so it differs.
  ok = Call("gavel_engine_set_shadow",
            [&] { return gavel_engine_set_shadow(e, bundle_b.data(), bundle_b.size(), &err); });
  if (!ok) {
    CheckFailed("gavel_engine_set_shadow", &err);
    d = Decide("gavel_decide after a failed set_shadow", w, in, &input_failed, d, ref.a, ref.a, &counts);
    if (gavel_engine_shadow_decisions(e) != 0) Problem("a failed set_shadow evaluates a shadow");
    ok = gavel_engine_set_shadow(e, bundle_b.data(), bundle_b.size(), &err);
  }
  CheckSucceeded("gavel_engine_set_shadow", &err);
  d = Decide("gavel_decide with a shadow", w, in, &input_failed, d, ref.a, ref.a, &counts);
  // A shadow that ran out of memory is skipped, never half counted.
  const uint64_t differences = gavel_engine_shadow_differences(e);
  if (differences != static_cast<uint64_t>(calls.shadow_reports))
    Problem("%llu shadow differences counted, %d reported", static_cast<unsigned long long>(differences),
            calls.shadow_reports);
  if (gavel_engine_shadow_decisions(e) != differences) Problem("the shadow decided the same as the active bundle");
  if (!ref.taken && differences != 1) Problem("the shadow did not differ");
  Call("gavel_engine_clear_shadow", [&] {
    gavel_engine_clear_shadow(e);
    return 0;
  });
  Call("gavel_engine_set_decision_log", [&] {
    gavel_engine_set_decision_log(e, nullptr, nullptr, 0);
    return 0;
  });

  // Sampled at rate 1: every decision returned was logged, no failed one was.
  if (calls.log_lines != counts.decided)
    Problem("%d decision log lines for %d decisions", calls.log_lines, counts.decided);

  gavel_input_clear(in);
  gavel_input_destroy(in);
  gavel_worker_destroy(w);
  gavel_engine_destroy(e);
}

// A cycle, and the memory it leaves allocated: none (the first cycle also
// makes the process's one-time allocations).
void RunCycle() {
  const long long live_before = live;
  Cycle();
  if (ref.taken && live != live_before) Problem("%lld blocks leaked over the cycle", live - live_before);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: alloc_failure_test A.bundle B.bundle\n");
    return 2;
  }
  bundle_a = ReadFile(argv[1]);
  bundle_b = ReadFile(argv[2]);

  // The allocator must see operator new (libstdc++'s calls malloc).
  {
    armed = true;
    alloc_index = 0;
    int* probe = new int(1);
    armed = false;
    delete probe;
    if (alloc_index != 1) {
      std::fprintf(stderr, "alloc_failure_test: operator new does not come through malloc here\n");
      return 1;
    }
  }

  // The reference cycle, and what A and B must decide.
  RunCycle();
  ref.taken = true;
  if (problems) return 1;
  std::printf("alloc_failure_test: bundle A decides:\n%s\nbundle B decides:\n%s\nthe stream forwards: %s\n",
              ref.a.c_str(), ref.b.c_str(), ref.stream_out.c_str());
  if (ref.a.rfind("allow 200 code= message= route=small", 0) != 0 || ref.a.find("redaction") == std::string::npos ||
      ref.a.find("rule lead_seen") == std::string::npos) {
    std::fprintf(stderr, "alloc_failure_test: bundle A's decision is not the one the policy makes\n");
    return 1;
  }
  if (ref.b.rfind("deny 451 code=red_team_denied", 0) != 0) {
    std::fprintf(stderr, "alloc_failure_test: bundle B's decision is not the one the policy makes\n");
    return 1;
  }
  if (ref.stream_out.find("[secret]") == std::string::npos || ref.stream_out.find("sk-") != std::string::npos) {
    std::fprintf(stderr, "alloc_failure_test: the stream did not mask the secret\n");
    return 1;
  }

  // Counted a second time: the first run also warmed one-time allocations.
  RunCycle();
  const long long total = alloc_index;
  std::printf("alloc_failure_test: the cycle makes %lld allocations\n", total);
  if (problems) return 1;

  long long exercised = 0;
  for (int rest = 0; rest < 2; ++rest) {
    mode_name = rest ? "allocation N and the rest of its call fail" : "allocation N fails";
    for (long long n = 1; n <= total; ++n) {
      fail_at = cycle_n = n;
      fail_rest = rest != 0;
      const long long before = injected;
      RunCycle();
      if (injected == before) Problem("the cycle made fewer than %lld allocations", n);
      ++exercised;
    }
    fail_at = 0;
  }
  std::printf(
      "alloc_failure_test: %lld cycles run, %lld failures injected, %d reported with the static message, %d "
      "problems\n",
      exercised, injected, static_messages, problems);
  // When every later allocation of the call fails too, the message itself
  // cannot be allocated: the static one must have been used.
  if (static_messages == 0) Problem("no failure was reported with the static \"out of memory\"");
  if (problems) return 1;
  std::printf("alloc_failure_test: passed\n");
  return 0;
}
