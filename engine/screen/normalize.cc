// Screening normalizer: see normalize.h for what changes and why.
//
// Layout of the work: a fast pass finds the first character that changes
// (ASCII is skipped 64 bytes at a time, with SSE2 where the target has it and
// 8-byte words elsewhere; other bytes cost one table load unless they are one
// of the few lead bytes that can start a changing character, which are decoded
// and looked up in a two-stage table); if there is none the text is left
// alone. Otherwise the unchanged prefix is copied in one step and the rest is
// rewritten in one pass.
#include "engine/screen/normalize.h"

#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

// Classify sits in both hot loops; the compiler would otherwise keep it out of
// line, which costs about a third of the no-change pass over non-ASCII text.
#if defined(__GNUC__)
#define GAVEL_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define GAVEL_ALWAYS_INLINE inline
#endif

namespace gavel {
namespace {

enum Kind : uint8_t { kRemove, kSame, kSeq };

// A run of code points that change: removed, all folded to `out` (kSame), or
// folded to out, out + 1, ... (kSeq).
struct Change {
  uint32_t lo;
  uint32_t hi;
  char out;
  Kind kind;
};

// Generated from Python's unicodedata (Unicode 14.0): every code point below
// U+20000 whose NFKC normalization alone is one ASCII character, plus U+1680
// and the removed format characters listed in normalize.h. The tag characters
// U+E0000-U+E007F are tested separately (they are the only change above
// U+1FFFF). Sorted, not overlapping.
constexpr Change kChanges[] = {
    {0x00A0, 0x00A0, ' ', kSame},    // no-break space
    {0x00AA, 0x00AA, 'a', kSame},    // feminine ordinal indicator
    {0x00AD, 0x00AD, 0, kRemove},    // soft hyphen
    {0x00B2, 0x00B3, '2', kSeq},     // superscript two ..
    {0x00B9, 0x00B9, '1', kSame},    // superscript one
    {0x00BA, 0x00BA, 'o', kSame},    // masculine ordinal indicator
    {0x017F, 0x017F, 's', kSame},    // latin small letter long s
    {0x02B0, 0x02B0, 'h', kSame},    // modifier letter small h
    {0x02B2, 0x02B2, 'j', kSame},    // modifier letter small j
    {0x02B3, 0x02B3, 'r', kSame},    // modifier letter small r
    {0x02B7, 0x02B7, 'w', kSame},    // modifier letter small w
    {0x02B8, 0x02B8, 'y', kSame},    // modifier letter small y
    {0x02E1, 0x02E1, 'l', kSame},    // modifier letter small l
    {0x02E2, 0x02E2, 's', kSame},    // modifier letter small s
    {0x02E3, 0x02E3, 'x', kSame},    // modifier letter small x
    {0x034F, 0x034F, 0, kRemove},    // combining grapheme joiner
    {0x037E, 0x037E, ';', kSame},    // greek question mark
    {0x061C, 0x061C, 0, kRemove},    // arabic letter mark
    {0x115F, 0x1160, 0, kRemove},    // hangul choseong filler ..
    {0x1680, 0x1680, ' ', kSame},    // ogham space mark
    {0x17B4, 0x17B5, 0, kRemove},    // khmer vowel inherent aq ..
    {0x180B, 0x180F, 0, kRemove},    // mongolian free variation selector one ..
    {0x1D2C, 0x1D2C, 'A', kSame},    // modifier letter capital a
    {0x1D2E, 0x1D2E, 'B', kSame},    // modifier letter capital b
    {0x1D30, 0x1D31, 'D', kSeq},     // modifier letter capital d ..
    {0x1D33, 0x1D3A, 'G', kSeq},     // modifier letter capital g ..
    {0x1D3C, 0x1D3C, 'O', kSame},    // modifier letter capital o
    {0x1D3E, 0x1D3E, 'P', kSame},    // modifier letter capital p
    {0x1D3F, 0x1D3F, 'R', kSame},    // modifier letter capital r
    {0x1D40, 0x1D41, 'T', kSeq},     // modifier letter capital t ..
    {0x1D42, 0x1D42, 'W', kSame},    // modifier letter capital w
    {0x1D43, 0x1D43, 'a', kSame},    // modifier letter small a
    {0x1D47, 0x1D47, 'b', kSame},    // modifier letter small b
    {0x1D48, 0x1D49, 'd', kSeq},     // modifier letter small d ..
    {0x1D4D, 0x1D4D, 'g', kSame},    // modifier letter small g
    {0x1D4F, 0x1D4F, 'k', kSame},    // modifier letter small k
    {0x1D50, 0x1D50, 'm', kSame},    // modifier letter small m
    {0x1D52, 0x1D52, 'o', kSame},    // modifier letter small o
    {0x1D56, 0x1D56, 'p', kSame},    // modifier letter small p
    {0x1D57, 0x1D58, 't', kSeq},     // modifier letter small t ..
    {0x1D5B, 0x1D5B, 'v', kSame},    // modifier letter small v
    {0x1D62, 0x1D62, 'i', kSame},    // latin subscript small letter i
    {0x1D63, 0x1D63, 'r', kSame},    // latin subscript small letter r
    {0x1D64, 0x1D65, 'u', kSeq},     // latin subscript small letter u ..
    {0x1D9C, 0x1D9C, 'c', kSame},    // modifier letter small c
    {0x1DA0, 0x1DA0, 'f', kSame},    // modifier letter small f
    {0x1DBB, 0x1DBB, 'z', kSame},    // modifier letter small z
    {0x1FEF, 0x1FEF, '`', kSame},    // greek varia
    {0x2000, 0x200A, ' ', kSame},    // en quad ..
    {0x200B, 0x200F, 0, kRemove},    // zero width space ..
    {0x2024, 0x2024, '.', kSame},    // one dot leader
    {0x202A, 0x202E, 0, kRemove},    // left-to-right embedding ..
    {0x202F, 0x202F, ' ', kSame},    // narrow no-break space
    {0x205F, 0x205F, ' ', kSame},    // medium mathematical space
    {0x2060, 0x2064, 0, kRemove},    // word joiner ..
    {0x2066, 0x206F, 0, kRemove},    // left-to-right isolate ..
    {0x2070, 0x2070, '0', kSame},    // superscript zero
    {0x2071, 0x2071, 'i', kSame},    // superscript latin small letter i
    {0x2074, 0x2079, '4', kSeq},     // superscript four ..
    {0x207A, 0x207A, '+', kSame},    // superscript plus sign
    {0x207C, 0x207C, '=', kSame},    // superscript equals sign
    {0x207D, 0x207E, '(', kSeq},     // superscript left parenthesis ..
    {0x207F, 0x207F, 'n', kSame},    // superscript latin small letter n
    {0x2080, 0x2089, '0', kSeq},     // subscript zero ..
    {0x208A, 0x208A, '+', kSame},    // subscript plus sign
    {0x208C, 0x208C, '=', kSame},    // subscript equals sign
    {0x208D, 0x208E, '(', kSeq},     // subscript left parenthesis ..
    {0x2090, 0x2090, 'a', kSame},    // latin subscript small letter a
    {0x2091, 0x2091, 'e', kSame},    // latin subscript small letter e
    {0x2092, 0x2092, 'o', kSame},    // latin subscript small letter o
    {0x2093, 0x2093, 'x', kSame},    // latin subscript small letter x
    {0x2095, 0x2095, 'h', kSame},    // latin subscript small letter h
    {0x2096, 0x2099, 'k', kSeq},     // latin subscript small letter k ..
    {0x209A, 0x209A, 'p', kSame},    // latin subscript small letter p
    {0x209B, 0x209C, 's', kSeq},     // latin subscript small letter s ..
    {0x2102, 0x2102, 'C', kSame},    // double-struck capital c
    {0x210A, 0x210A, 'g', kSame},    // script small g
    {0x210B, 0x210D, 'H', kSame},    // script capital h ..
    {0x210E, 0x210E, 'h', kSame},    // planck constant
    {0x2110, 0x2111, 'I', kSame},    // script capital i ..
    {0x2112, 0x2112, 'L', kSame},    // script capital l
    {0x2113, 0x2113, 'l', kSame},    // script small l
    {0x2115, 0x2115, 'N', kSame},    // double-struck capital n
    {0x2119, 0x211B, 'P', kSeq},     // double-struck capital p ..
    {0x211C, 0x211D, 'R', kSame},    // black-letter capital r ..
    {0x2124, 0x2124, 'Z', kSame},    // double-struck capital z
    {0x2128, 0x2128, 'Z', kSame},    // black-letter capital z
    {0x212A, 0x212A, 'K', kSame},    // kelvin sign
    {0x212C, 0x212D, 'B', kSeq},     // script capital b ..
    {0x212F, 0x212F, 'e', kSame},    // script small e
    {0x2130, 0x2131, 'E', kSeq},     // script capital e ..
    {0x2133, 0x2133, 'M', kSame},    // script capital m
    {0x2134, 0x2134, 'o', kSame},    // script small o
    {0x2139, 0x2139, 'i', kSame},    // information source
    {0x2145, 0x2145, 'D', kSame},    // double-struck italic capital d
    {0x2146, 0x2147, 'd', kSeq},     // double-struck italic small d ..
    {0x2148, 0x2149, 'i', kSeq},     // double-struck italic small i ..
    {0x2160, 0x2160, 'I', kSame},    // roman numeral one
    {0x2164, 0x2164, 'V', kSame},    // roman numeral five
    {0x2169, 0x2169, 'X', kSame},    // roman numeral ten
    {0x216C, 0x216C, 'L', kSame},    // roman numeral fifty
    {0x216D, 0x216E, 'C', kSeq},     // roman numeral one hundred ..
    {0x216F, 0x216F, 'M', kSame},    // roman numeral one thousand
    {0x2170, 0x2170, 'i', kSame},    // small roman numeral one
    {0x2174, 0x2174, 'v', kSame},    // small roman numeral five
    {0x2179, 0x2179, 'x', kSame},    // small roman numeral ten
    {0x217C, 0x217C, 'l', kSame},    // small roman numeral fifty
    {0x217D, 0x217E, 'c', kSeq},     // small roman numeral one hundred ..
    {0x217F, 0x217F, 'm', kSame},    // small roman numeral one thousand
    {0x2460, 0x2468, '1', kSeq},     // circled digit one ..
    {0x24B6, 0x24CF, 'A', kSeq},     // circled latin capital letter a ..
    {0x24D0, 0x24E9, 'a', kSeq},     // circled latin small letter a ..
    {0x24EA, 0x24EA, '0', kSame},    // circled digit zero
    {0x2C7C, 0x2C7C, 'j', kSame},    // latin subscript small letter j
    {0x2C7D, 0x2C7D, 'V', kSame},    // modifier letter capital v
    {0x3000, 0x3000, ' ', kSame},    // ideographic space
    {0x3164, 0x3164, 0, kRemove},    // hangul filler
    {0xA7F2, 0xA7F2, 'C', kSame},    // modifier letter capital c
    {0xA7F3, 0xA7F3, 'F', kSame},    // modifier letter capital f
    {0xA7F4, 0xA7F4, 'Q', kSame},    // modifier letter capital q
    {0xFB29, 0xFB29, '+', kSame},    // hebrew letter alternative plus sign
    {0xFE00, 0xFE0F, 0, kRemove},    // variation selector-1 ..
    {0xFE10, 0xFE10, ',', kSame},    // presentation form for vertical comma
    {0xFE13, 0xFE14, ':', kSeq},     // presentation form for vertical colon ..
    {0xFE15, 0xFE15, '!', kSame},    // presentation form for vertical exclamation mark
    {0xFE16, 0xFE16, '?', kSame},    // presentation form for vertical question mark
    {0xFE33, 0xFE34, '_', kSame},    // presentation form for vertical low line ..
    {0xFE35, 0xFE36, '(', kSeq},     // presentation form for vertical left parenthesis ..
    {0xFE37, 0xFE37, '{', kSame},    // presentation form for vertical left curly bracket
    {0xFE38, 0xFE38, '}', kSame},    // presentation form for vertical right curly bracket
    {0xFE47, 0xFE47, '[', kSame},    // presentation form for vertical left square bracket
    {0xFE48, 0xFE48, ']', kSame},    // presentation form for vertical right square bracket
    {0xFE4D, 0xFE4F, '_', kSame},    // dashed low line ..
    {0xFE50, 0xFE50, ',', kSame},    // small comma
    {0xFE52, 0xFE52, '.', kSame},    // small full stop
    {0xFE54, 0xFE54, ';', kSame},    // small semicolon
    {0xFE55, 0xFE55, ':', kSame},    // small colon
    {0xFE56, 0xFE56, '?', kSame},    // small question mark
    {0xFE57, 0xFE57, '!', kSame},    // small exclamation mark
    {0xFE59, 0xFE5A, '(', kSeq},     // small left parenthesis ..
    {0xFE5B, 0xFE5B, '{', kSame},    // small left curly bracket
    {0xFE5C, 0xFE5C, '}', kSame},    // small right curly bracket
    {0xFE5F, 0xFE5F, '#', kSame},    // small number sign
    {0xFE60, 0xFE60, '&', kSame},    // small ampersand
    {0xFE61, 0xFE62, '*', kSeq},     // small asterisk ..
    {0xFE63, 0xFE63, '-', kSame},    // small hyphen-minus
    {0xFE64, 0xFE64, '<', kSame},    // small less-than sign
    {0xFE65, 0xFE65, '>', kSame},    // small greater-than sign
    {0xFE66, 0xFE66, '=', kSame},    // small equals sign
    {0xFE68, 0xFE68, '\\', kSame},   // small reverse solidus
    {0xFE69, 0xFE6A, '$', kSeq},     // small dollar sign ..
    {0xFE6B, 0xFE6B, '@', kSame},    // small commercial at
    {0xFEFF, 0xFEFF, 0, kRemove},    // zero width no-break space
    {0xFF01, 0xFF5E, '!', kSeq},     // fullwidth exclamation mark ..
    {0xFFA0, 0xFFA0, 0, kRemove},    // halfwidth hangul filler
    {0x107A5, 0x107A5, 'q', kSame},  // modifier letter small q
    {0x1D400, 0x1D419, 'A', kSeq},   // mathematical bold capital a ..
    {0x1D41A, 0x1D433, 'a', kSeq},   // mathematical bold small a ..
    {0x1D434, 0x1D44D, 'A', kSeq},   // mathematical italic capital a ..
    {0x1D44E, 0x1D454, 'a', kSeq},   // mathematical italic small a ..
    {0x1D456, 0x1D467, 'i', kSeq},   // mathematical italic small i ..
    {0x1D468, 0x1D481, 'A', kSeq},   // mathematical bold italic capital a ..
    {0x1D482, 0x1D49B, 'a', kSeq},   // mathematical bold italic small a ..
    {0x1D49C, 0x1D49C, 'A', kSame},  // mathematical script capital a
    {0x1D49E, 0x1D49F, 'C', kSeq},   // mathematical script capital c ..
    {0x1D4A2, 0x1D4A2, 'G', kSame},  // mathematical script capital g
    {0x1D4A5, 0x1D4A6, 'J', kSeq},   // mathematical script capital j ..
    {0x1D4A9, 0x1D4AC, 'N', kSeq},   // mathematical script capital n ..
    {0x1D4AE, 0x1D4B5, 'S', kSeq},   // mathematical script capital s ..
    {0x1D4B6, 0x1D4B9, 'a', kSeq},   // mathematical script small a ..
    {0x1D4BB, 0x1D4BB, 'f', kSame},  // mathematical script small f
    {0x1D4BD, 0x1D4C3, 'h', kSeq},   // mathematical script small h ..
    {0x1D4C5, 0x1D4CF, 'p', kSeq},   // mathematical script small p ..
    {0x1D4D0, 0x1D4E9, 'A', kSeq},   // mathematical bold script capital a ..
    {0x1D4EA, 0x1D503, 'a', kSeq},   // mathematical bold script small a ..
    {0x1D504, 0x1D505, 'A', kSeq},   // mathematical fraktur capital a ..
    {0x1D507, 0x1D50A, 'D', kSeq},   // mathematical fraktur capital d ..
    {0x1D50D, 0x1D514, 'J', kSeq},   // mathematical fraktur capital j ..
    {0x1D516, 0x1D51C, 'S', kSeq},   // mathematical fraktur capital s ..
    {0x1D51E, 0x1D537, 'a', kSeq},   // mathematical fraktur small a ..
    {0x1D538, 0x1D539, 'A', kSeq},   // mathematical double-struck capital a ..
    {0x1D53B, 0x1D53E, 'D', kSeq},   // mathematical double-struck capital d ..
    {0x1D540, 0x1D544, 'I', kSeq},   // mathematical double-struck capital i ..
    {0x1D546, 0x1D546, 'O', kSame},  // mathematical double-struck capital o
    {0x1D54A, 0x1D550, 'S', kSeq},   // mathematical double-struck capital s ..
    {0x1D552, 0x1D56B, 'a', kSeq},   // mathematical double-struck small a ..
    {0x1D56C, 0x1D585, 'A', kSeq},   // mathematical bold fraktur capital a ..
    {0x1D586, 0x1D59F, 'a', kSeq},   // mathematical bold fraktur small a ..
    {0x1D5A0, 0x1D5B9, 'A', kSeq},   // mathematical sans-serif capital a ..
    {0x1D5BA, 0x1D5D3, 'a', kSeq},   // mathematical sans-serif small a ..
    {0x1D5D4, 0x1D5ED, 'A', kSeq},   // mathematical sans-serif bold capital a ..
    {0x1D5EE, 0x1D607, 'a', kSeq},   // mathematical sans-serif bold small a ..
    {0x1D608, 0x1D621, 'A', kSeq},   // mathematical sans-serif italic capital a ..
    {0x1D622, 0x1D63B, 'a', kSeq},   // mathematical sans-serif italic small a ..
    {0x1D63C, 0x1D655, 'A', kSeq},   // mathematical sans-serif bold italic capital a ..
    {0x1D656, 0x1D66F, 'a', kSeq},   // mathematical sans-serif bold italic small a ..
    {0x1D670, 0x1D689, 'A', kSeq},   // mathematical monospace capital a ..
    {0x1D68A, 0x1D6A3, 'a', kSeq},   // mathematical monospace small a ..
    {0x1D7CE, 0x1D7D7, '0', kSeq},   // mathematical bold digit zero ..
    {0x1D7D8, 0x1D7E1, '0', kSeq},   // mathematical double-struck digit zero ..
    {0x1D7E2, 0x1D7EB, '0', kSeq},   // mathematical sans-serif digit zero ..
    {0x1D7EC, 0x1D7F5, '0', kSeq},   // mathematical sans-serif bold digit zero ..
    {0x1D7F6, 0x1D7FF, '0', kSeq},   // mathematical monospace digit zero ..
    {0x1F12B, 0x1F12B, 'C', kSame},  // circled italic latin capital letter c
    {0x1F12C, 0x1F12C, 'R', kSame},  // circled italic latin capital letter r
    {0x1F130, 0x1F149, 'A', kSeq},   // squared latin capital letter a ..
    {0x1FBF0, 0x1FBF9, '0', kSeq},   // segmented digit zero ..
};

constexpr uint32_t kTableLimit = 0x20000;  // code points below this are looked up in kTables
constexpr uint8_t kKeep = 0;               // table value: no change
constexpr uint8_t kDrop = 0xFF;            // table value: remove; any other value is the ASCII replacement

constexpr size_t CountBlocks() {
  size_t count = 0;
  uint32_t last = ~0u;
  for (const Change& c : kChanges) {
    for (uint32_t b = c.lo >> 6; b <= c.hi >> 6; ++b) {
      if (b != last) ++count;
      last = b;
    }
  }
  return count;
}

constexpr size_t kBlocks = CountBlocks();
static_assert(kBlocks < 255, "block index must fit in a byte");

// Two-stage lookup: block[cp >> 6] is 0 for a block of 64 code points where
// nothing changes, else 1 + the index of its 64 entries in `entry`. `lead`
// marks the UTF-8 lead bytes that can start a changing character.
struct Tables {
  uint8_t block[kTableLimit >> 6];
  uint8_t entry[kBlocks][64];
  bool lead[256];
};

constexpr uint8_t LeadByte(uint32_t cp) {
  return cp < 0x80      ? uint8_t(cp)
         : cp < 0x800   ? uint8_t(0xC0 | (cp >> 6))
         : cp < 0x10000 ? uint8_t(0xE0 | (cp >> 12))
                        : uint8_t(0xF0 | (cp >> 18));
}

constexpr Tables BuildTables() {
  Tables t{};
  size_t used = 0;
  for (const Change& c : kChanges) {
    for (uint32_t cp = c.lo; cp <= c.hi; ++cp) {
      uint8_t& b = t.block[cp >> 6];
      if (b == 0) b = uint8_t(++used);
      t.entry[b - 1][cp & 63] = c.kind == kRemove ? kDrop
                                : c.kind == kSame ? uint8_t(c.out)
                                                  : uint8_t(c.out + (cp - c.lo));
      t.lead[LeadByte(cp)] = true;
    }
  }
  t.lead[LeadByte(0xE0000)] = true;  // tag characters
  return t;
}

constexpr Tables kTables = BuildTables();

// Classify relies on these: overlong two-byte leads and bytes that never occur
// in UTF-8 are not lead bytes, nor is any ASCII byte.
constexpr bool LeadsAreSound() {
  for (int b = 0; b < 0xC2; ++b)
    if (kTables.lead[b]) return false;
  for (int b = 0xF5; b < 0x100; ++b)
    if (kTables.lead[b]) return false;
  return true;
}
static_assert(LeadsAreSound(), "lead bytes must be C2..F4");

// What to do with the bytes at one position.
struct Step {
  uint8_t action;  // kKeep, kDrop or the ASCII replacement
  uint8_t len;     // bytes the step covers
};

inline bool IsCont(uint8_t b) { return (b & 0xC0) == 0x80; }

inline uint8_t Lookup(uint32_t block, uint8_t low6) {
  const uint8_t b = kTables.block[block];
  return b == 0 ? kKeep : kTables.entry[b - 1][low6 & 0x3F];
}

// Decodes the UTF-8 sequence at p (avail > 0 bytes readable, p[0] a lead byte
// marked in kTables.lead) and looks it up. A malformed sequence is a one-byte
// kKeep step.
GAVEL_ALWAYS_INLINE Step Classify(const uint8_t* p, size_t avail) {
  const uint8_t b0 = p[0];
  if (b0 < 0xE0) {  // C2..DF
    if (avail < 2 || !IsCont(p[1])) return {kKeep, 1};
    return {Lookup(b0 & 0x1F, p[1]), 2};
  }
  if (b0 < 0xF0) {
    if (avail < 3 || !IsCont(p[1]) || !IsCont(p[2])) return {kKeep, 1};
    if ((b0 == 0xE0 && p[1] < 0xA0) || (b0 == 0xED && p[1] > 0x9F)) return {kKeep, 1};  // overlong, surrogate
    return {Lookup((uint32_t(b0 & 0x0F) << 6) | (p[1] & 0x3F), p[2]), 3};
  }
  // F0..F4
  if (avail < 4 || !IsCont(p[1]) || !IsCont(p[2]) || !IsCont(p[3])) return {kKeep, 1};
  if ((b0 == 0xF0 && p[1] < 0x90) || (b0 == 0xF4 && p[1] > 0x8F)) return {kKeep, 1};  // overlong, > U+10FFFF
  const uint32_t block = (uint32_t(b0 & 0x07) << 12) | (uint32_t(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
  if (block < (kTableLimit >> 6)) return {Lookup(block, p[3]), 4};
  return {block == (0xE0000 >> 6) || block == (0xE0040 >> 6) ? kDrop : kKeep, 4};  // tag characters
}

// Returns the first i' >= i with p[i'] >= 0x80, or n.
inline size_t SkipAscii(const uint8_t* p, size_t i, size_t n) {
#if defined(__SSE2__)
  while (n - i >= 64) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i + 16));
    const __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i + 32));
    const __m128i d = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i + 48));
    if (_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(a, b), _mm_or_si128(c, d))) != 0) break;
    i += 64;
  }
  while (n - i >= 16) {
    const int m = _mm_movemask_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i)));
    if (m != 0) return i + size_t(__builtin_ctz(unsigned(m)));
    i += 16;
  }
#else
  constexpr uint64_t kHighBits = 0x8080808080808080ull;
  while (n - i >= 32) {
    uint64_t w[4];
    std::memcpy(w, p + i, 32);
    if (((w[0] | w[1]) | (w[2] | w[3])) & kHighBits) break;
    i += 32;
  }
  while (n - i >= 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    if (w & kHighBits) break;
    i += 8;
  }
#endif
  while (i < n && p[i] < 0x80) ++i;
  return i;
}

// Returns the position of the next character at or after i that changes, with
// its step in *st, or n.
size_t FindChange(const uint8_t* p, size_t i, size_t n, Step* st) {
  for (;;) {
    i = SkipAscii(p, i, n);
    // Non-ASCII bytes that cannot start a changing character are passed one by
    // one: a continuation byte is never a lead byte, so this cannot land in the
    // middle of a character that changes.
    while (i < n && p[i] >= 0x80) {
      if (kTables.lead[p[i]]) {
        const Step s = Classify(p + i, n - i);
        if (s.action != kKeep) {
          *st = s;
          return i;
        }
        i += s.len;
      } else {
        ++i;
      }
    }
    if (i >= n) return n;
  }
}

// Output cursor of a rewrite.
struct Writer {
  char* text;
  uint32_t* map;
  uint32_t* map_end;
  size_t o = 0;  // bytes written

  // Copies the unchanged bytes [from, to) of the original.
  void Copy(const char* s, size_t from, size_t to) {
    const size_t len = to - from;
    uint32_t* m = map + o;
    uint32_t* e = map_end + o;
    const uint32_t base = uint32_t(from);
    size_t k = 0;
    if (len >= 16) {  // short runs (between changes in dense text) skip the call
      std::memcpy(text + o, s + from, len);
#if defined(__SSE2__)
      __m128i v = _mm_setr_epi32(int(base), int(base + 1), int(base + 2), int(base + 3));
      const __m128i one = _mm_set1_epi32(1), four = _mm_set1_epi32(4);
      for (; k + 4 <= len; k += 4) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(m + k), v);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(e + k), _mm_add_epi32(v, one));
        v = _mm_add_epi32(v, four);
      }
#endif
      for (; k < len; ++k) {
        m[k] = base + uint32_t(k);
        e[k] = base + uint32_t(k) + 1;
      }
    } else {
      for (; k < len; ++k) {
        text[o + k] = s[from + k];
        m[k] = base + uint32_t(k);
        e[k] = base + uint32_t(k) + 1;
      }
    }
    o += len;
  }

  // Writes one byte produced by the original bytes [from, to).
  void Put(char c, size_t from, size_t to) {
    text[o] = c;
    map[o] = uint32_t(from);
    map_end[o] = uint32_t(to);
    ++o;
  }
};

}  // namespace

bool NormalizeForScreening(const char* s, size_t n, NormalizedText* out) {
  if (n >= 0xFFFFFFFFu) return false;  // offsets are 32-bit
  const uint8_t* p = reinterpret_cast<const uint8_t*>(s);
  Step st{kKeep, 1};
  size_t i = FindChange(p, 0, n, &st);
  if (i == n) return false;

  // Every step keeps or shortens the text, so n bytes are enough.
  out->text.resize(n);
  out->map.resize(n + 1);
  out->map_end.resize(n);
  Writer w{&out->text[0], out->map.data(), out->map_end.data()};
  w.Copy(s, 0, i);
  if (st.action != kDrop) w.Put(char(st.action), i, i + st.len);
  i += st.len;
  // The rest in one pass: ASCII runs in bulk, other bytes one by one, changes
  // as they come.
  while (i < n) {
    const uint8_t b = p[i];
    if (b < 0x80) {
      const size_t j = SkipAscii(p, i, n);
      w.Copy(s, i, j);
      i = j;
    } else if (!kTables.lead[b]) {
      w.Put(char(b), i, i + 1);
      ++i;
    } else {
      st = Classify(p + i, n - i);
      if (st.action == kKeep) {
        w.Copy(s, i, i + st.len);
      } else if (st.action != kDrop) {
        w.Put(char(st.action), i, i + st.len);
      }
      i += st.len;
    }
  }
  w.map[w.o] = uint32_t(n);
  out->text.resize(w.o);
  out->map.resize(w.o + 1);
  out->map_end.resize(w.o);
  return true;
}

void MapSpanToOriginal(const NormalizedText& t, uint32_t begin, uint32_t end, uint32_t* obegin, uint32_t* oend) {
  const size_t size = t.text.size();
  if (t.map.size() != size + 1 || t.map_end.size() != size) {  // never filled: spans map to themselves
    *obegin = begin;
    *oend = end < begin ? begin : end;
    return;
  }
  if (end > size) end = uint32_t(size);
  if (begin > end) begin = end;
  *obegin = t.map[begin];
  *oend = begin == end ? *obegin : t.map_end[end - 1];
}

}  // namespace gavel
