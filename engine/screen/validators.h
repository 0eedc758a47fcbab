// Native validators of screening matches. A pattern written with a validator
// flag (`/.../ luhn`) only counts where the bytes it matched pass the check:
// a credit-card number must satisfy Luhn, an IBAN mod-97, an SSN must not use
// an area, group or serial that is never issued, and a generic secret's value
// must look random. Portable C++17: no heap allocation, no exceptions (the
// WebAssembly runtime uses the same code).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace gavel {

enum class Validator : uint8_t { kNone = 0, kLuhn = 1, kUsSsn = 2, kIban = 3, kEntropy = 4 };

// The flag a pattern is written with (`/.../ luhn`): luhn, ssn, iban, entropy. False if `name` is not one.
bool ValidatorByName(std::string_view name, Validator* v);
const char* ValidatorName(Validator v);  // "luhn", ...; "" for kNone

// The longest match any validator reads, in bytes. Every validator's work is
// bounded by it: a longer match is decided without being read (see Validate),
// so validating one candidate costs at most this many bytes whatever the text.
constexpr size_t kMaxValidatedMatch = 512;

// The longest match `v` reads (at most kMaxValidatedMatch). A luhn match
// longer than 37 bytes (19 digits and 18 separators) or an iban match longer
// than 67 (34 characters and 33 spaces) can never pass, so those limits are
// exact.
size_t MaxValidatedLength(Validator v);

// What a match longer than MaxValidatedLength(v) counts as: false (fails) for
// luhn and iban, which cannot accept it; true (passes, fail closed) for ssn
// and entropy, which skip or trim bytes and so might have accepted it, and
// whose patterns are then treated as present rather than missed.
bool OverlongMatchPasses(Validator v);

// The longest value the entropy validator accepts, in bytes.
constexpr size_t kMaxEntropyValue = 256;

// True for a byte that can neither end nor begin an entropy value, nor split
// one (not a blank, quote, `=`, `:`, `>`, `,` or `;`). When the last
// kMaxEntropyValue + 1 bytes of a match are all such bytes, its value is
// longer than entropy accepts, so the match fails without being read: this is
// how a run of key characters too long to be a key is rejected in constant
// time per end.
bool InsideEntropyValue(char c);

// The entropy check of a match that grows: screening meets the candidates of
// one start in order of their end, and when the bytes between two ends are
// all InsideEntropyValue, the later value is the earlier one extended by
// them. Extending costs the added bytes, so the ends of one start cost their
// longest value, not the sum of all. Decisions equal Validate(kEntropy, ...)
// on the whole match.
class EntropyCursor {
 public:
  // Checks `match` as Validate(kEntropy, match) does (callers keep it within
  // kMaxValidatedMatch) and remembers its value.
  bool Start(std::string_view match);
  // True if the value ends where the match ends and is not empty, so bytes
  // appended to the match extend it.
  bool CanExtend() const { return extendable_; }
  // Appends `more` (all InsideEntropyValue) to the match; returns the check of
  // the longer match.
  bool Extend(std::string_view more);

 private:
  void Add(char c);
  bool Passes() const;

  uint16_t counts_[256];
  uint64_t sum_ = 0;  // sum of c * log2(c) over the byte counts, fixed point (2^-32)
  uint32_t len_ = 0;
  char last_[2] = {0, 0};  // the value's last two bytes, for "://" across an extension
  bool extendable_ = false, url_ = false, hex_ = true, mixed_ = false;
  bool run_letter_ = false, run_digit_ = false;
  uint32_t run_ = 0;
};

// True if `match` (exactly the bytes the pattern matched, after screening normalization) passes the validator.
// Reads at most MaxValidatedLength(v) bytes of it; a longer match is OverlongMatchPasses(v).
//
// - luhn: digits with optional single space or dash separators, 13 to 19 digits, Luhn checksum, not all one
//   digit repeated.
// - ssn: exactly nine digits in the match (any other bytes, such as a keyword or separators, are ignored);
//   area not 000, 666 or 900-999, group not 00, serial not 0000; not one digit repeated nine times; not a
//   well-known sample number (078-05-1120, 219-09-9999, 123-45-6789).
// - iban: two letters, two check digits and the BBAN, optionally in space-separated groups, ASCII letters of
//   either case; the length must be the registered one of the country (unknown countries fail) and the number
//   mod 97 must be 1.
// - entropy: the value of a `name = value` match (see EntropyValue in validators.cc) is at least 16 and at
//   most 256 bytes, has at least 3.5 bits of Shannon entropy per byte, is not a URL, and is not made only of
//   words and numbers (at least one maximal run of letters and digits mixes both).
// kNone accepts everything.
bool Validate(Validator v, std::string_view match);

}  // namespace gavel
