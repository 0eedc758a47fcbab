// reload_test: deciding threads race a thread that hot-reloads between two
// bundles thousands of times, rolls back, and switches the shadow and the
// decision log; every decision must agree with the bundle hash it names (no
// torn decision). It uses libgavel only through gavel.h.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "gavel.h"

namespace {

// Bundle A allows this request (flagging the red team); bundle B denies it
// with status 451 and code reload_b_denies, naming the team in its message.
constexpr std::string_view kRequest =
    R"({"model":"gpt-4o","messages":[{"role":"user","content":"What is the refund window?"}]})";

std::string ReadFile(const char* path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    std::fprintf(stderr, "reload_test: cannot read %s\n", path);
    std::exit(2);
  }
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

std::string_view View(const char* p, size_t len) { return p ? std::string_view(p, len) : std::string_view(); }

// An accessor's pointer + length as a view (arguments are read after the call).
std::string_view Get(const char* (*accessor)(const gavel_decision_t*, size_t*), const gavel_decision_t* d) {
  size_t len = 0;
  const char* p = accessor(d, &len);
  return View(p, len);
}
std::string_view GetAt(const char* (*accessor)(const gavel_decision_t*, size_t, size_t*), const gavel_decision_t* d,
                       size_t i) {
  size_t len = 0;
  const char* p = accessor(d, i, &len);
  return View(p, len);
}

// Bytes as text, with anything unprintable escaped (for messages).
std::string Printable(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  return out;
}

bool Contains(std::string_view hay, std::string_view needle) { return hay.find(needle) != std::string_view::npos; }

std::string OpenHash(const std::string& bundle) {
  char* err = nullptr;
  gavel_engine_t* e = gavel_engine_open(nullptr, bundle.data(), bundle.size(), &err);
  if (e == nullptr) {
    std::fprintf(stderr, "reload_test: cannot open bundle: %s\n", err ? err : "?");
    std::exit(2);
  }
  char* h = gavel_engine_bundle_hash(e);
  std::string hash = h;
  gavel_free(h);
  gavel_engine_destroy(e);
  return hash;
}

struct Shared {
  std::string hash_a, hash_b;
  std::atomic<bool> stop{false};
  std::atomic<bool> failed{false};
  std::mutex failure_mu;
  std::string failure;  // the first failure, guarded by failure_mu
  std::atomic<uint64_t> decided_a{0}, decided_b{0};
  std::atomic<uint64_t> log_lines{0}, shadow_calls{0};

  void Fail(const std::string& what) {
    std::lock_guard<std::mutex> lock(failure_mu);
    if (failure.empty()) failure = what;
    failed = true;
    stop = true;
  }
};

// What a JSON rendering (decision, log line or shadow side) must say given
// the bundle it names. Returns "" if consistent.
std::string CheckJsonAgainstHash(const Shared& s, std::string_view json, const char* what) {
  const bool a = Contains(json, s.hash_a), b = Contains(json, s.hash_b);
  if (a == b) return std::string(what) + " names neither or both bundles: " + std::string(json);
  if (a && !Contains(json, R"("decision":"allow")"))
    return std::string(what) + " from bundle A is not an allow: " + std::string(json);
  if (b && (!Contains(json, R"("decision":"deny")") || !Contains(json, "reload_b_denies")))
    return std::string(what) + " from bundle B is not a reload_b_denies deny: " + std::string(json);
  return "";
}

void OnLogLine(void* arg, const char* line, size_t len) {
  auto* s = static_cast<Shared*>(arg);
  s->log_lines.fetch_add(1, std::memory_order_relaxed);
  std::string bad = CheckJsonAgainstHash(*s, View(line, len), "log line");
  if (!bad.empty()) s->Fail(bad);
}

void OnShadow(void* arg, const char* active, size_t active_len, const char* shadow, size_t shadow_len) {
  auto* s = static_cast<Shared*>(arg);
  s->shadow_calls.fetch_add(1, std::memory_order_relaxed);
  std::string bad = CheckJsonAgainstHash(*s, View(active, active_len), "shadow callback's active decision");
  if (bad.empty()) bad = CheckJsonAgainstHash(*s, View(shadow, shadow_len), "shadow callback's shadow decision");
  if (!bad.empty()) s->Fail(bad);
}

// Checks one decision against the bundle it names. Returns "" if consistent.
std::string CheckDecision(const Shared& s, const gavel_decision_t* d, bool red, bool* from_a) {
  size_t len = 0;
  const std::string_view hash = Get(gavel_decision_bundle_hash, d);
  const std::string_view code = Get(gavel_decision_code, d);
  const std::string_view message = Get(gavel_decision_message, d);
  const std::string_view json = Get(gavel_decision_json, d);
  const size_t rules = gavel_decision_rule_count(d);
  const std::string team = red ? "red" : "blue";
  std::string where = " (bundle " + std::string(hash) + ", team " + team + "; the accessors say " +
                      (gavel_decision_allowed(d) ? "allow " : "deny ") + std::to_string(gavel_decision_status(d)) +
                      " code \"" + Printable(code) + "\" message \"" + Printable(message) + "\"; the JSON says " +
                      std::string(json) + ")";
  if (gavel_decision_error_count(d) != 0) return "rule errors" + where;
  if (gavel_decision_route(d, &len) != nullptr) return "a route" + where;
  if (!Contains(json, "\"bundle\":\"" + std::string(hash) + "\"")) return "JSON names another bundle" + where;
  if (hash == s.hash_a) {
    *from_a = true;
    if (gavel_decision_allowed(d) != 1 || gavel_decision_status(d) != 200 || !code.empty() || !message.empty())
      return "bundle A did not allow" + where;
    if (rules != (red ? 1u : 0u)) return "bundle A fired the wrong rules" + where;
    if (red &&
        (GetAt(gavel_decision_rule_name, d, 0) != "red_team_seen" ||
         gavel_decision_rule_effect(d, 0) != GAVEL_EFFECT_FLAG || GetAt(gavel_decision_rule_code, d, 0) != "red_team"))
      return "bundle A's flag is wrong" + where;
    if (!Contains(json, R"("decision":"allow")") || !Contains(json, "capi_test.reload_a"))
      return "bundle A's JSON is wrong" + where;
    return "";
  }
  if (hash == s.hash_b) {
    *from_a = false;
    if (gavel_decision_allowed(d) != 0 || gavel_decision_status(d) != 451 || code != "reload_b_denies" ||
        message != "bundle B refuses the " + team + " team")
      return "bundle B did not deny with reload_b_denies" + where;
    if (rules != 1 || GetAt(gavel_decision_rule_name, d, 0) != "bundle_b_denies" ||
        gavel_decision_rule_effect(d, 0) != GAVEL_EFFECT_DENY)
      return "bundle B fired the wrong rules" + where;
    if (!Contains(json, R"("decision":"deny")") || !Contains(json, "capi_test.reload_b"))
      return "bundle B's JSON is wrong" + where;
    return "";
  }
  return "a decision names an unknown bundle" + where;
}

struct DeciderCounts {
  uint64_t a = 0, b = 0;
};

void Decider(gavel_engine_t* engine, Shared* s, DeciderCounts* counts) {
  char* err = nullptr;
  gavel_worker_t* w = gavel_worker_create(engine, &err);
  gavel_input_t* in = gavel_input_create();
  if (w == nullptr || in == nullptr) {
    s->Fail(std::string("cannot create a worker: ") + (err ? err : "?"));
    gavel_free(err);
    gavel_input_destroy(in);
    return;
  }
  for (uint64_t i = 0; !s->stop.load(std::memory_order_acquire); ++i) {
    const bool red = (i & 1) != 0;
    gavel_input_clear(in);
    gavel_input_set_request_json(in, kRequest.data(), kRequest.size());
    // Set directly: principal.team sits in a different slot in each bundle.
    gavel_input_set_string(in, "principal.team", 14, red ? "red" : "blue", red ? 3 : 4);
    const gavel_decision_t* d = gavel_decide(w, in, &err);
    if (d == nullptr) {
      s->Fail(std::string("gavel_decide failed: ") + (err ? err : "?"));
      gavel_free(err);
      break;
    }
    bool from_a = false;
    std::string bad = CheckDecision(*s, d, red, &from_a);
    if (!bad.empty()) {
      s->Fail(bad);
      break;
    }
    if (from_a) {
      ++counts->a;
      s->decided_a.fetch_add(1, std::memory_order_relaxed);
    } else {
      ++counts->b;
      s->decided_b.fetch_add(1, std::memory_order_relaxed);
    }
  }
  gavel_input_destroy(in);
  gavel_worker_destroy(w);
}

// Reads the engine's hash and generation while it changes.
void Watcher(gavel_engine_t* engine, Shared* s, uint64_t* reads) {
  uint64_t last_generation = 0;
  while (!s->stop.load(std::memory_order_acquire)) {
    char* h = gavel_engine_bundle_hash(engine);
    const uint64_t g = gavel_engine_generation(engine);
    if (h == nullptr || (s->hash_a != h && s->hash_b != h)) s->Fail(std::string("engine hash is ") + (h ? h : "NULL"));
    gavel_free(h);
    if (g < last_generation) s->Fail("generation went backwards");
    last_generation = g;
    ++*reads;
    std::this_thread::yield();
  }
}

// Waits until some thread decides on bundle `a_or_b` after a reload to it.
// No clock: however slow the machine, the deciders keep running, and a real
// hang is ended by ctest's timeout.
bool AwaitDecision(Shared* s, bool a) {
  std::atomic<uint64_t>& count = a ? s->decided_a : s->decided_b;
  const uint64_t before = count.load();
  while (count.load() <= before) {
    if (s->failed) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: reload_test RELOAD_A.bundle RELOAD_B.bundle [RELOADS [DECIDERS]]\n");
    return 2;
  }
  const std::string bundle_a = ReadFile(argv[1]), bundle_b = ReadFile(argv[2]);
  const int reloads = argc > 3 ? std::atoi(argv[3]) : 4000;
  const int deciders = argc > 4 ? std::atoi(argv[4]) : 3;
  if (reloads < 1 || deciders < 2) {
    std::fprintf(stderr, "reload_test: need at least 1 reload and 2 deciders\n");
    return 2;
  }

  Shared s;
  s.hash_a = OpenHash(bundle_a);
  s.hash_b = OpenHash(bundle_b);
  if (s.hash_a == s.hash_b) {
    std::fprintf(stderr, "reload_test: the two bundles have the same hash\n");
    return 2;
  }

  char* err = nullptr;
  gavel_engine_t* engine = gavel_engine_open(nullptr, bundle_a.data(), bundle_a.size(), &err);
  if (engine == nullptr) {
    std::fprintf(stderr, "reload_test: %s\n", err ? err : "cannot open bundle A");
    return 1;
  }

  std::vector<DeciderCounts> counts(deciders);
  std::vector<std::thread> threads;
  for (int t = 0; t < deciders; ++t) threads.emplace_back(Decider, engine, &s, &counts[t]);
  uint64_t watcher_reads = 0;
  std::thread watcher(Watcher, engine, &s, &watcher_reads);

  // The reloader is the only thread that changes the engine, so it knows what
  // the active and previous bundles must be.
  const std::string* active = &bundle_a;
  const std::string* previous = nullptr;
  uint64_t generation = gavel_engine_generation(engine);
  int done_reloads = 0, rollbacks = 0, refused = 0, shadow_switches = 0, log_switches = 0;
  auto expect_state = [&](const char* after) {
    if (gavel_engine_generation(engine) != generation) s.Fail(std::string("generation is wrong after ") + after);
    char* h = gavel_engine_bundle_hash(engine);
    const std::string& want = active == &bundle_a ? s.hash_a : s.hash_b;
    if (h == nullptr || want != h) s.Fail(std::string("active hash is wrong after ") + after);
    gavel_free(h);
  };
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < reloads && !s.failed; ++i) {
    const std::string* next = active == &bundle_a ? &bundle_b : &bundle_a;
    if (!gavel_engine_reload(engine, next->data(), next->size(), &err)) {
      s.Fail(std::string("reload failed: ") + (err ? err : "?"));
      break;
    }
    previous = active;
    active = next;
    ++generation;
    ++done_reloads;
    if (i % 16 == 7) {
      if (!gavel_engine_rollback(engine, &err)) {
        s.Fail(std::string("rollback failed: ") + (err ? err : "?"));
        break;
      }
      std::swap(active, previous);
      ++generation;
      ++rollbacks;
      expect_state("a rollback");
    }
    if (i % 64 == 31) {
      // A refused reload changes nothing.
      if (gavel_engine_reload(engine, next->data(), next->size() / 2, &err)) {
        s.Fail("a truncated bundle was accepted");
        break;
      }
      gavel_free(err);
      err = nullptr;
      ++refused;
      expect_state("a refused reload");
    }
    if (i % 500 == 100) {
      gavel_engine_set_decision_log(engine, (i / 500) % 2 ? nullptr : OnLogLine, &s, 0.5);
      ++log_switches;
    }
    if (i % 500 == 300) {
      if ((i / 500) % 2 == 0) {
        gavel_engine_set_shadow_callback(engine, OnShadow, &s);
        if (!gavel_engine_set_shadow(engine, previous->data(), previous->size(), &err)) {
          s.Fail(std::string("set_shadow failed: ") + (err ? err : "?"));
          break;
        }
      } else {
        gavel_engine_clear_shadow(engine);
      }
      ++shadow_switches;
    }
    if (i % 8 == 0) std::this_thread::yield();
  }
  expect_state("the last reload");
  // Make sure both bundles were seen by the deciders, whatever the scheduler did.
  for (const std::string* target : {&bundle_a, &bundle_b}) {
    if (s.failed) break;
    if (!gavel_engine_reload(engine, target->data(), target->size(), &err)) {
      s.Fail(std::string("reload failed: ") + (err ? err : "?"));
      break;
    }
    active = target;
    ++generation;
    if (!AwaitDecision(&s, target == &bundle_a)) s.Fail("no decision on a freshly reloaded bundle");
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  s.stop = true;
  for (std::thread& t : threads) t.join();
  watcher.join();
  gavel_free(err);

  uint64_t total = 0;
  for (int t = 0; t < deciders; ++t) {
    std::printf("reload_test: decider %d: %llu decisions on A, %llu on B\n", t,
                static_cast<unsigned long long>(counts[t].a), static_cast<unsigned long long>(counts[t].b));
    total += counts[t].a + counts[t].b;
  }
  std::printf(
      "reload_test: %llu decisions (A %llu, B %llu) by %d threads in %.2f s; %d reloads, %d rollbacks, %d refused "
      "reloads, %d shadow and %d log switches; %llu shadow differences reported, %llu log lines, %llu hash reads; "
      "generation %llu\n",
      static_cast<unsigned long long>(total), static_cast<unsigned long long>(s.decided_a.load()),
      static_cast<unsigned long long>(s.decided_b.load()), deciders, seconds, done_reloads, rollbacks, refused,
      shadow_switches, log_switches, static_cast<unsigned long long>(s.shadow_calls.load()),
      static_cast<unsigned long long>(s.log_lines.load()), static_cast<unsigned long long>(watcher_reads),
      static_cast<unsigned long long>(gavel_engine_generation(engine)));
  gavel_engine_destroy(engine);
  if (s.failed) {
    std::fprintf(stderr, "reload_test: FAILED: %s\n", s.failure.c_str());
    return 1;
  }
  if (s.decided_a == 0 || s.decided_b == 0) {
    std::fprintf(stderr, "reload_test: FAILED: a bundle was never decided on\n");
    return 1;
  }
  std::printf("reload_test: passed\n");
  return 0;
}
