// The C API's cost over the C++ runtime, and how decisions scale with threads
// sharing one engine. Same bundle, same request, same run.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

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

// One engine shared by all benchmark threads, each with its own warm worker.
// The engine is opened once for the process, outside any timed region.
gavel_engine_t* SharedEngine() {
  static gavel_engine_t* engine = [] {
    const std::string bytes = ReadBundle();
    return gavel_engine_open(nullptr, bytes.data(), bytes.size(), nullptr);
  }();
  return engine;
}

void BM_CApi_SharedEngine(benchmark::State& state) {
  gavel_worker_t* w = gavel_worker_create(SharedEngine(), nullptr);
  gavel_input_t* in = gavel_input_create();
  gavel_input_set_request_json(in, kRequest, sizeof kRequest - 1);
  gavel_input_set_principal_json(in, kPrincipal, sizeof kPrincipal - 1);
  gavel_decide(w, in, nullptr);  // warm the worker's memory
  for (auto _ : state) benchmark::DoNotOptimize(gavel_decision_allowed(gavel_decide(w, in, nullptr)));
  state.SetItemsProcessed(state.iterations());
  gavel_input_destroy(in);
  gavel_worker_destroy(w);
}
BENCHMARK(BM_CApi_SharedEngine)->Threads(1)->Threads(2)->UseRealTime()->MinTime(1.0);

// The same comparison with the threads owned by the benchmark rather than by
// Google Benchmark's harness: each iteration runs a fixed batch of decisions
// on every thread and the wall time of the batch is the iteration's time.
void BM_CApi_ThreadBatch(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  constexpr int kBatch = 20000;
  std::vector<gavel_worker_t*> workers;
  std::vector<gavel_input_t*> inputs;
  for (int t = 0; t < threads; ++t) {
    workers.push_back(gavel_worker_create(SharedEngine(), nullptr));
    inputs.push_back(gavel_input_create());
    gavel_input_set_request_json(inputs.back(), kRequest, sizeof kRequest - 1);
    gavel_input_set_principal_json(inputs.back(), kPrincipal, sizeof kPrincipal - 1);
    gavel_decide(workers.back(), inputs.back(), nullptr);
  }
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
      pool.emplace_back([&, t] {
        for (int k = 0; k < kBatch; ++k) benchmark::DoNotOptimize(gavel_decide(workers[t], inputs[t], nullptr));
      });
    for (auto& th : pool) th.join();
    state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  state.SetItemsProcessed(state.iterations() * threads * kBatch);
  for (int t = 0; t < threads; ++t) {
    gavel_input_destroy(inputs[t]);
    gavel_worker_destroy(workers[t]);
  }
}
BENCHMARK(BM_CApi_ThreadBatch)->Arg(1)->Arg(2)->UseManualTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
