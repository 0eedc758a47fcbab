#include "engine/runtime/stream.h"

#include <algorithm>

namespace gavel {

namespace {

// The end of the longest prefix of s[0, end) that does not cut a UTF-8
// character (at most three bytes are held back).
size_t WholeCharacters(const std::string& s, size_t begin, size_t end) {
  size_t k = end;
  for (int back = 0; back < 4 && k > begin; ++back) {
    const unsigned char c = static_cast<unsigned char>(s[k - 1]);
    if (c < 0x80) return end;  // ASCII: nothing is cut
    if ((c & 0xC0) == 0xC0) {  // a lead byte: is its sequence complete?
      const size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
      return end - (k - 1) >= need ? end : k - 1;
    }
    --k;  // continuation byte
  }
  return end;  // not UTF-8 here: feed as is
}

}  // namespace

bool ResponseStream::Begin(std::shared_ptr<const Engine> engine, const StreamOptions& options, std::string* err) {
  engine_ = std::move(engine);
  options_ = options;
  all_.clear();
  fed_ = forwarded_ = 0;
  denied_ = finished_ = too_large_ = false;
  const Program& p = engine_->program();
  bits_.assign(std::max<size_t>(1, (p.screen_patterns.size() + 63) / 64), 0);
  return stream_.Open(p.screen_patterns, p.screen, err);
}

const Decision& ResponseStream::Write(Worker* w, const DecodeInput& input, std::string_view piece, std::string* emit) {
  if (!denied_ && !finished_) {
    if (all_.size() + piece.size() > options_.max_bytes)
      too_large_ = true;
    else
      all_.append(piece.data(), piece.size());
  }
  return Step(w, input, false, emit);
}

const Decision& ResponseStream::Finish(Worker* w, const DecodeInput& input, std::string* emit) {
  const Decision& d = Step(w, input, !finished_, emit);
  finished_ = true;
  return d;
}

const Decision& ResponseStream::Step(Worker* w, const DecodeInput& input, bool final, std::string* emit) {
  emit->clear();
  const Program& p = engine_->program();
  std::string why;
  const char* fail = nullptr;
  if (!w->scan_.Begin(p.screen_patterns, p.screen, &why)) fail = "could not allocate screening scratch";
  // Whole characters go to the stream, normalized as one text is.
  const size_t end = final ? all_.size() : WholeCharacters(all_, fed_, all_.size());
  if (!fail && end > fed_ && !denied_) {
    const char* s = all_.data() + fed_;
    uint32_t n = static_cast<uint32_t>(end - fed_);
    if (NormalizeForScreening(s, n, &norm_)) {
      s = norm_.text.data();
      n = static_cast<uint32_t>(norm_.text.size());
    }
    if (!stream_.Feed(&w->scan_, s, n, bits_.data(), &fail)) fail = fail ? fail : "screening failed";
    fed_ = end;
  }
  if (!fail && final && !stream_.Close(&w->scan_, bits_.data(), &fail)) fail = fail ? fail : "screening failed";

  DecodeInput in = input;
  in.response = std::string_view();
  Worker::StreamText st{all_, forwarded_, bits_.data()};
  DecideOptions options;
  options.phase = Phase::kResponse;
  options.limits = options_.limits;
  w->DecideImpl(*engine_, in, options, &st);
  Decision& d = w->d_;
  if (fail || too_large_) {
    d.allow = false;
    d.status = too_large_ ? 413 : 500;
    d.code = too_large_ ? "response_too_large" : "screening_failed";
    d.message = too_large_ ? "the response is longer than the stream's limit of " + std::to_string(options_.max_bytes) +
                                 " bytes"
                           : fail;
    d.redactions.Clear();
    d.redacted.Clear();
  }
  if (!d.allow) denied_ = true;
  if (denied_) return d;

  // Forward all but the held-back tail, never cutting a character or a span.
  const size_t window = all_.size() - forwarded_;
  size_t b = final ? window : (window > options_.holdback ? window - options_.holdback : 0);
  while (b > 0 && b < window && (static_cast<unsigned char>(all_[forwarded_ + b]) & 0xC0) == 0x80) --b;
  for (const Redaction& r : d.redactions) {
    if (r.begin < b && r.end > b) {
      b = r.begin;
      break;
    }
  }
  const size_t cap = std::max<size_t>(options_.max_held, size_t{2} * options_.holdback);
  if (!final && window - b > cap) {
    // Fail closed: what is held is a match still growing, so masking it needs
    // its end, which may never come within bounded work.
    d.allow = false;
    d.status = 413;
    d.code = "redaction_too_long";
    d.message = "a redacted match in the response holds back more than " + std::to_string(cap) + " bytes";
    d.redactions.Clear();
    d.redacted.Clear();
    denied_ = true;
    return d;
  }
  size_t at = 0;
  const char* base = all_.data() + forwarded_;
  for (const Redaction& r : d.redactions) {
    if (r.end > b) break;
    emit->append(base + at, r.begin - at);
    *emit += r.replacement;
    at = r.end;
  }
  if (b > at) emit->append(base + at, b - at);
  forwarded_ += b;
  return d;
}

}  // namespace gavel
