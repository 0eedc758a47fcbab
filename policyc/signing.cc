// Key generation, the secret key file and bundle signing with libsodium.
// Secrets are wiped from memory the function itself owns before it returns.
#include "policyc/signing.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "engine/runtime/bundle.h"

namespace gavel::policyc {

namespace {

const char kSecretTag[] = "gavel-ed25519-secret";

// The libsodium secret key (seed and public key, 64 bytes) of a seed.
void Expand(const SecretKey& key, uint8_t* pk, uint8_t* sk) {
  static const int initialized = sodium_init();  // idempotent; picks this CPU's implementations
  (void)initialized;
  crypto_sign_seed_keypair(pk, sk, key.seed.data());
}

}  // namespace

SecretKey KeyFromSeed(const std::array<uint8_t, 32>& seed) {
  SecretKey key;
  key.seed = seed;
  uint8_t sk[crypto_sign_SECRETKEYBYTES];
  Expand(key, key.public_key.key.data(), sk);
  sodium_memzero(sk, sizeof sk);
  key.public_key.id = KeyIdOf(key.public_key.key.data());
  return key;
}

bool GenerateKey(SecretKey* out) {
  if (sodium_init() < 0) return false;
  std::array<uint8_t, 32> seed;
  randombytes_buf(seed.data(), seed.size());
  *out = KeyFromSeed(seed);
  sodium_memzero(seed.data(), seed.size());
  return true;
}

bool ParseSecretKey(std::string_view text, SecretKey* out, std::string* err) {
  std::vector<std::string_view> fields;
  size_t key_line = 0;
  if (!ReadKeyLine(text, "secret", &fields, &key_line, err)) return false;
  if (key_line == 0) {
    *err = "no key: expected a line `" + std::string(kSecretTag) + " KEY_ID SEED`";
    return false;
  }
  const std::string where = "line " + std::to_string(key_line) + ": ";
  if (fields[0] != kSecretTag) {
    *err = where + "expected `" + kSecretTag + "`, found `" + std::string(fields[0]) + "`" +
           (fields[0] == "gavel-ed25519-public" ? " (this is a public key; sign with the .key file)" : "");
    return false;
  }
  KeyId id;
  std::array<uint8_t, 32> seed;
  if (fields.size() != 3 || !ParseHex(fields[1], id.data(), id.size()) ||
      !ParseHex(fields[2], seed.data(), seed.size())) {
    *err = where + "expected `" + std::string(kSecretTag) + " KEY_ID SEED` (16 and 64 hex digits)";
    return false;
  }
  SecretKey key = KeyFromSeed(seed);
  sodium_memzero(seed.data(), seed.size());
  if (key.public_key.id != id) {
    *err = where + "key id " + KeyIdHex(id) + " does not match the key (its id is " + KeyIdHex(key.public_key.id) + ")";
    sodium_memzero(key.seed.data(), key.seed.size());
    return false;
  }
  *out = key;
  sodium_memzero(key.seed.data(), key.seed.size());
  return true;
}

std::string FormatSecretKey(const SecretKey& key) {
  return "# gavel Ed25519 secret key " + KeyIdHex(key.public_key.id) +
         ": signs bundles (policyc compile --sign). Keep it secret.\n" + kSecretTag + " " +
         KeyIdHex(key.public_key.id) + " " + HexOf(key.seed.data(), key.seed.size()) + "\n";
}

std::string SignBundle(const std::string& bundle, const SecretKey& key) {
  std::string out = SignedBundlePrefix(bundle, key.public_key.id);
  uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
  Expand(key, pk, sk);
  uint8_t sig[crypto_sign_BYTES];
  crypto_sign_detached(sig, nullptr, reinterpret_cast<const uint8_t*>(out.data()), out.size(), sk);
  sodium_memzero(sk, sizeof sk);
  out.append(reinterpret_cast<const char*>(sig), sizeof sig);
  return out;
}

bool WriteNewFile(const std::string& path, const std::string& data, unsigned mode, std::string* err) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, static_cast<mode_t>(mode & 0600));
  if (fd < 0) {
    *err = path +
           (errno == EEXIST ? ": already exists (not overwriting a key)" : ": " + std::string(std::strerror(errno)));
    return false;
  }
  // Created at most 0600, so no one else can open a secret key before the
  // mode is final; the umask could only narrow it, fchmod makes it exact.
  bool ok = ::fchmod(fd, static_cast<mode_t>(mode)) == 0;
  for (size_t done = 0; ok && done < data.size();) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      ok = false;
    else
      done += static_cast<size_t>(n);
  }
  const int saved = errno;
  if (::close(fd) != 0) ok = false;
  if (!ok) {
    *err = path + ": write error: " + std::strerror(saved);
    ::unlink(path.c_str());
  }
  return ok;
}

}  // namespace gavel::policyc
