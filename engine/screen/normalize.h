// Text normalization before content screening, so that a phrase split by
// invisible characters ("ig\u200Bnore") or written in look-alike styles
// ("ｉｇｎｏｒｅ", "𝐢𝐠𝐧𝐨𝐫𝐞") is screened as the plain text it reads as. Runtime
// side: portable C++17, no exceptions, no allocation once the buffers are warm.
//
// What changes, decided per code point of well-formed UTF-8:
//  - Removed: invisible format characters that can split a word without being
//    seen: U+00AD soft hyphen, U+034F, U+061C, U+115F, U+1160, U+17B4, U+17B5,
//    U+180B-U+180F, U+200B-U+200F (zero-width space/joiners, direction marks),
//    U+202A-U+202E, U+2060-U+2064, U+2066-U+206F, U+3164, U+FE00-U+FE0F
//    (variation selectors), U+FEFF, U+FFA0, U+E0000-U+E007F (tag characters).
//  - Folded to one ASCII character: every code point whose Unicode
//    compatibility normalization (NFKC, Unicode 14.0) taken alone is exactly
//    one ASCII character. In practice these are styled or look-alike copies of
//    ASCII: full-width forms U+FF01-U+FF5E, Unicode spaces (U+00A0,
//    U+2000-U+200A, U+202F, U+205F, U+3000 become ' '), mathematical
//    alphanumerics (bold, italic, script, fraktur, double-struck, sans-serif,
//    monospace letters and digits, U+1D400-U+1D7FF, with the letter-like
//    symbols that complete those alphabets such as U+210E), circled letters and
//    digits (U+24B6-U+24E9, U+2460-U+2468, U+24EA), squared capitals
//    (U+1F130-U+1F149), superscript and subscript letters and digits, modifier
//    letters, small and vertical punctuation forms, one-letter Roman numerals
//    (U+2160 'I'), the Kelvin sign, long s (U+017F), the ordinal indicators.
//    U+1680 Ogham space mark also becomes ' ' (NFKC keeps it). Not folded: what
//    NFKC expands to several characters ("ﬁ", "⑩", "㏂"), letters of other
//    scripts that merely look like Latin ones (Cyrillic "а"), and every letter
//    with a diacritic, precomposed or combining: "café" stays "café".
//  - Everything else, and every byte that is not part of a well-formed UTF-8
//    sequence (lone continuation bytes, truncated or overlong sequences,
//    encoded surrogates), is copied through unchanged.
// Case is not folded here: the scanner folds ASCII case per pattern flag.
// Every change makes the text shorter or keeps its length, never longer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace gavel {

// Per-worker buffers, reused across decisions (capacity is kept, so a warm
// worker does not allocate). Valid for the last call that returned true.
struct NormalizedText {
  std::string text;           // normalized bytes
  std::vector<uint32_t> map;  // map[i] = offset in the original of the first byte that produced normalized byte i;
                              // map[text.size()] = original length
  // map_end[i] = one past the last original byte that produced normalized byte
  // i (map[i] + 1 for a copied byte, map[i] + 2..4 for a folded character).
  // Needed because map alone cannot tell "a" followed by a removed soft hyphen
  // (the span of "a" is 1 byte) from a full-width "ａ" (3 bytes).
  std::vector<uint32_t> map_end;
};

// Normalizes `s` for screening. Returns false, writing nothing, when the text
// needs no change: the common case, and fast (pure ASCII is checked 16 bytes at
// a time with SSE2, 8 elsewhere: about 40 ns for 4 KB; other text is decoded
// only at the few lead bytes that can start a character that changes).
// Otherwise fills *out and returns true. Never reads past s[n - 1]. A text of
// 2^32 - 1 bytes or more is left unchanged (false): offsets are 32-bit.
bool NormalizeForScreening(const char* s, size_t n, NormalizedText* out);

// Maps the span [begin, end) of t.text back to the original bytes
// [*obegin, *oend) that produced it: from the first byte of the character that
// produced normalized byte `begin` to the last byte of the character that
// produced byte `end - 1`. A removed character between two kept bytes belongs
// to neither: a span ending just before it, or starting just after it, leaves
// it out; a span around it includes it. An empty span maps to an empty span at
// the original position of normalized byte `begin`. Out-of-range arguments are
// clamped to the text.
void MapSpanToOriginal(const NormalizedText& t, uint32_t begin, uint32_t end, uint32_t* obegin, uint32_t* oend);

}  // namespace gavel
