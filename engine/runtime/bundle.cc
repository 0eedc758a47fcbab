// Bundle writer and reader. The reader bounds every count by the bytes left
// before allocating, so a hostile length cannot make it allocate gigabytes.
#include "engine/runtime/bundle.h"

#include <cstring>

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace gavel {

namespace {

const char kMagic[8] = {'G', 'A', 'V', 'E', 'L', 'B', 'N', 'D'};
const char kSignedMagic[8] = {'G', 'A', 'V', 'E', 'L', 'S', 'I', 'G'};

Status Corrupt(std::string message) { return Status(StatusCode::kCorruptBundle, std::move(message)); }

// A format version other than `reads`, in words that say which side to upgrade.
Status VersionMismatch(const char* what, uint32_t version, uint32_t reads) {
  const std::string v = std::to_string(version), r = std::to_string(reads);
  if (version > reads)
    return Status(
        StatusCode::kNewerFormat,
        std::string(what) + " version " + v + " is newer than this gavel reads (version " + r + "); upgrade libgavel");
  return Status(StatusCode::kOlderFormat, std::string(what) + " version " + v +
                                              " is older than this gavel reads (version " + r +
                                              "); compile the policy again with this policyc");
}

// A size field over the format's maximum. Over the maximum itself, the bytes
// are too large; otherwise only the header says so, and the header is wrong.
Status OverMaximum(const char* what, size_t size, size_t maximum) {
  return Status(size > maximum ? StatusCode::kTooLarge : StatusCode::kCorruptBundle,
                std::string(what) + " larger than the maximum");
}

std::string KeyIdList(const TrustedKeys& keys) {
  std::string s;
  for (const PublicKey& k : keys) {
    if (!s.empty()) s += ", ";
    s += KeyIdHex(k.id);
  }
  return s;
}

class Writer {
 public:
  void U8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void U16(uint16_t v) { Raw(&v, 2); }
  void U32(uint32_t v) { Raw(&v, 4); }
  void I32(int32_t v) { Raw(&v, 4); }
  void U64(uint64_t v) { Raw(&v, 8); }
  void Str(const std::string& s) {
    U32(static_cast<uint32_t>(s.size()));
    out_.append(s);
  }
  void Raw(const void* p, size_t n) { out_.append(static_cast<const char*>(p), n); }
  std::string& out() { return out_; }

 private:
  std::string out_;
};

class Reader {
 public:
  Reader(const uint8_t* p, size_t n) : p_(p), n_(n) {}
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  size_t offset() const { return pos_ + kBundleHeaderSize; }
  size_t left() const { return n_ - pos_; }

  uint8_t U8() {
    uint8_t v = 0;
    Raw(&v, 1);
    return v;
  }
  uint16_t U16() {
    uint16_t v = 0;
    Raw(&v, 2);
    return v;
  }
  uint32_t U32() {
    uint32_t v = 0;
    Raw(&v, 4);
    return v;
  }
  int32_t I32() {
    int32_t v = 0;
    Raw(&v, 4);
    return v;
  }
  uint64_t U64() {
    uint64_t v = 0;
    Raw(&v, 8);
    return v;
  }
  std::string Str(const char* what) {
    uint32_t n = U32();
    if (!ok()) return {};
    if (n > left()) {
      Fail(what, "string runs past the end");
      return {};
    }
    std::string s(reinterpret_cast<const char*>(p_ + pos_), n);
    pos_ += n;
    return s;
  }
  // A count of items each at least min_bytes long, checked against what is left.
  uint32_t Count(const char* what, size_t min_bytes) {
    uint32_t n = U32();
    if (ok() && uint64_t(n) * min_bytes > left()) {
      Fail(what, "count exceeds the bundle size");
      return 0;
    }
    return ok() ? n : 0;
  }
  void Fail(const char* what, const char* why) {
    if (error_.empty()) error_ = std::string(what) + " at byte " + std::to_string(offset()) + ": " + why;
  }
  void Raw(void* dst, size_t n) {
    if (!ok()) return;
    if (n > left()) {
      Fail("field", "bundle ends in the middle of a field");
      return;
    }
    std::memcpy(dst, p_ + pos_, n);
    pos_ += n;
  }

 private:
  const uint8_t* p_;
  size_t n_;
  size_t pos_ = 0;
  std::string error_;
};

void WriteBody(const Program& p, Writer& w) {
  w.Str(p.package);
  w.Str(p.version);
  w.U8(p.default_deny);
  w.U8(p.on_error_deny);
  w.U32(static_cast<uint32_t>(p.slots.size()));
  for (auto& s : p.slots) {
    w.Str(s.name);
    w.U8(static_cast<uint8_t>(s.root));
    w.U8(static_cast<uint8_t>(s.type));
    w.I32(s.default_const);
  }
  w.U32(static_cast<uint32_t>(p.const_entries.size()));
  for (auto& e : p.const_entries) {
    w.U8(static_cast<uint8_t>(e.kind));
    w.U8(e.sorted);
    w.U32(e.len);
    w.U64(e.payload);
  }
  w.Str(p.strings);
  w.U32(static_cast<uint32_t>(p.code.size()));
  for (auto& in : p.code) {
    w.U8(static_cast<uint8_t>(in.op));
    w.U8(in.a);
    w.U16(in.b);
    w.U32(in.c);
  }
  w.U32(static_cast<uint32_t>(p.chunks.size()));
  for (auto& c : p.chunks) {
    w.U32(c.begin);
    w.U32(c.size);
    w.U16(c.nregs);
  }
  w.U32(static_cast<uint32_t>(p.predicates.size()));
  for (auto& pr : p.predicates) {
    w.U32(pr.chunk);
    w.Str(pr.text);
  }
  w.U32(static_cast<uint32_t>(p.rules.size()));
  for (auto& r : p.rules) {
    w.Str(r.name);
    w.U8(static_cast<uint8_t>(r.phase));
    w.U8(static_cast<uint8_t>(r.effect));
    w.U16(r.status);
    w.U32(r.line);
    w.Str(r.code);
    w.U32(static_cast<uint32_t>(r.message.size()));
    for (auto& m : r.message) {
      w.U8(m.is_expr);
      w.Str(m.text);
      w.U32(m.chunk);
    }
    w.I32(r.target_chunk);
    w.U32(r.conj_begin);
    w.U32(r.conj_count);
    w.U32(static_cast<uint32_t>(r.redact_sets.size()));
    for (uint32_t s : r.redact_sets) w.U32(s);
    w.I32(r.redact_field_slot);
    w.Str(r.redact_with);
  }
  w.U32(p.words);
  w.U32(static_cast<uint32_t>(p.masks.size()));
  for (uint64_t m : p.masks) w.U64(m);
  w.U32(static_cast<uint32_t>(p.pattern_sets.size()));
  for (auto& ps : p.pattern_sets) {
    w.Str(ps.name);
    w.U32(static_cast<uint32_t>(ps.patterns.size()));
    for (auto& pat : ps.patterns) {
      w.Str(pat.source);
      w.U8(pat.regex);
      w.U8(pat.caseless);
      w.U8(pat.validator);
      w.Str(pat.kind);
    }
  }
  const ScreenData& sd = p.screen_data;
  w.Str(sd.block);
  w.Str(sd.stream);
  w.U32(static_cast<uint32_t>(sd.spans.size()));
  for (const std::string& d : sd.spans) w.Str(d);
  w.U32(static_cast<uint32_t>(sd.max_width.size()));
  for (uint32_t m : sd.max_width) w.U32(m);
  w.U32(static_cast<uint32_t>(p.usage_rules.size()));
  for (auto& u : p.usage_rules) {
    w.Str(u.name);
    w.Str(u.kind);
    w.Str(u.text);
  }
}

bool ReadBool(Reader& r, const char* what) {
  uint8_t v = r.U8();
  if (v > 1) r.Fail(what, "not a boolean");
  return v == 1;
}

void ReadBody(Reader& r, Program* p) {
  p->package = r.Str("package");
  p->version = r.Str("version");
  p->default_deny = ReadBool(r, "default");
  p->on_error_deny = ReadBool(r, "on_error");
  uint32_t n = r.Count("slots", 10);
  p->slots.resize(n);
  for (auto& s : p->slots) {
    s.name = r.Str("slot name");
    uint8_t root = r.U8(), type = r.U8();
    if (root > static_cast<uint8_t>(Root::kEnv)) r.Fail("slot", "unknown root");
    if (type > static_cast<uint8_t>(SlotType::kBuiltin)) r.Fail("slot", "unknown type");
    s.root = static_cast<Root>(root);
    s.type = static_cast<SlotType>(type);
    s.default_const = r.I32();
  }
  n = r.Count("constants", 14);
  p->const_entries.resize(n);
  for (auto& e : p->const_entries) {
    uint8_t kind = r.U8();
    if (kind > static_cast<uint8_t>(Kind::kRecord)) r.Fail("constant", "unknown kind");
    e.kind = static_cast<Kind>(kind);
    e.sorted = r.U8();
    e.len = r.U32();
    e.payload = r.U64();
  }
  p->strings = r.Str("string pool");
  n = r.Count("code", 8);
  p->code.resize(n);
  for (auto& in : p->code) {
    uint8_t op = r.U8();
    if (op >= static_cast<uint8_t>(Op::kCount)) r.Fail("instruction", "unknown opcode");
    in.op = static_cast<Op>(op);
    in.a = r.U8();
    in.b = r.U16();
    in.c = r.U32();
  }
  n = r.Count("chunks", 10);
  p->chunks.resize(n);
  for (auto& c : p->chunks) {
    c.begin = r.U32();
    c.size = r.U32();
    c.nregs = r.U16();
  }
  n = r.Count("predicates", 8);
  p->predicates.resize(n);
  for (auto& pr : p->predicates) {
    pr.chunk = r.U32();
    pr.text = r.Str("predicate text");
  }
  n = r.Count("rules", 40);
  p->rules.resize(n);
  for (auto& rule : p->rules) {
    rule.name = r.Str("rule name");
    uint8_t phase = r.U8(), effect = r.U8();
    if (phase > 1 || effect > static_cast<uint8_t>(Effect::kRedact)) r.Fail("rule", "unknown phase or effect");
    rule.phase = static_cast<Phase>(phase);
    rule.effect = static_cast<Effect>(effect);
    rule.status = r.U16();
    rule.line = r.U32();
    rule.code = r.Str("rule code");
    uint32_t parts = r.Count("message", 9);
    rule.message.resize(parts);
    for (auto& m : rule.message) {
      m.is_expr = ReadBool(r, "message part");
      m.text = r.Str("message text");
      m.chunk = r.U32();
    }
    rule.target_chunk = r.I32();
    rule.conj_begin = r.U32();
    rule.conj_count = r.U32();
    uint32_t sets = r.Count("redact sets", 4);
    rule.redact_sets.resize(sets);
    for (auto& s : rule.redact_sets) s = r.U32();
    rule.redact_field_slot = r.I32();
    rule.redact_with = r.Str("redact replacement");
    if (!r.ok()) return;
  }
  p->words = r.U32();
  n = r.Count("rule matrix", 8);
  p->masks.resize(n);
  for (auto& m : p->masks) m = r.U64();
  n = r.Count("pattern sets", 8);
  p->pattern_sets.resize(n);
  for (auto& ps : p->pattern_sets) {
    ps.name = r.Str("pattern set name");
    uint32_t k = r.Count("patterns", 11);
    ps.patterns.resize(k);
    for (auto& pat : ps.patterns) {
      pat.source = r.Str("pattern");
      pat.regex = ReadBool(r, "pattern kind");
      pat.caseless = ReadBool(r, "pattern flag");
      pat.validator = r.U8();
      pat.kind = r.Str("pattern kind name");
    }
    if (!r.ok()) return;
  }
  ScreenData& sd = p->screen_data;
  sd.block = r.Str("screening database");
  sd.stream = r.Str("screening stream database");
  n = r.Count("screening span databases", 4);
  sd.spans.resize(n);
  for (auto& d : sd.spans) d = r.Str("screening span database");
  n = r.Count("screening widths", 4);
  sd.max_width.resize(n);
  for (auto& m : sd.max_width) m = r.U32();
  n = r.Count("usage rules", 12);
  p->usage_rules.resize(n);
  for (auto& u : p->usage_rules) {
    u.name = r.Str("usage rule name");
    u.kind = r.Str("usage rule kind");
    u.text = r.Str("usage rule text");
  }
  if (r.ok() && r.left() != 0) r.Fail("end", "trailing bytes after the program");
}

}  // namespace

std::string WriteBundle(Program* p) {
  Writer body;
  WriteBody(*p, body);
  const std::string& b = body.out();
  XXH128_hash_t h = XXH3_128bits(b.data(), b.size());
  XXH128_canonical_t canon;
  XXH128_canonicalFromHash(&canon, h);
  std::memcpy(p->hash.data(), canon.digest, 16);
  Writer w;
  w.Raw(kMagic, 8);
  w.U32(kBundleFormatVersion);
  w.U32(0);
  w.U64(kBundleHeaderSize + b.size());
  w.Raw(canon.digest, 16);
  w.U64(0);
  w.out() += b;
  return std::move(w.out());
}

Status OpenBundle(const void* data, size_t size, const TrustedKeys& trusted, OpenedBundle* out) {
  const uint8_t* bytes = static_cast<const uint8_t*>(data);
  const bool enveloped = data != nullptr && size >= 8 && std::memcmp(bytes, kSignedMagic, 8) == 0;
  if (!enveloped) {
    if (!trusted.empty()) {
      if (data != nullptr && size >= 8 && std::memcmp(bytes, kMagic, 8) == 0)
        return Status(StatusCode::kUnsigned,
                      "bundle is unsigned, but this engine trusts only bundles signed by key id " + KeyIdList(trusted));
      return Corrupt("not a signed gavel bundle (bad magic); this engine trusts only bundles signed by key id " +
                     KeyIdList(trusted));
    }
    out->bytes = bytes;
    out->size = data == nullptr ? 0 : size;
    out->signer = "unsigned";
    return Status();
  }
  // Fixed offsets only until the signature is verified.
  if (size < kSignedHeaderSize + kSignatureSize)
    return Corrupt("signed bundle truncated: " + std::to_string(size) +
                   " bytes is shorter than its header and signature");
  uint32_t version, flags;
  uint64_t total;
  KeyId id;
  std::memcpy(&version, bytes + 8, 4);
  std::memcpy(&flags, bytes + 12, 4);
  std::memcpy(id.data(), bytes + 16, id.size());
  std::memcpy(&total, bytes + 24, 8);
  if (version != kSignedFormatVersion) return VersionMismatch("signed bundle envelope", version, kSignedFormatVersion);
  constexpr size_t kMaxSigned = kMaxBundleSize + kSignedHeaderSize + kSignatureSize;
  if (total > kMaxSigned) return OverMaximum("signed bundle", size, kMaxSigned);
  if (total != size)
    return Corrupt("signed bundle truncated or padded: its header says " + std::to_string(total) + " bytes, got " +
                   std::to_string(size));
  const size_t signed_size = size - kSignatureSize;
  std::string signer = "unsigned";
  if (!trusted.empty()) {
    bool known = false, valid = false;
    for (const PublicKey& k : trusted) {
      if (k.id != id) continue;
      known = true;
      if (VerifySignature(bytes + signed_size, bytes, signed_size, k.key.data())) {
        valid = true;
        break;
      }
    }
    if (!known)
      return Status(StatusCode::kUntrustedKey, "bundle is signed by unknown key id " + KeyIdHex(id) +
                                                   " (this engine trusts key id " + KeyIdList(trusted) + ")");
    if (!valid)
      return Status(StatusCode::kBadSignature, "bad signature: the bundle is not what key id " + KeyIdHex(id) +
                                                   " signed (tampered with or corrupted after signing)");
    signer = KeyIdHex(id);
  }
  if (flags != 0) return Corrupt("signed bundle has unknown flags");
  out->bytes = bytes + kSignedHeaderSize;
  out->size = signed_size - kSignedHeaderSize;
  out->signer = std::move(signer);
  return Status();
}

std::string SignedBundlePrefix(const std::string& bundle, const KeyId& id) {
  Writer w;
  w.Raw(kSignedMagic, 8);
  w.U32(kSignedFormatVersion);
  w.U32(0);
  w.Raw(id.data(), id.size());
  w.U64(kSignedHeaderSize + bundle.size() + kSignatureSize);
  w.out() += bundle;
  return std::move(w.out());
}

Status ReadBundle(const void* data, size_t size, Program* out) {
  const uint8_t* bytes = static_cast<const uint8_t*>(data);
  if (data == nullptr || size < kBundleHeaderSize)
    return Corrupt("bundle truncated: " + std::to_string(size) + " bytes is shorter than the header");
  if (std::memcmp(bytes, kMagic, 8) != 0) return Corrupt("not a gavel bundle (bad magic)");
  uint32_t version, flags;
  uint64_t total;
  std::memcpy(&version, bytes + 8, 4);
  std::memcpy(&flags, bytes + 12, 4);
  std::memcpy(&total, bytes + 16, 8);
  if (version != kBundleFormatVersion) return VersionMismatch("bundle format", version, kBundleFormatVersion);
  if (flags != 0) return Corrupt("bundle has unknown flags");
  for (size_t i = 40; i < kBundleHeaderSize; ++i)
    if (bytes[i] != 0) return Corrupt("bundle header has non-zero reserved bytes");
  if (total > kMaxBundleSize) return OverMaximum("bundle", size, kMaxBundleSize);
  if (total != size)
    return Corrupt("bundle truncated or padded: header says " + std::to_string(total) + " bytes, got " +
                   std::to_string(size));
  XXH128_hash_t h = XXH3_128bits(bytes + kBundleHeaderSize, size - kBundleHeaderSize);
  XXH128_canonical_t canon;
  XXH128_canonicalFromHash(&canon, h);
  if (std::memcmp(canon.digest, bytes + 24, 16) != 0) return Corrupt("bundle checksum mismatch (corrupted)");
  Program p;
  std::memcpy(p.hash.data(), canon.digest, 16);
  Reader r(bytes + kBundleHeaderSize, size - kBundleHeaderSize);
  ReadBody(r, &p);
  if (!r.ok()) return Corrupt("malformed bundle: " + r.error());
  // Link in place: linked constants point into the program's own strings,
  // which a move of a short std::string would not keep.
  *out = std::move(p);
  // The verifier speaks in words; everything it refuses is a program that
  // does not verify, so this boundary gives it its code.
  std::string err = VerifyAndLink(out);
  if (!err.empty()) {
    *out = Program();
    return Corrupt("invalid bundle: " + err);
  }
  return Status();
}

std::string HashHex(const Program& p) {
  static const char kHex[] = "0123456789abcdef";
  std::string s = "xxh3:";
  for (uint8_t b : p.hash) {
    s += kHex[b >> 4];
    s += kHex[b & 15];
  }
  return s;
}

}  // namespace gavel
