// Tests for the screening normalizer (engine/screen/normalize.h): the no-change
// fast path, every class of removed and folded character, what is left alone,
// malformed UTF-8, the offset map and span mapping, a randomized check of the
// map invariants, and reuse of warm buffers without allocation.

#include "engine/screen/normalize.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <random>
#include <string>
#include <vector>

// Counting global allocator, so the warm-buffer test can prove that a second
// normalization of the same size performs no heap allocation.
namespace {
std::atomic<uint64_t> g_allocations{0};
}  // namespace

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

namespace gavel {
namespace {

std::string Utf8(uint32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += char(cp);
  } else if (cp < 0x800) {
    s += char(0xC0 | (cp >> 6));
    s += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    s += char(0xE0 | (cp >> 12));
    s += char(0x80 | ((cp >> 6) & 0x3F));
    s += char(0x80 | (cp & 0x3F));
  } else {
    s += char(0xF0 | (cp >> 18));
    s += char(0x80 | ((cp >> 12) & 0x3F));
    s += char(0x80 | ((cp >> 6) & 0x3F));
    s += char(0x80 | (cp & 0x3F));
  }
  return s;
}

// Normalizes from an exactly sized heap copy, so a read past the end is a
// sanitizer error. Returns the input itself when nothing changes.
std::string Norm(const std::string& in, NormalizedText* t = nullptr) {
  NormalizedText local;
  if (t == nullptr) t = &local;
  std::unique_ptr<char[]> buf(new char[in.size() + 1]);
  std::memcpy(buf.get(), in.data(), in.size());
  if (!NormalizeForScreening(buf.get(), in.size(), t)) return in;
  EXPECT_EQ(t->map.size(), t->text.size() + 1);
  EXPECT_EQ(t->map_end.size(), t->text.size());
  EXPECT_EQ(t->map.back(), in.size());
  return t->text;
}

bool Changes(const std::string& in) {
  NormalizedText t;
  return NormalizeForScreening(in.data(), in.size(), &t);
}

std::pair<uint32_t, uint32_t> Span(const NormalizedText& t, uint32_t b, uint32_t e) {
  uint32_t ob = 0, oe = 0;
  MapSpanToOriginal(t, b, e, &ob, &oe);
  return {ob, oe};
}

using P = std::pair<uint32_t, uint32_t>;

TEST(NormalizeTest, AsciiNeedsNoChangeAndWritesNothing) {
  NormalizedText t;
  t.text = "untouched";
  t.map = {1, 2, 3};
  std::string s;
  for (int len = 0; len < 300; ++len) {
    EXPECT_FALSE(NormalizeForScreening(s.data(), s.size(), &t)) << len;
    s += char(len % 95 + 0x20);
  }
  std::string big(4096, 'x');
  for (size_t i = 0; i < big.size(); ++i) big[i] = char(i % 128);  // every ASCII byte, NUL included
  EXPECT_FALSE(NormalizeForScreening(big.data(), big.size(), &t));
  EXPECT_EQ(t.text, "untouched");
  EXPECT_EQ(t.map, (std::vector<uint32_t>{1, 2, 3}));
  EXPECT_FALSE(NormalizeForScreening(nullptr, 0, &t));
}

TEST(NormalizeTest, FindsTheOneChangingCharacterAnywhereInLongText) {
  // A single change at every position of a long ASCII text, so the
  // word-at-a-time skipping is exercised at every alignment and block edge.
  const std::string zwsp = Utf8(0x200B);
  for (size_t pos = 0; pos <= 200; ++pos) {
    std::string s(200, 'a');
    s.insert(pos, zwsp);
    NormalizedText t;
    ASSERT_EQ(Norm(s, &t), std::string(200, 'a')) << pos;
    if (pos < 200) {
      EXPECT_EQ(t.map[pos], pos + 3);
    }
    if (pos > 0) {
      EXPECT_EQ(t.map_end[pos - 1], pos);
    }
  }
}

TEST(NormalizeTest, OtherTextWithNothingToChangeIsLeftAlone) {
  const char* texts[] = {
      "caf\xC3\xA9 na\xC3\xAFve",                                  // precomposed diacritics
      "e\xCC\x81",                                                 // e + combining acute
      "\xD0\xBF\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82",          // Cyrillic
      "\xE4\xB8\xAD\xE6\x96\x87 \xE3\x81\x82\xE3\x82\xA2",         // CJK, hiragana, katakana (lead E3)
      "\xED\x95\x9C\xEA\xB0\x80",                                  // Hangul syllables (lead EA)
      "\xE2\x80\x9Cquoted\xE2\x80\x9D \xE2\x80\x94 \xE2\x80\xA6",  // curly quotes, dash, ellipsis (lead E2)
      "\xF0\x9F\x98\x80",                                          // emoji
      "\xF0\x9D\x9B\x82",                                          // mathematical bold alpha (Greek: kept)
      "\xEF\xAC\x81",                                              // U+FB01 fi ligature: NFKC gives two letters
      "\xE2\x91\xA9",                                              // U+2469 circled ten: two digits
      "\xC2\xA9\xC2\xAE",                                          // (c) (r) signs
  };
  for (const char* s : texts) EXPECT_FALSE(Changes(s)) << s;
}

TEST(NormalizeTest, RemovesInvisibleFormatCharacters) {
  const uint32_t ranges[][2] = {{0x00AD, 0x00AD}, {0x034F, 0x034F}, {0x061C, 0x061C},  {0x115F, 0x1160},
                                {0x17B4, 0x17B5}, {0x180B, 0x180F}, {0x200B, 0x200F},  {0x202A, 0x202E},
                                {0x2060, 0x2064}, {0x2066, 0x206F}, {0x3164, 0x3164},  {0xFE00, 0xFE0F},
                                {0xFEFF, 0xFEFF}, {0xFFA0, 0xFFA0}, {0xE0000, 0xE007F}};
  int count = 0;
  for (const auto& r : ranges) {
    for (uint32_t cp = r[0]; cp <= r[1]; ++cp, ++count) {
      const std::string x = Utf8(cp);
      NormalizedText t;
      ASSERT_EQ(Norm("a" + x + "b", &t), "ab") << std::hex << cp;
      EXPECT_EQ(t.map, (std::vector<uint32_t>{0, uint32_t(1 + x.size()), uint32_t(2 + x.size())}));
      EXPECT_EQ(t.map_end, (std::vector<uint32_t>{1, uint32_t(2 + x.size())}));
    }
  }
  EXPECT_EQ(count, 184);
  // Neighbours of the removed ranges are not removed.
  for (uint32_t cp : {0x00ACu, 0x00AEu, 0x0350u, 0x061Bu, 0x1161u, 0x17B6u, 0x180Au, 0x2065u, 0x3165u, 0xFEFEu, 0xFFA1u,
                      0xDFFFFu, 0xE0080u})
    EXPECT_EQ(Norm(Utf8(cp)), Utf8(cp)) << std::hex << cp;
}

TEST(NormalizeTest, FoldsFullWidthForms) {
  for (uint32_t cp = 0xFF01; cp <= 0xFF5E; ++cp) EXPECT_EQ(Norm(Utf8(cp)), std::string(1, char(cp - 0xFF01 + 0x21)));
  EXPECT_EQ(Norm(Utf8(0x3000)), " ");
  // "ignore" in full-width letters.
  EXPECT_EQ(Norm("\xEF\xBD\x89\xEF\xBD\x87\xEF\xBD\x8E\xEF\xBD\x8F\xEF\xBD\x92\xEF\xBD\x85"), "ignore");
  EXPECT_EQ(Norm(Utf8(0xFF00)), Utf8(0xFF00));  // unassigned, just before the range
  EXPECT_EQ(Norm(Utf8(0xFF5F)), Utf8(0xFF5F));  // full-width white parenthesis: not ASCII
  EXPECT_EQ(Norm(Utf8(0xFF61)), Utf8(0xFF61));  // half-width katakana stays
}

TEST(NormalizeTest, FoldsUnicodeSpaces) {
  for (uint32_t cp : {0x00A0u, 0x1680u, 0x2000u, 0x2001u, 0x2002u, 0x2003u, 0x2004u, 0x2005u, 0x2006u, 0x2007u, 0x2008u,
                      0x2009u, 0x200Au, 0x202Fu, 0x205Fu, 0x3000u})
    EXPECT_EQ(Norm("a" + Utf8(cp) + "b"), "a b") << std::hex << cp;
}

TEST(NormalizeTest, FoldsStyledCopiesOfAscii) {
  // Mathematical bold "ignore".
  std::string bold;
  for (char c : std::string("ignore")) bold += Utf8(0x1D41A + (c - 'a'));
  EXPECT_EQ(Norm(bold), "ignore");
  // Every style of the mathematical Latin alphabets, holes filled by letter-like symbols.
  EXPECT_EQ(Norm(Utf8(0x1D400) + Utf8(0x1D433) + Utf8(0x1D670) + Utf8(0x1D6A3)), "AzAz");
  EXPECT_EQ(Norm(Utf8(0x210E)), "h");  // Planck constant, the italic small h
  EXPECT_EQ(Norm(Utf8(0x211D)), "R");  // double-struck capital R
  EXPECT_EQ(Norm(Utf8(0x1D7CE) + Utf8(0x1D7FF)), "09");
  EXPECT_EQ(Norm(Utf8(0x1D455)), Utf8(0x1D455));  // reserved hole in the italic alphabet
  EXPECT_EQ(Norm(Utf8(0x1D6A4)), Utf8(0x1D6A4));  // dotless i: not ASCII
  EXPECT_EQ(Norm(Utf8(0x1D6A8)), Utf8(0x1D6A8));  // bold capital alpha: Greek
  // Circled, squared, superscript, subscript.
  EXPECT_EQ(Norm(Utf8(0x24B6) + Utf8(0x24E9) + Utf8(0x2460) + Utf8(0x2468) + Utf8(0x24EA)), "Az190");
  EXPECT_EQ(Norm(Utf8(0x1F130) + Utf8(0x1F149)), "AZ");
  EXPECT_EQ(Norm("x" + Utf8(0x00B2) + Utf8(0x2080) + Utf8(0x1D43)), "x20a");
  EXPECT_EQ(Norm(Utf8(0x017F) + "ecret"), "secret");  // long s
  EXPECT_EQ(Norm(Utf8(0xFE68)), "\\");                // small reverse solidus
  // Not folded: NFKC expands these to several characters, or they are not ASCII look-alikes.
  for (uint32_t cp : {0xFB01u, 0x2469u, 0x2474u, 0x2161u, 0x00BCu, 0x1F150u, 0x1F170u, 0x1F1E6u, 0x0430u})
    EXPECT_EQ(Norm(Utf8(cp)), Utf8(cp)) << std::hex << cp;
}

TEST(NormalizeTest, MapsMultiByteOriginals) {
  NormalizedText t;
  // full-width "a", ASCII "b", math bold "c", NBSP, "d"
  const std::string in = Utf8(0xFF41) + "b" + Utf8(0x1D41C) + Utf8(0xA0) + "d";
  ASSERT_EQ(Norm(in, &t), "abc d");
  EXPECT_EQ(t.map, (std::vector<uint32_t>{0, 3, 4, 8, 10, 11}));
  EXPECT_EQ(t.map_end, (std::vector<uint32_t>{3, 4, 8, 10, 11}));
  EXPECT_EQ(Span(t, 0, 1), P(0, 3));
  EXPECT_EQ(Span(t, 1, 3), P(3, 8));
  EXPECT_EQ(Span(t, 0, 5), P(0, 11));
  EXPECT_EQ(Span(t, 2, 2), P(4, 4));
  EXPECT_EQ(Span(t, 5, 5), P(11, 11));
  EXPECT_EQ(Span(t, 3, 99), P(8, 11));  // clamped
  EXPECT_EQ(Span(t, 9, 2), P(4, 4));    // begin after end: empty at end

  // Kept multi-byte characters are copied byte by byte, each byte mapped to itself.
  ASSERT_EQ(Norm("\xC3\xA9" + Utf8(0x200B) + "\xE4\xB8\xAD", &t), "\xC3\xA9\xE4\xB8\xAD");
  EXPECT_EQ(t.map, (std::vector<uint32_t>{0, 1, 5, 6, 7, 8}));
  EXPECT_EQ(Span(t, 0, 2), P(0, 2));
  EXPECT_EQ(Span(t, 2, 5), P(5, 8));
}

TEST(NormalizeTest, RemovedCharactersBelongToNeitherNeighbour) {
  NormalizedText t;
  const std::string z = Utf8(0x200B);  // 3 bytes

  ASSERT_EQ(Norm("a" + z + "b", &t), "ab");
  EXPECT_EQ(Span(t, 0, 1), P(0, 1));  // ends before the removed character
  EXPECT_EQ(Span(t, 1, 2), P(4, 5));  // starts after it
  EXPECT_EQ(Span(t, 0, 2), P(0, 5));  // contains it
  EXPECT_EQ(Span(t, 1, 1), P(4, 4));

  // The case a start-offset map alone could not tell apart: "a" + soft hyphen
  // and full-width "a" both normalize to "a" with map {0, 3}.
  ASSERT_EQ(Norm("a\xC2\xAD", &t), "a");
  EXPECT_EQ(Span(t, 0, 1), P(0, 1));
  ASSERT_EQ(Norm(Utf8(0xFF41), &t), "a");
  EXPECT_EQ(Span(t, 0, 1), P(0, 3));

  ASSERT_EQ(Norm(z + z + "ab", &t), "ab");  // at the start
  EXPECT_EQ(t.map, (std::vector<uint32_t>{6, 7, 8}));
  EXPECT_EQ(Span(t, 0, 1), P(6, 7));
  EXPECT_EQ(Span(t, 0, 0), P(6, 6));

  ASSERT_EQ(Norm("ab" + z + z, &t), "ab");  // at the end
  EXPECT_EQ(t.map, (std::vector<uint32_t>{0, 1, 8}));
  EXPECT_EQ(Span(t, 0, 2), P(0, 2));
  EXPECT_EQ(Span(t, 2, 2), P(8, 8));

  ASSERT_EQ(Norm(z + Utf8(0xE0041) + z, &t), "");  // nothing left
  EXPECT_EQ(t.map, (std::vector<uint32_t>{10}));
  EXPECT_EQ(Span(t, 0, 0), P(10, 10));

  // A removed character next to a folded one.
  ASSERT_EQ(Norm(Utf8(0xFF41) + z + Utf8(0xFF42), &t), "ab");
  EXPECT_EQ(Span(t, 0, 1), P(0, 3));
  EXPECT_EQ(Span(t, 1, 2), P(6, 9));
  EXPECT_EQ(Span(t, 0, 2), P(0, 9));
}

TEST(NormalizeTest, MalformedUtf8IsCopiedThrough) {
  const std::string fw_a = Utf8(0xFF41);
  NormalizedText t;
  // Lone continuation bytes around a change.
  ASSERT_EQ(Norm("\x80" + fw_a + "\xBF", &t),
            "\x80"
            "a\xBF");
  EXPECT_EQ(t.map, (std::vector<uint32_t>{0, 1, 4, 5}));
  // A truncated 3-byte sequence at the very end: the prefix of a zero-width
  // space, and of a full-width letter.
  EXPECT_EQ(Norm(fw_a + "\xE2\x80"), "a\xE2\x80");
  EXPECT_EQ(Norm(fw_a + "\xEF\xBD"), "a\xEF\xBD");
  EXPECT_EQ(Norm(fw_a + "\xEF"), "a\xEF");
  EXPECT_EQ(Norm(fw_a + "\xF3\xA0\x80"), "a\xF3\xA0\x80");  // truncated tag character
  // Truncated in the middle: the lead byte is kept, the next character is still seen.
  EXPECT_EQ(Norm("\xE2\x80" + Utf8(0x200B) + "x"), "\xE2\x80x");
  EXPECT_EQ(Norm("\xEF" + fw_a),
            "\xEF"
            "a");
  // Overlong encodings are never decoded: an overlong zero-width space or
  // space is not removed or folded.
  EXPECT_EQ(Norm(fw_a + "\xF0\x82\x80\x8B"), "a\xF0\x82\x80\x8B");
  EXPECT_EQ(Norm(fw_a + "\xE0\x80\xA0"), "a\xE0\x80\xA0");
  EXPECT_EQ(Norm(fw_a + "\xC0\xA0\xC1\xBF"), "a\xC0\xA0\xC1\xBF");
  // Encoded surrogates, bytes that never appear in UTF-8, code points past U+10FFFF.
  EXPECT_EQ(Norm(fw_a + "\xED\xA0\x80\xF8\xFF\xF4\x90\x80\x80"), "a\xED\xA0\x80\xF8\xFF\xF4\x90\x80\x80");
  // Malformed text with nothing to change needs no change.
  EXPECT_FALSE(Changes("\x80\xC0\xA0\xE2\x80\xF0\x82\x80\x8B\xFF"));
  EXPECT_FALSE(Changes("\xE2\x80"));
  EXPECT_FALSE(Changes("\xC2"));
}

// One piece of generated input: its bytes and what it normalizes to.
struct Token {
  std::string in;
  std::string out;
  bool incomplete;  // ends in an unfinished sequence: must not be followed by a continuation byte
};

Token RandomToken(std::mt19937& rng, bool after_incomplete) {
  auto pick = [&](uint32_t n) { return uint32_t(rng() % n); };
  static const uint32_t kRemoved[] = {0x00AD, 0x034F, 0x061C, 0x115F, 0x17B5, 0x180E, 0x200B, 0x200D,
                                      0x202E, 0x2060, 0x2069, 0x3164, 0xFE0F, 0xFEFF, 0xFFA0, 0xE0001};
  static const char* kKept[] = {"\xC3\xA9",         "\xE2\x80\x9C",     "\xE4\xB8\xAD", "\xE3\x81\x82", "\xED\x95\x9C",
                                "\xF0\x9F\x98\x80", "\xF0\x9D\x9B\x82", "\xE2\x80\x94", "\xC2\xA9",     "\xEF\xAC\x81"};
  static const char* kInvalid[] = {"\xC0\xAF", "\xC1", "\xF5", "\xFF", "\xED\xA0\x80", "\xF4\x90\x80\x80"};
  static const char* kIncomplete[] = {"\xE2\x80", "\xEF\xBC", "\xF0\x9F\x98", "\xC2", "\xF3\xA0\x80", "\xE2"};
  for (;;) {
    switch (pick(9)) {
      case 0:
      case 1: {
        const char c = char(0x20 + pick(95));
        return {std::string(1, c), std::string(1, c), false};
      }
      case 2: {
        const uint32_t k = pick(94);
        return {Utf8(0xFF01 + k), std::string(1, char(0x21 + k)), false};
      }
      case 3: {
        const uint32_t k = pick(26);
        return {Utf8(0x1D5EE + k), std::string(1, char('a' + k)), false};  // sans-serif bold small
      }
      case 4:
        return {Utf8(kRemoved[pick(16)]), "", false};
      case 5: {
        static const uint32_t kSpaces[] = {0xA0, 0x1680, 0x2003, 0x202F, 0x205F, 0x3000};
        return {Utf8(kSpaces[pick(6)]), " ", false};
      }
      case 6: {
        const std::string k = kKept[pick(10)];
        return {k, k, false};
      }
      case 7: {
        if (pick(2) == 0) {
          const std::string k = kIncomplete[pick(6)];
          return {k, k, true};
        }
        const std::string k = kInvalid[pick(6)];
        return {k, k, false};
      }
      case 8: {
        if (after_incomplete) continue;  // would complete the sequence
        const std::string k(1, char(0x80 + pick(64)));
        return {k, k, false};
      }
    }
  }
}

// Decodes one well-formed UTF-8 character that fills [p, p + n) exactly.
bool IsOneCharacter(const unsigned char* p, size_t n) {
  if (n == 2) return p[0] >= 0xC2 && p[0] <= 0xDF && (p[1] & 0xC0) == 0x80;
  if (n == 3)
    return p[0] >= 0xE0 && p[0] <= 0xEF && (p[1] & 0xC0) == 0x80 && (p[2] & 0xC0) == 0x80 &&
           !(p[0] == 0xE0 && p[1] < 0xA0) && !(p[0] == 0xED && p[1] > 0x9F);
  if (n == 4)
    return p[0] >= 0xF0 && p[0] <= 0xF4 && (p[1] & 0xC0) == 0x80 && (p[2] & 0xC0) == 0x80 && (p[3] & 0xC0) == 0x80 &&
           !(p[0] == 0xF0 && p[1] < 0x90) && !(p[0] == 0xF4 && p[1] > 0x8F);
  return false;
}

TEST(NormalizeTest, RandomizedMapInvariants) {
  std::mt19937 rng(20240611);
  NormalizedText t;  // reused across iterations, as a worker would
  NormalizedText piece;
  for (int iter = 0; iter < 3000; ++iter) {
    std::string in, expected;
    bool incomplete = false;
    const int tokens = int(rng() % 40);
    for (int k = 0; k < tokens; ++k) {
      Token tok = RandomToken(rng, incomplete);
      in += tok.in;
      expected += tok.out;
      incomplete = tok.incomplete;
    }
    SCOPED_TRACE(testing::Message() << "iteration " << iter);
    const std::string got = Norm(in, &t);
    ASSERT_EQ(got, expected);
    if (got == in && !Changes(in)) continue;  // no change: nothing was written

    const size_t m = t.text.size();
    const auto* orig = reinterpret_cast<const unsigned char*>(in.data());
    auto normalizes_to = [&](uint32_t b, uint32_t e, const std::string& want) {
      const std::string slice = in.substr(b, e - b);
      return NormalizeForScreening(slice.data(), slice.size(), &piece) ? piece.text == want : slice == want;
    };
    uint32_t prev_end = 0;
    for (size_t i = 0; i < m; ++i) {
      const uint32_t b = t.map[i], e = t.map_end[i];
      ASSERT_LT(b, e);
      ASSERT_LE(e, t.map[i + 1]);
      ASSERT_LE(prev_end, b);
      // What lies between two kept bytes was removed entirely.
      ASSERT_TRUE(normalizes_to(prev_end, b, "")) << i;
      // Each normalized byte comes from one original byte (copied) or one
      // well-formed character (folded).
      if (e - b == 1) {
        ASSERT_EQ(orig[b], static_cast<unsigned char>(t.text[i])) << i;
      } else {
        ASSERT_TRUE(IsOneCharacter(orig + b, e - b)) << i;
        ASSERT_LT(static_cast<unsigned char>(t.text[i]), 0x80) << i;
        ASSERT_TRUE(normalizes_to(b, e, t.text.substr(i, 1))) << i;
      }
      prev_end = e;
    }
    ASSERT_TRUE(normalizes_to(prev_end, uint32_t(in.size()), ""));
    // Any span maps to original bytes that normalize to exactly that span.
    for (int k = 0; k < 8; ++k) {
      uint32_t b = uint32_t(rng() % (m + 1)), e = uint32_t(rng() % (m + 1));
      if (b > e) std::swap(b, e);
      uint32_t ob = 0, oe = 0;
      MapSpanToOriginal(t, b, e, &ob, &oe);
      ASSERT_LE(ob, oe);
      if (b == e) {
        ASSERT_EQ(ob, t.map[b]);
        ASSERT_EQ(oe, ob);
        continue;
      }
      ASSERT_TRUE(normalizes_to(ob, oe, t.text.substr(b, e - b))) << b << ".." << e;
    }
  }
}

TEST(NormalizeTest, WarmBuffersAreReusedWithoutAllocation) {
  std::string a = std::string(1000, 'x') + Utf8(0x200B) + std::string(1000, 'y') + Utf8(0xFF41);
  std::string b = Utf8(0xFF42) + std::string(1000, 'z') + Utf8(0x00AD) + std::string(999, 'w') + "\xC2\xA0";
  ASSERT_EQ(a.size(), b.size());
  NormalizedText t;
  ASSERT_TRUE(NormalizeForScreening(a.data(), a.size(), &t));
  const char* text = t.text.data();
  const uint32_t* map = t.map.data();
  const uint32_t* map_end = t.map_end.data();
  const size_t caps[] = {t.text.capacity(), t.map.capacity(), t.map_end.capacity()};
  const uint64_t before = g_allocations.load();
  for (int round = 0; round < 3; ++round) {
    ASSERT_TRUE(NormalizeForScreening(b.data(), b.size(), &t));
    ASSERT_TRUE(NormalizeForScreening(a.data(), a.size(), &t));
  }
  EXPECT_EQ(g_allocations.load(), before);
  EXPECT_EQ(t.text.data(), text);
  EXPECT_EQ(t.map.data(), map);
  EXPECT_EQ(t.map_end.data(), map_end);
  EXPECT_EQ(t.text.capacity(), caps[0]);
  EXPECT_EQ(t.map.capacity(), caps[1]);
  EXPECT_EQ(t.map_end.capacity(), caps[2]);
  EXPECT_EQ(t.text, std::string(1000, 'x') + std::string(1000, 'y') + "a");
}

TEST(NormalizeTest, NeverFilledTextMapsSpansToThemselves) {
  NormalizedText t;
  EXPECT_EQ(Span(t, 2, 5), P(2, 5));
}

}  // namespace
}  // namespace gavel
