// Ed25519 verification and key ids with libsodium, and the public key text
// format. The two libsodium calls are the whole dependency: a wasm32 build
// replaces KeyIdOf and VerifySignature and keeps the rest.
#include "engine/runtime/signature.h"

#include <sodium.h>

#include <algorithm>
#include <vector>

namespace gavel {

namespace {

// sodium_init picks the fastest implementations for this CPU; it is safe to
// call from several threads, and once is enough.
bool SodiumReady() {
  static const bool ready = sodium_init() >= 0;
  return ready;
}

const char kPublicTag[] = "gavel-ed25519-public";

}  // namespace

KeyId KeyIdOf(const uint8_t* public_key) {
  uint8_t digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, public_key, kPublicKeyBytes);
  KeyId id;
  for (size_t i = 0; i < kKeyIdBytes; ++i) id[i] = digest[i];
  return id;
}

bool VerifySignature(const uint8_t* signature, const uint8_t* message, size_t size, const uint8_t* public_key) {
  static_assert(crypto_sign_BYTES == kSignatureBytes && crypto_sign_PUBLICKEYBYTES == kPublicKeyBytes, "Ed25519 sizes");
  if (!SodiumReady()) return false;
  return crypto_sign_verify_detached(signature, message, size, public_key) == 0;
}

std::string HexOf(const uint8_t* bytes, size_t size) {
  static const char kHex[] = "0123456789abcdef";
  std::string s;
  s.reserve(size * 2);
  for (size_t i = 0; i < size; ++i) {
    s += kHex[bytes[i] >> 4];
    s += kHex[bytes[i] & 15];
  }
  return s;
}

bool ParseHex(std::string_view hex, uint8_t* out, size_t size) {
  if (hex.size() != size * 2) return false;
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < size; ++i) {
    const int hi = digit(hex[2 * i]), lo = digit(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return true;
}

std::string KeyIdHex(const KeyId& id) { return HexOf(id.data(), id.size()); }

bool ReadKeyLine(std::string_view text, const char* what, std::vector<std::string_view>* fields, size_t* line,
                 std::string* err) {
  fields->clear();
  size_t key_line = 0, line_no = 0;
  for (size_t pos = 0; pos <= text.size();) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view l = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    const size_t first = l.find_first_not_of(" \t");
    if (first == std::string_view::npos || l[first] == '#') continue;
    if (key_line != 0) {
      *err = "line " + std::to_string(line_no) + ": a " + what + " key file holds one key (the first is on line " +
             std::to_string(key_line) + ")";
      return false;
    }
    key_line = line_no;
    for (size_t i = first; i < l.size();) {
      const size_t j = std::min(l.find_first_of(" \t", i), l.size());
      fields->push_back(l.substr(i, j - i));
      i = l.find_first_not_of(" \t", j);
      if (i == std::string_view::npos) break;
    }
  }
  *line = key_line;
  return true;
}

bool ParsePublicKey(std::string_view text, PublicKey* out, std::string* err) {
  std::vector<std::string_view> fields;
  size_t key_line = 0;
  if (!ReadKeyLine(text, "public", &fields, &key_line, err)) return false;
  if (key_line == 0) {
    *err = "no key: expected a line `" + std::string(kPublicTag) + " KEY_ID PUBLIC_KEY`";
    return false;
  }
  const std::string where = "line " + std::to_string(key_line) + ": ";
  if (fields[0] != kPublicTag) {
    *err = where + "expected `" + kPublicTag + "`, found `" + std::string(fields[0]) + "`" +
           (fields[0] == "gavel-ed25519-secret" ? " (this is a secret key; give the .pub file)" : "");
    return false;
  }
  if (fields.size() != 3) {
    *err = where + "expected `" + std::string(kPublicTag) + " KEY_ID PUBLIC_KEY` (3 fields), found " +
           std::to_string(fields.size());
    return false;
  }
  PublicKey key;
  KeyId id;
  if (!ParseHex(fields[1], id.data(), id.size())) {
    *err = where + "the key id must be 16 hex digits";
    return false;
  }
  if (!ParseHex(fields[2], key.key.data(), key.key.size())) {
    *err = where + "the public key must be 64 hex digits";
    return false;
  }
  key.id = KeyIdOf(key.key.data());
  if (key.id != id) {
    *err = where + "key id " + KeyIdHex(id) + " does not match the key (its id is " + KeyIdHex(key.id) + ")";
    return false;
  }
  *out = key;
  return true;
}

std::string FormatPublicKey(const PublicKey& key) {
  return "# gavel Ed25519 public key " + KeyIdHex(key.id) + ": gateways trust bundles it signed\n" + kPublicTag + " " +
         KeyIdHex(key.id) + " " + HexOf(key.key.data(), key.key.size()) + "\n";
}

}  // namespace gavel
