// Signing keys for policyc: generating an Ed25519 key pair, the secret key
// file format, and signing a bundle into its envelope (engine/runtime/bundle.h).
// The runtime only verifies; nothing here is linked into libgavel.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "engine/runtime/signature.h"

namespace gavel::policyc {

// The secret key file (NAME.key; mode 0600): lines that are blank or start
// with '#' are ignored; exactly one line remains:
//   gavel-ed25519-secret <key id: 16 hex digits> <seed: 64 hex digits>
// The 32-byte seed determines the key pair; the key id is the public key's.
struct SecretKey {
  std::array<uint8_t, 32> seed{};
  PublicKey public_key;
};

// A fresh key pair from the system's random source. False if none is available.
bool GenerateKey(SecretKey* out);
// The key pair of a given seed.
SecretKey KeyFromSeed(const std::array<uint8_t, 32>& seed);

bool ParseSecretKey(std::string_view text, SecretKey* out, std::string* err);
std::string FormatSecretKey(const SecretKey& key);

// The signed bundle (envelope) of `bundle`.
std::string SignBundle(const std::string& bundle, const SecretKey& key);

// Creates `path` with exactly `mode` (0600 for a secret key) and writes
// `data`; refuses to replace an existing file (a key is not something to
// overwrite by accident).
bool WriteNewFile(const std::string& path, const std::string& data, unsigned mode, std::string* err);

}  // namespace gavel::policyc
