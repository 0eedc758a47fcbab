// Status: why loading, verifying or installing a bundle failed, as a code a
// program can act on and a message a person can read. Engine failures only:
// an error inside a rule is part of the decision, never a Status.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

namespace gavel {

// The numbering is the C API's (gavel_error_t in gavel.h, which asserts it):
// values are never reused or renumbered, new codes are appended.
enum class StatusCode : uint8_t {
  kOk = 0,
  // An argument is missing or malformed: a NULL handle, an empty bundle, a
  // public key that is not one, an attribute the bundle does not declare.
  kInvalidArgument = 1,
  // The bytes are not an intact gavel bundle: bad magic, truncated, checksum
  // mismatch, a field or program that does not verify.
  kCorruptBundle = 2,
  // A bundle (or signature envelope) of a newer format than this gavel
  // reads: upgrade libgavel.
  kNewerFormat = 3,
  // A bundle (or envelope) of an older format than this gavel reads: compile
  // the policy again.
  kOlderFormat = 4,
  // Keys are trusted, and the bundle is not signed.
  kUnsigned = 5,
  // The bundle is signed by a key that is not trusted.
  kUntrustedKey = 6,
  // The bundle is signed by a trusted key, but the signature does not match
  // the bytes (changed after signing).
  kBadSignature = 7,
  kOutOfMemory = 8,
  // An input is over a size limit (a body over the request cap, a bundle
  // over the largest the format allows).
  kTooLarge = 9,
  // The call is not possible in the current state (a rollback with no
  // previous bundle).
  kFailedPrecondition = 10,
  // A failure nothing above describes (an unexpected exception).
  kInternal = 11,
};

class Status {
 public:
  Status() = default;  // ok
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  // Plain words, without the code's name ("bad signature: the bundle is not
  // what key id ... signed"); empty when ok.
  const std::string& message() const { return message_; }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

}  // namespace gavel
