#include "engine/screen/screen.h"

#include <algorithm>
#include <cstring>
#include <exception>
#include <new>

#include "engine/runtime/vm.h"
#include "engine/screen/validators.h"

#if defined(GAVEL_HAVE_HYPERSCAN)
#include <hs/hs_runtime.h>
#endif

namespace gavel {

namespace {

inline void SetBit(uint64_t* b, uint32_t i) { b[i / 64] |= uint64_t(1) << (i % 64); }

// Literal search for builds without Hyperscan: every occurrence's end.
template <typename F>
void ForEachLiteral(const char* text, size_t len, const std::string& needle, bool caseless, F&& f) {
  if (needle.empty() || needle.size() > len) return;
  auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
  for (size_t i = 0; i + needle.size() <= len; ++i) {
    size_t k = 0;
    if (caseless) {
      while (k < needle.size() && lower(text[i + k]) == lower(needle[k])) ++k;
    } else {
      while (k < needle.size() && text[i + k] == needle[k]) ++k;
    }
    if (k == needle.size() && !f(static_cast<uint32_t>(i), static_cast<uint32_t>(i + k))) return;
  }
}

const char kNoRegex[] = "regular-expression patterns need the screening engine, which this build lacks";

// The validation of one text's candidates within its budget (see screen.h).
// Every byte a check reads is charged, so the bytes read for one text never
// exceed ValidationBudget(its length), whatever the patterns report.
class Validation {
 public:
  Validation(ScreenWork* work, uint32_t text_len) : work_(work), left_(ValidationBudget(text_len)) {
    work_->budgeted_bytes += text_len;
  }

  // Called before the candidates of another pattern (they start over at the
  // beginning of the text).
  void NextPattern() {
    run_end_ = UINT32_MAX;
    cursor_b_ = UINT32_MAX;
  }

  // True if text[b, e) passes validator v: rejected unread when it cannot
  // pass (too long for luhn or iban, an entropy value too long), passing
  // unread when too long for the others (fail closed), read by the validator
  // otherwise, and passing (fail closed) once the budget is spent.
  bool Check(uint8_t v, const char* text, uint32_t b, uint32_t e) {
    ++work_->candidates;
    const Validator val = static_cast<Validator>(v);
    const uint64_t len = e - b;
    if (val == Validator::kEntropy && len > kMaxEntropyValue) {
      bool spent = false;
      const uint32_t run = InsideRun(text, e, &spent);
      if (spent) return Unchecked();
      if (std::min<uint64_t>(run, len) > kMaxEntropyValue) return false;
    }
    if (len > MaxValidatedLength(val)) return OverlongMatchPasses(val);
    if (val == Validator::kEntropy) return CheckEntropy(text, b, e);
    if (!Charge(len + kValidationCallCost)) return Unchecked();
    ++work_->validations;
    return Validate(val, std::string_view(text + b, static_cast<size_t>(len)));
  }

 private:
  static constexpr uint32_t kRunCap = kMaxEntropyValue + 1;

  bool Charge(uint64_t bytes) {
    if (bytes > left_) {
      left_ = 0;  // spent: every further candidate of this text passes unread
      return false;
    }
    left_ -= bytes;
    work_->validated_bytes += bytes;
    return true;
  }
  bool Unchecked() {
    ++work_->unchecked;
    return true;
  }

  // An entropy candidate: an extension of the previous one (same start, only
  // value bytes added) costs the bytes added; any other is checked whole.
  bool CheckEntropy(const char* text, uint32_t b, uint32_t e) {
    if (b == cursor_b_ && e > cursor_e_ && cursor_.CanExtend()) {
      const uint32_t added = e - cursor_e_;
      if (!Charge(added + kValidationCallCost)) return Unchecked();
      ++work_->validations;
      uint32_t i = cursor_e_;
      while (i < e && InsideEntropyValue(text[i])) ++i;
      if (i == e) {
        cursor_e_ = e;
        return cursor_.Extend(std::string_view(text + b + (e - b - added), added));
      }
    }
    if (!Charge(e - b + kValidationCallCost)) return Unchecked();
    ++work_->validations;
    cursor_b_ = b;
    cursor_e_ = e;
    return cursor_.Start(std::string_view(text + b, e - b));
  }

  // The number of bytes just before `e` that are InsideEntropyValue, or at
  // least kRunCap when there are more. Candidates of one pattern come in
  // order of their end, so the run is carried from one end to the next and a
  // long run costs one pass, not one per end; a call reads at most kRunCap
  // bytes either way.
  uint32_t InsideRun(const char* text, uint32_t e, bool* spent) {
    if (run_end_ != UINT32_MAX && e >= run_end_ && e - run_end_ <= kRunCap) {
      if (!Charge(e - run_end_)) return *spent = true, 0;
      for (uint32_t i = run_end_; i < e; ++i) run_ = InsideEntropyValue(text[i]) ? run_ + 1 : 0;
    } else {
      if (!Charge(kRunCap)) return *spent = true, 0;
      run_ = 0;
      while (run_ < kRunCap && run_ < e && InsideEntropyValue(text[e - 1 - run_])) ++run_;
    }
    run_end_ = e;
    return run_;
  }

  ScreenWork* work_;
  uint64_t left_;
  uint32_t run_end_ = UINT32_MAX, run_ = 0;
  EntropyCursor cursor_;  // the last entropy candidate, from cursor_b_ to cursor_e_
  uint32_t cursor_b_ = UINT32_MAX, cursor_e_ = 0;
};

// Spans of one pattern on their way to the caller: consecutive spans with the
// same start (an unbounded pattern reports one at every end of a run) are
// passed on once, as the longest, so a long run costs one span, not one per
// byte. A redaction masks the union of overlapping spans, so nothing changes.
class SpanCoalescer {
 public:
  SpanCoalescer(const NormalizedText* norm, SpanFn fn, void* ctx) : norm_(norm), fn_(fn), ctx_(ctx) {}
  void Add(uint32_t b, uint32_t e) {
    if (pending_ && b == b_) {
      if (e > e_) e_ = e;
      return;
    }
    Flush();
    pending_ = true;
    b_ = b;
    e_ = e;
  }
  void Flush() {
    if (!pending_) return;
    pending_ = false;
    uint32_t b = b_, e = e_;
    if (norm_) MapSpanToOriginal(*norm_, b, e, &b, &e);
    fn_(ctx_, b, e);
  }

 private:
  const NormalizedText* norm_;
  SpanFn fn_;
  void* ctx_;
  bool pending_ = false;
  uint32_t b_ = 0, e_ = 0;
};

// Screening without databases: literal patterns only.
bool FallbackScan(const Program& p, const char* text, uint32_t n, uint64_t* bits, ScreenWork* work, const char** err) {
  Validation val(work, n);
  for (uint32_t id = 0; id < p.screen_patterns.size(); ++id) {
    const ScreenPattern& sp = p.screen_patterns[id];
    if (sp.regex) {
      *err = kNoRegex;
      return false;
    }
    bool found = false;
    val.NextPattern();
    ForEachLiteral(text, n, sp.source, sp.caseless, [&](uint32_t b, uint32_t e) {
      found = !sp.validator || val.Check(sp.validator, text, b, e);
      return !found;
    });
    if (found) SetBit(bits, id);
  }
  return true;
}

bool FallbackSpans(const ScreenPattern& sp, const char* text, uint32_t n, const NormalizedText* norm, SpanFn fn,
                   void* ctx, ScreenWork* work, const char** err) {
  if (sp.regex) {
    *err = kNoRegex;
    return false;
  }
  Validation val(work, n);
  SpanCoalescer out(norm, fn, ctx);
  ForEachLiteral(text, n, sp.source, sp.caseless, [&](uint32_t b, uint32_t e) {
    if (!sp.validator || val.Check(sp.validator, text, b, e)) out.Add(b, e);
    return true;
  });
  out.Flush();
  return true;
}

}  // namespace

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

struct ScanState::Hs {
  hs_scratch_t* scratch = nullptr;
  ~Hs() { hs_free_scratch(scratch); }
};

namespace {

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
  uint64_t* bits;
  uint64_t* cand;
  const ScreenPattern* pats;
  uint32_t n;
};

int OnDetect(unsigned int id, unsigned long long, unsigned long long, unsigned int,
             void* c) {  // NOLINT: Hyperscan's types
  auto* x = static_cast<DetectCtx*>(c);
  if (id >= x->n) return 0;  // databases name only the program's patterns; never trust that blindly
  SetBit(x->pats[id].validator ? x->cand : x->bits, id);
  return 0;
}

struct SpanCtx {
  const char* text;
  uint8_t validator;
  Validation* val;
  SpanCoalescer* out;  // null: stop at the first validated match
  bool found;
  std::exception_ptr thrown;  // what fn threw; rethrown once Hyperscan has returned
};

int OnSpan(unsigned int, unsigned long long from, unsigned long long to, unsigned int, void* c) {  // NOLINT
  auto* x = static_cast<SpanCtx*>(c);
  const uint32_t b = static_cast<uint32_t>(from), e = static_cast<uint32_t>(to);
  if (x->validator && !x->val->Check(x->validator, x->text, b, e)) return 0;
  x->found = true;
  if (!x->out) return 1;
  // An exception (std::bad_alloc from the span callback) must not unwind
  // through Hyperscan's C frames: the scratch would stay marked in use, so
  // every later scan of this worker would fail, and hs_free_scratch would
  // leak it.
  try {
    x->out->Add(b, e);
  } catch (...) {
    x->thrown = std::current_exception();
    return 1;  // stop scanning
  }
  return 0;
}

}  // namespace

std::shared_ptr<const ScreenDb> ScreenDb::Load(const Program& p, std::string* err) {
  err->clear();
  const ScreenData& d = p.screen_data;
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

bool ScanState::Begin(const Program& p, std::string* err) {
  program_ = &p;
  words_ = static_cast<uint32_t>((p.screen_patterns.size() + 63) / 64);
  if (words_ == 0) words_ = 1;
  if (memo_bits_.size() < size_t(kMemo) * words_) memo_bits_.assign(size_t(kMemo) * words_, 0);
  if (cand_.size() < words_) cand_.assign(words_, 0);
  memo_n_ = 0;
  memo_next_ = 0;
  scans_ = 0;
  work_ = ScreenWork();
  if (p.screen.get() != db_.get()) {
    // db_ names the databases the scratch fits, so it is set only once the
    // scratch is ready: if growing it throws, the next Begin grows it again.
    db_.reset();
    if (p.screen) {
      if (!hs_) hs_ = std::make_unique<Hs>();
      const ScreenDb::Impl& im = p.screen->impl();
      hs_error_t rc = HS_SUCCESS;
      auto grow = [&](const hs_database_t* d) { return !d || (rc = hs_alloc_scratch(d, &hs_->scratch)) == HS_SUCCESS; };
      bool ok = grow(im.block) && grow(im.stream);
      for (const hs_database_t* d : im.spans) ok = ok && grow(d);
      if (!ok) {
        // Out of memory is the caller's error, not a reason to decide
        // without the screening engine (regex rules would only error).
        if (rc == HS_NOMEM) throw std::bad_alloc();
        *err = "could not allocate screening scratch";
        return false;
      }
      db_ = p.screen;  // only when the engine changed: no reference count traffic per decision
    }
  }
  return true;
}

bool ScanState::ScanUncached(const char* s, uint32_t len, uint64_t* bits, const char** err) {
  ++scans_;
  const Program& p = *program_;
  std::memset(bits, 0, words_ * sizeof(uint64_t));
  const bool normalized = NormalizeForScreening(s, len, &norm_);
  const char* text = normalized ? norm_.text.data() : s;
  const uint32_t n = normalized ? static_cast<uint32_t>(norm_.text.size()) : len;
  const uint32_t npat = static_cast<uint32_t>(p.screen_patterns.size());
  if (db_) {
    std::memset(cand_.data(), 0, words_ * sizeof(uint64_t));
    DetectCtx ctx{bits, cand_.data(), p.screen_patterns.data(), npat};
    if (hs_scan(db_->impl().block, text, n, 0, hs_->scratch, OnDetect, &ctx) != HS_SUCCESS) {
      *err = "the screening engine failed on this text";
      return false;
    }
    const auto& spans = db_->impl().spans;
    Validation val(&work_, n);  // one budget for all the candidates of this text
    for (uint32_t w = 0; w < words_; ++w) {
      for (uint64_t c = cand_[w] & ~bits[w]; c; c &= c - 1) {
        const uint32_t id = w * 64 + static_cast<uint32_t>(__builtin_ctzll(c));
        if (id >= spans.size() || !spans[id]) continue;  // the verifier requires spans for validated patterns
        SpanCtx sc{text, p.screen_patterns[id].validator, &val, nullptr, false, nullptr};
        val.NextPattern();
        ++work_.span_scans;
        hs_error_t rc = hs_scan(spans[id], text, n, 0, hs_->scratch, OnSpan, &sc);
        if (rc != HS_SUCCESS && rc != HS_SCAN_TERMINATED) {
          *err = "the screening engine failed on this text";
          return false;
        }
        if (sc.found) SetBit(bits, id);
      }
    }
    return true;
  }
  return FallbackScan(p, text, n, bits, &work_, err);
}

bool ScanState::Spans(const char* s, uint32_t len, uint32_t id, SpanFn fn, void* ctx, const char** err) {
  const Program& p = *program_;
  if (id >= p.screen_patterns.size()) return true;
  const bool normalized = NormalizeForScreening(s, len, &norm_);
  const char* text = normalized ? norm_.text.data() : s;
  const uint32_t n = normalized ? static_cast<uint32_t>(norm_.text.size()) : len;
  const ScreenPattern& sp = p.screen_patterns[id];
  if (db_) {
    const auto& spans = db_->impl().spans;
    if (id >= spans.size() || !spans[id]) {
      *err = "the bundle has no span database for this pattern";
      return false;
    }
    Validation val(&work_, n);
    SpanCoalescer out(normalized ? &norm_ : nullptr, fn, ctx);
    SpanCtx sc{text, sp.validator, &val, &out, false, nullptr};
    ++work_.span_scans;
    work_.span_bytes += n;
    const hs_error_t rc = hs_scan(spans[id], text, n, 0, hs_->scratch, OnSpan, &sc);
    if (sc.thrown) std::rethrow_exception(sc.thrown);
    if (rc != HS_SUCCESS) {
      *err = "the screening engine failed on this text";
      return false;
    }
    out.Flush();
    return true;
  }
  return FallbackSpans(sp, text, n, normalized ? &norm_ : nullptr, fn, ctx, &work_, err);
}

namespace {

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

}  // namespace

bool ScreenStream::Open(const Program& p, std::string* err) {
  program_ = &p;
  db_ = p.screen;
  if (!db_ || !db_->impl().stream) return true;
  hs_stream_t* st = nullptr;
  const hs_error_t rc = hs_open_stream(db_->impl().stream, 0, &st);
  if (rc == HS_NOMEM) throw std::bad_alloc();
  if (rc != HS_SUCCESS) {
    *err = "could not open a screening stream";
    return false;
  }
  stream_ = st;
  return true;
}

bool ScreenStream::Feed(ScanState* st, const char* s, uint32_t len, uint64_t* bits, const char** err) {
  if (!stream_ || len == 0) return true;
  if (st->db() != db_.get() || !st->hs()) {
    *err = "the screening stream and the worker disagree on the policy";
    return false;
  }
  StreamCtx ctx{bits, program_->screen_patterns.data(), static_cast<uint32_t>(program_->screen_patterns.size())};
  if (hs_scan_stream(static_cast<hs_stream_t*>(stream_), s, len, 0, st->hs()->scratch, OnStream, &ctx) != HS_SUCCESS) {
    *err = "the screening engine failed on this text";
    return false;
  }
  return true;
}

bool ScreenStream::Close(ScanState* st, uint64_t* bits, const char** err) {
  if (!stream_) return true;
  hs_stream_t* hs = static_cast<hs_stream_t*>(stream_);
  stream_ = nullptr;
  if (st->db() != db_.get() || !st->hs()) {
    hs_close_stream(hs, nullptr, nullptr, nullptr);
    *err = "the screening stream and the worker disagree on the policy";
    return false;
  }
  StreamCtx ctx{bits, program_->screen_patterns.data(), static_cast<uint32_t>(program_->screen_patterns.size())};
  if (hs_close_stream(hs, st->hs()->scratch, OnStream, &ctx) != HS_SUCCESS) {
    *err = "the screening engine failed on this text";
    return false;
  }
  return true;
}

ScreenStream::~ScreenStream() {
  if (stream_) hs_close_stream(static_cast<hs_stream_t*>(stream_), nullptr, nullptr, nullptr);
}

#else  // !GAVEL_HAVE_HYPERSCAN

bool ScreenStream::Open(const Program& p, std::string*) {
  program_ = &p;
  return true;
}
bool ScreenStream::Feed(ScanState*, const char*, uint32_t, uint64_t*, const char**) { return true; }
bool ScreenStream::Close(ScanState*, uint64_t*, const char**) { return true; }
ScreenStream::~ScreenStream() = default;

struct ScreenDb::Impl {};
struct ScanState::Hs {};

std::shared_ptr<const ScreenDb> ScreenDb::Load(const Program&, std::string* err) {
  err->clear();
  return nullptr;
}

bool ScanState::Begin(const Program& p, std::string*) {
  program_ = &p;
  words_ = static_cast<uint32_t>((p.screen_patterns.size() + 63) / 64);
  if (words_ == 0) words_ = 1;
  if (memo_bits_.size() < size_t(kMemo) * words_) memo_bits_.assign(size_t(kMemo) * words_, 0);
  memo_n_ = 0;
  memo_next_ = 0;
  scans_ = 0;
  work_ = ScreenWork();
  return true;
}

bool ScanState::ScanUncached(const char* s, uint32_t len, uint64_t* bits, const char** err) {
  ++scans_;
  std::memset(bits, 0, words_ * sizeof(uint64_t));
  const bool normalized = NormalizeForScreening(s, len, &norm_);
  const char* text = normalized ? norm_.text.data() : s;
  const uint32_t n = normalized ? static_cast<uint32_t>(norm_.text.size()) : len;
  return FallbackScan(*program_, text, n, bits, &work_, err);
}

bool ScanState::Spans(const char* s, uint32_t len, uint32_t id, SpanFn fn, void* ctx, const char** err) {
  if (id >= program_->screen_patterns.size()) return true;
  const bool normalized = NormalizeForScreening(s, len, &norm_);
  const char* text = normalized ? norm_.text.data() : s;
  const uint32_t n = normalized ? static_cast<uint32_t>(norm_.text.size()) : len;
  return FallbackSpans(program_->screen_patterns[id], text, n, normalized ? &norm_ : nullptr, fn, ctx, &work_, err);
}

#endif  // GAVEL_HAVE_HYPERSCAN

ScreenDb::ScreenDb() = default;
ScreenDb::~ScreenDb() = default;
ScanState::ScanState() = default;
ScreenStream::ScreenStream() = default;
ScanState::~ScanState() = default;

void ScanState::Seed(const char* s, uint32_t len, const uint64_t* bits) {
  for (int i = 0; i < memo_n_; ++i) {
    if (memo_[i].s == s && memo_[i].len == len) {
      uint64_t* b = memo_bits_.data() + memo_[i].bits;
      for (uint32_t w = 0; w < words_; ++w) b[w] |= bits[w];
      return;
    }
  }
  int slot;
  if (memo_n_ < kMemo) {
    slot = memo_n_++;
  } else {
    slot = memo_next_;
    memo_next_ = (memo_next_ + 1) % kMemo;
  }
  memo_[slot] = MemoEntry{s, len, static_cast<uint32_t>(size_t(slot) * words_)};
  std::memcpy(memo_bits_.data() + size_t(slot) * words_, bits, words_ * sizeof(uint64_t));
}

const uint64_t* ScanState::Scan(const char* s, uint32_t len, const char** err) {
  for (int i = 0; i < memo_n_; ++i)
    if (memo_[i].s == s && memo_[i].len == len) return memo_bits_.data() + memo_[i].bits;
  int slot;
  if (memo_n_ < kMemo) {
    slot = memo_n_++;
  } else {
    slot = memo_next_;
    memo_next_ = (memo_next_ + 1) % kMemo;
  }
  uint64_t* bits = memo_bits_.data() + size_t(slot) * words_;
  memo_[slot] = MemoEntry{s, len, static_cast<uint32_t>(size_t(slot) * words_)};
  if (!ScanUncached(s, len, bits, err)) {
    memo_[slot].s = nullptr;  // do not remember a failure as a result
    memo_[slot].len = UINT32_MAX;
    return nullptr;
  }
  return bits;
}

}  // namespace gavel
