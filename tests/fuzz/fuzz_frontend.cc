// Fuzzes the policy front end: source text -> diagnostics, or a program that
// verifies, serializes, loads back and decides; and `policyc fmt` on every
// source that parses (formatting must be idempotent and keep the meaning).
// The standard library is importable (`import std.pii`).
//
// The steps mirror CompileSource (engine/compiler/compiler.cc) so that
// Hyperscan compilation can be bounded: compiling the standard library's
// databases takes seconds, so a program is compiled for screening only when
// its distinct patterns are few and short (kMaxScreenPatterns, kMaxScreenBytes);
// otherwise it keeps no databases, which the verifier and the runtime accept.
// Screening with the standard library is fuzzed by fuzz_decide and fuzz_stream.
// Databases are remembered by pattern list (BuildScreenDataCached).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/compiler/ast.h"
#include "engine/compiler/checker.h"
#include "engine/compiler/codegen.h"
#include "engine/compiler/compiler.h"
#include "engine/compiler/screen_compile.h"
#include "engine/runtime/bundle.h"
#include "engine/runtime/engine.h"
#include "tests/fuzz/fuzz_common.h"

namespace gavel::fuzz {
namespace {

constexpr size_t kMaxScreenPatterns = 8;
constexpr size_t kMaxScreenBytes = 512;

struct Compiled {
  std::unique_ptr<Program> program;
  Diagnostics diagnostics;
};

// Parse, check and generate; errors stay in diagnostics.
Compiled Generate(const std::string& text) {
  Compiled c;
  const CompileLimits limits;
  c.diagnostics.set_limit(limits.max_errors);
  if (FirstInvalidUtf8(text) != std::string::npos) return c;
  const Source source("fuzz.policy", text);
  try {
    PolicyAst ast;
    if (!ParsePolicy(source, limits.max_nesting, &ast, &c.diagnostics)) return c;
    Checker checker(&ast, &c.diagnostics, limits, "", "fuzz.policy");
    if (!checker.Run()) return c;
    uint64_t cost = 0;
    c.program = GenerateProgram(ast, checker.scope(), source, limits, &c.diagnostics, &cost);
    if (c.diagnostics.has_errors()) c.program.reset();
  } catch (const std::exception& e) {
    // CompileSource reports these as internal compiler errors; none is expected.
    std::fprintf(stderr, "exception: %s\n", e.what());
    Check(false, "the front end threw");
  }
  return c;
}

bool ScreeningIsCheap(Program* p) {
  AssignScreenIds(p);
  size_t bytes = 0;
  for (const ScreenPattern& sp : p->screen_patterns) bytes += sp.source.size();
  return p->screen_patterns.size() <= kMaxScreenPatterns && bytes <= kMaxScreenBytes;
}

// A linked program's listing without the lines that depend on more than the
// source's meaning: the bundle hash (which covers source positions) and
// whether screening databases were built.
std::string Listing(const Program& p) {
  const std::string d = Disassemble(p);
  std::string out;
  size_t at = d.find('\n');
  while (at != std::string::npos && at + 1 < d.size()) {
    const size_t end = d.find('\n', at + 1);
    const std::string line = d.substr(at + 1, end == std::string::npos ? std::string::npos : end - at);
    if (line.rfind("screening:", 0) != 0) out += line;
    at = end;
  }
  return out;
}

// Links a generated program with no screening databases; aborts if the
// verifier refuses what the compiler generated.
void Link(Program* p) {
  const std::string verify = VerifyAndLink(p);
  if (!verify.empty()) std::fprintf(stderr, "verifier: %s\n", verify.c_str());
  Check(verify.empty(), "a program the compiler generated fails verification");
}

// BuildScreenData with its results remembered: mutations of a policy mostly
// keep its patterns, and Hyperscan compilation dominates the run time
// otherwise. Compilation is deterministic, so a remembered result is the one
// a fresh compilation gives. Returns "" or BuildScreenData's error.
std::string BuildScreenDataCached(Program* p) {
  static std::map<std::string, std::pair<std::string, ScreenData>>* cache =
      new std::map<std::string, std::pair<std::string, ScreenData>>;
  AssignScreenIds(p);
  std::vector<bool> need_spans(p->screen_patterns.size(), false);
  for (const Rule& r : p->rules)
    for (uint32_t s : r.redact_sets)
      for (uint32_t id : p->pattern_sets[s].ids) need_spans[id] = true;
  std::string key;
  for (size_t i = 0; i < p->screen_patterns.size(); ++i) {
    const ScreenPattern& sp = p->screen_patterns[i];
    key += std::to_string(sp.source.size()) + ":" + sp.source;
    key += {static_cast<char>(sp.regex), static_cast<char>(sp.caseless), static_cast<char>(sp.validator),
            static_cast<char>(need_spans[i])};
  }
  auto it = cache->find(key);
  if (it == cache->end()) {
    if (cache->size() >= 256) cache->clear();
    std::string err = BuildScreenData(p);
    it = cache->emplace(key, std::make_pair(err, p->screen_data)).first;
  }
  p->screen_data = it->second.second;
  return it->second.first;
}

// Screens (when cheap) and links c's program, then serializes, loads and
// decides with it. Returns the program's listing, or "" if the combined
// screening databases cannot be built (CompileSource reports E0216).
std::string LinkAndDecide(Compiled& c) {
  Program* p = c.program.get();
  // The checker already compiled each pattern alone, so only the combined
  // databases can fail here.
  if (ScreeningIsCheap(p) && !BuildScreenDataCached(p).empty()) return "";
  Link(p);
  const std::string bytes = WriteBundle(p);
  std::string err;
  std::shared_ptr<const Engine> engine = Engine::Load(bytes.data(), bytes.size(), &err);
  if (!engine) std::fprintf(stderr, "load: %s\n", err.c_str());
  Check(engine != nullptr, "a bundle the compiler wrote does not load");
  Check(Disassemble(engine->program()) == Disassemble(*p), "a loaded bundle lists differently from its program");

  DecideFixedExchange(*engine);
  return Listing(*p);
}

// `listing` is the unformatted source's program listing, empty if it has errors.
void FormatAndCompare(const std::string& text, const std::string& listing) {
  std::string once, twice;
  Diagnostics d1, d2;
  if (!FormatSource("fuzz.policy", text, &once, &d1)) return;
  if (!FormatSource("fuzz.policy", once, &twice, &d2)) {
    std::fprintf(stderr, "formatted:\n%s\n%s\n", once.c_str(), d2.Render(Source("fuzz.policy", once)).c_str());
    Check(false, "formatted source does not parse");
  }
  if (twice != once) std::fprintf(stderr, "once:\n%s\ntwice:\n%s\n", once.c_str(), twice.c_str());
  Check(twice == once, "formatting is not idempotent");
  // Formatting keeps the meaning: a policy that compiles compiles to the same
  // program after formatting.
  if (listing.empty()) return;
  Compiled b = Generate(once);
  Check(b.program != nullptr, "a policy that compiles no longer compiles after formatting");
  Link(b.program.get());
  const std::string after = Listing(*b.program);
  if (after != listing) std::fprintf(stderr, "before:\n%s\nafter:\n%s\n", listing.c_str(), after.c_str());
  Check(after == listing, "formatting changed the compiled program");
}

}  // namespace
}  // namespace gavel::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace gavel::fuzz;
  const std::string text(reinterpret_cast<const char*>(data), size);
  Compiled c = Generate(text);
  // Rendering diagnostics walks the source for lines and carets.
  (void)c.diagnostics.Render(gavel::Source("fuzz.policy", text));
  const std::string listing = c.program ? LinkAndDecide(c) : "";
  FormatAndCompare(text, listing);
  return 0;
}
