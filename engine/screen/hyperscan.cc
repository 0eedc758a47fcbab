// The Hyperscan screening backend: the bundle's serialized databases,
// deserialized once per program (ScreenDb) and scanned with one worker's
// scratch. Runtime part of Hyperscan only: nothing here compiles a regex. In
// a build without Hyperscan this file defines only what says so.
#include <exception>
#include <new>
#include <string>
#include <vector>

#include "engine/screen/matcher.h"
#include "engine/screen/screen.h"

#if defined(GAVEL_HAVE_HYPERSCAN)
#include <hs/hs_runtime.h>
#endif

namespace gavel {

#if defined(GAVEL_HAVE_HYPERSCAN)

struct ScreenDb::Impl {
  hs_database_t* block = nullptr;
  hs_database_t* stream = nullptr;
  std::vector<hs_database_t*> spans;  // per screen pattern, may be null
  ~Impl() {
    hs_free_database(block);
    hs_free_database(stream);
    for (hs_database_t* d : spans) hs_free_database(d);
  }
};

namespace {

const char kScanFailed[] = "the screening engine failed on this text";

hs_database_t* Deserialize(const std::string& bytes, const char* what, std::string* err) {
  if (bytes.empty()) return nullptr;
  hs_database_t* db = nullptr;
  const hs_error_t rc = hs_deserialize_database(bytes.data(), bytes.size(), &db);
  if (rc == HS_NOMEM) throw std::bad_alloc();  // not a damaged database
  if (rc != HS_SUCCESS) {
    *err = std::string("screening database (") + what + ") is damaged or was built by another Hyperscan version";
    return nullptr;
  }
  return db;
}

struct DetectCtx {
  uint64_t* found;
  uint32_t n;
};

int OnDetect(unsigned int id, unsigned long long, unsigned long long, unsigned int,
             void* c) {  // NOLINT: Hyperscan's types
  auto* x = static_cast<DetectCtx*>(c);
  if (id < x->n) SetBit(x->found, id);  // databases name only the program's patterns; never trust that blindly
  return 0;
}

struct MatchCtx {
  MatchFn fn;
  void* ctx;
  std::exception_ptr thrown;  // what fn threw; rethrown once Hyperscan has returned
};

int OnMatch(unsigned int, unsigned long long from, unsigned long long to, unsigned int, void* c) {  // NOLINT
  auto* x = static_cast<MatchCtx*>(c);
  // An exception (std::bad_alloc from a span callback) must not unwind
  // through Hyperscan's C frames: the scratch would stay marked in use, so
  // every later scan of this worker would fail, and hs_free_scratch would
  // leak it.
  try {
    return x->fn(x->ctx, static_cast<uint32_t>(from), static_cast<uint32_t>(to)) ? 0 : 1;
  } catch (...) {
    x->thrown = std::current_exception();
    return 1;  // stop scanning
  }
}

struct StreamCtx {
  uint64_t* bits;
  const ScreenPattern* pats;
  uint32_t n;
};

int OnStream(unsigned int id, unsigned long long, unsigned long long, unsigned int, void* c) {  // NOLINT
  auto* x = static_cast<StreamCtx*>(c);
  if (id < x->n && !x->pats[id].validator) SetBit(x->bits, id);
  return 0;
}

class HyperscanMatcher final : public Matcher {
 public:
  ~HyperscanMatcher() override { hs_free_scratch(scratch_); }
  ScreenBackend backend() const override { return ScreenBackend::kHyperscan; }

  bool Prepare(const std::vector<ScreenPattern>& patterns, const std::shared_ptr<const ScreenDb>& db,
               const char** err) override {
    patterns_ = &patterns;
    if (db.get() == db_.get()) return true;
    // db_ names the databases the scratch fits, so it is set only once the
    // scratch is ready: if growing it throws, the next Prepare grows it again.
    db_.reset();
    if (!db) return true;
    const ScreenDb::Impl& im = db->impl();
    hs_error_t rc = HS_SUCCESS;
    auto grow = [&](const hs_database_t* d) { return !d || (rc = hs_alloc_scratch(d, &scratch_)) == HS_SUCCESS; };
    bool ok = grow(im.block) && grow(im.stream);
    for (const hs_database_t* d : im.spans) ok = ok && grow(d);
    if (!ok) {
      // Out of memory is the caller's error, not a reason to decide
      // without the screening engine (regex rules would only error).
      if (rc == HS_NOMEM) throw std::bad_alloc();
      *err = "could not allocate screening scratch";
      return false;
    }
    db_ = db;  // only when the databases changed: no reference count traffic per decision
    return true;
  }

  bool Detect(const char* text, uint32_t n, uint64_t* found, const char** err) override {
    if (!db_) return true;  // nothing to screen for
    DetectCtx ctx{found, static_cast<uint32_t>(patterns_->size())};
    if (hs_scan(db_->impl().block, text, n, 0, scratch_, OnDetect, &ctx) != HS_SUCCESS) {
      *err = kScanFailed;
      return false;
    }
    return true;
  }

  bool Matches(uint32_t id, const char* text, uint32_t n, MatchFn fn, void* ctx, const char** err) override {
    const hs_database_t* d = db_ && id < db_->impl().spans.size() ? db_->impl().spans[id] : nullptr;
    if (!d) {
      *err = "the bundle has no span database for this pattern";
      return false;
    }
    MatchCtx mc{fn, ctx, nullptr};
    const hs_error_t rc = hs_scan(d, text, n, 0, scratch_, OnMatch, &mc);
    if (mc.thrown) std::rethrow_exception(mc.thrown);
    if (rc != HS_SUCCESS && rc != HS_SCAN_TERMINATED) {
      *err = kScanFailed;
      return false;
    }
    return true;
  }

  std::unique_ptr<MatchStream> OpenStream(const char** err) override;

  const ScreenDb* db() const { return db_.get(); }
  hs_scratch_t* scratch() const { return scratch_; }
  const std::vector<ScreenPattern>& patterns() const { return *patterns_; }

 private:
  const std::vector<ScreenPattern>* patterns_ = nullptr;
  std::shared_ptr<const ScreenDb> db_;  // the databases the scratch was sized for
  hs_scratch_t* scratch_ = nullptr;
};

class HyperscanStream final : public MatchStream {
 public:
  explicit HyperscanStream(const ScreenDb* db) : db_(db) {}
  ~HyperscanStream() override {
    if (stream_) hs_close_stream(stream_, nullptr, nullptr, nullptr);
  }

  bool Feed(Matcher* m, const char* s, uint32_t len, uint64_t* bits, const char** err) override {
    if (!stream_ || len == 0) return true;
    HyperscanMatcher* hm = Same(m, err);
    if (!hm) return false;
    const std::vector<ScreenPattern>& pats = hm->patterns();
    StreamCtx ctx{bits, pats.data(), static_cast<uint32_t>(pats.size())};
    if (hs_scan_stream(stream_, s, len, 0, hm->scratch(), OnStream, &ctx) != HS_SUCCESS) {
      *err = kScanFailed;
      return false;
    }
    return true;
  }

  bool Close(Matcher* m, uint64_t* bits, const char** err) override {
    if (!stream_) return true;
    hs_stream_t* st = stream_;
    stream_ = nullptr;
    HyperscanMatcher* hm = Same(m, err);
    if (!hm) {
      hs_close_stream(st, nullptr, nullptr, nullptr);
      return false;
    }
    const std::vector<ScreenPattern>& pats = hm->patterns();
    StreamCtx ctx{bits, pats.data(), static_cast<uint32_t>(pats.size())};
    if (hs_close_stream(st, hm->scratch(), OnStream, &ctx) != HS_SUCCESS) {
      *err = kScanFailed;
      return false;
    }
    return true;
  }

 private:
  // m as the Hyperscan matcher whose scratch fits this stream's databases,
  // or null with *err.
  HyperscanMatcher* Same(Matcher* m, const char** err) const {
    if (!m || m->backend() != ScreenBackend::kHyperscan || static_cast<HyperscanMatcher*>(m)->db() != db_) {
      *err = "the screening stream and the worker disagree on the policy";
      return nullptr;
    }
    return static_cast<HyperscanMatcher*>(m);
  }

  friend class HyperscanMatcher;  // opens stream_
  hs_stream_t* stream_ = nullptr;
  const ScreenDb* db_;  // kept alive by the ScreenStream
};

std::unique_ptr<MatchStream> HyperscanMatcher::OpenStream(const char** err) {
  if (!db_ || !db_->impl().stream) return nullptr;
  // The owner first: once Hyperscan has opened the stream, nothing may throw
  // before something owns it.
  auto out = std::make_unique<HyperscanStream>(db_.get());
  const hs_error_t rc = hs_open_stream(db_->impl().stream, 0, &out->stream_);
  if (rc == HS_NOMEM) throw std::bad_alloc();
  if (rc != HS_SUCCESS) {
    *err = "could not open a screening stream";
    return nullptr;
  }
  return out;
}

}  // namespace

std::shared_ptr<const ScreenDb> ScreenDb::Load(const std::vector<ScreenPattern>&, const ScreenData& d,
                                               std::string* err) {
  err->clear();
  if (d.block.empty()) return nullptr;
  if (!__builtin_cpu_supports("ssse3")) {
    *err = "this CPU lacks SSSE3, which the screening engine needs";
    return nullptr;
  }
  std::shared_ptr<ScreenDb> db(new ScreenDb());
  db->impl_ = std::make_unique<Impl>();
  Impl& im = *db->impl_;
  im.block = Deserialize(d.block, "block", err);
  if (!im.block) return nullptr;
  im.stream = Deserialize(d.stream, "stream", err);
  if (!err->empty()) return nullptr;
  im.spans.assign(d.spans.size(), nullptr);
  for (size_t i = 0; i < d.spans.size(); ++i) {
    im.spans[i] = Deserialize(d.spans[i], "spans", err);
    if (!err->empty()) return nullptr;
  }
  return db;
}

std::unique_ptr<Matcher> NewHyperscanMatcher() { return std::make_unique<HyperscanMatcher>(); }

#else  // !GAVEL_HAVE_HYPERSCAN

struct ScreenDb::Impl {};

std::shared_ptr<const ScreenDb> ScreenDb::Load(const std::vector<ScreenPattern>&, const ScreenData&, std::string* err) {
  err->clear();
  return nullptr;
}

std::unique_ptr<Matcher> NewHyperscanMatcher() { return nullptr; }

#endif  // GAVEL_HAVE_HYPERSCAN

ScreenDb::ScreenDb() = default;
ScreenDb::~ScreenDb() = default;

}  // namespace gavel
