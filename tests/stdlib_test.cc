// The standard library's corpus (tests/screen/stdlib_cases.yaml): for every
// pattern set of std.pii, std.secrets and std.injection, each `match` text
// must make `contains` fire and each `no_match` (near miss) must not, through
// the whole engine: compiled policy, normalization, one scan, validators.
// Also: every set of every module has at least 5 of each, and the module's
// `any` set fires on every true positive of the module.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "engine/compiler/compiler.h"
#include "engine/runtime/engine.h"

namespace gavel {
namespace {

struct Cases {
  std::vector<std::string> match, no_match;
};

std::map<std::string, Cases> LoadCorpus() {
  std::map<std::string, Cases> out;
  const YAML::Node root = YAML::LoadFile(std::string(GAVEL_SOURCE_DIR) + "/tests/screen/stdlib_cases.yaml");
  for (const auto& kv : root) {
    Cases& c = out[kv.first.as<std::string>()];
    if (kv.second["match"])
      for (const auto& t : kv.second["match"]) c.match.push_back(t.as<std::string>());
    if (kv.second["no_match"])
      for (const auto& t : kv.second["no_match"]) c.no_match.push_back(t.as<std::string>());
  }
  return out;
}

// The sets a module declares, read from its program (not from the corpus).
std::set<std::string> ModuleSets(const std::string& module) {
  CompileResult r = CompileSource("sets.policy", "package sets\nimport " + module + "\n");
  EXPECT_TRUE(r.ok()) << r.RenderDiagnostics();
  std::set<std::string> out;
  if (!r.ok()) return out;
  for (const PatternSet& ps : r.program->pattern_sets)
    if (ps.name.rfind(module + ".", 0) == 0 && ps.name != module + ".any") out.insert(ps.name);
  return out;
}

std::string ModuleOf(const std::string& set) { return set.substr(0, set.rfind('.')); }

class Corpus {
 public:
  explicit Corpus(const std::string& set) {
    const std::string src = "package stdlib_case\nimport " + ModuleOf(set) +
                            "\nrule hit { when request.user_text contains " + set + " flag \"hit\" }\n";
    CompileResult r = CompileSource("stdlib_case.policy", src);
    EXPECT_TRUE(r.ok()) << r.RenderDiagnostics();
    if (r.ok()) engine_ = Engine::FromProgram(std::move(r.program));
  }
  bool ok() const { return engine_ != nullptr; }
  bool Fires(const std::string& text) {
    body_ = nlohmann::json{{"model", "m"}, {"messages", {{{"role", "user"}, {"content", text}}}}}.dump();
    DecodeInput in;
    in.request = body_;
    const Decision& d = w_.Decide(*engine_, in);
    EXPECT_TRUE(d.errors.empty()) << text;
    return d.flags > 0;
  }

 private:
  std::shared_ptr<const Engine> engine_;
  Worker w_;
  std::string body_;
};

TEST(Stdlib, EverySetHasACorpusOfAtLeastFiveAndFive) {
  const auto corpus = LoadCorpus();
  for (const std::string module : {"std.pii", "std.secrets", "std.injection"}) {
    const std::set<std::string> sets = ModuleSets(module);
    EXPECT_FALSE(sets.empty()) << module;
    for (const std::string& set : sets) {
      auto it = corpus.find(set);
      ASSERT_NE(it, corpus.end()) << set << " has no corpus entry";
      EXPECT_GE(it->second.match.size(), 5u) << set;
      EXPECT_GE(it->second.no_match.size(), 5u) << set;
    }
  }
}

TEST(Stdlib, TruePositivesFireAndNearMissesDoNot) {
  size_t checked = 0;
  for (const auto& [set, cases] : LoadCorpus()) {
    SCOPED_TRACE(set);
    Corpus c(set);
    ASSERT_TRUE(c.ok());
    for (const std::string& t : cases.match) {
      EXPECT_TRUE(c.Fires(t)) << set << " missed: " << t;
      ++checked;
    }
    for (const std::string& t : cases.no_match) {
      EXPECT_FALSE(c.Fires(t)) << set << " fired on a near miss: " << t;
      ++checked;
    }
  }
  EXPECT_GT(checked, 200u);
}

TEST(Stdlib, AnyFiresOnEveryTruePositiveOfItsModule) {
  const auto corpus = LoadCorpus();
  for (const std::string module : {"std.pii", "std.secrets", "std.injection"}) {
    Corpus any(module + ".any");
    ASSERT_TRUE(any.ok());
    for (const auto& [set, cases] : corpus) {
      if (ModuleOf(set) != module) continue;
      for (const std::string& t : cases.match)
        EXPECT_TRUE(any.Fires(t)) << module << ".any missed (" << set << "): " << t;
    }
  }
}

}  // namespace
}  // namespace gavel
