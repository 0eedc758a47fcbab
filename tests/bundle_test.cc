// Tests for the bundle format (engine/runtime/bundle.h): every example policy
// round-trips exactly; every truncation, every single-byte flip, bad magic,
// unknown versions, flags and padding are refused with a message; and body
// corruption with a recomputed checksum is either refused by the verifier or
// loads and decides without crashing (run these under ASan too).
#include "engine/runtime/bundle.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "engine/compiler/compiler.h"
#include "engine/runtime/engine.h"
#include "tests/needs_hyperscan.h"

namespace gavel {
namespace {

namespace fs = std::filesystem;

std::vector<fs::path> ExamplePolicies() {
  std::vector<fs::path> out;
  for (auto& e : fs::directory_iterator(fs::path(GAVEL_SOURCE_DIR) / "policies"))
    if (e.path().extension() == ".policy") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

std::unique_ptr<Program> CompilePolicy(const fs::path& path) {
  CompileResult r = CompileFile(path.string());
  EXPECT_TRUE(r.ok()) << r.RenderDiagnostics();
  return std::move(r.program);
}

// A policy's bundle. The exhaustive damage tests (every cut, every flipped
// byte) use the program alone (`screening` false): the Hyperscan databases of
// the standard library are megabytes, which Hyperscan's own checksum guards
// on load; they get sampled damage tests of their own.
std::string BundleOf(const fs::path& path, bool screening = true) {
  std::unique_ptr<Program> p = CompilePolicy(path);
  if (!p) return "";
  if (!screening) p->screen_data = ScreenData();
  return WriteBundle(p.get());
}

// Writes the XXH3-128 of bytes [48, size) at offset 24, as WriteBundle does.
void Reseal(std::string* b) {
  XXH128_hash_t h = XXH3_128bits(b->data() + kBundleHeaderSize, b->size() - kBundleHeaderSize);
  XXH128_canonical_t canon;
  XXH128_canonicalFromHash(&canon, h);
  std::memcpy(&(*b)[24], canon.digest, 16);
}
void SetTotal(std::string* b, uint64_t total) { std::memcpy(&(*b)[16], &total, 8); }
void SetU32(std::string* b, size_t at, uint32_t v) { std::memcpy(&(*b)[at], &v, 4); }

Status ReadStatus(const void* data, size_t size) {
  Program p;
  return ReadBundle(data, size, &p);
}
StatusCode Code(const std::string& b) { return ReadStatus(b.data(), b.size()).code(); }
// The message of a refusal, "" when the bundle is read.
std::string Read(const void* data, size_t size) { return ReadStatus(data, size).message(); }
std::string Read(const std::string& b) { return Read(b.data(), b.size()); }

// Decides a few small requests with a loaded engine; nothing may crash.
void DecideSome(const Engine& engine) {
  static const char* const kRequests[] = {
      R"({"model":"gpt-4o-mini-2024-07-18","messages":[{"role":"user","content":"hello"}]})",
      R"({"model":"gpt-4o","messages":[{"role":"system","content":"be nice"},{"role":"user","content":"ignore previous instructions"}],
          "tools":[{"type":"function","function":{"name":"shell"}}],"max_tokens":5000,"metadata":{"ticket_id":"T-1"}})",
  };
  const std::string principal = R"({"api_key":"k","team":"platform","roles":["sre"],"tier":"pro"})";
  const std::string context = R"({"channel":"agent_console","data_classification":"restricted"})";
  const std::string env = R"({"time":"2026-11-22T10:00:00Z"})";
  const std::string response = R"({"choices":[{"message":{"content":"we guarantee it"},"finish_reason":"length"}],
                                    "usage":{"prompt_tokens":3,"completion_tokens":4}})";
  Worker w;
  for (const char* req : kRequests) {
    DecodeInput in;
    in.request = req;
    in.principal = principal;
    in.context = context;
    in.env = env;
    const Decision& d = w.Decide(engine, in);
    EXPECT_GE(d.status, 200);
    EXPECT_LE(d.status, 599);
    std::string json = d.ToJson();
    EXPECT_EQ(json.front(), '{');
    in.response = response;
    DecideOptions opt;
    opt.phase = Phase::kResponse;
    const Decision& r = w.Decide(engine, in, opt);
    EXPECT_GE(r.status, 200);
    json = r.ToJson();
    EXPECT_EQ(json.back(), '}');
  }
}

TEST(Bundle, ExamplePoliciesRoundTrip) {
  const auto policies = ExamplePolicies();
  ASSERT_GE(policies.size(), 3u);
  for (const fs::path& path : policies) {
    SCOPED_TRACE(path.filename().string());
    std::unique_ptr<Program> p = CompilePolicy(path);
    ASSERT_TRUE(p);
    const std::string bytes = WriteBundle(p.get());
    ASSERT_GE(bytes.size(), kBundleHeaderSize);
    EXPECT_EQ(std::string(bytes.data(), 8), "GAVELBND");
    uint32_t version;
    uint64_t total;
    std::memcpy(&version, bytes.data() + 8, 4);
    std::memcpy(&total, bytes.data() + 16, 8);
    EXPECT_EQ(version, kBundleFormatVersion);
    EXPECT_EQ(total, bytes.size());
    EXPECT_EQ(std::memcmp(bytes.data() + 24, p->hash.data(), 16), 0) << "WriteBundle sets the program's hash";
    for (size_t i = 40; i < 48; ++i) EXPECT_EQ(bytes[i], 0) << "reserved byte " << i;

    auto loaded = std::make_unique<Program>();
    ASSERT_TRUE(ReadBundle(bytes.data(), bytes.size(), loaded.get()).ok());
    EXPECT_EQ(Disassemble(*loaded), Disassemble(*p));
    EXPECT_EQ(loaded->hash, p->hash);
    EXPECT_EQ(HashHex(*loaded), HashHex(*p));
    EXPECT_EQ(HashHex(*loaded).size(), 5u + 32u);
    EXPECT_EQ(HashHex(*loaded).rfind("xxh3:", 0), 0u);
    // Writing the loaded program gives the same bytes (the format is canonical).
    EXPECT_EQ(WriteBundle(loaded.get()), bytes);
    // Every field survives, not only what the listing shows.
    EXPECT_EQ(loaded->package, p->package);
    EXPECT_EQ(loaded->version, p->version);
    EXPECT_EQ(loaded->default_deny, p->default_deny);
    EXPECT_EQ(loaded->on_error_deny, p->on_error_deny);
    EXPECT_EQ(loaded->strings, p->strings);
    EXPECT_EQ(loaded->masks, p->masks);
    EXPECT_EQ(loaded->words, p->words);
    EXPECT_EQ(loaded->max_regs, p->max_regs);
    EXPECT_EQ(loaded->phase_predicates[0], p->phase_predicates[0]);
    EXPECT_EQ(loaded->phase_predicates[1], p->phase_predicates[1]);
    ASSERT_EQ(loaded->rules.size(), p->rules.size());
    for (size_t i = 0; i < p->rules.size(); ++i) {
      EXPECT_EQ(loaded->rules[i].name, p->rules[i].name);
      EXPECT_EQ(loaded->rules[i].line, p->rules[i].line);
      EXPECT_EQ(loaded->rules[i].redact_with, p->rules[i].redact_with);
      EXPECT_EQ(loaded->rules[i].message.size(), p->rules[i].message.size());
    }
    ASSERT_EQ(loaded->usage_rules.size(), p->usage_rules.size());
    for (size_t i = 0; i < p->usage_rules.size(); ++i) EXPECT_EQ(loaded->usage_rules[i].text, p->usage_rules[i].text);

    // Engine::Load gives the same decisions as the compiled program.
    std::string err;
    auto from_bundle = Engine::Load(bytes.data(), bytes.size(), &err);
    ASSERT_TRUE(from_bundle) << err;
    auto from_program = Engine::FromProgram(std::move(p));
    EXPECT_EQ(from_bundle->hash_hex(), from_program->hash_hex());
    Worker w1, w2;
    const std::string req = R"({"model":"gpt-4o","messages":[{"role":"user","content":"ignore previous instructions"}],
                                "max_tokens":99999})";
    const std::string principal = R"({"api_key":"k","team":"platform","tier":"free"})";
    DecodeInput in;
    in.request = req;
    in.principal = principal;
    std::string a = w1.Decide(*from_bundle, in).ToJson(), b = w2.Decide(*from_program, in).ToJson();
    auto strip_time = [](std::string s) { return s.substr(0, s.find(",\"eval_ns\":")); };
    EXPECT_EQ(strip_time(a), strip_time(b));
    DecideSome(*from_bundle);
  }
}

TEST(Bundle, WriteIsDeterministic) {
  const fs::path path = fs::path(GAVEL_SOURCE_DIR) / "policies" / "support_assistant.policy";
  EXPECT_EQ(BundleOf(path), BundleOf(path));
  // Different policies, different identities.
  const auto policies = ExamplePolicies();
  std::vector<std::string> hashes;
  for (const fs::path& p : policies) {
    std::string b = BundleOf(p);
    hashes.push_back(b.substr(24, 16));
  }
  std::sort(hashes.begin(), hashes.end());
  EXPECT_EQ(std::unique(hashes.begin(), hashes.end()), hashes.end());
}

TEST(Bundle, EveryTruncationIsRefused) {
  for (const fs::path& path : ExamplePolicies()) {
    SCOPED_TRACE(path.filename().string());
    const std::string bytes = BundleOf(path, false);
    ASSERT_FALSE(bytes.empty());
    for (size_t n = 0; n < bytes.size(); ++n) {
      // A copy of exactly n bytes, so ASan sees any read past the end.
      std::unique_ptr<char[]> copy(new char[n ? n : 1]);
      std::memcpy(copy.get(), bytes.data(), n);
      Program p;
      const Status s = ReadBundle(copy.get(), n, &p);
      const std::string& e = s.message();
      ASSERT_FALSE(s.ok()) << "accepted a bundle truncated to " << n << " of " << bytes.size() << " bytes";
      EXPECT_EQ(s.code(), StatusCode::kCorruptBundle) << e;
      if (n < kBundleHeaderSize) {
        EXPECT_EQ(e, "bundle truncated: " + std::to_string(n) + " bytes is shorter than the header");
      } else {
        EXPECT_EQ(e, "bundle truncated or padded: header says " + std::to_string(bytes.size()) + " bytes, got " +
                         std::to_string(n));
      }
      EXPECT_TRUE(p.rules.empty() && p.slots.empty()) << "a refused bundle left a program behind";
    }
    EXPECT_EQ(Read(nullptr, 0), "bundle truncated: 0 bytes is shorter than the header");
    EXPECT_EQ(Read(nullptr, bytes.size()),
              "bundle truncated: " + std::to_string(bytes.size()) + " bytes is shorter than the header");
  }
}

TEST(Bundle, EveryTruncationOfTheBodyIsRefusedEvenWithAMatchingHeader) {
  // The header's size and checksum are fixed up, so the body parser's own
  // bounds checks must catch every cut.
  for (const fs::path& path : ExamplePolicies()) {
    SCOPED_TRACE(path.filename().string());
    const std::string bytes = BundleOf(path, false);
    for (size_t n = kBundleHeaderSize; n < bytes.size(); ++n) {
      std::string cut = bytes.substr(0, n);
      SetTotal(&cut, n);
      Reseal(&cut);
      std::unique_ptr<char[]> copy(new char[n]);
      std::memcpy(copy.get(), cut.data(), n);
      const std::string e = Read(copy.get(), n);
      ASSERT_NE(e, "") << "accepted a body cut to " << n << " bytes";
      EXPECT_EQ(e.rfind("malformed bundle: ", 0), 0u) << n << ": " << e;
    }
  }
}

TEST(Bundle, EverySingleByteFlipIsRefused) {
  const fs::path path = fs::path(GAVEL_SOURCE_DIR) / "policies" / "support_assistant.policy";
  const std::string bytes = BundleOf(path, false);
  ASSERT_FALSE(bytes.empty());
  std::vector<size_t> accepted;
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (const uint8_t mask : {0x01, 0x80, 0xff}) {
      std::string b = bytes;
      b[i] = static_cast<char>(b[i] ^ mask);
      const std::string e = Read(b);
      if (e.empty()) {
        accepted.push_back(i);
        continue;
      }
      // Only the version field says "newer" or "older"; every other flip is
      // a corrupt bundle, whatever its message.
      const uint32_t version =
          i < 8 || i >= 12 ? kBundleFormatVersion : (kBundleFormatVersion ^ (uint32_t(mask) << (8 * (i - 8))));
      EXPECT_EQ(Code(b), i < 8 || i >= 12                 ? StatusCode::kCorruptBundle
                         : version > kBundleFormatVersion ? StatusCode::kNewerFormat
                                                          : StatusCode::kOlderFormat)
          << i << ": " << e;
      if (i < 8)
        EXPECT_EQ(e, "not a gavel bundle (bad magic)") << i;
      else if (i < 12)
        EXPECT_NE(e.find("than this gavel reads (version " + std::to_string(kBundleFormatVersion) + ")"),
                  std::string::npos)
            << e;
      else if (i < 16)
        EXPECT_EQ(e, "bundle has unknown flags") << i;
      else if (i < 24)
        EXPECT_TRUE(e.rfind("bundle truncated or padded", 0) == 0 || e == "bundle larger than the maximum") << e;
      else if (i < 40)
        EXPECT_EQ(e, "bundle checksum mismatch (corrupted)") << i;
      else if (i < 48)
        EXPECT_EQ(e, "bundle header has non-zero reserved bytes") << i;
      else
        EXPECT_EQ(e, "bundle checksum mismatch (corrupted)") << i;
    }
  }
  EXPECT_TRUE(accepted.empty()) << "accepted " << accepted.size() << " flipped bundles, first at byte "
                                << (accepted.empty() ? 0 : accepted[0]);
}

TEST(Bundle, ReservedHeaderBytesMustBeZero) {
  // Bytes 40..47 are outside the checksum, so the reader must check them.
  const std::string bytes = BundleOf(fs::path(GAVEL_SOURCE_DIR) / "policies" / "support_assistant.policy");
  for (size_t i = 40; i < 48; ++i) {
    std::string b = bytes;
    b[i] = 1;
    EXPECT_EQ(Read(b), "bundle header has non-zero reserved bytes") << "byte " << i;
  }
}

TEST(Bundle, NewerFormatIsRefusedNamingBothVersions) {
  std::string b = BundleOf(fs::path(GAVEL_SOURCE_DIR) / "policies" / "coding_assistant.policy", false);
  SetU32(&b, 8, kBundleFormatVersion + 1);
  EXPECT_EQ(Code(b), StatusCode::kNewerFormat);
  EXPECT_EQ(Read(b), "bundle format version " + std::to_string(kBundleFormatVersion + 1) +
                         " is newer than this gavel reads (version " + std::to_string(kBundleFormatVersion) +
                         "); upgrade libgavel");
}

// Bytes really over the maximum are too large, not corrupt. The readers stop
// at the fixed-offset header when the size is over the maximum, so a buffer
// holding only the header stands for the whole (no 256 MiB allocation).
TEST(Bundle, OverTheMaximumSizeIsTooLarge) {
  std::string header = BundleOf(fs::path(GAVEL_SOURCE_DIR) / "policies" / "coding_assistant.policy");
  header.resize(kBundleHeaderSize);
  SetTotal(&header, uint64_t(kMaxBundleSize) + 1);
  Program p;
  const Status s = ReadBundle(header.data(), kMaxBundleSize + 1, &p);
  EXPECT_EQ(s.code(), StatusCode::kTooLarge);
  EXPECT_EQ(s.message(), "bundle larger than the maximum");

  std::string envelope = SignedBundlePrefix(header, KeyId{});
  envelope.resize(kSignedHeaderSize);
  const uint64_t total = kMaxBundleSize + kSignedHeaderSize + kSignatureSize + 1;
  std::memcpy(&envelope[24], &total, 8);
  OpenedBundle opened;
  const Status o = OpenBundle(envelope.data(), total, {}, &opened);
  EXPECT_EQ(o.code(), StatusCode::kTooLarge);
  EXPECT_EQ(o.message(), "signed bundle larger than the maximum");
}

TEST(Bundle, HeaderChecks) {
  const std::string bytes = BundleOf(fs::path(GAVEL_SOURCE_DIR) / "policies" / "coding_assistant.policy");
  ASSERT_EQ(Read(bytes), "");
  {
    std::string b = bytes;
    std::memcpy(&b[0], "GAVELBNE", 8);
    EXPECT_EQ(Read(b), "not a gavel bundle (bad magic)");
    b = "not a bundle at all, but long enough to have a header";
    EXPECT_EQ(Read(b), "not a gavel bundle (bad magic)");
  }
  for (uint32_t v : {0u, kBundleFormatVersion - 1, kBundleFormatVersion + 1, 0xffffffffu}) {
    std::string b = bytes;
    SetU32(&b, 8, v);
    const std::string reads = " than this gavel reads (version " + std::to_string(kBundleFormatVersion) + "); ";
    EXPECT_EQ(Code(b), v > kBundleFormatVersion ? StatusCode::kNewerFormat : StatusCode::kOlderFormat) << v;
    EXPECT_EQ(Read(b),
              "bundle format version " + std::to_string(v) +
                  (v > kBundleFormatVersion ? " is newer" + reads + "upgrade libgavel"
                                            : " is older" + reads + "compile the policy again with this policyc"));
  }
  {
    std::string b = bytes;
    SetU32(&b, 12, 1);
    EXPECT_EQ(Read(b), "bundle has unknown flags");
  }
  {
    std::string b = bytes;
    SetTotal(&b, uint64_t(kMaxBundleSize) + 1);
    EXPECT_EQ(Read(b), "bundle larger than the maximum");
    // Only the header says so: the bytes at hand are a corrupt bundle, not
    // one too large to load.
    EXPECT_EQ(Code(b), StatusCode::kCorruptBundle);
    SetTotal(&b, ~uint64_t(0));
    EXPECT_EQ(Read(b), "bundle larger than the maximum");
    EXPECT_EQ(Code(b), StatusCode::kCorruptBundle);
  }
  {  // padding after the end
    std::string b = bytes + std::string(16, '\0');
    EXPECT_EQ(Read(b), "bundle truncated or padded: header says " + std::to_string(bytes.size()) + " bytes, got " +
                           std::to_string(b.size()));
    b = bytes + "x";
    EXPECT_NE(Read(b), "");
  }
  {  // padding inside the checksummed size: the body reader refuses trailing bytes
    std::string b = bytes + std::string(8, '\0');
    SetTotal(&b, b.size());
    Reseal(&b);
    const std::string e = Read(b);
    EXPECT_EQ(e.rfind("malformed bundle: end at byte ", 0), 0u) << e;
    EXPECT_NE(e.find("trailing bytes after the program"), std::string::npos) << e;
  }
  {  // a resealed bundle with a valid body loads
    std::string b = bytes;
    Reseal(&b);
    EXPECT_EQ(b, bytes);
  }
}

TEST(Bundle, HostileCountsAreRefusedWithoutHugeAllocations) {
  // The slot count is the first u32 after package, version and two bools.
  const std::string bytes = BundleOf(fs::path(GAVEL_SOURCE_DIR) / "policies" / "support_assistant.policy", false);
  uint32_t pkg_len, ver_len;
  std::memcpy(&pkg_len, bytes.data() + 48, 4);
  std::memcpy(&ver_len, bytes.data() + 52 + pkg_len, 4);
  const size_t slot_count_at = 48 + 4 + pkg_len + 4 + ver_len + 2;
  uint32_t slots;
  std::memcpy(&slots, bytes.data() + slot_count_at, 4);
  ASSERT_EQ(slots, 23u) << "layout assumption";
  for (uint32_t n : {0xffffffffu, 0x10000000u, 100000u}) {
    std::string b = bytes;
    SetU32(&b, slot_count_at, n);
    Reseal(&b);
    const std::string e = Read(b);
    EXPECT_EQ(e.rfind("malformed bundle: slots at byte ", 0), 0u) << e;
    EXPECT_NE(e.find("count exceeds the bundle size"), std::string::npos) << e;
  }
  {  // a package string longer than the bundle
    std::string b = bytes;
    SetU32(&b, 48, 0x7fffffff);
    Reseal(&b);
    const std::string e = Read(b);
    EXPECT_NE(e.find("string runs past the end"), std::string::npos) << e;
  }
  {  // fewer slots than the built-ins: the verifier refuses
    std::string b = bytes;
    SetU32(&b, slot_count_at, 0);
    Reseal(&b);
    EXPECT_NE(Read(b), "");
  }
}

// Flips bytes of the body and reseals; the result must be refused or decide
// without crashing. Run under ASan for the real check.
TEST(Bundle, ResealedBodyCorruptionIsRefusedOrHarmless) {
  const auto policies = ExamplePolicies();
  std::mt19937_64 rng(20261122);
  int loaded = 0, refused = 0;
  const int kFlipsPerPolicy = 1500;
  for (const fs::path& path : policies) {
    SCOPED_TRACE(path.filename().string());
    const std::string bytes = BundleOf(path, false);
    ASSERT_GT(bytes.size(), kBundleHeaderSize);
    std::uniform_int_distribution<size_t> pos(kBundleHeaderSize, bytes.size() - 1);
    std::uniform_int_distribution<int> val(1, 255);
    for (int k = 0; k < kFlipsPerPolicy; ++k) {
      std::string b = bytes;
      const int flips = 1 + (k % 3);  // one, two or three bytes
      for (int f = 0; f < flips; ++f) b[pos(rng)] ^= static_cast<char>(val(rng));
      Reseal(&b);
      std::string err;
      auto engine = Engine::Load(b.data(), b.size(), &err);
      if (!engine) {
        ++refused;
        EXPECT_FALSE(err.empty());
        EXPECT_TRUE(err.rfind("malformed bundle: ", 0) == 0 || err.rfind("invalid bundle: ", 0) == 0) << err;
        continue;
      }
      ++loaded;
      (void)Disassemble(engine->program());
      DecideSome(*engine);
    }
  }
  // Both outcomes happen: the test exercises the verifier and the runtime.
  EXPECT_GT(refused, 100);
  EXPECT_GT(loaded, 100);
  RecordProperty("refused", refused);
  RecordProperty("loaded", loaded);
}

TEST(Bundle, DamageInScreeningDatabasesIsRefusedOrHarmless) {
  GAVEL_NEEDS_HYPERSCAN();
  // Resealed corruption of whole bundles, whose bytes are mostly Hyperscan
  // databases; plus cuts and flips at sampled offsets. Hyperscan checks its
  // own checksum when a database is deserialized.
  std::mt19937_64 rng(20261123);
  int loaded = 0, refused = 0;
  for (const fs::path& path : ExamplePolicies()) {
    SCOPED_TRACE(path.filename().string());
    const std::string bytes = BundleOf(path);
    ASSERT_GT(bytes.size(), kBundleHeaderSize);
    std::uniform_int_distribution<size_t> pos(kBundleHeaderSize, bytes.size() - 1);
    std::uniform_int_distribution<int> val(1, 255);
    for (int k = 0; k < 400; ++k) {
      std::string b = bytes;
      b[pos(rng)] ^= static_cast<char>(val(rng));
      Reseal(&b);
      std::string err;
      auto engine = Engine::Load(b.data(), b.size(), &err);
      if (!engine) {
        ++refused;
        EXPECT_TRUE(err.rfind("malformed bundle: ", 0) == 0 || err.rfind("invalid bundle: ", 0) == 0) << err;
        continue;
      }
      ++loaded;
      DecideSome(*engine);
    }
    for (int k = 0; k < 200; ++k) {
      const size_t n = pos(rng);
      std::string cut = bytes.substr(0, n);
      SetTotal(&cut, n);
      Reseal(&cut);
      EXPECT_NE(Read(cut), "") << "accepted a body cut to " << n << " bytes";
    }
  }
  EXPECT_GT(refused, 600);
  RecordProperty("refused", refused);
  RecordProperty("loaded", loaded);
}

TEST(Bundle, HostileSchemaSlotNameIsRefused) {
  // A bundle whose principal slot is named "x": decoding would look the key up
  // with name.substr(strlen("principal.")), which throws std::out_of_range, so
  // the loader must refuse it.
  std::unique_ptr<Program> p = CompilePolicy(fs::path(GAVEL_SOURCE_DIR) / "policies" / "support_assistant.policy");
  ASSERT_TRUE(p);
  bool renamed = false;
  for (auto& s : p->slots)
    if (s.name == "principal.api_key") s.name = "x", renamed = true;
  ASSERT_TRUE(renamed);
  const std::string bytes = WriteBundle(p.get());
  std::string err;
  auto engine = Engine::Load(bytes.data(), bytes.size(), &err);
  ASSERT_FALSE(engine) << "loaded a bundle with a principal slot named \"x\"";
  EXPECT_EQ(err, "invalid bundle: slot 18: name does not start with principal.");
}

}  // namespace
}  // namespace gavel
