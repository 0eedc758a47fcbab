// Tests for signed bundles (engine/runtime/bundle.h, signature.h) and
// policyc's signing keys: with trusted keys, every flipped byte and every
// truncation of a signed bundle is refused, and the refusal comes from the
// envelope (signature, key id, sizes) before the bundle inside is read.
#include <gtest/gtest.h>
#include <sodium.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "engine/compiler/compiler.h"
#include "engine/runtime/bundle.h"
#include "engine/runtime/engine.h"
#include "engine/runtime/signature.h"
#include "policyc/signing.h"

namespace gavel {
namespace {

namespace fs = std::filesystem;
using policyc::KeyFromSeed;
using policyc::SecretKey;
using policyc::SignBundle;

SecretKey Key(uint8_t fill) {
  std::array<uint8_t, 32> seed;
  seed.fill(fill);
  return KeyFromSeed(seed);
}

// A small bundle: a policy without screening databases, so that every byte
// can be flipped.
std::string SmallBundle() {
  CompileResult r =
      CompileFile((fs::path(GAVEL_SOURCE_DIR) / "capi" / "tests" / "policies" / "reload_a.policy").string());
  EXPECT_TRUE(r.ok()) << r.RenderDiagnostics();
  if (!r.ok()) return "";
  r.program->screen_data = ScreenData();
  return WriteBundle(r.program.get());
}

std::string Load(const std::string& b, const TrustedKeys& keys, std::string* signer = nullptr) {
  std::string err;
  auto e = Engine::Load(b.data(), b.size(), keys, &err);
  if (e && signer) *signer = e->signer();
  EXPECT_EQ(e == nullptr, !err.empty());
  return err;
}

// Why Engine::Load refuses b (kOk: it does not).
StatusCode Code(const std::string& b, const TrustedKeys& keys) {
  Status s;
  auto e = Engine::Load(b.data(), b.size(), keys, &s);
  EXPECT_EQ(e == nullptr, !s.ok());
  return s.code();
}

// Signs `prefix` (envelope header and bundle) as SignBundle does, for
// envelopes a test has changed on purpose.
std::string Resign(std::string prefix, const SecretKey& key) {
  uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES], sig[crypto_sign_BYTES];
  crypto_sign_seed_keypair(pk, sk, key.seed.data());
  crypto_sign_detached(sig, nullptr, reinterpret_cast<const uint8_t*>(prefix.data()), prefix.size(), sk);
  return prefix.append(reinterpret_cast<const char*>(sig), sizeof sig);
}

class SignedBundle : public ::testing::Test {
 protected:
  void SetUp() override {
    bundle_ = SmallBundle();
    ASSERT_FALSE(bundle_.empty());
    ASSERT_LT(bundle_.size(), 8192u) << "the flip test wants a small bundle";
    k1_ = Key(1);
    k2_ = Key(2);
    signed1_ = SignBundle(bundle_, k1_);
    signed2_ = SignBundle(bundle_, k2_);
  }
  std::string Id(const SecretKey& k) { return KeyIdHex(k.public_key.id); }

  std::string bundle_, signed1_, signed2_;
  SecretKey k1_, k2_;
};

TEST_F(SignedBundle, LayoutIsEnvelopeAroundTheUnchangedBundle) {
  ASSERT_EQ(signed1_.size(), kSignedHeaderSize + bundle_.size() + kSignatureSize);
  EXPECT_EQ(signed1_.substr(0, 8), "GAVELSIG");
  EXPECT_EQ(signed1_.substr(kSignedHeaderSize, bundle_.size()), bundle_);
  EXPECT_EQ(std::memcmp(signed1_.data() + 16, k1_.public_key.id.data(), 8), 0);
  // Ed25519 is deterministic: the same key signs the same bundle identically.
  EXPECT_EQ(SignBundle(bundle_, k1_), signed1_);
}

TEST_F(SignedBundle, AcceptedByItsKeyAndNamesTheSigner) {
  std::string signer;
  EXPECT_EQ(Load(signed1_, {k1_.public_key}, &signer), "");
  EXPECT_EQ(signer, Id(k1_));
  EXPECT_EQ(signer.size(), 16u);
  // The identity is the bundle's, signed or not.
  std::string err;
  auto a = Engine::Load(signed1_.data(), signed1_.size(), {k1_.public_key}, &err);
  auto b = Engine::Load(bundle_.data(), bundle_.size(), &err);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->hash_hex(), b->hash_hex());
  Worker w;
  const std::string json = w.Decide(*a, DecodeInput()).ToJson();
  EXPECT_NE(json.find("\"signer\":\"" + Id(k1_) + "\""), std::string::npos) << json;
}

TEST_F(SignedBundle, EveryFlippedByteIsRefused) {
  const TrustedKeys keys = {k1_.public_key};
  size_t accepted = 0;
  for (size_t i = 0; i < signed1_.size(); ++i) {
    for (const uint8_t mask : {0x01, 0x80}) {
      std::string b = signed1_;
      b[i] = static_cast<char>(b[i] ^ mask);
      const std::string e = Load(b, keys);
      if (e.empty()) {
        ++accepted;
        continue;
      }
      // Each refusal comes from the envelope, never from the bundle inside.
      // Flags are signed: a flipped flag is a bad signature, like any byte
      // after the key id.
      const StatusCode code = Code(b, keys);
      if (i < 8 || (i >= 24 && i < 32))
        EXPECT_EQ(code, StatusCode::kCorruptBundle) << i << ": " << e;
      else if (i < 12)
        EXPECT_TRUE(code == StatusCode::kNewerFormat || code == StatusCode::kOlderFormat) << i << ": " << e;
      else if (i >= 16 && i < 24)
        EXPECT_EQ(code, StatusCode::kUntrustedKey) << i << ": " << e;
      else
        EXPECT_EQ(code, StatusCode::kBadSignature) << i << ": " << e;
      if (i < 8)
        EXPECT_EQ(e.rfind("not a signed gavel bundle (bad magic)", 0), 0u) << i << ": " << e;
      else if (i < 12)
        EXPECT_EQ(e.rfind("signed bundle envelope version ", 0), 0u) << i << ": " << e;
      else if (i < 16)
        EXPECT_EQ(e.rfind("bad signature", 0), 0u) << i << ": " << e;
      else if (i < 24)
        EXPECT_EQ(e.rfind("bundle is signed by unknown key id ", 0), 0u) << i << ": " << e;
      else if (i < 32)
        EXPECT_TRUE(e.rfind("signed bundle truncated or padded", 0) == 0 ||
                    e == "signed bundle larger than the maximum")
            << i << ": " << e;
      else
        EXPECT_EQ(e.rfind("bad signature: the bundle is not what key id " + Id(k1_) + " signed", 0), 0u)
            << i << ": " << e;
    }
  }
  EXPECT_EQ(accepted, 0u);
}

TEST_F(SignedBundle, EveryTruncationIsRefused) {
  const TrustedKeys keys = {k1_.public_key};
  for (size_t n = 0; n < signed1_.size(); ++n) {
    const std::string e = Load(signed1_.substr(0, n), keys);
    ASSERT_FALSE(e.empty()) << n;
    EXPECT_EQ(Code(signed1_.substr(0, n), keys), StatusCode::kCorruptBundle) << n;
    if (n < 8)
      EXPECT_EQ(e.rfind("not a signed gavel bundle", 0), 0u) << n << ": " << e;
    else if (n < kSignedHeaderSize + kSignatureSize)
      EXPECT_EQ(e, "signed bundle truncated: " + std::to_string(n) + " bytes is shorter than its header and signature");
    else
      EXPECT_EQ(e, "signed bundle truncated or padded: its header says " + std::to_string(signed1_.size()) +
                       " bytes, got " + std::to_string(n));
  }
  EXPECT_NE(Load(signed1_ + '\0', keys), "");
}

// The attack the signature is for: the bundle inside changed and its XXH3
// checksum recomputed. The checksum passes; the signature does not.
TEST_F(SignedBundle, ResealedBundleIsRefusedBySignature) {
  std::string inner = bundle_;
  inner[inner.size() - 3] ^= 0x20;
  XXH128_canonical_t canon;
  XXH128_canonicalFromHash(&canon, XXH3_128bits(inner.data() + kBundleHeaderSize, inner.size() - kBundleHeaderSize));
  std::memcpy(&inner[24], canon.digest, 16);
  std::string b = signed1_;
  b.replace(kSignedHeaderSize, inner.size(), inner);
  EXPECT_EQ(Load(inner, {}).find("checksum"), std::string::npos);  // the checksum passes
  EXPECT_EQ(Load(b, {k1_.public_key}).rfind("bad signature", 0), 0u);
  EXPECT_EQ(Code(b, {k1_.public_key}), StatusCode::kBadSignature);
}

TEST_F(SignedBundle, UnknownKeyIsRefusedByItsId) {
  EXPECT_EQ(Load(signed2_, {k1_.public_key}),
            "bundle is signed by unknown key id " + Id(k2_) + " (this engine trusts key id " + Id(k1_) + ")");
  EXPECT_EQ(Code(signed2_, {k1_.public_key}), StatusCode::kUntrustedKey);
}

// Garbage signed by an unknown key is refused for the key, not parsed.
TEST_F(SignedBundle, NothingInsideIsReadBeforeTheSignature) {
  const std::string garbage = Resign(SignedBundlePrefix(std::string(200, 'x'), k2_.public_key.id), k2_);
  EXPECT_EQ(Load(garbage, {k1_.public_key}).rfind("bundle is signed by unknown key id " + Id(k2_), 0), 0u);
  // Signed by the trusted key, the garbage gets as far as the bundle reader.
  const std::string trusted_garbage = Resign(SignedBundlePrefix(std::string(200, 'x'), k1_.public_key.id), k1_);
  EXPECT_EQ(Load(trusted_garbage, {k1_.public_key}), "not a gavel bundle (bad magic)");
  EXPECT_EQ(Code(trusted_garbage, {k1_.public_key}), StatusCode::kCorruptBundle);
}

TEST_F(SignedBundle, TwoTrustedKeysEitherIsAccepted) {
  const TrustedKeys keys = {k1_.public_key, k2_.public_key};
  std::string signer;
  EXPECT_EQ(Load(signed1_, keys, &signer), "");
  EXPECT_EQ(signer, Id(k1_));
  EXPECT_EQ(Load(signed2_, keys, &signer), "");
  EXPECT_EQ(signer, Id(k2_));
  EXPECT_EQ(Load(SignBundle(bundle_, Key(3)), keys).rfind("bundle is signed by unknown key id ", 0), 0u);
  EXPECT_NE(Load(bundle_, keys).find(Id(k1_) + ", " + Id(k2_)), std::string::npos);
}

TEST_F(SignedBundle, UnsignedIsRefusedWhenKeysAreTrusted) {
  EXPECT_EQ(Load(bundle_, {k1_.public_key}),
            "bundle is unsigned, but this engine trusts only bundles signed by key id " + Id(k1_));
  EXPECT_EQ(Code(bundle_, {k1_.public_key}), StatusCode::kUnsigned);
  // Not a bundle at all is not "unsigned": it is corrupt, keys or not.
  EXPECT_EQ(Code("not a bundle, long enough for a header: 48 bytes!", {k1_.public_key}), StatusCode::kCorruptBundle);
  EXPECT_EQ(Code("not a bundle, long enough for a header: 48 bytes!", {}), StatusCode::kCorruptBundle);
}

TEST_F(SignedBundle, WithoutKeysBothLoadAsUnsigned) {
  std::string signer;
  EXPECT_EQ(Load(bundle_, {}, &signer), "");
  EXPECT_EQ(signer, "unsigned");
  // No key to check it with: the signature is not verified, so the engine
  // must not claim a signer.
  EXPECT_EQ(Load(signed1_, {}, &signer), "");
  EXPECT_EQ(signer, "unsigned");
  std::string err;
  auto e = Engine::Load(bundle_.data(), bundle_.size(), &err);
  ASSERT_TRUE(e);
  Worker w;
  const std::string json = w.Decide(*e, DecodeInput()).ToJson();
  EXPECT_NE(json.find("\"signer\":\"unsigned\""), std::string::npos) << json;
}

TEST_F(SignedBundle, NewerEnvelopeVersionIsRefusedNamingBothVersions) {
  std::string prefix = signed1_.substr(0, signed1_.size() - kSignatureSize);
  const uint32_t v = kSignedFormatVersion + 1;
  std::memcpy(&prefix[8], &v, 4);
  EXPECT_EQ(Load(Resign(prefix, k1_), {k1_.public_key}),
            "signed bundle envelope version " + std::to_string(v) + " is newer than this gavel reads (version " +
                std::to_string(kSignedFormatVersion) + "); upgrade libgavel");
  EXPECT_EQ(Code(Resign(prefix, k1_), {k1_.public_key}), StatusCode::kNewerFormat);
}

TEST_F(SignedBundle, NewerBundleInsideAValidEnvelopeIsRefusedNamingBothVersions) {
  std::string inner = bundle_;
  const uint32_t v = kBundleFormatVersion + 1;
  std::memcpy(&inner[8], &v, 4);
  EXPECT_EQ(Load(SignBundle(inner, k1_), {k1_.public_key}),
            "bundle format version " + std::to_string(v) + " is newer than this gavel reads (version " +
                std::to_string(kBundleFormatVersion) + "); upgrade libgavel");
  EXPECT_EQ(Code(SignBundle(inner, k1_), {k1_.public_key}), StatusCode::kNewerFormat);
}

TEST(KeyFiles, PublicKeyRoundTrips) {
  const SecretKey k = Key(7);
  PublicKey parsed;
  std::string err;
  ASSERT_TRUE(ParsePublicKey(FormatPublicKey(k.public_key), &parsed, &err)) << err;
  EXPECT_EQ(parsed.key, k.public_key.key);
  EXPECT_EQ(parsed.id, k.public_key.id);
}

TEST(KeyFiles, SecretKeyRoundTrips) {
  const SecretKey k = Key(9);
  SecretKey parsed;
  std::string err;
  ASSERT_TRUE(policyc::ParseSecretKey(policyc::FormatSecretKey(k), &parsed, &err)) << err;
  EXPECT_EQ(parsed.seed, k.seed);
  EXPECT_EQ(parsed.public_key.id, k.public_key.id);
}

TEST(KeyFiles, BadPublicKeysAreRefusedWithTheLine) {
  const SecretKey k = Key(7);
  const std::string id = KeyIdHex(k.public_key.id), hex = HexOf(k.public_key.key.data(), 32);
  PublicKey out;
  std::string err;
  EXPECT_FALSE(ParsePublicKey("", &out, &err));
  EXPECT_EQ(err.rfind("no key", 0), 0u) << err;
  EXPECT_FALSE(ParsePublicKey("# c\ngavel-ed25519-public 0000000000000000 " + hex + "\n", &out, &err));
  EXPECT_EQ(err, "line 2: key id 0000000000000000 does not match the key (its id is " + id + ")");
  EXPECT_FALSE(ParsePublicKey("gavel-ed25519-public " + id + " " + hex.substr(2) + "\n", &out, &err));
  EXPECT_EQ(err, "line 1: the public key must be 64 hex digits");
  EXPECT_FALSE(ParsePublicKey("gavel-ed25519-public " + id + "\n", &out, &err));
  EXPECT_NE(err.find("(3 fields), found 2"), std::string::npos) << err;
  EXPECT_FALSE(ParsePublicKey(policyc::FormatSecretKey(k), &out, &err));
  EXPECT_NE(err.find("this is a secret key"), std::string::npos) << err;
  const std::string line = "gavel-ed25519-public " + id + " " + hex + "\n";
  EXPECT_FALSE(ParsePublicKey(line + line, &out, &err));
  EXPECT_EQ(err, "line 2: a public key file holds one key (the first is on line 1)");
  EXPECT_TRUE(ParsePublicKey("\r\n# comment\r\n  " + line, &out, &err)) << err;
}

}  // namespace
}  // namespace gavel
