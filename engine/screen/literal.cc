// The literal screening backend: a direct search for each literal pattern,
// byte by byte, ignoring ASCII case where the pattern says so. It needs no
// databases, so it runs wherever standard C++ does, and screens streamed
// text too. It cannot run regular expressions: a program with one gets a
// rule error from every scan, never a silent miss.
#include <algorithm>
#include <memory>
#include <string>
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

  std::unique_ptr<MatchStream> OpenStream(const char**) override;

  const std::vector<ScreenPattern>* patterns() const { return patterns_; }

 private:
  const std::vector<ScreenPattern>* patterns_ = nullptr;
};

// A text screened in pieces: each piece is searched together with the end of
// the text before it, long enough to hold all but the last byte of the
// longest pattern, so a literal split across pieces (however many) is found.
class LiteralStream final : public MatchStream {
 public:
  explicit LiteralStream(const std::vector<ScreenPattern>* patterns) : patterns_(patterns) {
    for (const ScreenPattern& sp : *patterns) keep_ = std::max(keep_, sp.source.size());
    if (keep_) --keep_;
  }

  bool Feed(Matcher* m, const char* s, uint32_t n, uint64_t* bits, const char** err) override {
    if (n == 0) return true;
    if (!m || m->backend() != ScreenBackend::kLiteral || static_cast<LiteralMatcher*>(m)->patterns() != patterns_) {
      *err = "the screening stream and the worker disagree on the policy";
      return false;
    }
    text_.append(s, n);
    const std::vector<ScreenPattern>& pats = *patterns_;
    for (uint32_t id = 0; id < pats.size(); ++id) {
      if (pats[id].regex) {
        *err = kNoRegex;
        return false;
      }
      if (pats[id].validator) continue;  // confirmed on the window, which holds the whole match
      ForEachLiteral(text_.data(), text_.size(), pats[id].source, pats[id].caseless, [&](uint32_t, uint32_t) {
        SetBit(bits, id);
        return false;
      });
    }
    if (text_.size() > keep_) text_.erase(0, text_.size() - keep_);
    return true;
  }

  bool Close(Matcher*, uint64_t*, const char**) override { return true; }

 private:
  const std::vector<ScreenPattern>* patterns_;
  size_t keep_ = 0;   // bytes of text carried to the next piece
  std::string text_;  // the carried bytes, then the piece being searched
};

std::unique_ptr<MatchStream> LiteralMatcher::OpenStream(const char**) {
  return std::make_unique<LiteralStream>(patterns_);
}

}  // namespace

std::unique_ptr<Matcher> NewLiteralMatcher() { return std::make_unique<LiteralMatcher>(); }

}  // namespace gavel
