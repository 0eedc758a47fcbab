// The screening layer's common work, whatever the backend: normalization,
// the per-decision scan memo, validation of candidates within a budget, span
// coalescing, and the choice of backend per decision. Backends (matcher.h)
// only find matches.
#include "engine/screen/screen.h"

#include <algorithm>
#include <cstring>

#include "engine/screen/matcher.h"
#include "engine/screen/validators.h"

namespace gavel {

ScreenBackend DefaultScreenBackend() {
#if defined(GAVEL_HAVE_HYPERSCAN)
  return ScreenBackend::kHyperscan;
#else
  return ScreenBackend::kLiteral;
#endif
}

bool ScreenBackendBuilt(ScreenBackend b) {
#if defined(GAVEL_HAVE_HYPERSCAN)
  return b == ScreenBackend::kHyperscan || b == ScreenBackend::kLiteral;
#else
  return b == ScreenBackend::kLiteral;
#endif
}

const char* ScreenBackendName(ScreenBackend b) {
  switch (b) {
    case ScreenBackend::kHyperscan:
      return "hyperscan";
    case ScreenBackend::kLiteral:
      return "literal";
  }
  return "unknown";
}

namespace {

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

// A validated pattern's candidate, confirmed by its first match that passes
// the validator.
struct Confirm {
  const char* text;
  uint8_t validator;
  Validation* val;
  bool found;
};

bool OnCandidate(void* c, uint32_t b, uint32_t e) {
  auto* x = static_cast<Confirm*>(c);
  if (!x->val->Check(x->validator, x->text, b, e)) return true;
  x->found = true;
  return false;
}

// The spans of one pattern on their way to a redaction.
struct SpanSearch {
  const char* text;
  uint8_t validator;
  Validation* val;
  SpanCoalescer* out;
};

bool OnSpan(void* c, uint32_t b, uint32_t e) {
  auto* x = static_cast<SpanSearch*>(c);
  if (!x->validator || x->val->Check(x->validator, x->text, b, e)) x->out->Add(b, e);
  return true;
}

}  // namespace

ScanState::ScanState() = default;
ScanState::~ScanState() = default;

bool ScanState::Begin(const std::vector<ScreenPattern>& patterns, const std::shared_ptr<const ScreenDb>& db,
                      std::string* err) {
  patterns_ = &patterns;
  words_ = static_cast<uint32_t>((patterns.size() + 63) / 64);
  if (words_ == 0) words_ = 1;
  if (memo_bits_.size() < size_t(kMemo) * words_) memo_bits_.assign(size_t(kMemo) * words_, 0);
  if (cand_.size() < words_) cand_.assign(words_, 0);
  memo_n_ = 0;
  memo_next_ = 0;
  scans_ = 0;
  work_ = ScreenWork();
  matcher_ = nullptr;
  failed_ = nullptr;
  if (!ScreenBackendBuilt(backend_)) {
    failed_ = "this build has no Hyperscan screening backend";  // the one backend a build may lack
  } else if (backend_ == ScreenBackend::kHyperscan && db) {
    if (!hyperscan_) hyperscan_ = NewHyperscanMatcher();
    matcher_ = hyperscan_.get();
  } else {
    // The literal backend, or a program without databases (no patterns, or
    // built by hand), which every backend screens literally.
    if (!literal_) literal_ = NewLiteralMatcher();
    matcher_ = literal_.get();
  }
  if (matcher_ && !matcher_->Prepare(patterns, db, &failed_)) matcher_ = nullptr;
  if (!matcher_) {
    *err = failed_;
    return false;
  }
  return true;
}

bool ScanState::ScanUncached(const char* s, uint32_t len, uint64_t* bits, const char** err) {
  ++scans_;
  std::memset(bits, 0, words_ * sizeof(uint64_t));
  if (!matcher_) {
    *err = failed_ ? failed_ : "screening was not begun";
    return false;
  }
  const bool normalized = NormalizeForScreening(s, len, &norm_);
  const char* text = normalized ? norm_.text.data() : s;
  const uint32_t n = normalized ? static_cast<uint32_t>(norm_.text.size()) : len;
  const std::vector<ScreenPattern>& pats = *patterns_;
  const uint32_t npat = static_cast<uint32_t>(pats.size());
  std::memset(cand_.data(), 0, words_ * sizeof(uint64_t));
  if (!matcher_->Detect(text, n, cand_.data(), err)) return false;
  Validation val(&work_, n);  // one budget for all the candidates of this text
  for (uint32_t w = 0; w < words_; ++w) {
    for (uint64_t c = cand_[w]; c; c &= c - 1) {
      const uint32_t id = w * 64 + static_cast<uint32_t>(__builtin_ctzll(c));
      if (id >= npat) continue;
      if (!pats[id].validator) {
        SetBit(bits, id);
        continue;
      }
      Confirm cf{text, pats[id].validator, &val, false};
      val.NextPattern();
      ++work_.span_scans;
      if (!matcher_->Matches(id, text, n, OnCandidate, &cf, err)) return false;
      if (cf.found) SetBit(bits, id);
    }
  }
  return true;
}

bool ScanState::Spans(const char* s, uint32_t len, uint32_t id, SpanFn fn, void* ctx, const char** err) {
  if (!matcher_) {
    *err = failed_ ? failed_ : "screening was not begun";
    return false;
  }
  if (id >= patterns_->size()) return true;
  const bool normalized = NormalizeForScreening(s, len, &norm_);
  const char* text = normalized ? norm_.text.data() : s;
  const uint32_t n = normalized ? static_cast<uint32_t>(norm_.text.size()) : len;
  Validation val(&work_, n);
  SpanCoalescer out(normalized ? &norm_ : nullptr, fn, ctx);
  SpanSearch search{text, (*patterns_)[id].validator, &val, &out};
  ++work_.span_scans;
  work_.span_bytes += n;
  if (!matcher_->Matches(id, text, n, OnSpan, &search, err)) return false;
  out.Flush();
  return true;
}

ScreenStream::ScreenStream() = default;
ScreenStream::~ScreenStream() = default;

bool ScreenStream::Open(const std::vector<ScreenPattern>& patterns, const std::shared_ptr<const ScreenDb>& db,
                        std::string*) {
  patterns_ = &patterns;
  db_ = db;
  opened_ = false;
  stream_.reset();
  return true;
}

bool ScreenStream::Feed(ScanState* st, const char* s, uint32_t len, uint64_t* bits, const char** err) {
  if (!opened_) {
    if (st->patterns() != patterns_ || !st->matcher()) {
      *err = "the screening stream and the worker disagree on the policy";
      return false;
    }
    const char* why = nullptr;
    stream_ = st->matcher()->OpenStream(&why);  // on a throw, the next Feed opens it again
    if (why) {
      *err = why;
      return false;
    }
    opened_ = true;
  }
  if (!stream_) return true;
  return stream_->Feed(st->matcher(), s, len, bits, err);
}

bool ScreenStream::Close(ScanState* st, uint64_t* bits, const char** err) {
  if (!stream_) return true;
  const bool ok = stream_->Close(st->matcher(), bits, err);
  stream_.reset();
  return ok;
}

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
