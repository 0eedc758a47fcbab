// Differential test: the engine (compiler, rule matrix, VM, decision builder)
// against the naive reference evaluator of tests/reference_eval.h, on
// pseudo-random inputs drawn from each policy's own literals. Every rule's
// outcome and the decision (allow, status, code, message, route, fired rules,
// errors) must agree. A mismatch prints the policy, the rule, the inputs (JSON)
// and both results. Fixed seeds: a failure reproduces exactly.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "engine/compiler/ast.h"
#include "engine/compiler/compiler.h"
#include "engine/runtime/arena.h"
#include "engine/runtime/engine.h"
#include "engine/runtime/vm.h"
#include "tests/needs_hyperscan.h"
#include "tests/reference_eval.h"

namespace gavel {
namespace {

using reference::RefDecision;
using reference::ReferencePolicy;
using reference::Truth;

// GAVEL_DIFFERENTIAL_SCALE=N multiplies the case counts for a longer soak run.
int Scale() {
  const char* v = std::getenv("GAVEL_DIFFERENTIAL_SCALE");
  const int n = v ? std::atoi(v) : 1;
  return n > 0 ? n : 1;
}
const int kRequestCases = 3000 * Scale();
const int kResponseCases = 1000 * Scale();
// The example policies screen with the standard library, which the reference
// matches with std::regex (slow): fewer cases per run there.
const int kExampleRequestCases = 800 * Scale();
const int kExampleResponseCases = 300 * Scale();
constexpr int kExamplesPerKind = 2;  // full reports printed per kind of mismatch

// --- JSON text ---------------------------------------------------------------

std::string Quote(const std::string& s) {
  static const char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"')
      out += "\\\"";
    else if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else if (c < 0x20) {
      out += "\\u00";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string Num(int64_t v) { return std::to_string(v); }
std::string Num(double v) {
  char buf[64];
  snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

// An object under construction: {"k": v, ...}.
class Obj {
 public:
  Obj& Add(const std::string& k, const std::string& json) {
    s_ += (s_.empty() ? "" : ",") + Quote(k) + ":" + json;
    return *this;
  }
  std::string str() const { return "{" + s_ + "}"; }

 private:
  std::string s_;
};

std::string Arr(const std::vector<std::string>& items) {
  std::string s = "[";
  for (size_t i = 0; i < items.size(); ++i) s += (i ? "," : "") + items[i];
  return s + "]";
}

// --- deterministic randomness ------------------------------------------------

class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t Next() {  // splitmix64
    uint64_t z = (s_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  size_t Below(size_t n) { return n ? static_cast<size_t>(Next() % n) : 0; }
  bool Percent(int p) { return static_cast<int>(Next() % 100) < p; }
  template <typename T>
  const T& Pick(const std::vector<T>& v) {
    return v[Below(v.size())];
  }

 private:
  uint64_t s_;
};

uint64_t Fnv(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

// --- inputs ------------------------------------------------------------------

struct Case {
  Phase phase = Phase::kRequest;
  bool invalid = false;  // built to be undecodable
  std::string request, response, principal, context, env, endpoint;
  int64_t input_tokens = -1;

  DecodeInput Input() const {
    DecodeInput in;
    in.request = request;
    in.response = response;
    in.principal = principal;
    in.context = context;
    in.env = env;
    in.endpoint = endpoint;
    in.input_tokens = input_tokens;
    return in;
  }
  std::string Json() const {
    Obj o;
    o.Add("phase", Quote(phase == Phase::kRequest ? "request" : "response"));
    if (!endpoint.empty()) o.Add("endpoint", Quote(endpoint));
    if (input_tokens >= 0) o.Add("input_tokens", Num(input_tokens));
    if (!request.empty()) o.Add("request", request);
    if (!response.empty()) o.Add("response", response);
    if (!principal.empty()) o.Add("principal", principal);
    if (!context.empty()) o.Add("context", context);
    if (!env.empty()) o.Add("env", env);
    return o.str();
  }
};

// Draws requests, responses and attributes from the policy's own literals
// (models, tool names, trigger phrases, thresholds) mixed with noise.
class InputGen {
 public:
  InputGen(const ReferencePolicy& ref, uint64_t seed) : ref_(ref), rng_(seed) {
    std::vector<double> floats;
    std::vector<int64_t> ints, durs;
    ref.CollectLiterals(&strings_, &ints, &floats, &durs);
    for (const PatternSet& ps : ref.scope().pattern_sets)
      for (const Pattern& p : ps.patterns)
        if (!p.regex) strings_.push_back(p.source);
    literals_ = strings_;
    if (literals_.empty()) literals_.push_back("x");
    const std::vector<std::string> words = {
        "",          "a",           "x",         "hello",  "Hello World", "bob",         "alice",       "user",
        "system",    "tool",        "SUP-1",     "SUP-12", "gpt-4o",      "gpt-4o-mini", "adm",         "admin",
        "sre",       "?",           "ÄB",        "äb",     "Äb",          "abbc",        "zzz",         "ticket",
        "ticket_id", "k",           "free",      "pro",    "a",           "b",           "embedding-3", "shell",
        "git_push",  "deploy_prod", "kb_search", "please", "thanks",      "AKIA",        "akia"};
    strings_.insert(strings_.end(), words.begin(), words.end());
    std::sort(strings_.begin(), strings_.end());
    strings_.erase(std::unique(strings_.begin(), strings_.end()), strings_.end());
    for (const std::string& s : strings_)
      if (s.size() <= 24) short_strings_.push_back(s);

    for (int64_t v : ints) {
      ints_.push_back(v);
      if (v > INT64_MIN) ints_.push_back(v - 1);
      if (v < INT64_MAX) ints_.push_back(v + 1);
    }
    for (int64_t v : {int64_t{0},
                      int64_t{1},
                      int64_t{-1},
                      int64_t{2},
                      int64_t{3},
                      int64_t{4},
                      int64_t{5},
                      int64_t{7},
                      int64_t{10},
                      int64_t{42},
                      int64_t{100},
                      int64_t{101},
                      int64_t{-101},
                      int64_t{1000},
                      int64_t{4096},
                      int64_t{8001},
                      int64_t{32001},
                      INT64_MAX,
                      INT64_MIN,
                      INT64_MIN + 1,
                      int64_t{9007199254740993},
                      int64_t{4611686018427387904},
                      int64_t{1795000000},
                      int64_t{1800000000}})
      ints_.push_back(v);
    for (double v : floats) floats_.push_back(v);
    for (double v : {0.0, -0.0, 0.1, 0.5, 1.0, 1.5, 2.5, -2.5, 3.0, 1e308, -1e308, 1e-300, 9007199254740992.0,
                     -9223372036854775808.0})
      floats_.push_back(v);
    for (int64_t v : durs) {
      durs_.push_back(v);
      durs_.push_back(v + 1);
      durs_.push_back(v - 1);
    }
    for (int64_t v : {int64_t{0}, int64_t{1000}, int64_t{1800000}, int64_t{3600000}, int64_t{3600001}, int64_t{-1},
                      INT64_MAX, INT64_MIN})
      durs_.push_back(v);
  }

  Case Next(Phase phase) {
    // A handful of the policy's literals are "hot" in each case, so that the
    // parts of a conjunction (a model and a tool, a header and a visibility)
    // meet often enough.
    hot_.clear();
    for (int i = 0; i < 6; ++i) hot_.push_back(rng_.Pick(literals_));
    Case c;
    c.phase = phase;
    if (phase == Phase::kRequest || rng_.Percent(85)) c.request = Request(&c);
    if (phase == Phase::kResponse) c.response = Response();
    c.principal = Attributes(Root::kPrincipal);
    c.context = Attributes(Root::kContext);
    if (rng_.Percent(70)) {
      Obj env;
      if (rng_.Percent(80)) env.Add("time", rng_.Percent(70) ? Num(Int()) : Quote("2026-11-22T10:00:00Z"));
      c.env = env.str();
    }
    return c;
  }

 private:
  std::string Cased(std::string s) {
    switch (rng_.Below(6)) {
      case 0:
        for (char& ch : s) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
        break;
      case 1:
        for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        break;
      case 2:
        for (char& ch : s)
          if (rng_.Percent(50)) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
        break;
      default:
        break;
    }
    return s;
  }
  std::string Word() {
    const size_t k = rng_.Below(10);
    if (k < 4) return Literal();
    if (k < 8) return rng_.Pick(short_strings_);
    return Cased(rng_.Pick(strings_));
  }
  const std::string& Literal() { return rng_.Percent(60) ? rng_.Pick(hot_) : rng_.Pick(literals_); }
  std::string Text() {
    std::string s;
    const size_t n = rng_.Below(5);
    for (size_t i = 0; i < n; ++i) {
      if (i) s += rng_.Percent(70) ? " " : (rng_.Percent(50) ? "" : "\n");
      // Half the time one of the policy's own literals (models, tool names,
      // trigger phrases), mostly as written so case-sensitive tests can hit.
      s += rng_.Percent(50) ? (rng_.Percent(70) ? Literal() : Cased(Literal())) : Cased(rng_.Pick(strings_));
    }
    return s;
  }
  int64_t Int() { return rng_.Pick(ints_); }
  int64_t NonNegInt() {
    for (;;) {
      int64_t v = Int();
      if (v >= 0) return v;
    }
  }

  std::string Content() {
    const size_t k = rng_.Below(20);
    if (k < 13) return Quote(Text());
    if (k < 15) return "null";
    std::vector<std::string> parts;
    const size_t n = 1 + rng_.Below(3);
    for (size_t i = 0; i < n; ++i) {
      switch (rng_.Below(4)) {
        case 0:
          parts.push_back(Quote(Text()));
          break;
        case 1:
          parts.push_back(
              Obj().Add("type", Quote("image_url")).Add("image_url", Obj().Add("url", Quote("u")).str()).str());
          break;
        default:
          parts.push_back(Obj().Add("type", Quote("text")).Add("text", Quote(Text())).str());
      }
    }
    return Arr(parts);
  }

  std::string ChatMessages() {
    static const std::vector<std::string> roles = {"user",      "user", "system",   "developer",
                                                   "assistant", "tool", "function", "critic"};
    std::vector<std::string> msgs;
    const size_t n = rng_.Below(5);
    for (size_t i = 0; i < n; ++i) {
      Obj m;
      m.Add("role", Quote(rng_.Percent(90) ? rng_.Pick(roles) : Word()));
      if (rng_.Percent(95)) m.Add("content", Content());
      if (rng_.Percent(25))
        m.Add("name", Quote(rng_.Percent(50) ? "bob" : Word()));
      else if (rng_.Percent(3))
        m.Add("name", "null");
      msgs.push_back(m.str());
    }
    return Arr(msgs);
  }

  std::string Tools(bool chat_form) {
    std::vector<std::string> tools;
    const size_t n = rng_.Percent(45) ? 0 : 1 + rng_.Below(3);
    for (size_t i = 0; i < n; ++i) {
      Obj t;
      const size_t k = rng_.Below(10);
      if (k == 0) {
        t.Add("type", Quote(rng_.Percent(50) ? "web_search_preview" : Word()));
      } else if (chat_form && k < 8) {
        t.Add("type", Quote("function")).Add("function", Obj().Add("name", Quote(Word())).str());
      } else {
        t.Add("type", Quote(rng_.Percent(80) ? "function" : Word())).Add("name", Quote(Word()));
      }
      tools.push_back(t.str());
    }
    return Arr(tools);
  }

  std::string Request(Case* c) {
    Obj r;
    // Now and then undecodable on purpose: one field of the wrong type.
    static const std::vector<std::string> kBreakable = {"stream", "metadata", "temperature"};
    const std::string broken = rng_.Percent(2) ? rng_.Pick(kBreakable) : "";
    c->invalid = !broken.empty();
    std::string model;
    if (rng_.Percent(88)) {
      model = rng_.Percent(85) ? Cased(Word()) : Word();
      r.Add("model", Quote(model));
    } else if (rng_.Percent(30)) {
      r.Add("model", "null");
    }
    const size_t form = rng_.Below(20);
    // A responses body for a model named "...embedding..." would be read as
    // embeddings (and refused); the host names the endpoint then.
    if (form >= 14 && form < 17 && model.find("embedding") != std::string::npos) c->endpoint = "responses";
    // The endpoint the host names (sometimes) is the one the body is for.
    const char* endpoint = form < 12   ? "chat"
                           : form < 14 ? "completions"
                           : form < 17 ? "responses"
                           : form < 18 ? "embeddings"
                                       : "chat";
    if (c->endpoint.empty() && rng_.Percent(15)) c->endpoint = endpoint;
    if (form < 12) {
      r.Add("messages", ChatMessages());
      if (rng_.Percent(60)) r.Add(rng_.Percent(85) ? "tools" : "functions", Tools(true));
    } else if (form < 14) {
      r.Add("prompt", rng_.Percent(60) ? Quote(Text()) : Arr({Quote(Text()), Quote(Text()), "[1,2]"}));
    } else if (form < 17) {
      if (rng_.Percent(40)) r.Add("instructions", Quote(Text()));
      if (rng_.Percent(40)) {
        r.Add("input", Quote(Text()));
      } else {
        std::vector<std::string> items;
        const size_t n = rng_.Below(4);
        for (size_t i = 0; i < n; ++i) {
          const size_t k = rng_.Below(4);
          if (k == 0)
            items.push_back(Obj().Add("type", Quote("function_call_output")).Add("output", Quote(Text())).str());
          else if (k == 1)
            items.push_back(Obj().Add("type", Quote("function_call")).Add("name", Quote(Word())).str());
          else
            items.push_back(
                Obj()
                    .Add("role", Quote(rng_.Percent(70) ? "user" : "system"))
                    .Add("content", Arr({Obj().Add("type", Quote("input_text")).Add("text", Quote(Text())).str()}))
                    .str());
        }
        r.Add("input", Arr(items));
      }
      if (rng_.Percent(50)) r.Add("tools", Tools(false));
    } else if (form < 18) {
      r.Add("input", rng_.Percent(50) ? Quote(Text()) : Arr({Quote(Text()), Quote(Text())}));
      r.Add("encoding_format", Quote("float"));
    }  // else: an empty body (chat, no messages)
    if (rng_.Percent(45)) {
      static const std::vector<std::string> keys = {"max_tokens", "max_tokens", "max_completion_tokens",
                                                    "max_output_tokens"};
      r.Add(rng_.Pick(keys), rng_.Percent(95) ? Num(NonNegInt()) : "null");
    }
    if (broken != "stream" && rng_.Percent(30)) r.Add("stream", rng_.Percent(50) ? "true" : "false");
    if (broken != "temperature" && rng_.Percent(40))
      r.Add("temperature", rng_.Percent(80) ? Num(rng_.Pick(floats_)) : Num(Int()));
    if (rng_.Percent(40)) r.Add("user", Quote(Word()));
    if (broken != "metadata" && rng_.Percent(35)) {
      Obj md;
      const size_t n = rng_.Below(3);
      std::set<std::string> seen;
      for (size_t i = 0; i < n; ++i) {
        std::string k = rng_.Percent(50) ? (rng_.Percent(50) ? "ticket" : "ticket_id") : Word();
        if (!seen.insert(k).second) continue;
        md.Add(k, Quote(rng_.Percent(40) ? "SUP-" + Num(Int()) : Word()));
      }
      r.Add("metadata", md.str());
    }
    if (broken == "stream") r.Add("stream", "1");
    if (broken == "metadata") r.Add("metadata", Obj().Add("a", "1").str());
    if (broken == "temperature") r.Add("temperature", Quote("hot"));
    if (rng_.Percent(15)) c->input_tokens = NonNegInt();
    return r.str();
  }

  std::string Response() {
    Obj r;
    const size_t form = rng_.Below(10);
    static const std::vector<std::string> reasons = {"stop", "length", "tool_calls", "content_filter"};
    if (form < 6) {
      std::vector<std::string> choices;
      const size_t n = rng_.Below(3);
      for (size_t i = 0; i < n; ++i) {
        Obj ch;
        ch.Add("index", Num(int64_t(i)));
        ch.Add("message",
               Obj().Add("role", Quote("assistant")).Add("content", rng_.Percent(90) ? Quote(Text()) : "null").str());
        if (rng_.Percent(80)) ch.Add("finish_reason", rng_.Percent(90) ? Quote(rng_.Pick(reasons)) : "null");
        choices.push_back(ch.str());
      }
      r.Add("choices", Arr(choices));
    } else if (form < 8) {
      r.Add("choices", Arr({Obj().Add("text", Quote(Text())).Add("finish_reason", Quote(rng_.Pick(reasons))).str()}));
    } else {
      r.Add("output",
            Arr({Obj()
                     .Add("content", Arr({Obj().Add("type", Quote("output_text")).Add("text", Quote(Text())).str()}))
                     .str()}));
      if (rng_.Percent(70)) r.Add("status", Quote(rng_.Percent(50) ? "completed" : "incomplete"));
    }
    if (rng_.Percent(70)) {
      Obj u;
      if (rng_.Percent(70)) u.Add(rng_.Percent(70) ? "prompt_tokens" : "input_tokens", Num(NonNegInt()));
      if (rng_.Percent(70)) u.Add(rng_.Percent(70) ? "completion_tokens" : "output_tokens", Num(NonNegInt()));
      r.Add("usage", u.str());
    }
    return r.str();
  }

  std::string Scalar(SlotType t) {
    switch (t) {
      case SlotType::kBool:
        return rng_.Percent(50) ? "true" : "false";
      case SlotType::kInt:
      case SlotType::kListInt:
      case SlotType::kSetInt:
      case SlotType::kMapInt:
        return Num(Int());
      case SlotType::kFloat:
      case SlotType::kListFloat:
      case SlotType::kMapFloat:
        return rng_.Percent(70) ? Num(rng_.Pick(floats_)) : Num(Int());
      case SlotType::kMapBool:
        return rng_.Percent(50) ? "true" : "false";
      case SlotType::kDuration: {
        if (rng_.Percent(50)) return Num(rng_.Pick(durs_));
        static const std::vector<std::string> units = {"ms", "s", "m", "h", "d"};
        return Quote(Num(int64_t(rng_.Below(120))) + rng_.Pick(units));
      }
      default:
        return Quote(Word());
    }
  }

  std::string Attributes(Root root) {
    Obj o;
    const Scope& sc = ref_.scope();
    const std::string prefix = root == Root::kPrincipal ? "principal." : "context.";
    for (size_t i = 0; i < sc.slots.size(); ++i) {
      const SlotInfo& s = sc.slots[i];
      if (s.root != root) continue;
      const std::string name = s.name.substr(prefix.size());
      if (rng_.Percent(12)) continue;  // absent: the default, or no value
      if (rng_.Percent(4)) {
        o.Add(name, "null");
        continue;
      }
      switch (s.type) {
        case SlotType::kListString:
        case SlotType::kListInt:
        case SlotType::kListFloat:
        case SlotType::kSetString:
        case SlotType::kSetInt: {
          std::vector<std::string> items;
          const size_t n = rng_.Below(5);
          for (size_t k = 0; k < n; ++k) items.push_back(Scalar(s.type));
          if (!items.empty() && rng_.Percent(20)) items.push_back(items[0]);  // a duplicate
          o.Add(name, Arr(items));
          break;
        }
        case SlotType::kMapString:
        case SlotType::kMapInt:
        case SlotType::kMapFloat:
        case SlotType::kMapBool: {
          Obj m;
          std::set<std::string> seen;
          const size_t n = rng_.Below(4);
          for (size_t k = 0; k < n; ++k) {
            std::string key = rng_.Percent(40) ? (rng_.Percent(50) ? "x" : "k") : Word();
            if (!seen.insert(key).second) continue;
            m.Add(key, Scalar(s.type));
          }
          o.Add(name, m.str());
          break;
        }
        default:
          o.Add(name, Scalar(s.type));
      }
    }
    return o.str();
  }

  const ReferencePolicy& ref_;
  Rng rng_;
  std::vector<std::string> literals_, strings_, short_strings_, hot_;
  std::vector<int64_t> ints_, durs_;
  std::vector<double> floats_;
};

// --- comparison --------------------------------------------------------------

const char* OutcomeName(RuleOutcome o) {
  switch (o) {
    case RuleOutcome::kNotEvaluated:
      return "not evaluated";
    case RuleOutcome::kFalse:
      return "false";
    case RuleOutcome::kTrue:
      return "true";
    case RuleOutcome::kError:
      return "error";
  }
  return "?";
}

Truth FromOutcome(RuleOutcome o) {
  switch (o) {
    case RuleOutcome::kNotEvaluated:
      return Truth::kNotEvaluated;
    case RuleOutcome::kFalse:
      return Truth::kFalse;
    case RuleOutcome::kTrue:
      return Truth::kTrue;
    case RuleOutcome::kError:
      return Truth::kError;
  }
  return Truth::kNotEvaluated;
}

const char* EffectWord(EffectKind k) {
  switch (k) {
    case EffectKind::kDeny:
      return "deny";
    case EffectKind::kAllow:
      return "allow";
    case EffectKind::kRoute:
      return "route";
    case EffectKind::kFlag:
      return "flag";
    case EffectKind::kRedact:
      return "redact";
  }
  return "?";
}

struct Report {
  std::string policy;
  int cases = 0, response_cases = 0, invalid_cases = 0;
  long outcomes_compared = 0;
  long true_outcomes = 0, error_outcomes = 0;
  long decisions_compared = 0;
  long mismatches = 0;
  std::map<std::string, std::array<long, 3>> per_rule;  // reference outcomes: true, false, error
  std::map<std::string, long> by_kind;                  // kind -> count
  std::string examples;
  bool printed_source = false;

  void Mismatch(const std::string& kind, const std::string& detail, const std::string& source, const Case& c) {
    ++mismatches;
    if (++by_kind[kind] > kExamplesPerKind) return;
    if (!printed_source) examples += "==== policy " + policy + ":\n" + source + "\n";
    printed_source = true;
    examples += "---- MISMATCH [" + policy + "] " + kind + "\n" + detail + "\ninputs: " + c.Json() + "\n";
  }
  std::string Summary() const {
    std::ostringstream s;
    s << "[" << policy << "] " << cases << " cases (" << response_cases << " response, " << invalid_cases
      << " undecodable), " << outcomes_compared << " rule outcomes compared (" << true_outcomes << " true, "
      << error_outcomes << " error), " << decisions_compared << " whole decisions compared, " << mismatches
      << " mismatches";
    std::string never_true, never_false;
    for (auto& [rule, n] : per_rule) {
      if (n[0] == 0) never_true += " " + rule;
      if (n[1] == 0) never_false += " " + rule;
    }
    if (!never_true.empty()) s << "\n    (inputs never made these rules true:" << never_true << ")";
    if (!never_false.empty()) s << "\n    (inputs never made these rules false:" << never_false << ")";
    for (auto& [k, n] : by_kind) s << "\n    " << n << " x " << k;
    return s.str();
  }
};

std::string Names(const ReferencePolicy& ref, const std::vector<size_t>& idx) {
  std::string s = "[";
  for (size_t i = 0; i < idx.size(); ++i) s += (i ? ", " : "") + ref.rules()[idx[i]].name;
  return s + "]";
}

void CompareDecision(const ReferencePolicy& ref, const std::string& source, const Case& c, const Decision& d,
                     const RefDecision* rd, Report* rep) {
  const auto& rules = ref.rules();
  if (c.invalid || !rd) {
    // "Undecodable input: deny, status 400, code invalid_request. No rule is evaluated."
    if (!d.invalid_input || d.allow || d.status != 400 || d.code != "invalid_request")
      rep->Mismatch("undecodable input", "engine: " + d.ToJson(), source, c);
    for (size_t r = 0; r < rules.size(); ++r)
      if (d.outcomes[r] != RuleOutcome::kNotEvaluated)
        rep->Mismatch("rule evaluated on undecodable input", rules[r].name, source, c);
    return;
  }
  if (d.invalid_input) {
    rep->Mismatch("input refused as undecodable", "engine: " + d.ToJson(), source, c);
    return;
  }
  bool outcome_mismatch = false;
  for (size_t r = 0; r < rules.size(); ++r) {
    const Truth engine = FromOutcome(d.outcomes[r]);
    const Truth want = rd->outcomes[r];
    if (want != Truth::kNotEvaluated) {
      ++rep->outcomes_compared;
      rep->true_outcomes += want == Truth::kTrue;
      rep->error_outcomes += want == Truth::kError;
      auto& counts = rep->per_rule[rules[r].name];
      ++counts[want == Truth::kTrue ? 0 : want == Truth::kFalse ? 1 : 2];
    }
    if (engine == want) continue;
    outcome_mismatch = true;
    std::string detail = "rule " + rules[r].name + ": engine " + OutcomeName(d.outcomes[r]) + ", reference " +
                         reference::TruthName(want);
    for (auto& [er, msg] : rd->errors)
      if (er == r) detail += " (reference error: " + msg + ")";
    for (const Reason& e : d.errors)
      if (e.rule == r) detail += " (engine error: " + e.message + ")";
    detail += "\nengine decision: " + d.ToJson();
    rep->Mismatch("outcome of rule " + rules[r].name + ": engine " + OutcomeName(d.outcomes[r]) + " vs reference " +
                      reference::TruthName(want),
                  detail, source, c);
  }
  // The decision is judged against the reference's own outcomes only when the
  // engine agreed on every one; otherwise its differences are consequences.
  if (outcome_mismatch) return;
  ++rep->decisions_compared;
  const std::string both = "\nengine decision: " + d.ToJson();
  if (d.allow != rd->allow || d.status != rd->status || d.code != rd->code) {
    std::string want = std::string(rd->allow ? "allow" : "deny") + " " + std::to_string(rd->status) + " " + rd->code;
    std::string got = std::string(d.allow ? "allow" : "deny") + " " + std::to_string(d.status) + " " + d.code;
    rep->Mismatch("decision (allow/status/code)", "engine " + got + ", reference " + want + both, source, c);
  } else if (!rd->allow) {
    const bool prefix_only = rd->code == "policy_error";
    const bool same =
        prefix_only ? d.message.rfind(rd->message, 0) == 0 : (rd->code == "no_allow_rule" || d.message == rd->message);
    if (!same)
      rep->Mismatch("decision message (" + rd->code + ")",
                    "engine \"" + d.message + "\", reference \"" + rd->message + "\"" + both, source, c);
  }
  if (d.has_route != rd->has_route || (d.has_route && d.route != rd->route))
    rep->Mismatch("route",
                  "engine " + (d.has_route ? d.route : std::string("(none)")) + ", reference " +
                      (rd->has_route ? rd->route : std::string("(none)")) + both,
                  source, c);
  std::vector<size_t> ef, rf, ee, re;
  for (const Reason& f : d.fired) ef.push_back(f.rule);
  for (auto& [r, m] : rd->fired) rf.push_back(r);
  for (const Reason& e : d.errors) ee.push_back(e.rule);
  for (auto& [r, m] : rd->errors) re.push_back(r);
  if (ef != rf)
    rep->Mismatch("fired rules", "engine " + Names(ref, ef) + ", reference " + Names(ref, rf) + both, source, c);
  if (ee != re)
    rep->Mismatch("errored rules", "engine " + Names(ref, ee) + ", reference " + Names(ref, re) + both, source, c);
  if (ef == rf) {
    for (size_t i = 0; i < ef.size(); ++i) {
      if (d.fired[i].message == rd->fired[i].second) continue;
      const auto& rule = rules[ef[i]];
      const std::string kind = rule.decl->effect.message
                                   ? "fired message of rule " + rule.name
                                   : std::string("default message of a fired ") + EffectWord(rule.effect) + " rule";
      rep->Mismatch(
          kind,
          "rule " + rule.name + ": engine \"" + d.fired[i].message + "\", reference \"" + rd->fired[i].second + "\"",
          source, c);
    }
  }
}

// Compiles `source` twice -- once through the real pipeline, once for the
// reference -- and compares them on generated inputs.
Report RunPolicy(const std::string& name, const std::string& source, const std::string& shown_source, int request_cases,
                 int response_cases) {
  Report rep;
  rep.policy = name;
  CompileResult cr = CompileSource(name, source);
  if (!cr.ok()) {
    ADD_FAILURE() << name << " does not compile:\n" << cr.RenderDiagnostics();
    return rep;
  }
  ReferencePolicy ref;
  std::string err;
  if (!ref.Load(name, source, &err)) {
    ADD_FAILURE() << name << " does not load into the reference:\n" << err;
    return rep;
  }
  auto engine = Engine::FromProgram(std::move(cr.program));
  const Program& p = engine->program();
  bool same_shape = p.rules.size() == ref.rules().size() && p.slots.size() == ref.scope().slots.size();
  for (size_t i = 0; same_shape && i < p.rules.size(); ++i) same_shape = p.rules[i].name == ref.rules()[i].name;
  for (size_t i = 0; same_shape && i < p.slots.size(); ++i) same_shape = p.slots[i].name == ref.scope().slots[i].name;
  if (!same_shape) {
    ADD_FAILURE() << name << ": the program's rules or slots differ from the reference's";
    return rep;
  }

  bool has_response_rules = false;
  for (const auto& r : ref.rules()) has_response_rules |= r.phase == Phase::kResponse;
  InputGen gen(ref, 0x6761'7665'6c00'0000ull ^ Fnv(name));
  Worker worker;
  const int total = request_cases + (has_response_rules ? response_cases : 0);
  for (int i = 0; i < total; ++i) {
    const Phase phase = i < request_cases ? Phase::kRequest : Phase::kResponse;
    Case c = gen.Next(phase);
    DecideOptions opt;
    opt.phase = phase;
    const Decision& d = worker.Decide(*engine, c.Input(), opt);
    ++rep.cases;
    rep.response_cases += phase == Phase::kResponse;
    if (c.invalid) {
      ++rep.invalid_cases;
      CompareDecision(ref, shown_source, c, d, nullptr, &rep);
      continue;
    }
    const RefDecision rd = ref.Decide(worker.slots(), phase);
    CompareDecision(ref, shown_source, c, d, &rd, &rep);
  }
  return rep;
}

void Check(const Report& rep) {
  std::printf("%s\n", rep.Summary().c_str());
  EXPECT_EQ(rep.mismatches, 0) << rep.Summary() << "\n" << rep.examples;
}

// --- policies that stress operators --------------------------------------------
// Each rule is a flag (or another effect where the decision is the point), so
// every rule's outcome is visible in the decision.

void CheckInline(const std::string& name, const std::string& source) {
  Check(RunPolicy(name, source, source, kRequestCases, kResponseCases));
}

TEST(DifferentialTest, ArithmeticAndComparisons) {
  CheckInline("inline/arithmetic", R"(package diff.arithmetic
on_error skip
schema principal {
  n: int
  m: int = 3
  f: float
  g: float = 0.5
  d: duration = 0s
  e: duration
  b: bool
}
const zero = 0
const big = 4611686018427387904
const caps = {"free": 100, "pro": 1000}
rule add { when principal.n + principal.m > 10 flag }
rule sub { when principal.n - principal.m < -5 flag }
rule mul { when principal.n * principal.m == 12 flag }
rule mul_big { when principal.n * big > 0 flag }
rule div { when principal.n / principal.m == 2 flag }
rule div_zero { when principal.n / zero == 0 flag }
rule mod { when principal.n % principal.m == 1 flag }
rule mod_minus_one { when principal.n % -1 == 0 flag }
rule div_minus_one { when principal.n / -1 > 0 flag }
rule neg { when -principal.n > 0 flag }
rule mixed_lt { when principal.n < principal.f flag }
rule mixed_eq { when principal.n == principal.f flag }
rule mixed_ne { when principal.f != principal.n flag }
rule mixed_arith { when principal.n + principal.f >= 2.5 flag }
rule float_div { when principal.f / principal.g > 1 flag }
rule float_div_int { when principal.f / principal.n < 0.5 flag }
rule float_ops { when principal.f * 2 - principal.g * 3 != 0.0 flag }
rule float_overflow { when principal.f * 1.0e200 * 1.0e200 > 1.0 flag }
rule nan_eq { when principal.f * 1.0e200 * 1.0e200 - principal.f * 1.0e200 * 1.0e200 == 0.0 flag }
rule nan_ne { when principal.f * 1.0e200 * 1.0e200 - principal.f * 1.0e200 * 1.0e200 != 0.0 flag }
rule nan_lt { when principal.f * 1.0e200 * 1.0e200 - principal.f * 1.0e200 * 1.0e200 < 1 flag }
rule dur_cmp { when principal.d > 1h or principal.e + 30m < 1h flag }
rule dur_neg { when -principal.e < 0s flag }
rule dur_sub { when principal.d - principal.e == 0ms flag }
rule bool_eq { when principal.b == (principal.n > 3) flag }
rule bool_alone { when principal.b flag }
rule caps_index { when caps["pro"] - principal.n > principal.m flag }
rule int_in_floats { when principal.n in {0.5, 1, 2.5, 3} flag }
rule int_in_sorted { when principal.n in {-5, 3, 10, 9223372036854775807, -9223372036854775807 - 1} flag }
rule int_not_in_sorted { when principal.m not in {-101, 0, 4096} flag }
rule float_in_ints { when principal.f in {0, 1, 2, 3} flag }
rule env_time { when env.time > principal.n flag }
rule input_tokens { when request.input_tokens * principal.m > 100 flag }
rule temperature { when request.temperature * principal.n > 1 flag }
rule max_tokens { when has(request.max_tokens) and request.max_tokens % 7 == principal.m flag }
rule message_values { when principal.m == 3 flag "n=${principal.n} f=${principal.f} d=${principal.d} e=${principal.e} b=${principal.b} q=${principal.n / 4.0}" }
)");
}

TEST(DifferentialTest, StringsAndCollections) {
  CheckInline("inline/strings", R"(package diff.strings
on_error skip
schema principal {
  s: string
  t: string = "x"
  roles: set<string> = {}
  nums: set<int>
  li: list<int>
  lf: list<float>
  ls: list<string>
  ms: map<string, string>
  mi: map<string, int>
  mf: map<string, float>
  mb: map<string, bool>
}
const names = {"alice", "bob", "Carol", "x"}
const greeting = "hello world"
const order = ["b", "a", "c"]
const prices = {"gpt-4o": {input: 2.5, output: 10}, "small": {input: 1, output: 2}}
rule str_lt { when principal.s < principal.t flag }
rule str_concat { when principal.s + principal.t == "alicex" flag }
rule starts { when principal.s startswith "a" or principal.t endswith principal.s flag }
rule not_starts { when principal.s not startswith principal.t flag }
rule not_ends { when principal.s not endswith "e" flag }
rule in_set { when principal.s in names flag }
rule not_in_set { when principal.s not in names flag }
rule in_str { when principal.s in greeting flag }
rule str_contains { when greeting contains principal.s flag }
rule str_not_contains { when principal.t not contains principal.s flag }
rule in_map { when principal.s in principal.ms flag }
rule map_contains { when principal.mi contains principal.t flag }
rule set_contains { when principal.roles contains principal.s flag }
rule list_in { when principal.s in principal.ls flag }
rule int_in_list { when 3 in principal.li flag }
rule int_in_lf { when 3 in principal.lf flag }
rule nums_contains { when principal.nums contains 2 flag }
rule nums_not_contains { when principal.nums not contains 2 flag }
rule idx_map { when principal.mi[principal.s] > 5 flag }
rule idx_map_f { when principal.mf["x"] <= 0.5 flag }
rule idx_map_b { when principal.mb["x"] flag }
rule idx_map_s { when principal.ms[principal.t] == principal.s flag }
rule idx_list { when principal.li[1] == 2 flag }
rule idx_list_last { when principal.ls[len(principal.ls) - 1] == "a" flag }
rule idx_const_list { when order[len(principal.s) % 3] == "a" flag }
rule len_set { when len(principal.roles) == 2 flag }
rule len_nums { when len(principal.nums) >= 3 flag }
rule len_str { when len(principal.s) > 3 flag }
rule len_map { when len(principal.ms) == 1 flag }
rule lower_eq { when lower(principal.s) == "alice" flag }
rule upper_in { when upper(principal.s) in {"ALICE", "BOB", "ÄB"} flag }
rule escapes { when principal.s in {"\u00c4B", "a\tb", "x\\y", "\"q\""} or principal.t == "\u00e4b" flag }
rule sorted_utf8 { when principal.s in {"\u00c4b", "Äb", "zzz", "AKIA", "akia", "~"} flag }
rule tokens_fn { when tokens(principal.s + principal.t) == 2 flag }
rule has_attr { when has(principal.s) and not has(principal.ms) flag }
rule cost_fn { when cost(principal.s, len(principal.li), 1000) > 0.005 flag }
rule cost_guarded { when principal.s in prices and cost(principal.s, 2000, principal.mf["x"]) < 0.01 flag }
rule metadata { when "ticket" in request.metadata and request.metadata["ticket"] startswith "SUP-" flag }
rule metadata_index { when request.metadata["ticket"] endswith "1" flag }
rule user_ops { when len(request.user) > 3 or request.stream flag }
rule model_ops { when lower(request.model) startswith "gpt" and request.model not in names flag }
rule endpoint { when request.endpoint in {"completions", "embeddings"} flag }
rule message_collections { when principal.s == "x" flag "metadata ${request.metadata} li ${principal.li} ms ${principal.ms}" }
)");
}

TEST(DifferentialTest, QuantifiersAndMessages) {
  CheckInline("inline/quantifiers", R"(package diff.quantifiers
on_error skip
schema principal {
  roles: set<string> = {}
  li: list<int>
  n: int
  names: list<string> = []
}
const strict = false
const lenient = true
const shell = {"shell", "exec"}
rule any_name { when any m in request.messages: m.name == "bob" flag }
rule any_name_guarded { when any m in request.messages: has(m.name) and m.name == "bob" flag }
rule any_name_or_user { when any m in request.messages: m.name == "bob" or m.role == "user" flag }
rule all_named { when all m in request.messages: m.name != "eve" flag }
rule all_roles { when all m in request.messages: m.role in {"user", "system"} flag }
rule all_tools_functions { when all t in request.tools: t.type == "function" flag }
rule nested { when any m in request.messages: any t in request.tools: m.content contains t.name flag }
rule nested_all { when all r in principal.roles: any x in principal.li: x > len(r) flag }
rule shadowed { when any t in request.tools: any t in request.messages: t.role == "tool" flag }
rule outer_variable { when any m in request.messages: all t in request.tools: t.name != m.content flag }
rule folded_and { when any x in principal.li: principal.n > x and strict flag }
rule folded_or { when all x in principal.li: principal.n > x or lenient flag }
rule body_error { when any x in principal.li: 10 / x > 2 flag }
rule body_error_all { when all x in principal.li: 100 % x == 0 flag }
rule quantifier_in_parens { when (any t in request.tools: t.name in shell) and "sre" not in principal.roles flag }
rule body_to_the_end { when any t in request.tools: t.name in shell and "sre" not in principal.roles flag }
rule not_any { when not (any r in principal.roles: r startswith "adm") flag }
rule not_all_names { when not (all m in request.messages: m.name == "bob") flag }
rule first_message { when request.messages[0].role == "system" flag }
rule last_message { when request.messages[len(request.messages) - 1].content endswith "?" flag }
rule has_indexed_name { when has(request.messages[1].name) flag }
rule long_chat { when len(request.messages) > 2 and request.input_tokens > 20 flag }
rule role_texts { when request.user_text contains "hello" and request.system_text != "" flag }
rule tool_text { when len(request.tool_text) > 0 or request.text == "" flag }
rule over_constant { when any s in shell: s in request.text flag }
rule names_match { when any nm in principal.names: any m in request.messages: has(m.name) and m.name == nm flag }
rule inside_predicate { when (principal.n > 0 and any m in request.messages: m.name == "bob") == true flag }
rule not_inside_predicate { when (not (principal.n > 0) or principal.li[0] > 1) != false flag }
rule message_names { when len(request.messages) == 1 flag "name ${request.messages[0].name} role ${request.messages[0].role}" }
)");
}

TEST(DifferentialTest, KleeneStructure) {
  CheckInline("inline/kleene", R"(package diff.kleene
on_error skip
schema principal {
  a: int
  b: int
  c: bool
  s: string
}
rule both { when principal.a > 0 and principal.b > 0 flag }
rule either { when principal.a > 0 or principal.b > 0 flag }
rule not_both { when not (principal.a > 0 and principal.b > 0) flag }
rule not_either { when not (principal.a > 0 or principal.c) flag }
rule double_not { when not not (principal.a > 5) flag }
rule contradiction { when principal.a > 5 and not (principal.a > 5) flag }
rule tautology { when principal.a > 5 or not (principal.a > 5) flag }
rule resolution { when (principal.a > 0 or principal.b > 0) and (not (principal.a > 0) or principal.c) flag }
rule distribute { when (principal.a > 0 or principal.c) and (principal.b > 0 or principal.s == "x") flag }
rule deep { when not ((principal.a > 1 and principal.b > 1) or (not principal.c and principal.s != "y")) flag }
rule and_false { when principal.a > 0 and false flag }
rule or_true { when principal.a > 0 or true flag }
rule shared_a { when principal.a == 1 flag }
rule shared_b { when principal.a == 1 and principal.c flag }
rule shared_parens { when (principal.a == 1) or principal.b == 2 flag }
rule bool_predicate { when principal.c or principal.s == "x" flag }
rule and_inside { when (principal.a > 0 and principal.c) == principal.c flag }
rule or_inside { when (principal.c or principal.a > 0) != false flag }
rule xor_like { when (principal.c and not (principal.a > 0)) or (not principal.c and principal.a > 0) flag }
)");
}

TEST(DifferentialTest, Patterns) {
  GAVEL_NEEDS_HYPERSCAN();
  CheckInline("inline/patterns", R"(package diff.patterns
on_error skip
schema principal { s: string }
patterns words caseless {
  "hello"
  "World"
  "ÄB"
}
patterns exact {
  "AbC"
  "x"
  "xyz"
  "AbC"
}
patterns partly {
  "Foo"
  "bar" caseless
}
patterns mixed {
  "hello"
  /re+gex/
}
pattern single caseless = "blue harbor"
rule words_any { when principal.s contains words flag }
rule words_not { when principal.s not contains words flag }
rule exact_any { when request.user_text contains exact flag }
rule exact_count_two { when count(exact in principal.s) == 2 flag }
rule exact_count_three { when count(exact in principal.s) >= 3 flag }
rule partly_any { when request.text contains partly flag }
rule partly_count { when count(partly in request.text) == 2 flag }
rule mixed_any { when principal.s contains mixed flag }
rule mixed_count { when count(mixed in principal.s) > 0 flag }
rule regex_match { when principal.s matches /ab+c/ flag }
rule regex_no_match { when principal.s not matches /ab+c/ flag }
rule regex_guarded { when principal.s == "zzz" or principal.s matches /x/ flag }
rule single_any { when request.system_text contains single flag }
rule literal_contains { when principal.s contains "World" flag }
rule lower_contains { when lower(principal.s) contains "world" flag }
)");
}

TEST(DifferentialTest, NegativeIndexes) {
  CheckInline("inline/negative_indexes", R"(package diff.negative_indexes
on_error skip
schema principal {
  n: int = 1
  li: list<int>
  ls: list<string>
}
const order = ["b", "a", "c"]
rule last_int { when principal.li[-1] == 2 flag }
rule front_from_end { when principal.li[-len(principal.li)] > 0 flag }
rule by_n { when principal.ls[principal.n] == "a" flag }
rule by_minus_n { when principal.ls[-principal.n] startswith "a" flag }
rule const_by_n { when order[principal.n % 5 - 2] == "c" flag }
rule const_last { when principal.ls[0] == order[-1] flag }
rule last_message { when request.messages[-1].role == "user" flag }
rule second_last_message { when request.messages[-2].content contains "a" flag }
rule message_text { when len(request.messages) > 0 flag "last ${request.messages[-1].role}" }
)");
}

TEST(DifferentialTest, EffectsUnderDefaultDeny) {
  CheckInline("inline/effects_default_deny", R"(package diff.effects
default deny
on_error skip
schema principal {
  tier: string
  n: int = 0
  team: string
}
const models = {"free": "small-model", "pro": "big-model"}
rule allow_team { when principal.team in {"a", "b"} allow }
rule allow_with_message { when principal.n > 5 allow "n is ${principal.n}" }
rule deny_with_message { when principal.n > 100 deny "n ${principal.n} tier ${principal.tier}" code "too_big" status 413 }
rule deny_plain { when principal.n < -100 deny }
rule deny_values { when principal.n == 42 deny "answer ${principal.n * 2} ${principal.n / 4.0} ${principal.n > 1} ${90m}" }
rule route_by_tier { when principal.n >= 0 route models[principal.tier] }
rule route_fallback { when principal.n >= 1 route "fallback-model" }
rule flag_with_message { when principal.team == "a" flag "team ${principal.team} uses ${request.model}" code "audit" }
rule flag_plain { when principal.n == 3 flag }
rule always { flag "tier ${principal.tier}" }
)");
}

TEST(DifferentialTest, EffectsUnderOnErrorDeny) {
  CheckInline("inline/effects_on_error_deny", R"(package diff.effects2
on_error deny
schema principal {
  tier: string
  n: int = 0
}
const models = {"free": "small-model", "pro": "big-model"}
rule route_by_tier { when principal.n >= 0 route models[principal.tier] }
rule route_fallback { when principal.n >= 1 route "fallback" }
rule needs_max_tokens { when principal.n > 10 and request.max_tokens > 5 deny "big" }
rule banned { when principal.tier == "banned" deny "banned ${principal.tier}" status 451 }
rule flag_message_error { when principal.n == 2 flag "max ${request.max_tokens}" }
rule allow_plain { when principal.tier == "pro" allow }
)");
}

TEST(DifferentialTest, ResponsePhase) {
  CheckInline("inline/response", R"(package diff.response
default deny
on_error skip
schema principal { n: int = 0 }
patterns promises caseless {
  "refund"
  "we guarantee"
}
rule promise on response { when response.text contains promises deny "promise" }
rule output_tokens on response { when response.usage.output_tokens > 100 flag }
rule has_input_tokens on response { when has(response.usage.input_tokens) flag }
rule guarded_usage on response { when has(response.usage) and has(response.usage.output_tokens) and response.usage.output_tokens > principal.n flag }
rule finish on response { when response.finish_reason == "length" flag }
rule reads_request on response { when request.model == "gpt-4o" or len(response.text) > 10 flag }
rule request_only { when request.model == "x" deny }
rule usage_total on response { when response.usage.input_tokens + response.usage.output_tokens > request.max_tokens flag "total ${response.usage.input_tokens + response.usage.output_tokens}" }
rule response_allow on response { when response.finish_reason != "content_filter" allow }
)");
}

// --- constants -----------------------------------------------------------------
// A constant's value is computed at compile time (folding); the reference
// evaluates its declaration itself. Random constant expressions, built to
// reach the edges (overflow, division by zero, missing keys and indices, NaN,
// errors that `and`/`or` decide away), must come out the same: the same value,
// or a failure reported as E0317 alone, never as "not computable".

class ConstGen {
 public:
  explicit ConstGen(uint64_t seed) : rng_(seed) {}

  enum T { kInt, kFloat, kString, kBool, kDuration, kListInt, kSetString, kSetInt, kMapInt, kSetFloat, kCount };

  std::string Of(T t, int depth) {
    const bool leaf = depth <= 0 || rng_.Percent(30);
    switch (t) {
      case kInt:
        return leaf ? Pick({"0", "1", "-1", "2", "3", "7", "100", "9223372036854775807", "(-9223372036854775807 - 1)",
                            "4611686018427387904", "-4611686018427387904"})
                    : IntOp(depth - 1);
      case kFloat:
        return leaf ? Pick({"0.0", "0.5", "1.5", "-2.25", "1.0e200", "1.0e308", "3.0"}) : FloatOp(depth - 1);
      case kString:
        return leaf ? QuoteString(Pick({"", "a", "b", "ab", "Hello", "h\xc3\xa9llo", "${x}", "Ab", "a\tb"}))
                    : StringOp(depth - 1);
      case kBool:
        return leaf ? Pick({"true", "false"}) : BoolOp(depth - 1);
      case kDuration:
        return leaf ? Pick({"0s", "1s", "90m", "1h", "1d", "1500ms"}) : DurationOp(depth - 1);
      case kListInt:
        return Literal("[", "]", kInt, depth - 1);
      case kSetString:
        return Literal("{", "}", kString, depth - 1);
      case kSetInt:
        return Literal("{", "}", kInt, depth - 1);
      case kSetFloat:
        return Literal("{", "}", kFloat, depth - 1);
      case kMapInt: {
        static const std::vector<std::string> keys = {"a", "b", "k", "x"};
        std::string s = "{";
        const size_t n = 1 + rng_.Below(3);
        for (size_t i = 0; i < n; ++i) s += (i ? ", " : "") + QuoteString(keys[i]) + ": " + Of(kInt, depth - 1);
        return s + "}";
      }
      case kCount:
        break;
    }
    return "0";
  }

  T AnyType() { return static_cast<T>(rng_.Below(kCount)); }

 private:
  std::string Pick(std::initializer_list<const char*> v) {
    auto it = v.begin();
    std::advance(it, rng_.Below(v.size()));
    return *it;
  }
  std::string Bin(const std::string& a, const std::string& op, const std::string& b) {
    return "(" + a + " " + op + " " + b + ")";
  }
  std::string Literal(const char* open, const char* close, T item, int depth) {
    std::string s = open;
    const size_t n = 1 + rng_.Below(4);  // `[]` has no item type, `{}` would be a map
    for (size_t i = 0; i < n; ++i) s += (i ? ", " : "") + Of(item, depth);
    return s + close;
  }
  std::string IntOp(int d) {
    switch (rng_.Below(9)) {
      case 0:
        return Bin(Of(kInt, d), Pick({"+", "-", "*", "/", "%"}), Of(kInt, d));
      case 1:
        return "-(" + Of(kInt, d) + ")";
      case 2:
        return "len(" + Of(rng_.Percent(50) ? kString : kListInt, d) + ")";
      case 3:
        return "tokens(" + Of(kString, d) + ")";
      case 4:
        return "(" + Of(kListInt, d) + "[" + Of(kInt, d) + "])";
      case 5:
        return "(" + Of(kMapInt, d) + "[" + Of(kString, d) + "])";
      case 6:
        return "len(" + Of(rng_.Percent(50) ? kSetInt : kMapInt, d) + ")";
      case 7:
        return "({a: " + Of(kInt, d) + ", b: " + Of(kString, d) + "}).a";
      default:
        return Bin(Of(kInt, d), Pick({"+", "-", "*"}), Of(kInt, d));
    }
  }
  std::string FloatOp(int d) {
    switch (rng_.Below(4)) {
      case 0:
        return Bin(Of(kFloat, d), Pick({"+", "-", "*", "/"}), Of(kFloat, d));
      case 1:
        return Bin(Of(kInt, d), Pick({"+", "-", "*", "/"}), Of(kFloat, d));
      case 2:
        return "-(" + Of(kFloat, d) + ")";
      default:
        return Bin(Of(kFloat, d), "-", Of(kFloat, d));
    }
  }
  std::string StringOp(int d) {
    switch (rng_.Below(4)) {
      case 0:
        return Bin(Of(kString, d), "+", Of(kString, d));
      case 1:
        return Pick({"lower(", "upper("}) + Of(kString, d) + ")";
      case 2:
        return "([" + Of(kString, d) + ", " + Of(kString, d) + "][" + Of(kInt, d) + "])";
      default:
        return "({\"a\": " + Of(kString, d) + "}[" + Of(kString, d) + "])";
    }
  }
  std::string DurationOp(int d) {
    if (rng_.Percent(30)) return "-(" + Of(kDuration, d) + ")";
    return Bin(Of(kDuration, d), Pick({"+", "-"}), Of(kDuration, d));
  }
  std::string BoolOp(int d) {
    switch (rng_.Below(12)) {
      case 0:
        return Bin(Of(kInt, d), Pick({"==", "!=", "<", "<=", ">", ">="}), Of(rng_.Percent(70) ? kInt : kFloat, d));
      case 1:
        return Bin(Of(kFloat, d), Pick({"==", "!=", "<", "<=", ">", ">="}), Of(kFloat, d));
      case 2:
        return Bin(Of(kString, d), Pick({"==", "!=", "<", ">=", "startswith", "endswith", "not startswith"}),
                   Of(kString, d));
      case 3:
        return Bin(Of(kDuration, d), Pick({"==", "<", ">"}), Of(kDuration, d));
      case 4:
        return Bin(Of(kBool, d), Pick({"and", "or", "==", "!="}), Of(kBool, d));
      case 5:
        return "not " + Of(kBool, d);
      case 6:
        return Bin(Of(kInt, d), Pick({"in", "not in"}), Of(rng_.Percent(50) ? kListInt : kSetInt, d));
      case 7:
        return Bin(Of(kString, d), Pick({"in", "not in"}),
                   Of(rng_.Percent(30)   ? kSetString
                      : rng_.Percent(50) ? kString
                                         : kMapInt,
                      d));
      case 8:
        return Bin(Of(rng_.Percent(50) ? kSetString : kString, d), Pick({"contains", "not contains"}), Of(kString, d));
      case 9:
        return Bin(Of(kFloat, d), Pick({"in", "not in"}), Of(rng_.Percent(50) ? kSetFloat : kSetInt, d));
      default:
        // Errors on one side that the other decides away, as at decision time.
        return Bin(Of(kBool, d), Pick({"and", "or"}), Bin(Of(kInt, d), "==", Of(kInt, d)));
    }
  }

  Rng rng_;
};

// Whether the VM's value of a constant is the reference's: exact ints,
// floats equal as numbers (NaN to NaN), sets as sets.
bool SameValue(const Value& v, const reference::RValue& r, std::string* why) {
  using R = reference::RValue;
  auto num = [](const Value& x, double* d) {
    if (x.kind == Kind::kFloat) *d = x.f;
    if (x.kind == Kind::kInt) *d = static_cast<double>(x.i);
    return x.kind == Kind::kFloat || x.kind == Kind::kInt;
  };
  double d = 0;
  switch (r.k) {
    case R::kBool:
      if (v.kind == Kind::kBool && v.b == r.b) return true;
      break;
    case R::kInt:
      if (v.kind == Kind::kInt && v.i == r.i) return true;
      if (v.kind == Kind::kFloat && v.f == static_cast<double>(r.i)) return true;  // an int in a float collection
      break;
    case R::kFloat:
      if (num(v, &d) && (d == r.f || (std::isnan(d) && std::isnan(r.f)))) return true;
      break;
    case R::kString:
      if (v.kind == Kind::kString && v.str() == r.s) return true;
      break;
    case R::kDuration:
      if (v.kind == Kind::kDuration && v.i == r.i) return true;
      break;
    case R::kList:
    case R::kRecord:
      if ((v.kind == Kind::kList || v.kind == Kind::kRecord) && v.len == r.items.size()) {
        for (uint32_t i = 0; i < v.len; ++i)
          if (!SameValue(v.items[i], r.items[i], why)) return false;
        return true;
      }
      break;
    case R::kSet:
      if (v.kind == Kind::kList && v.len == r.items.size()) {
        std::vector<bool> used(v.len, false);
        for (const R& item : r.items) {
          bool found = false;
          for (uint32_t i = 0; i < v.len && !found; ++i) {
            std::string ignored;
            if (!used[i] && SameValue(v.items[i], item, &ignored)) used[i] = found = true;
          }
          if (!found) {
            *why = "set items differ";
            return false;
          }
        }
        return true;
      }
      break;
    case R::kMap:
      if (v.kind == Kind::kMap && v.len == r.entries.size()) {
        for (uint32_t i = 0; i < v.len; ++i)
          if (v.items[2 * i].str() != r.entries[i].first || !SameValue(v.items[2 * i + 1], r.entries[i].second, why))
            return false;
        return true;
      }
      break;
    case R::kMissing:
      break;
  }
  std::string a, b;
  AppendValue(v, &a);
  reference::RenderValue(r, &b);
  *why = "engine " + a + " (kind " + KindName(v.kind) + "), reference " + b;
  return false;
}

TEST(DifferentialTest, ConstantsAgreeWithTheReferenceEvaluator) {
  ConstGen gen(0x636f6e7374ull);
  const int kConstants = 1500 * Scale();
  int values = 0, failures = 0, mismatches = 0;
  std::string examples;
  for (int n = 0; n < kConstants; ++n) {
    const std::string expr = gen.Of(gen.AnyType(), 1 + static_cast<int>(n % 4));
    const std::string source = "package diff.consts\nconst c = " + expr + "\nrule show { when true flag \"${c}\" }\n";
    std::string problem;
    CompileResult cr = CompileSource("const.policy", source);
    ReferencePolicy ref;
    std::string err;
    if (!ref.LoadAllowingFailedConstants("const.policy", source, &err)) {
      ADD_FAILURE() << "the generator wrote a policy with other errors:\n" << source << err;
      continue;
    }
    reference::RValue want;
    std::string ref_error;
    const bool ref_ok = ref.EvalConstant("c", &want, &ref_error);
    if (cr.ok()) {
      // The engine's value: the message chunk, run by the VM.
      const Program& p = *cr.program;
      std::vector<Value> slots(p.slots.size()), regs(p.max_regs);
      Arena arena;
      Value got;
      VmError verr;
      const bool ran = p.rules.size() == 1 && p.rules[0].message.size() == 1 && p.rules[0].message[0].is_expr &&
                       RunChunk(p, p.rules[0].message[0].chunk, slots.data(), regs.data(), &arena, &got, &verr);
      std::string why;
      if (!ran)
        problem = "the compiled constant does not run";
      else if (!ref_ok)
        problem = "folded to a value; the reference fails: " + ref_error;
      else if (!SameValue(got, want, &why))
        problem = "values differ: " + why;
      else
        ++values;
    } else {
      int e0317 = 0, others = 0;
      for (const Diagnostic& d : cr.diagnostics.items())
        if (d.severity == Severity::kError) ++(d.code == "E0317" ? e0317 : others);
      if (others || e0317 == 0) {
        problem = "compiling fails with other errors";
      } else if (ref_ok) {
        std::string shown;
        reference::RenderValue(want, &shown);
        problem = "folding failed; the reference computes " + shown;
      } else {
        ++failures;
      }
    }
    if (!problem.empty() && ++mismatches <= 8)
      examples += "---- " + problem + "\n" + source + cr.RenderDiagnostics() + "\n";
  }
  std::printf("[constants] %d expressions: %d values, %d failures (E0317), %d mismatches\n", kConstants, values,
              failures, mismatches);
  EXPECT_EQ(mismatches, 0) << examples;
  // The generator must reach both outcomes often, or it tests little.
  EXPECT_GT(values, kConstants / 4);
  EXPECT_GT(failures, kConstants / 20);
}

// --- the example policies ----------------------------------------------------

TEST(DifferentialTest, ExamplePolicies) {
  GAVEL_NEEDS_HYPERSCAN();
  namespace fs = std::filesystem;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(fs::path(GAVEL_SOURCE_DIR) / "policies"))
    if (e.path().extension() == ".policy") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  ASSERT_FALSE(files.empty());
  for (const fs::path& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    Check(RunPolicy(f.filename().string(), ss.str(), "(the file " + f.string() + ")", kExampleRequestCases,
                    kExampleResponseCases));
  }
}

}  // namespace
}  // namespace gavel
