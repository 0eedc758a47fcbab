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
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

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

// The program's listing without its first line (the bundle hash, which covers
// source positions too).
std::string Listing(const Program& p) {
  const std::string d = Disassemble(p);
  const size_t nl = d.find('\n');
  return nl == std::string::npos ? d : d.substr(nl + 1);
}

// Screens (when cheap), verifies, serializes, loads and decides with c's program.
void LinkAndDecide(Compiled& c) {
  Program* p = c.program.get();
  if (ScreeningIsCheap(p)) {
    // The checker already compiled each pattern alone, so only the combined
    // databases can fail here (CompileSource reports E0216).
    if (!BuildScreenData(p).empty()) return;
  } else {
    p->screen_data = ScreenData();
  }
  const std::string verify = VerifyAndLink(p);
  if (!verify.empty()) {
    std::fprintf(stderr, "verifier: %s\n", verify.c_str());
    Check(false, "a program the compiler generated fails verification");
  }
  const std::string bytes = WriteBundle(p);
  std::string err;
  std::shared_ptr<const Engine> engine = Engine::Load(bytes.data(), bytes.size(), &err);
  if (!engine) std::fprintf(stderr, "load: %s\n", err.c_str());
  Check(engine != nullptr, "a bundle the compiler wrote does not load");
  Check(Disassemble(engine->program()) == Disassemble(*p), "a loaded bundle lists differently from its program");

  Worker w;
  DecodeInput in = FixedExchange();
  CheckDecision(w, w.Decide(*engine, in));
  in.response = FixedResponse();
  DecideOptions opt;
  opt.phase = Phase::kResponse;
  CheckDecision(w, w.Decide(*engine, in, opt));
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
  const std::string listing = c.program ? Listing(*c.program) : "";
  if (c.program) LinkAndDecide(c);
  FormatAndCompare(text, listing);
  return 0;
}
