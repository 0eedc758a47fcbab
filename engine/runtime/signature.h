// Ed25519 signatures of bundles, behind the narrowest interface the runtime
// needs: key ids, "is this a valid signature by this key over these bytes",
// and the public key file format. Only KeyIdOf and VerifySignature touch
// libsodium, so a wasm32 build can swap the implementation in one place.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace gavel {

constexpr size_t kPublicKeyBytes = 32;
constexpr size_t kSignatureBytes = 64;
constexpr size_t kKeyIdBytes = 8;

using KeyId = std::array<uint8_t, kKeyIdBytes>;

// A public key a gateway trusts, with its id.
struct PublicKey {
  std::array<uint8_t, kPublicKeyBytes> key{};
  KeyId id{};
};

// A key's id: the first 8 bytes of SHA-256 of the 32 public key bytes. It
// names a key in files, messages and decisions; it is not what makes a
// signature valid (the whole key is).
KeyId KeyIdOf(const uint8_t* public_key);

// True if `signature` (64 bytes) is an Ed25519 signature by `public_key`
// (32 bytes) of message[0, size).
bool VerifySignature(const uint8_t* signature, const uint8_t* message, size_t size, const uint8_t* public_key);

// 16 lower-case hex digits.
std::string KeyIdHex(const KeyId& id);

// The public key file (what `policyc keygen` writes as NAME.pub): lines that
// are blank or start with '#' are ignored; exactly one line remains:
//   gavel-ed25519-public <key id: 16 hex digits> <public key: 64 hex digits>
// The key id must be the key's own. Returns false and *err (naming the line)
// on anything else.
bool ParsePublicKey(std::string_view text, PublicKey* out, std::string* err);

// The one key line of a key file (public or secret: `what`), split into its
// fields; blank lines and `#` comments are skipped. *line is its line number,
// 0 when the file has none. False with *err when the file holds two keys.
bool ReadKeyLine(std::string_view text, const char* what, std::vector<std::string_view>* fields, size_t* line,
                 std::string* err);
std::string FormatPublicKey(const PublicKey& key);

// Hex helpers shared with the secret key format of policyc. ParseHex accepts
// exactly 2 * size hex digits (either case).
std::string HexOf(const uint8_t* bytes, size_t size);
bool ParseHex(std::string_view hex, uint8_t* out, size_t size);

}  // namespace gavel
