// The C API's cost over the C++ runtime, and how decisions scale with threads
// sharing one engine. Same bundle, same request, same run.
#include <benchmark/benchmark.h>

#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "capi/include/gavel.h"
#include "engine/runtime/engine.h"

namespace {

std::string ReadBundle() {
  std::ifstream in(std::string(GAVEL_BUNDLE_DIR) + "/support_assistant.bundle", std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const char kRequest[] = R"({"model":"gpt-4o-mini-2024-07-18","user":"cust-5f2a","max_tokens":256,)"
                        R"("messages":[{"role":"system","content":"You are a helpful assistant."},)"
                        R"({"role":"user","content":"Where is my order? It was due on Monday."}]})";
const char kPrincipal[] = R"({"api_key":"k1","team":"support","roles":["support"],"tier":"paid"})";

void BM_Cpp_Decide(benchmark::State& state) {
  const std::string bytes = ReadBundle();
  std::string err;
  auto engine = gavel::Engine::Load(bytes.data(), bytes.size(), &err);
  if (!engine) {
    state.SkipWithError(err.c_str());
    return;
  }
  gavel::Worker w;
  gavel::DecodeInput in;
  in.request = kRequest;
  in.principal = kPrincipal;
  for (auto _ : state) benchmark::DoNotOptimize(w.Decide(*engine, in).allow);
}
BENCHMARK(BM_Cpp_Decide);

void BM_CApi_Decide(benchmark::State& state) {
  const std::string bytes = ReadBundle();
  char* err = nullptr;
  gavel_engine_t* engine = gavel_engine_open(nullptr, bytes.data(), bytes.size(), &err);
  if (!engine) {
    state.SkipWithError(err);
    gavel_free(err);
    return;
  }
  gavel_worker_t* w = gavel_worker_create(engine, &err);
  gavel_input_t* in = gavel_input_create();
  gavel_input_set_request_json(in, kRequest, sizeof kRequest - 1);
  gavel_input_set_principal_json(in, kPrincipal, sizeof kPrincipal - 1);
  for (auto _ : state) benchmark::DoNotOptimize(gavel_decision_allowed(gavel_decide(w, in, &err)));
  gavel_input_destroy(in);
  gavel_worker_destroy(w);
  gavel_engine_destroy(engine);
}
BENCHMARK(BM_CApi_Decide);

// One engine shared by all benchmark threads, each with its own worker.
gavel_engine_t* g_shared = nullptr;

void BM_CApi_SharedEngine(benchmark::State& state) {
  if (state.thread_index() == 0) {
    const std::string bytes = ReadBundle();
    g_shared = gavel_engine_open(nullptr, bytes.data(), bytes.size(), nullptr);
  }
  // Benchmark threads start their loops together, after thread 0's setup.
  gavel_worker_t* w = nullptr;
  gavel_input_t* in = gavel_input_create();
  gavel_input_set_request_json(in, kRequest, sizeof kRequest - 1);
  gavel_input_set_principal_json(in, kPrincipal, sizeof kPrincipal - 1);
  for (auto _ : state) {
    if (w == nullptr) w = gavel_worker_create(g_shared, nullptr);
    benchmark::DoNotOptimize(gavel_decision_allowed(gavel_decide(w, in, nullptr)));
  }
  state.SetItemsProcessed(state.iterations());
  gavel_input_destroy(in);
  gavel_worker_destroy(w);
  if (state.thread_index() == 0) {
    gavel_engine_destroy(g_shared);
    g_shared = nullptr;
  }
}
BENCHMARK(BM_CApi_SharedEngine)->Threads(1)->Threads(2)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
