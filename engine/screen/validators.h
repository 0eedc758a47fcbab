// Native validators of screening matches. A pattern written with a validator
// flag (`/.../ luhn`) only counts where the bytes it matched pass the check:
// a credit-card number must satisfy Luhn, an IBAN mod-97, an SSN must not use
// an area, group or serial that is never issued, and a generic secret's value
// must look random. Portable C++17: no heap allocation, no exceptions (the
// WebAssembly runtime uses the same code).
#pragma once

#include <cstdint>
#include <string_view>

namespace gavel {

enum class Validator : uint8_t { kNone = 0, kLuhn = 1, kUsSsn = 2, kIban = 3, kEntropy = 4 };

// The flag a pattern is written with (`/.../ luhn`): luhn, ssn, iban, entropy. False if `name` is not one.
bool ValidatorByName(std::string_view name, Validator* v);
const char* ValidatorName(Validator v);  // "luhn", ...; "" for kNone

// True if `match` (exactly the bytes the pattern matched, after screening normalization) passes the validator.
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
