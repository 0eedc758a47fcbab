// Fuzzes streamed responses: the input's first byte picks the holdback, the
// rest is split at 0xFF bytes (never part of UTF-8 text) into pieces written
// to a ResponseStream one by one, then finished. The engine is the support
// example policy, whose `on response` rules redact with the standard library.
// Whatever the pieces, each decision is well formed and a stream that is not
// denied forwards every byte once it is finished.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/runtime/engine.h"
#include "engine/runtime/stream.h"
#include "tests/fuzz/fuzz_common.h"

namespace gavel::fuzz {
namespace {

std::vector<std::shared_ptr<const Engine>>* engines = nullptr;
Worker* worker = nullptr;

constexpr uint32_t kHoldbacks[] = {0, 1, 7, 64, 256};
constexpr size_t kMaxPieces = 16;

}  // namespace
}  // namespace gavel::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  using namespace gavel::fuzz;
  engines = new std::vector<std::shared_ptr<const gavel::Engine>>;
  // support_assistant redacts with std.pii and std.secrets; coding_assistant
  // with std.secrets only, and costs as much again, so it is left out.
  engines->push_back(LoadExampleBundle("support_assistant"));
  worker = new gavel::Worker;
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace gavel::fuzz;
  if (size == 0) return 0;
  gavel::StreamOptions options;
  options.holdback = kHoldbacks[data[0] % (sizeof(kHoldbacks) / sizeof(kHoldbacks[0]))];
  const std::vector<std::string_view> pieces = Split(data + 1, size - 1, '\xff', kMaxPieces);
  size_t total = 0;
  for (std::string_view piece : pieces) total += piece.size();
  const gavel::DecodeInput in = FixedExchange();
  for (const auto& engine : *engines) {
    gavel::ResponseStream stream;
    std::string err, emit;
    Check(stream.Begin(engine, options, &err), "a stream does not begin");
    for (std::string_view piece : pieces) {
      CheckDecision(*worker, stream.Write(worker, in, piece, &emit));
      Check(stream.forwarded_bytes() <= total, "a stream forwarded more than it was given");
    }
    CheckDecision(*worker, stream.Finish(worker, in, &emit));
    Check(stream.denied() || stream.forwarded_bytes() == total, "a finished stream held text back");
  }
  return 0;
}
