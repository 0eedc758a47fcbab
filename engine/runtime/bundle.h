// The bundle: a compiled policy as portable bytes. Writing is for the
// compiler; reading is for the runtime, which trusts nothing in the bytes
// until every length, index and jump has been checked.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/runtime/program.h"
#include "engine/runtime/signature.h"
#include "engine/runtime/status.h"

namespace gavel {

// Layout (little-endian):
//   0  "GAVELBND"         magic
//   8  u32 format version (kBundleFormatVersion)
//  12  u32 flags          (0; reserved)
//  16  u64 total size     (whole bundle, header included)
//  24  u8[16] XXH3-128 of bytes [48, total): checksum and identity
//  40  u8[8] reserved     (0)
//  48  body: the program's fields, each length-prefixed
//
// A signed bundle is an envelope around those bytes, which stay unchanged
// (so the bundle's identity, its XXH3-128, is the same signed or not):
//   0  "GAVELSIG"         magic
//   8  u32 envelope version (kSignedFormatVersion)
//  12  u32 flags          (0; reserved)
//  16  u8[8] key id       (signature.h: SHA-256 of the public key, first 8 bytes)
//  24  u64 total size     (whole envelope, signature included)
//  32  the bundle, exactly as above
//  total-64  u8[64] Ed25519 signature of bytes [0, total-64)
// The signature covers the envelope's header too, so the key id, sizes and
// flags cannot be changed without breaking it. A reader that trusts keys
// checks magic, envelope version, size, key id and signature -- fixed offsets
// only -- before it reads one byte of the bundle inside. The checksum alone
// detects accidents, not an attacker: see docs/design.md, "Threat model".
constexpr uint32_t kBundleFormatVersion = 2;  // 2: screening databases, pattern kinds and validators
constexpr size_t kBundleHeaderSize = 48;
constexpr size_t kMaxBundleSize = 256u << 20;
constexpr uint32_t kSignedFormatVersion = 1;
constexpr size_t kSignedHeaderSize = 32;
constexpr size_t kSignatureSize = 64;  // == kSignatureBytes

// What a signed bundle's reader trusts. Empty: no key, so unsigned bundles
// are accepted (and signed ones too, their signature unchecked).
using TrustedKeys = std::vector<PublicKey>;

// The bundle bytes of an envelope, once opened.
struct OpenedBundle {
  const uint8_t* bytes = nullptr;
  size_t size = 0;
  // The key id (16 hex digits) whose signature was verified, or "unsigned"
  // when none was (no trusted keys, or an unsigned bundle).
  std::string signer;
};

// Checks the signature envelope, if any, against `trusted` before anything
// inside it is read. With trusted keys, only a bundle signed by one of them
// passes. Returns ok and fills *out (pointing into data), else what is wrong:
// kUnsigned ("bundle is unsigned, but this engine trusts only bundles signed
// by key id ..."), kUntrustedKey ("bundle is signed by unknown key id
// 0123456789abcdef ..."), kBadSignature ("bad signature: ..."),
// kNewerFormat/kOlderFormat (the envelope's version), kCorruptBundle (bad
// magic, truncated or padded, unknown flags), kTooLarge.
Status OpenBundle(const void* data, size_t size, const TrustedKeys& trusted, OpenedBundle* out);

// The bytes a signer signs for `bundle` with the key `id`: the envelope's
// header and the bundle. Appending the 64-byte signature of exactly these
// bytes completes the signed bundle.
std::string SignedBundlePrefix(const std::string& bundle, const KeyId& id);

// Serializes p (its non-derived fields). Sets p's hash to the bundle's.
std::string WriteBundle(Program* p);

// Parses, checks and links a bundle (the bytes inside an envelope: OpenBundle
// comes first). Returns ok, else what is wrong: kNewerFormat/kOlderFormat
// (the format version), kTooLarge (over kMaxBundleSize), kCorruptBundle
// (everything else: "bundle truncated or padded: header says 1234 bytes, got
// 1000", "malformed bundle: ...", "invalid bundle: ..." when the program
// does not verify). *out is left empty on failure.
Status ReadBundle(const void* data, size_t size, Program* out);

// "xxh3:" and 32 hex digits.
std::string HashHex(const Program& p);

}  // namespace gavel
