// Fuzzes request decoding and deciding: the input is request, response,
// principal, context and env bodies separated by NUL bytes (which valid JSON
// never contains), decided on the example policies' bundles, whose rules
// screen with the whole standard library and redact. The request phase is
// decided always; the response phase when a response part is present.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/runtime/engine.h"
#include "tests/fuzz/fuzz_common.h"

namespace gavel::fuzz {
namespace {

std::vector<std::shared_ptr<const Engine>>* engines = nullptr;
Worker* worker = nullptr;

}  // namespace
}  // namespace gavel::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  using namespace gavel::fuzz;
  engines = new std::vector<std::shared_ptr<const gavel::Engine>>;
  for (const char* name : {"support_assistant", "coding_assistant", "knowledge_assistant"})
    engines->push_back(LoadExampleBundle(name));
  worker = new gavel::Worker;
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace gavel::fuzz;
  const std::vector<std::string_view> parts = Split(data, size, '\0', 5);
  gavel::DecodeInput in;
  in.request = parts[0];
  in.principal = parts[2];
  in.context = parts[3];
  in.env = parts[4];
  for (const auto& engine : *engines) {
    CheckDecision(*worker, worker->Decide(*engine, in));
    if (parts[1].empty()) continue;
    gavel::DecodeInput rin = in;
    rin.response = parts[1];
    gavel::DecideOptions opt;
    opt.phase = gavel::Phase::kResponse;
    CheckDecision(*worker, worker->Decide(*engine, rin, opt));
  }
  return 0;
}
