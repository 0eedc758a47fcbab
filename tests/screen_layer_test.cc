// The screening layer on its own: this test links gavel_screen and nothing of
// the runtime, so a use of engine/runtime from engine/screen fails to link
// here. Hand-made patterns without databases, screened literally: detection,
// validators, spans in the original bytes, regex patterns as errors, and a
// backend the build lacks.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "engine/screen/screen.h"
#include "engine/screen/validators.h"

namespace gavel {
namespace {

using Span = std::pair<uint32_t, uint32_t>;

void Collect(void* ctx, uint32_t b, uint32_t e) { static_cast<std::vector<Span>*>(ctx)->push_back({b, e}); }

bool Has(const uint64_t* bits, uint32_t id) { return bits[id / 64] >> (id % 64) & 1; }

const uint8_t kLuhn = static_cast<uint8_t>(Validator::kLuhn);

TEST(ScreenLayer, LiteralBackendDetectsValidatesAndFindsSpans) {
  const std::vector<ScreenPattern> pats = {
      {"blue harbor", false, true, 0},               // 0: caseless
      {"DAN", false, false, 0},                      // 1: exact case
      {"4111 1111 1111 1111", false, false, kLuhn},  // 2: passes Luhn
      {"4111 1111 1111 1112", false, false, kLuhn},  // 3: fails Luhn
      {"never here", false, false, 0},               // 4
  };
  ScanState st;
  st.set_backend(ScreenBackend::kLiteral);
  std::string err;
  ASSERT_TRUE(st.Begin(pats, nullptr, &err)) << err;
  // A zero-width space inside the phrase is normalized away before the search.
  const std::string text = "Meet at BLUE har\u200Bbor, dan; cards 4111 1111 1111 1111 and 4111 1111 1111 1112";
  const char* why = nullptr;
  const uint64_t* bits = st.Scan(text.data(), static_cast<uint32_t>(text.size()), &why);
  ASSERT_NE(bits, nullptr) << why;
  EXPECT_TRUE(Has(bits, 0));
  EXPECT_FALSE(Has(bits, 1));
  EXPECT_TRUE(Has(bits, 2));
  EXPECT_FALSE(Has(bits, 3));
  EXPECT_FALSE(Has(bits, 4));
  EXPECT_EQ(st.work().validations, 2u);  // one candidate of each card pattern

  std::vector<Span> spans;
  ASSERT_TRUE(st.Spans(text.data(), static_cast<uint32_t>(text.size()), 0, Collect, &spans, &why)) << why;
  // Bytes of the text as given: the three-byte U+200B is inside the span.
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(text.substr(spans[0].first, spans[0].second - spans[0].first), "BLUE har\u200Bbor");
  spans.clear();
  ASSERT_TRUE(st.Spans(text.data(), static_cast<uint32_t>(text.size()), 3, Collect, &spans, &why)) << why;
  EXPECT_TRUE(spans.empty());  // the candidate fails its validator
}

TEST(ScreenLayer, RegexPatternsAreErrorsOnTheLiteralBackend) {
  const std::vector<ScreenPattern> pats = {{"alpha", false, false, 0}, {"TCK-[0-9]+", true, false, 0}};
  ScanState st;
  st.set_backend(ScreenBackend::kLiteral);
  std::string err;
  ASSERT_TRUE(st.Begin(pats, nullptr, &err)) << err;
  const std::string text = "alpha TCK-1234";
  const char* why = nullptr;
  EXPECT_EQ(st.Scan(text.data(), static_cast<uint32_t>(text.size()), &why), nullptr);
  ASSERT_NE(why, nullptr);
  EXPECT_NE(std::string(why).find("regular-expression patterns need the screening engine"), std::string::npos) << why;
  std::vector<Span> spans;
  why = nullptr;
  EXPECT_FALSE(st.Spans(text.data(), static_cast<uint32_t>(text.size()), 1, Collect, &spans, &why));
  EXPECT_NE(why, nullptr);
}

TEST(ScreenLayer, BackendsAreNamedAndOnlyBuiltOnesScreen) {
  EXPECT_STREQ(ScreenBackendName(ScreenBackend::kHyperscan), "hyperscan");
  EXPECT_STREQ(ScreenBackendName(ScreenBackend::kLiteral), "literal");
  EXPECT_TRUE(ScreenBackendBuilt(ScreenBackend::kLiteral));
  EXPECT_TRUE(ScreenBackendBuilt(DefaultScreenBackend()));
  ScanState st;
  EXPECT_EQ(st.backend(), DefaultScreenBackend());
  const std::vector<ScreenPattern> pats = {{"alpha", false, false, 0}};
  st.set_backend(ScreenBackend::kHyperscan);
  std::string err;
  const std::string text = "alpha";
  const char* why = nullptr;
#if defined(GAVEL_HAVE_HYPERSCAN)
  EXPECT_EQ(DefaultScreenBackend(), ScreenBackend::kHyperscan);
  // Patterns without databases are screened literally, whatever the backend.
  ASSERT_TRUE(st.Begin(pats, nullptr, &err)) << err;
  const uint64_t* bits = st.Scan(text.data(), static_cast<uint32_t>(text.size()), &why);
  ASSERT_NE(bits, nullptr) << why;
  EXPECT_TRUE(Has(bits, 0));
#else
  EXPECT_EQ(DefaultScreenBackend(), ScreenBackend::kLiteral);
  EXPECT_FALSE(ScreenBackendBuilt(ScreenBackend::kHyperscan));
  // Asking for a backend the build lacks is refused, and every scan says why.
  EXPECT_FALSE(st.Begin(pats, nullptr, &err));
  EXPECT_EQ(err, "this build has no Hyperscan screening backend");
  EXPECT_EQ(st.Scan(text.data(), static_cast<uint32_t>(text.size()), &why), nullptr);
  EXPECT_STREQ(why, "this build has no Hyperscan screening backend");
#endif
}

}  // namespace
}  // namespace gavel
