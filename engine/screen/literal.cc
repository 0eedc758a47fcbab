// The literal screening backend: a direct search for each literal pattern,
// byte by byte, ignoring ASCII case where the pattern says so. It needs no
// databases, so it runs wherever standard C++ does. It cannot run regular
// expressions: a program with one gets a rule error from every scan, never
// a silent miss.
#include <memory>
#include <vector>

#include "engine/screen/matcher.h"

namespace gavel {

namespace {

#if defined(GAVEL_HAVE_HYPERSCAN)
const char kNoRegex[] =
    "regular-expression patterns need the screening engine, and this decision screens literal patterns only";
#else
const char kNoRegex[] = "regular-expression patterns need the screening engine, which this build lacks";
#endif

inline char LowerAscii(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

// Every occurrence of needle in text, in order of start (so of end: the
// length is fixed), until f returns false.
template <typename F>
void ForEachLiteral(const char* text, size_t len, const std::string& needle, bool caseless, F&& f) {
  if (needle.empty() || needle.size() > len) return;
  for (size_t i = 0; i + needle.size() <= len; ++i) {
    size_t k = 0;
    if (caseless) {
      while (k < needle.size() && LowerAscii(text[i + k]) == LowerAscii(needle[k])) ++k;
    } else {
      while (k < needle.size() && text[i + k] == needle[k]) ++k;
    }
    if (k == needle.size() && !f(static_cast<uint32_t>(i), static_cast<uint32_t>(i + k))) return;
  }
}

class LiteralMatcher final : public Matcher {
 public:
  ScreenBackend backend() const override { return ScreenBackend::kLiteral; }

  bool Prepare(const std::vector<ScreenPattern>& patterns, const std::shared_ptr<const ScreenDb>&,
               const char**) override {
    patterns_ = &patterns;
    return true;
  }

  bool Detect(const char* text, uint32_t n, uint64_t* found, const char** err) override {
    const std::vector<ScreenPattern>& pats = *patterns_;
    for (uint32_t id = 0; id < pats.size(); ++id) {
      if (pats[id].regex) {
        *err = kNoRegex;
        return false;
      }
      ForEachLiteral(text, n, pats[id].source, pats[id].caseless, [&](uint32_t, uint32_t) {
        SetBit(found, id);
        return false;  // one occurrence is enough
      });
    }
    return true;
  }

  bool Matches(uint32_t id, const char* text, uint32_t n, MatchFn fn, void* ctx, const char** err) override {
    const ScreenPattern& sp = (*patterns_)[id];
    if (sp.regex) {
      *err = kNoRegex;
      return false;
    }
    ForEachLiteral(text, n, sp.source, sp.caseless, [&](uint32_t b, uint32_t e) { return fn(ctx, b, e); });
    return true;
  }

  std::unique_ptr<MatchStream> OpenStream(const char**) override { return nullptr; }

 private:
  const std::vector<ScreenPattern>* patterns_ = nullptr;
};

}  // namespace

std::unique_ptr<Matcher> NewLiteralMatcher() { return std::make_unique<LiteralMatcher>(); }

}  // namespace gavel
