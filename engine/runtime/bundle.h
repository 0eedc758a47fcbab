// The bundle: a compiled policy as portable bytes. Writing is for the
// compiler; reading is for the runtime, which trusts nothing in the bytes
// until every length, index and jump has been checked.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/runtime/program.h"

namespace gavel {

// Layout (little-endian):
//   0  "GAVELBND"         magic
//   8  u32 format version (kBundleFormatVersion)
//  12  u32 flags          (0; reserved for signatures)
//  16  u64 total size     (whole bundle, header included)
//  24  u8[16] XXH3-128 of bytes [48, total): checksum and identity
//  40  u8[8] reserved     (0)
//  48  body: the program's fields, each length-prefixed
constexpr uint32_t kBundleFormatVersion = 2;  // 2: screening databases, pattern kinds and validators
constexpr size_t kBundleHeaderSize = 48;
constexpr size_t kMaxBundleSize = 256u << 20;

// Serializes p (its non-derived fields). Sets p's hash to the bundle's.
std::string WriteBundle(Program* p);

// Parses, checks and links a bundle. Returns an empty string on success, else
// what is wrong ("bundle truncated: header says 1234 bytes, got 1000").
std::string ReadBundle(const void* data, size_t size, Program* out);

// "xxh3:" and 32 hex digits.
std::string HashHex(const Program& p);

}  // namespace gavel
