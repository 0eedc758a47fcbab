// Shared pieces of gavel's libFuzzer targets (see fuzz_common.h).
#include "tests/fuzz/fuzz_common.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "engine/runtime/json.h"

namespace gavel::fuzz {

void Check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz check failed: %s\n", what);
  std::abort();
}

std::shared_ptr<const Engine> LoadExampleBundle(const std::string& name) {
  const std::string path = std::string(GAVEL_FUZZ_BUNDLE_DIR) + "/" + name + ".bundle";
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string bytes = ss.str();
  std::string err;
  std::shared_ptr<const Engine> e = Engine::Load(bytes.data(), bytes.size(), &err);
  if (!e) {
    std::fprintf(stderr, "cannot load %s: %s\n", path.c_str(), err.empty() ? "unreadable" : err.c_str());
    std::abort();
  }
  return e;
}

std::vector<std::string_view> Split(const uint8_t* data, size_t size, char sep, size_t max_parts) {
  std::vector<std::string_view> parts;
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  while (parts.size() + 1 < max_parts) {
    const size_t at = rest.find(sep);
    if (at == std::string_view::npos) break;
    parts.push_back(rest.substr(0, at));
    rest.remove_prefix(at + 1);
  }
  parts.push_back(rest);
  parts.resize(max_parts);
  return parts;
}

DecodeInput FixedExchange() {
  DecodeInput in;
  in.request = R"({"model":"gpt-4o-2024-08-06","user":"cust-7c1d","messages":[)"
               R"({"role":"system","content":"You are Acme's support assistant."},)"
               R"({"role":"user","content":"my card is 4111 1111 1111 1111, mail jane.doe@example.com"}],)"
               R"("tools":[{"type":"function","function":{"name":"kb_search"}}],"max_tokens":512})";
  in.principal = R"({"api_key":"k-support-widget","team":"support","roles":["support"],"tier":"paid"})";
  in.context = R"({"channel":"web_widget","repo_visibility":"private","data_classification":"restricted"})";
  in.env = R"({"time":"2026-11-22T10:00:00Z"})";
  return in;
}

std::string_view FixedResponse() {
  return R"({"choices":[{"message":{"role":"assistant","content":"Your card 4111 1111 1111 1111 is refunded; )"
         R"(key AKIAIOSFODNN7EXAMPLE."},"finish_reason":"stop"}],"usage":{"prompt_tokens":30,"completion_tokens":12}})";
}

void CheckDecision(const Worker& worker, const Decision& d) {
  Check(d.status >= 100 && d.status <= 599, "decision status out of range");
  Check(!d.allow || d.status < 400, "an allowed decision has an error status");
  for (const Redaction& r : d.redactions) {
    Check(r.field < d.redacted.size(), "redaction names a field that is not listed");
    const RedactedField& f = d.redacted[r.field];
    Check(f.leaf < worker.leaves().size(), "redacted field names a leaf that does not exist");
    const Value& text = worker.leaves()[f.leaf].text;
    Check(r.begin <= r.end && r.end <= text.str().size(), "redaction span outside its leaf");
  }
  for (size_t i = 1; i < d.redactions.size(); ++i) {
    const Redaction &a = d.redactions[i - 1], &b = d.redactions[i];
    Check(a.field < b.field || (a.field == b.field && a.end <= b.begin), "redactions overlap or are out of order");
  }
  const std::string out = d.ToJson();
  json::Document doc;
  json::Error err;
  const bool parsed = doc.parse(out, json::Limits(), &err);
  if (!parsed) std::fprintf(stderr, "at byte %zu: %s\n%s\n", err.offset, err.message.c_str(), out.c_str());
  Check(parsed, "decision JSON does not parse");
}

void DecideFixedExchange(const Engine& engine) {
  Worker w;
  DecodeInput in = FixedExchange();
  CheckDecision(w, w.Decide(engine, in));
  in.response = FixedResponse();
  DecideOptions opt;
  opt.phase = Phase::kResponse;
  CheckDecision(w, w.Decide(engine, in, opt));
}

}  // namespace gavel::fuzz
