// Screening a response that arrives in pieces (server-sent events): each
// piece is screened as it comes, `on response` rules are decided over all the
// text so far, and only text that can no longer be part of a masked span is
// forwarded.
//
// Detection: the screening backend's stream state (Hyperscan's stream mode,
// or the literal backend's carried text) goes from piece to piece, so a
// secret split over two pieces (or over twenty) is found. Validated patterns
// (cards, SSNs, IBANs, high-entropy secrets) are confirmed on the window of
// text not yet forwarded.
//
// Redaction: the last `holdback` bytes are held back after every piece, so a
// match up to `holdback` bytes long is always masked before any of it is
// forwarded, wherever the pieces split it. A longer match that began in text
// already forwarded is detected (rules see it) but only its held-back part
// can be masked. A held-back span that is still growing holds everything from
// its start. Finish() forwards the rest.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/runtime/engine.h"
#include "engine/screen/screen.h"

namespace gavel {

struct StreamOptions {
  uint32_t holdback = 256;         // bytes; at least the longest secret you need masked
  uint32_t max_bytes = 16u << 20;  // a longer response is denied (code response_too_large)
  // A redaction still growing holds back everything from its start, and each
  // write screens what is held again; a stream that would hold back more than
  // this (or twice the holdback, if larger) is denied (code
  // redaction_too_long), so the work of a write stays bounded.
  uint32_t max_held = 64u << 10;
  // What each write's decision decodes the request, principal, context and env
  // bodies with: the same caps gavel_decide applies (max_request_bytes).
  DecodeLimits limits;
};

class ResponseStream {
 public:
  ResponseStream() = default;
  ResponseStream(const ResponseStream&) = delete;
  ResponseStream& operator=(const ResponseStream&) = delete;

  // Starts a response screened against engine's `on response` rules. The
  // stream keeps the engine alive. Returns false with *err on failure.
  bool Begin(std::shared_ptr<const Engine> engine, const StreamOptions& options, std::string* err);

  // Screens the next piece of text. `input` gives the exchange's principal,
  // context, env and request (its `response` must be empty); pass the same
  // one every time. *emit receives the text that may be forwarded now, with
  // spans masked. The decision covers all text so far and belongs to
  // `worker` until its next call. Once a decision denies, the stream stays
  // denied and forwards nothing more: the gateway should end the response.
  const Decision& Write(Worker* worker, const DecodeInput& input, std::string_view piece, std::string* emit);

  // The response is complete: forwards the held-back text.
  const Decision& Finish(Worker* worker, const DecodeInput& input, std::string* emit);

  bool denied() const { return denied_; }
  size_t forwarded_bytes() const { return forwarded_; }  // of the original text
  const std::shared_ptr<const Engine>& engine() const { return engine_; }

 private:
  const Decision& Step(Worker* w, const DecodeInput& input, bool final, std::string* emit);

  std::shared_ptr<const Engine> engine_;
  StreamOptions options_;
  ScreenStream stream_;
  std::string all_;       // the original text so far
  size_t fed_ = 0;        // bytes of all_ given to the stream (whole UTF-8 characters)
  size_t forwarded_ = 0;  // bytes of all_ forwarded
  std::vector<uint64_t> bits_;
  NormalizedText norm_;
  bool denied_ = false, finished_ = false, too_large_ = false;
};

}  // namespace gavel
