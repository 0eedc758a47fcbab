// Fuzzes the bundle loader and verifier: bytes are refused with a message or
// load, and a loaded bundle serializes back to the same bytes (the format is
// canonical) and decides a fixed exchange, request and response, safely.
//
// Built twice. fuzz_bundle takes the bytes as they are, so it mostly exercises
// the header checks: the checksum refuses nearly every mutation. The
// fuzz_bundle_resealed build (GAVEL_FUZZ_RESEAL) first writes the true total
// size and checksum into the header, as tests/bundle_test.cc reseals, so the
// body parser and the program verifier see the mutations.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "engine/runtime/bundle.h"
#include "engine/runtime/engine.h"
#include "tests/fuzz/fuzz_common.h"

#if GAVEL_FUZZ_RESEAL
#define XXH_INLINE_ALL
#include <xxhash.h>
#endif

namespace gavel::fuzz {
namespace {

#if GAVEL_FUZZ_RESEAL
void Reseal(std::string* b) {
  if (b->size() < kBundleHeaderSize) return;
  const uint64_t total = b->size();
  std::memcpy(&(*b)[16], &total, 8);
  XXH128_hash_t h = XXH3_128bits(b->data() + kBundleHeaderSize, b->size() - kBundleHeaderSize);
  XXH128_canonical_t canon;
  XXH128_canonicalFromHash(&canon, h);
  std::memcpy(&(*b)[24], canon.digest, 16);
}
#endif

void LoadAndDecide(const std::string& bytes) {
  // Engine::Load opens a signature envelope, if any, and reads the bundle
  // inside; the two steps by hand must agree with it, codes included.
  Program p;
  OpenedBundle opened;
  Status read = OpenBundle(bytes.data(), bytes.size(), {}, &opened);
  if (read.ok()) read = ReadBundle(opened.bytes, opened.size, &p);
  Status load;
  std::shared_ptr<const Engine> engine = Engine::Load(bytes.data(), bytes.size(), {}, &load);
  Check((engine != nullptr) == read.ok(), "ReadBundle and Engine::Load disagree");
  if (!engine) {
    Check(load.code() == read.code(), "ReadBundle and Engine::Load refuse with different codes");
    Check(!load.message().empty(), "a refused bundle has no message");
    return;
  }
  Check(WriteBundle(&p) == std::string(reinterpret_cast<const char*>(opened.bytes), opened.size),
        "a loaded bundle does not serialize back to its bytes");

  DecideFixedExchange(*engine);
}

}  // namespace
}  // namespace gavel::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
#if GAVEL_FUZZ_RESEAL
  gavel::fuzz::Reseal(&bytes);
#endif
  gavel::fuzz::LoadAndDecide(bytes);
  return 0;
}
