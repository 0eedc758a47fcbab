// Content screening, side by side with its floor and its peers. One policy
// screens the user's text against the whole standard library (std.pii,
// std.secrets, std.injection); every benchmark of a size sees the same prompt
// bytes and the same expressions:
//
//   gavel_decide     a whole decision: JSON chat body decoded, user text
//                    screened, rules evaluated (warm Worker)
//   gavel_scan_only  ScanState: normalization, one Hyperscan scan over all
//                    patterns, validators for candidate matches
//   hs_scan_raw      the program's block database scanned directly, the
//                    callback only setting bits: the floor
//   re2_set          RE2::Set (two sets: caseless and case-sensitive)
//   pcre2_jit        PCRE2 with JIT, one pcre2_match per pattern, first match
//   pcre2_interp     the same without JIT
//
// Names are screen/<size>/<engine>, so the engines of one size list together
// and ratios read straight off the table (docs/benchmarks.md). The `patterns`
// counter is the number of expressions each engine screens for; `matched` the
// patterns found (raw engines count validator candidates as found).
//
// screen/adversarial/<n>/... decide a prompt of "sk-proj-" and n letters: a
// validated pattern with an unbounded tail, which once cost time quadratic in
// n (every end of the run was a candidate, each validated in full). `max` is
// the largest user text a request body of the decoder's limit can carry.
#define PCRE2_CODE_UNIT_WIDTH 8
#include <benchmark/benchmark.h>
#include <hs/hs.h>
#include <pcre2.h>
#include <re2/re2.h>
#include <re2/set.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "engine/compiler/compiler.h"
#include "engine/compiler/screen_compile.h"
#include "engine/runtime/bundle.h"
#include "engine/runtime/engine.h"
#include "engine/screen/screen.h"

namespace gavel {
namespace {

// A gateway's screening policy: the whole standard library over the user's text.
const char kPolicy[] = R"(package bench.screen
version "1"
default allow

import std.pii
import std.secrets
import std.injection

rule injection {
  when request.user_text contains std.injection.any
  deny "possible prompt injection" code "prompt_injection"
}

rule secrets {
  when request.user_text contains std.secrets.any
  deny "credential in prompt" code "secret"
}

rule pii {
  when request.user_text contains std.pii.any
  flag "personal data in prompt"
}
)";

// --- prompts ----------------------------------------------------------------

// Ordinary prose a user might paste: notes, a report, a request for help.
const char* const kSentences[] = {
    "The quarterly review covered the progress of the three regional teams and the plans for next year.",
    "Most of the discussion focused on how to shorten the time between an order and its delivery.",
    "We agreed that the warehouse in the north should keep longer opening hours during the winter months.",
    "Could you summarize the main points of the meeting in a few short paragraphs for the newsletter?",
    "The new scheduling tool has made it easier to see which drivers are available on a given afternoon.",
    "Several customers asked whether they could change the delivery address after placing an order.",
    "Our support staff answered about forty questions a day, most of them about returns and refunds.",
    "The marketing team would like a friendlier tone in the messages we send after a purchase.",
    "Please keep the summary brief and avoid technical terms that the wider audience may not know.",
    "In the spring we plan to open a small office near the harbour to serve the coastal towns.",
    "The budget for training was spent mostly on workshops about customer care and safe driving.",
    "A few suppliers were late last month because of the storms, but the backlog has now cleared.",
    "We would also like a short list of questions to ask the candidates for the logistics position.",
    "The recipe calls for two cups of flour, a pinch of salt and about half a cup of warm milk.",
    "After the presentation, the finance director walked everyone through the figures for each quarter.",
    "Travel to the annual conference will be by train, which is cheaper and only slightly slower.",
    "The garden behind the office needs new benches before the summer lunch events begin.",
    "Every new employee receives a welcome pack with a map of the building and a guide to the canteen.",
    "The report should mention the volunteers who helped sort donations at the community centre.",
    "Sales of winter jackets rose sharply in the last two weeks of the season, as they do every year.",
    "Can you suggest a clearer structure for this document, with headings and a short introduction?",
    "The library will be closed on public holidays, and the reading room reopens on the following day.",
    "Our customers in the mountain villages prefer deliveries early in the morning, before the roads get busy.",
    "The team celebrated the launch with a small lunch and a walk along the river in the afternoon.",
    "It would help to compare this year's results with the previous two years in a simple table.",
    "Some of the older vans will be replaced by electric ones once the charging points are installed.",
    "The feedback from the pilot project was positive, although a few people found the forms too long.",
    "We should thank the local school for lending us their hall for the open day in October.",
    "Write the answer as if you were explaining it to a colleague who joined the company last week.",
    "The museum tour lasted about ninety minutes and ended in the cafe on the top floor.",
    "Most complaints last quarter were about parcels left outside in the rain rather than with a neighbour.",
    "Let me know if any part of the plan is unclear and I will add more detail where it is needed.",
};

// A few personal data items a real prompt might carry: an e-mail address, a
// phone number and a payment card number (Luhn-valid), one sentence each.
const char* const kPiiSentences[] = {
    "If anything is missing, write to me at jane.doe@example.com and I will send the rest.",
    "You can also call my mobile on +1 (415) 555-0199 during office hours.",
    "The deposit was paid with the company card 4111 1111 1111 1111, so please check the statement.",
};

// splitmix64: a fixed sequence on every platform and standard library.
struct Rng {
  uint64_t s;
  uint64_t Next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
};

// Exactly `size` bytes of prose in paragraphs; with `pii`, the three personal
// data sentences at a quarter, half and three quarters of the text.
std::string Prompt(size_t size, bool pii, uint64_t seed) {
  Rng rng{seed};
  const size_t n = sizeof kSentences / sizeof kSentences[0];
  std::string s;
  int in_paragraph = 0, pii_next = 0;
  while (s.size() < size) {
    if (pii && pii_next < 3 && s.size() >= size * (pii_next + 1) / 4) {
      s += kPiiSentences[pii_next++];
    } else {
      s += kSentences[rng.Next() % n];
    }
    if (++in_paragraph >= 3 + static_cast<int>(rng.Next() % 4)) {
      s += "\n\n";
      in_paragraph = 0;
    } else {
      s += ' ';
    }
  }
  s.resize(size);
  s.back() = '.';
  return s;
}

// The prompt as the user message of a chat request body.
std::string ChatBody(const std::string& prompt) {
  std::string body = R"({"model":"gpt-4o-2024-08-06","messages":[{"role":"user","content":)";
  AppendJsonString(prompt, &body);
  body += "}]}";
  return body;
}

// --- the policy and its patterns --------------------------------------------

struct Setup {
  std::shared_ptr<const Engine> engine;
  std::vector<std::string> exprs;  // per screen pattern: the expression every engine gets
  std::vector<bool> caseless;
};

Setup* TheSetup() {
  static Setup* s = [] {
    auto* st = new Setup();
    CompileResult r = CompileSource("bench_screen.policy", kPolicy);
    if (!r.ok()) {
      fprintf(stderr, "%s", r.RenderDiagnostics().c_str());
      abort();
    }
    const std::string bytes = WriteBundle(r.program.get());
    std::string err;
    st->engine = Engine::Load(bytes.data(), bytes.size(), &err);
    if (!st->engine) {
      fprintf(stderr, "bundle refused: %s\n", err.c_str());
      abort();
    }
    if (!st->engine->program().screen) {
      fprintf(stderr, "the policy has no screening databases (built without Hyperscan?)\n");
      abort();
    }
    for (const ScreenPattern& sp : st->engine->program().screen_patterns) {
      st->exprs.push_back(ScreenExpression(sp.source, sp.regex));
      st->caseless.push_back(sp.caseless);
    }
    return st;
  }();
  return s;
}

inline void SetBit(std::vector<uint64_t>* b, uint32_t i) { (*b)[i / 64] |= uint64_t(1) << (i % 64); }

int PopCount(const uint64_t* b, size_t words) {
  int n = 0;
  for (size_t i = 0; i < words; ++i) n += __builtin_popcountll(b[i]);
  return n;
}

// --- gavel ------------------------------------------------------------------

void GavelDecide(benchmark::State& state, const std::string& prompt) {
  const Setup& s = *TheSetup();
  const std::string body = ChatBody(prompt);
  Worker w;
  DecodeInput in;
  in.request = body;
  const Decision& first = w.Decide(*s.engine, in);
  if (!first.errors.empty() || first.invalid_input || !first.allow) {
    state.SkipWithError(("unexpected decision: " + first.ToJson()).c_str());
    return;
  }
  const uint32_t flags = first.flags;
  for (auto _ : state) {
    const Decision& d = w.Decide(*s.engine, in);
    benchmark::DoNotOptimize(d.allow);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * prompt.size()));
  state.counters["patterns"] = static_cast<double>(s.exprs.size());
  state.counters["flags"] = flags;
}

void GavelScanOnly(benchmark::State& state, const std::string& prompt) {
  const Setup& s = *TheSetup();
  const Program& p = s.engine->program();
  ScanState scan;
  std::string err;
  const char* serr = nullptr;
  int matched = 0;
  for (auto _ : state) {
    if (!scan.Begin(p.screen_patterns, p.screen, &err)) break;
    const uint64_t* bits = scan.Scan(prompt.data(), static_cast<uint32_t>(prompt.size()), &serr);
    if (!bits) break;
    matched = PopCount(bits, scan.Words());
    benchmark::DoNotOptimize(bits);
  }
  if (!err.empty() || serr) {
    state.SkipWithError(serr ? serr : err.c_str());
    return;
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * prompt.size()));
  state.counters["patterns"] = static_cast<double>(s.exprs.size());
  state.counters["matched"] = matched;
}

// A decision whatever its outcome (adversarial prompts may be denied).
void GavelDecideAny(benchmark::State& state, const std::string& prompt) {
  const Setup& s = *TheSetup();
  const std::string body = ChatBody(prompt);
  Worker w;
  DecodeInput in;
  in.request = body;
  const Decision& first = w.Decide(*s.engine, in);
  if (!first.errors.empty() || first.invalid_input) {
    state.SkipWithError(("unexpected decision: " + first.ToJson()).c_str());
    return;
  }
  const bool allow = first.allow;
  for (auto _ : state) {
    const Decision& d = w.Decide(*s.engine, in);
    benchmark::DoNotOptimize(d.allow);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * prompt.size()));
  state.counters["allow"] = allow;
}

// "sk-proj-" and then `n` letters (a to z, repeating): one candidate for the
// OpenAI project-key pattern whose tail never ends.
std::string LongKeyRun(size_t n) {
  std::string s = "sk-proj-";
  for (size_t i = 0; i < n; ++i) s += static_cast<char>('a' + i % 26);
  return s;
}

// --- Hyperscan, directly ----------------------------------------------------

int OnHsMatch(unsigned int id, unsigned long long, unsigned long long, unsigned int, void* ctx) {  // NOLINT
  uint64_t* bits = static_cast<uint64_t*>(ctx);
  bits[id / 64] |= uint64_t(1) << (id % 64);
  return 0;
}

void HsScanRaw(benchmark::State& state, const std::string& prompt) {
  const Setup& s = *TheSetup();
  const std::string& ser = s.engine->program().screen_data.block;
  hs_database_t* db = nullptr;
  hs_scratch_t* scratch = nullptr;
  if (hs_deserialize_database(ser.data(), ser.size(), &db) != HS_SUCCESS ||
      hs_alloc_scratch(db, &scratch) != HS_SUCCESS) {
    state.SkipWithError("could not load the block database");
    hs_free_database(db);
    return;
  }
  std::vector<uint64_t> bits((s.exprs.size() + 63) / 64 + 1);
  bool ok = true;
  for (auto _ : state) {
    std::memset(bits.data(), 0, bits.size() * sizeof(uint64_t));
    ok = hs_scan(db, prompt.data(), static_cast<unsigned>(prompt.size()), 0, scratch, OnHsMatch, bits.data()) ==
         HS_SUCCESS;
    benchmark::DoNotOptimize(bits.data());
  }
  hs_free_scratch(scratch);
  hs_free_database(db);
  if (!ok) {
    state.SkipWithError("hs_scan failed");
    return;
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * prompt.size()));
  state.counters["patterns"] = static_cast<double>(s.exprs.size());
  state.counters["matched"] = PopCount(bits.data(), bits.size());
}

// --- RE2::Set ---------------------------------------------------------------

// Two sets (RE2::Set takes one Options for all its patterns): caseless and
// case-sensitive. Patterns RE2 refuses are skipped and listed once.
struct Re2Sets {
  std::unique_ptr<RE2::Set> set[2];
  std::vector<uint32_t> ids[2];  // set index -> screen pattern id
  size_t count = 0;
};

const Re2Sets& TheRe2Sets() {
  static Re2Sets* r = [] {
    const Setup& s = *TheSetup();
    auto* out = new Re2Sets();
    for (int c = 0; c < 2; ++c) {
      RE2::Options opt;
      opt.set_encoding(RE2::Options::EncodingLatin1);
      opt.set_case_sensitive(c == 0);
      opt.set_max_mem(int64_t(256) << 20);
      opt.set_log_errors(false);
      out->set[c] = std::make_unique<RE2::Set>(opt, RE2::UNANCHORED);
    }
    for (uint32_t id = 0; id < s.exprs.size(); ++id) {
      const int c = s.caseless[id] ? 1 : 0;
      std::string err;
      if (out->set[c]->Add(s.exprs[id], &err) < 0) {
        fprintf(stderr, "re2_set: skipping pattern %u /%s/: %s\n", id, s.exprs[id].c_str(), err.c_str());
        continue;
      }
      out->ids[c].push_back(id);
      ++out->count;
    }
    for (int c = 0; c < 2; ++c) {
      if (!out->set[c]->Compile()) {
        fprintf(stderr, "re2_set: a set does not compile\n");
        abort();
      }
    }
    return out;
  }();
  return *r;
}

void Re2SetMatch(benchmark::State& state, const std::string& prompt) {
  const Re2Sets& r = TheRe2Sets();
  std::vector<int> hits;
  std::vector<uint64_t> bits((TheSetup()->exprs.size() + 63) / 64 + 1);
  bool failed = false;
  for (auto _ : state) {
    std::memset(bits.data(), 0, bits.size() * sizeof(uint64_t));
    for (int c = 0; c < 2; ++c) {
      if (r.ids[c].empty()) continue;
      RE2::Set::ErrorInfo info;
      if (!r.set[c]->Match(prompt, &hits, &info) && info.kind != RE2::Set::kNoError) failed = true;
      for (int i : hits) SetBit(&bits, r.ids[c][i]);
    }
    benchmark::DoNotOptimize(bits.data());
  }
  if (failed) {
    state.SkipWithError("RE2::Set::Match failed (DFA out of memory?)");
    return;
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * prompt.size()));
  state.counters["patterns"] = static_cast<double>(r.count);
  state.counters["matched"] = PopCount(bits.data(), bits.size());
}

// --- PCRE2 ------------------------------------------------------------------

// Every pattern compiled once, with JIT; patterns PCRE2 refuses are skipped.
struct Pcre2Patterns {
  std::vector<pcre2_code*> code;
  std::vector<uint32_t> ids;
  pcre2_match_data* md = nullptr;
  pcre2_match_context* mctx = nullptr;
  pcre2_jit_stack* stack = nullptr;
};

const Pcre2Patterns& ThePcre2() {
  static Pcre2Patterns* r = [] {
    const Setup& s = *TheSetup();
    auto* out = new Pcre2Patterns();
    for (uint32_t id = 0; id < s.exprs.size(); ++id) {
      int errcode = 0;
      PCRE2_SIZE erroff = 0;
      pcre2_code* c = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(s.exprs[id].data()), s.exprs[id].size(),
                                    s.caseless[id] ? PCRE2_CASELESS : 0, &errcode, &erroff, nullptr);
      if (!c) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(errcode, msg, sizeof msg);
        fprintf(stderr, "pcre2: skipping pattern %u /%s/: %s\n", id, s.exprs[id].c_str(),
                reinterpret_cast<const char*>(msg));
        continue;
      }
      if (pcre2_jit_compile(c, PCRE2_JIT_COMPLETE) != 0)
        fprintf(stderr, "pcre2: pattern %u /%s/ has no JIT code\n", id, s.exprs[id].c_str());
      out->code.push_back(c);
      out->ids.push_back(id);
    }
    out->md = pcre2_match_data_create(1, nullptr);  // only whether it matched
    out->mctx = pcre2_match_context_create(nullptr);
    out->stack = pcre2_jit_stack_create(32 << 10, 1 << 20, nullptr);
    pcre2_jit_stack_assign(out->mctx, nullptr, out->stack);
    return out;
  }();
  return *r;
}

void Pcre2Loop(benchmark::State& state, const std::string& prompt, bool jit) {
  const Pcre2Patterns& r = ThePcre2();
  std::vector<uint64_t> bits((TheSetup()->exprs.size() + 63) / 64 + 1);
  const uint32_t options = jit ? 0 : PCRE2_NO_JIT;
  int error = 0;
  for (auto _ : state) {
    std::memset(bits.data(), 0, bits.size() * sizeof(uint64_t));
    for (size_t i = 0; i < r.code.size(); ++i) {
      const int rc =
          pcre2_match(r.code[i], reinterpret_cast<PCRE2_SPTR>(prompt.data()), prompt.size(), 0, options, r.md, r.mctx);
      if (rc >= 0) {
        SetBit(&bits, r.ids[i]);
      } else if (rc != PCRE2_ERROR_NOMATCH) {
        error = rc;
      }
    }
    benchmark::DoNotOptimize(bits.data());
  }
  if (error) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(error, msg, sizeof msg);
    state.SkipWithError(reinterpret_cast<const char*>(msg));
    return;
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * prompt.size()));
  state.counters["patterns"] = static_cast<double>(r.code.size());
  state.counters["matched"] = PopCount(bits.data(), bits.size());
}

// --- registration -----------------------------------------------------------

struct Case {
  const char* name;
  size_t size;
  bool pii;
};

const Case kCases[] = {
    {"1K", 1024, true},
    {"4K", 4096, true},
    {"4K_nohit", 4096, false},
    {"64K", 65536, true},
};

void Register() {
  // The decoder's limit on a request body (8 MiB) less the JSON around the prompt.
  const size_t kMaxRun = (size_t(8) << 20) - 128;
  const struct {
    const char* name;
    size_t n;
  } kRuns[] = {{"20000", 20000}, {"40000", 40000}, {"max", kMaxRun}};
  for (const auto& r : kRuns) {
    const std::string* prompt = new std::string(LongKeyRun(r.n));
    const std::string prefix = std::string("screen/adversarial/") + r.name + "/";
    benchmark::RegisterBenchmark((prefix + "gavel_decide").c_str(), [prompt](benchmark::State& s) {
      GavelDecideAny(s, *prompt);
    })->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark((prefix + "gavel_scan_only").c_str(), [prompt](benchmark::State& s) {
      GavelScanOnly(s, *prompt);
    })->Unit(benchmark::kMillisecond);
  }
  for (const Case& c : kCases) {
    // Prompts live as long as the process: benchmarks run after registration.
    const std::string* prompt = new std::string(Prompt(c.size, c.pii, 0x6761766c + c.size));
    const std::string prefix = std::string("screen/") + c.name + "/";
    benchmark::RegisterBenchmark((prefix + "gavel_decide").c_str(),
                                 [prompt](benchmark::State& s) { GavelDecide(s, *prompt); });
    benchmark::RegisterBenchmark((prefix + "gavel_scan_only").c_str(),
                                 [prompt](benchmark::State& s) { GavelScanOnly(s, *prompt); });
    benchmark::RegisterBenchmark((prefix + "hs_scan_raw").c_str(),
                                 [prompt](benchmark::State& s) { HsScanRaw(s, *prompt); });
    benchmark::RegisterBenchmark((prefix + "re2_set").c_str(),
                                 [prompt](benchmark::State& s) { Re2SetMatch(s, *prompt); });
    benchmark::RegisterBenchmark((prefix + "pcre2_jit").c_str(),
                                 [prompt](benchmark::State& s) { Pcre2Loop(s, *prompt, true); });
    benchmark::RegisterBenchmark((prefix + "pcre2_interp").c_str(),
                                 [prompt](benchmark::State& s) { Pcre2Loop(s, *prompt, false); });
  }
}

}  // namespace
}  // namespace gavel

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  gavel::Register();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
