// Runs parsed test cases: each policy is loaded once (cached by path), every
// case is decided by one Worker, and results are compared field by field.
// Output order is deterministic (files sorted, cases in file order) so CI logs
// diff cleanly. Stateful (ledger) cases are never run, only reported.
#include "policyc/test_runner.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <system_error>

#include "engine/runtime/engine.h"
#include "policyc/explain.h"
#include "policyc/load.h"
#include "policyc/test_file.h"

namespace gavel::policyc {

namespace {

namespace fs = std::filesystem;

struct PolicyUnderTest {
  std::shared_ptr<const Engine> engine;  // null if it failed to load
  std::vector<bool> fired;               // per rule: some case made it fire
};

std::string ListText(const std::vector<std::string>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + v[i];
  return out + "]";
}

std::string Quoted(const std::string& s) { return s.empty() ? "(none)" : "\"" + s + "\""; }

bool HasSuffix(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Names referenced by the expectation that the policy does not define: such
// an expectation could never fail (not_rules) or never pass, so it is a typo.
std::vector<std::string> UnknownRuleNames(const Expectation& x, const Program& p) {
  std::set<std::string> names;
  for (const Rule& r : p.rules) names.insert(r.name);
  std::vector<std::string> unknown;
  auto check = [&](const std::string& n) {
    if (!names.count(n) && std::find(unknown.begin(), unknown.end(), n) == unknown.end()) unknown.push_back(n);
  };
  if (x.rule) check(*x.rule);
  for (const auto* list : {&x.rules, &x.not_rules, &x.flags, &x.errors})
    if (*list)
      for (const std::string& n : **list) check(n);
  return unknown;
}

// The per-field differences between `x` and `d`; empty if the case passes.
std::string RedactionText(const ExpectedRedaction& r) {
  std::string s = "{kind: " + r.kind;
  if (r.text) s += ", text: " + Quoted(*r.text);
  if (r.field) s += ", field: " + *r.field;
  if (r.replacement) s += ", replacement: " + Quoted(*r.replacement);
  return s + "}";
}

std::vector<std::string> Compare(const Expectation& x, const Decision& d, const std::vector<TextLeaf>& leaves) {
  const Program& p = d.engine->program();
  std::vector<std::string> fired, flags, errored;
  for (const Reason& r : d.fired) {
    fired.push_back(p.rules[r.rule].name);
    if (p.rules[r.rule].effect == Effect::kFlag) flags.push_back(p.rules[r.rule].name);
  }
  std::string error_detail;
  for (const Reason& r : d.errors) {
    const std::string& name = p.rules[r.rule].name;
    if (std::find(errored.begin(), errored.end(), name) == errored.end()) errored.push_back(name);
    error_detail += (error_detail.empty() ? "" : "; ") + name + ": " + r.message;
  }
  std::vector<std::string> diff;
  if (x.allow != d.allow)
    diff.push_back(std::string("decision: expected ") + (x.allow ? "allow" : "deny") + ", got " +
                   (d.allow ? "allow" : "deny"));
  if (x.status && *x.status != d.status)
    diff.push_back("status: expected " + std::to_string(*x.status) + ", got " + std::to_string(d.status));
  if (x.code && *x.code != d.code) diff.push_back("code: expected " + Quoted(*x.code) + ", got " + Quoted(d.code));
  if (x.message && d.message.find(*x.message) == std::string::npos)
    diff.push_back("message: expected to contain " + Quoted(*x.message) + ", got " + Quoted(d.message));
  if (x.rule && std::find(fired.begin(), fired.end(), *x.rule) == fired.end())
    diff.push_back("rule: expected " + *x.rule + " to fire, fired: " + ListText(fired));
  if (x.rules && *x.rules != fired)
    diff.push_back("rules: expected " + ListText(*x.rules) + ", got " + ListText(fired));
  if (x.not_rules) {
    for (const std::string& n : *x.not_rules)
      if (std::find(fired.begin(), fired.end(), n) != fired.end()) diff.push_back("not_rules: " + n + " fired");
  }
  if (x.route_given) {
    const std::string got = d.has_route ? d.route : "";
    const std::string want = x.route ? *x.route : "";
    if (got != want || d.has_route != x.route.has_value())
      diff.push_back("route: expected " + (x.route ? *x.route : "no route") + ", got " +
                     (d.has_route ? d.route : "no route"));
  }
  if (x.redactions) {
    // Each expectation names only the keys it gives; the actual redactions are shown with the same keys.
    std::vector<std::string> want, got;
    for (size_t i = 0; i < std::max(x.redactions->size(), d.redactions.size()); ++i) {
      const ExpectedRedaction* e = i < x.redactions->size() ? &(*x.redactions)[i] : nullptr;
      if (e) want.push_back(RedactionText(*e));
      if (i >= d.redactions.size()) continue;
      const Redaction& r = d.redactions[i];
      const RedactedField& f = d.redacted[r.field];
      ExpectedRedaction a;
      a.kind = r.kind;
      if (!e || e->text) a.text = std::string(leaves[f.leaf].text.s + r.begin, r.end - r.begin);
      if (!e || e->field) a.field = f.path;
      if (!e || e->replacement) a.replacement = r.replacement;
      got.push_back(RedactionText(a));
    }
    if (want != got) diff.push_back("redactions: expected " + ListText(want) + ", got " + ListText(got));
  }
  if (x.flags && *x.flags != flags)
    diff.push_back("flags: expected " + ListText(*x.flags) + ", got " + ListText(flags));
  if (x.errors) {
    if (*x.errors != errored)
      diff.push_back("errors: expected " + ListText(*x.errors) + ", got " + ListText(errored) +
                     (error_detail.empty() ? "" : " (" + error_detail + ")"));
  } else if (!errored.empty()) {
    diff.push_back("errors: rules errored (list them in expect.errors if that is intended): " + error_detail);
  }
  return diff;
}

class TestRun {
 public:
  explicit TestRun(const TestOptions& options) : options_(options) {}

  // Expands folders into their *.test.yaml files, sorted; keeps named files.
  std::vector<std::string> Collect(const std::vector<std::string>& paths) {
    std::vector<std::string> files;
    for (const std::string& path : paths) {
      std::error_code ec;
      if (!fs::is_directory(path, ec)) {
        if (!fs::exists(path, ec)) {
          FileError(path + ": no such file or directory");
          continue;
        }
        files.push_back(path);
        continue;
      }
      std::vector<std::string> found;
      fs::recursive_directory_iterator it(path, fs::directory_options::skip_permission_denied, ec), end;
      for (; !ec && it != end; it.increment(ec)) {
        std::error_code ec2;
        if (it->is_regular_file(ec2) && HasSuffix(it->path().filename().string(), ".test.yaml"))
          found.push_back(it->path().string());
      }
      if (ec) FileError(path + ": cannot list: " + ec.message());
      if (found.empty() && !ec) FileError(path + ": no *.test.yaml files found");
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    }
    // A file named twice (directly and through its folder) runs once.
    std::vector<std::string> unique;
    std::set<std::string> seen;
    for (const std::string& f : files) {
      std::error_code ec;
      fs::path canon = fs::weakly_canonical(f, ec);
      if (seen.insert(ec ? f : canon.string()).second) unique.push_back(f);
    }
    return unique;
  }

  void RunFile(const std::string& path) {
    TestFile file;
    std::string err;
    if (!ParseTestFile(path, &file, &err)) return FileError(err);
    PolicyUnderTest* policy = Policy(file.policy_path);
    if (policy->engine == nullptr) {
      const size_t n = file.cases.size();
      return FileError(path + ": policy " + file.policy_path + " could not be loaded" +
                       (n == 0 ? "" : "; " + std::to_string(n) + (n == 1 ? " case was" : " cases were") + " not run"));
    }
    std::printf("%s (policy %s)\n", path.c_str(), file.policy_path.c_str());
    for (const TestCase& tc : file.cases) RunCase(file, tc, policy);
  }

  int Finish() {
    if (options_.coverage) PrintCoverage();
    if (file_errors_) std::printf("%d test file%s could not be run\n", file_errors_, file_errors_ == 1 ? "" : "s");
    // A file that could not run counts as a failure, so the summary line alone
    // never reads as green when something was skipped.
    std::printf("%d passed, %d failed\n", passed_, failed_ + file_errors_);
    std::fflush(stdout);
    return failed_ || file_errors_ ? 1 : 0;
  }

 private:
  void FileError(const std::string& message) {
    ++file_errors_;
    std::fflush(stdout);  // keep stdout and stderr in order in a combined log
    std::fprintf(stderr, "error: %s\n", message.c_str());
  }

  PolicyUnderTest* Policy(const std::string& path) {
    auto it = policies_.find(path);
    if (it != policies_.end()) return &it->second;
    PolicyUnderTest& put = policies_[path];
    LoadedPolicy loaded;
    std::string report;
    const bool ok = LoadPolicyOrBundle(path, options_.stdlib_dir, &loaded, &report);
    if (!report.empty()) {
      std::fflush(stdout);
      std::fputs(report.c_str(), stderr);
    }
    if (ok) {
      put.engine = loaded.engine;
      put.fired.assign(put.engine->program().rules.size(), false);
    }
    return &put;
  }

  void Fail(const std::string& name, const std::vector<std::string>& lines) {
    ++failed_;
    std::printf("FAIL %s\n", name.c_str());
    for (const std::string& l : lines) std::printf("    %s\n", l.c_str());
  }

  void RunCase(const TestFile& file, const TestCase& tc, PolicyUnderTest* policy) {
    const std::string where = file.path + ":" + std::to_string(tc.line);
    if (!tc.error.empty()) return Fail(tc.name, {"error: " + tc.error});
    const Program& program = policy->engine->program();
    std::vector<std::string> unknown = UnknownRuleNames(tc.expect, program);
    if (!unknown.empty()) {
      return Fail(tc.name, {"error: " + where + ": case '" + tc.name + "': expect names rules that " +
                            file.policy_path + " does not define: " + ListText(unknown)});
    }
    DecodeInput in;
    in.request = tc.input.request;
    in.response = tc.input.response;
    in.principal = tc.input.principal;
    in.context = tc.input.context;
    in.env = tc.input.env;
    in.endpoint = tc.input.endpoint;
    in.input_tokens = tc.input.input_tokens;
    DecideOptions opts;
    opts.phase = tc.input.has_response ? Phase::kResponse : Phase::kRequest;
    const Decision& d = worker_.Decide(*policy->engine, in, opts);
    for (const Reason& r : d.fired) policy->fired[r.rule] = true;
    std::vector<std::string> diff = Compare(tc.expect, d, worker_.leaves());
    if (diff.empty()) {
      ++passed_;
      std::printf("PASS %s\n", tc.name.c_str());
      if (options_.verbose) std::printf("    decision: %s\n", d.ToJson().c_str());
      return;
    }
    diff.insert(diff.begin(), "at " + where);
    diff.push_back("decision: " + d.ToJson());
    Fail(tc.name, diff);
    if (options_.verbose) {
      std::string explanation = ExplainDecision(d);
      size_t start = 0;
      while (start < explanation.size()) {
        size_t end = explanation.find('\n', start);
        if (end == std::string::npos) end = explanation.size();
        std::printf("    | %s\n", explanation.substr(start, end - start).c_str());
        start = end + 1;
      }
    }
  }

  void PrintCoverage() {
    for (const auto& [path, put] : policies_) {
      if (put.engine == nullptr) continue;
      const Program& p = put.engine->program();
      size_t covered = static_cast<size_t>(std::count(put.fired.begin(), put.fired.end(), true));
      std::printf("coverage: %s: %zu/%zu rules fired\n", path.c_str(), covered, p.rules.size());
      for (size_t r = 0; r < p.rules.size(); ++r) {
        if (!put.fired[r])
          std::printf("  uncovered: %s (%s:%u)\n", p.rules[r].name.c_str(), path.c_str(), p.rules[r].line);
      }
    }
  }

  const TestOptions& options_;
  std::map<std::string, PolicyUnderTest> policies_;  // by resolved path, so each compiles once
  Worker worker_;
  int passed_ = 0, failed_ = 0, file_errors_ = 0;
};

}  // namespace

int RunTests(const std::vector<std::string>& paths, const TestOptions& options) {
  TestRun run(options);
  for (const std::string& file : run.Collect(paths)) run.RunFile(file);
  return run.Finish();
}

}  // namespace gavel::policyc
