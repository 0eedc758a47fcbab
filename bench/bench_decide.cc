// Decision and decoding benchmarks. Peers run in the same binary on the same
// bytes: nlohmann::json (DOM) and simdjson (DOM) parse the body the gavel
// decoder decodes, so the ratios in the closing notes are like for like.
#include <benchmark/benchmark.h>
#include <simdjson.h>

#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "engine/compiler/compiler.h"
#include "engine/runtime/bundle.h"
#include "engine/runtime/engine.h"

namespace gavel {
namespace {

std::string Read(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::shared_ptr<const Engine> Load(const std::string& policy_text, const std::string& name) {
  CompileResult r = CompileSource(name, policy_text);
  if (!r.ok()) {
    fprintf(stderr, "%s", r.RenderDiagnostics().c_str());
    abort();
  }
  std::string bytes = WriteBundle(r.program.get());
  std::string err;
  auto e = Engine::Load(bytes.data(), bytes.size(), &err);
  if (!e) abort();
  return e;
}

std::shared_ptr<const Engine> LoadExample(const std::string& name) {
  return Load(Read(std::string(GAVEL_SOURCE_DIR) + "/policies/" + name + ".policy"), name);
}

const char kSmallRequest[] = R"({"model":"gpt-4o-mini-2024-07-18","user":"cust-5f2a","max_tokens":256,)"
                             R"("messages":[{"role":"system","content":"You are a helpful assistant."},)"
                             R"({"role":"user","content":"Where is my order? It was due on Monday."}]})";

// A realistic ~4 KB chat body: system prompt, a few turns, a tool definition
// and a tool result, mostly prose.
std::string ChatBody4K() {
  const std::string prose =
      "Our return policy allows customers to send back most items within thirty days of delivery, provided "
      "the item is unused and in its original packaging. Refunds are issued to the original payment method. ";
  nlohmann::json body = {
      {"model", "gpt-4o-2024-08-06"},
      {"max_tokens", 512},
      {"user", "cust-5f2a"},
      {"tools", {{{"type", "function"}, {"function", {{"name", "kb_search"}, {"parameters", {{"type", "object"}}}}}}}},
  };
  nlohmann::json messages = nlohmann::json::array();
  messages.push_back({{"role", "system"}, {"content", "You are Acme's support assistant. " + prose}});
  for (int i = 0; i < 6; ++i) {
    messages.push_back({{"role", "user"}, {"content", "Question " + std::to_string(i) + ": " + prose.substr(0, 180)}});
    messages.push_back({{"role", "assistant"}, {"content", prose}});
  }
  messages.push_back({{"role", "tool"}, {"tool_call_id", "call_1"}, {"content", prose + prose}});
  messages.push_back({{"role", "user"},
                      {"content",
                       {{{"type", "text"}, {"text", "Can I return a gift without a receipt?"}},
                        {{"type", "image_url"}, {"image_url", {{"url", "https://example.com/r.png"}}}}}}});
  body["messages"] = messages;
  std::string s = body.dump();
  while (s.size() < 4096) {
    body["messages"][1]["content"] = body["messages"][1]["content"].get<std::string>() + " More detail follows.";
    s = body.dump();
  }
  return s;
}

const char kPrincipal[] = R"({"api_key":"k1","team":"support","roles":["support"],"tier":"paid",)"
                          R"("employee_id":"e1","email":"dana@acme.example","employment":"employee"})";

void Decide(benchmark::State& state, const std::string& policy, const std::string& request) {
  auto engine = LoadExample(policy);
  Worker w;
  DecodeInput in;
  in.request = request;
  in.principal = kPrincipal;
  in.context = R"({"region":"eu-west-1","channel":"web_widget"})";
  in.env = R"({"time":1795000000})";
  for (auto _ : state) {
    const Decision& d = w.Decide(*engine, in);
    benchmark::DoNotOptimize(d.allow);
  }
}

void BM_DecideSmall_Support(benchmark::State& s) { Decide(s, "support_assistant", kSmallRequest); }
void BM_DecideSmall_Knowledge(benchmark::State& s) { Decide(s, "knowledge_assistant", kSmallRequest); }
void BM_DecideSmall_Coding(benchmark::State& s) { Decide(s, "coding_assistant", kSmallRequest); }
void BM_Decide4K_Support(benchmark::State& s) { Decide(s, "support_assistant", ChatBody4K()); }
BENCHMARK(BM_DecideSmall_Support);
BENCHMARK(BM_DecideSmall_Knowledge);
BENCHMARK(BM_DecideSmall_Coding);
BENCHMARK(BM_Decide4K_Support);

// A policy of n rules over principal, model, tools and token attributes, in the
// shapes the example policies use; no rule fires on the benchmark request.
std::string SyntheticPolicy(int n) {
  std::string s =
      "package bench.synthetic\nversion \"1\"\ndefault allow\non_error deny\n"
      "schema principal {\n  team: string = \"x\"\n  tier: string = \"free\"\n  roles: set<string> = {}\n}\n";
  for (int i = 0; i < n; ++i) {
    const std::string id = std::to_string(i);
    switch (i % 5) {
      case 0:
        s += "rule r" + id + " {\n  when request.model == \"model-" + id +
             "\" and principal.tier == \"free\"\n  deny \"m\"\n}\n";
        break;
      case 1:
        s += "rule r" + id + " {\n  when principal.team == \"team-" + id + "\"\n  route \"model-small\"\n}\n";
        break;
      case 2:
        s +=
            "rule r" + id + " {\n  when \"role-" + id + "\" in principal.roles and request.model != \"x\"\n  deny\n}\n";
        break;
      case 3:
        s += "rule r" + id + " {\n  when request.input_tokens > " + std::to_string(100000 + i) +
             "\n  deny status 413\n}\n";
        break;
      case 4:
        s += "rule r" + id + " {\n  when any t in request.tools: t.name == \"tool-" + id + "\"\n  flag \"t\"\n}\n";
        break;
    }
  }
  return s;
}

// The design target: decide a small request against ~50 rules in < 0.5 µs.
void BM_Decide50Rules(benchmark::State& state) {
  auto engine = Load(SyntheticPolicy(50), "synthetic.policy");
  Worker w;
  DecodeInput in;
  in.request = kSmallRequest;
  in.principal = R"({"team":"support","tier":"paid","roles":["support"]})";
  for (auto _ : state) benchmark::DoNotOptimize(w.Decide(*engine, in).allow);
}
BENCHMARK(BM_Decide50Rules);

void BM_Compile1000Rules(benchmark::State& state) {
  const std::string text = SyntheticPolicy(1000);
  for (auto _ : state) {
    CompileResult r = CompileSource("synthetic.policy", text);
    benchmark::DoNotOptimize(r.program.get());
  }
}
BENCHMARK(BM_Compile1000Rules)->Unit(benchmark::kMillisecond);

void BM_Load1000Rules(benchmark::State& state) {
  CompileResult r = CompileSource("synthetic.policy", SyntheticPolicy(1000));
  const std::string bytes = WriteBundle(r.program.get());
  state.counters["bundle_bytes"] = static_cast<double>(bytes.size());
  for (auto _ : state) {
    std::string err;
    benchmark::DoNotOptimize(Engine::Load(bytes.data(), bytes.size(), &err));
  }
}
BENCHMARK(BM_Load1000Rules)->Unit(benchmark::kMicrosecond);

// Decoding a 4 KB chat body: gavel's decoder (JSON + slots + derived text)
// beside two JSON parsers that only build a DOM.
void BM_Decode4K_Gavel(benchmark::State& state) {
  auto engine = LoadExample("support_assistant");
  const std::string body = ChatBody4K();
  DecodeScratch scratch;
  Arena arena;
  std::vector<Value> slots(engine->program().slots.size());
  DecodeInput in;
  in.request = body;
  DecodeLimits limits;
  for (auto _ : state) {
    arena.Reset();
    DecodeError err;
    benchmark::DoNotOptimize(DecodeAll(engine->program(), in, limits, &scratch, &arena, slots.data(), &err));
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_Decode4K_Gavel);

void BM_Decode4K_NlohmannParse(benchmark::State& state) {
  const std::string body = ChatBody4K();
  for (auto _ : state) benchmark::DoNotOptimize(nlohmann::json::parse(body));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_Decode4K_NlohmannParse);

void BM_Decode4K_SimdjsonParse(benchmark::State& state) {
  const simdjson::padded_string body(ChatBody4K());
  simdjson::dom::parser parser;
  for (auto _ : state) {
    simdjson::dom::element doc;
    benchmark::DoNotOptimize(parser.parse(body).get(doc));
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_Decode4K_SimdjsonParse);

}  // namespace
}  // namespace gavel

namespace gavel {
namespace {
// The decode share of BM_Decide50Rules: the same inputs, decoded only.
void BM_DecodeSmall(benchmark::State& state) {
  auto engine = Load(SyntheticPolicy(50), "synthetic.policy");
  DecodeScratch scratch;
  Arena arena;
  std::vector<Value> slots(engine->program().slots.size());
  DecodeInput in;
  in.request = kSmallRequest;
  in.principal = R"({"team":"support","tier":"paid","roles":["support"]})";
  DecodeLimits limits;
  for (auto _ : state) {
    arena.Reset();
    DecodeError err;
    benchmark::DoNotOptimize(DecodeAll(engine->program(), in, limits, &scratch, &arena, slots.data(), &err));
  }
}
BENCHMARK(BM_DecodeSmall);
}  // namespace
}  // namespace gavel

BENCHMARK_MAIN();
