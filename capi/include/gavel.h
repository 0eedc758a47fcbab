/* gavel.h -- the C API of gavel, an embedded policy engine for AI gateways.
 *
 * This is the only public header. It compiles as C99 and as C++.
 *
 * Rules of the API
 * ----------------
 * - Handles are opaque pointers. Every *_create / *_open has a matching
 *   *_destroy, and every destroy function accepts NULL.
 * - Strings are passed as pointer + length and need not be NUL-terminated.
 *   Strings returned by accessors are pointer + length too (a NUL follows
 *   them, so they may also be used as C strings) and stay valid as documented
 *   on each accessor; never free them.
 * - Functions that can fail take a final `char** errptr`. On success *errptr
 *   is left untouched; on failure *errptr is set to a malloc'd, NUL-terminated
 *   message that the caller frees with gavel_free() -- never with free():
 *   when even the message cannot be allocated, it is a static "out of memory"
 *   that only gavel_free() knows not to free. If *errptr already held a
 *   message, it is freed first. errptr itself may be NULL (errors are then
 *   only visible through the return value). No function prints anything.
 * - Every such message carries a code saying why, for programs:
 *   gavel_error_code(*errptr), one of gavel_error_t. A gateway tells a
 *   reload refused for GAVEL_ERR_BAD_SIGNATURE from one refused for
 *   GAVEL_ERR_NEWER_FORMAT by the code; the message is for people, and its
 *   words may change between versions.
 * - Failure is reported, never a crash: NULL handles, zero lengths, truncated,
 *   corrupted or newer-format bundles, unsigned or wrongly signed bundles
 *   (when keys are trusted), malformed requests and requests over the
 *   configured size limit all come back as errors or as decisions.
 * - No C++ exception crosses this API. Running out of memory is a failure
 *   like any other: the function returns its failure value (NULL, 0) with
 *   *errptr where it has one; the engine keeps everything it had accepted
 *   (a failed reload keeps the active bundle), nothing leaks, and the next
 *   call may succeed.
 *
 * Threads
 * -------
 * - gavel_engine_t is shared by any number of threads. Deciding, reloading,
 *   rolling back, shadowing and reading its hash are all thread-safe; a reload
 *   is atomic: a decision uses exactly one bundle and names its hash.
 * - gavel_worker_t holds one thread's scratch memory. Use a worker from one
 *   thread at a time (it may move between threads). A warm worker decides
 *   without heap allocation.
 * - gavel_input_t is owned by the thread filling it.
 * - A gavel_decision_t belongs to its worker and stays valid until the next
 *   successful gavel_decide() on that worker or the worker's destruction (a
 *   failed call leaves it as it was -- except a call that ran out of memory
 *   while deciding: the decision then reads as a deny with status 500 and
 *   code "no_decision", naming no bundle and no rule).
 * - Destroy an engine's workers before the engine.
 * - Callbacks (decision log, shadow differences) run on the deciding thread,
 *   inside gavel_decide(); they must not call back into the same worker. A
 *   decision already running when a callback is replaced may still call the
 *   old one, so keep its argument alive until such decisions are done.
 *
 * Versions
 * --------
 * gavel_version() is the version of the library loaded at run time; the
 * GAVEL_VERSION_* macros (gavel_version.h, installed beside this header) are
 * the version a program was compiled against. gavel_bundle_format() is the
 * newest bundle format the library reads. Bundles of a newer format are refused
 * with GAVEL_ERR_NEWER_FORMAT and a message naming both versions ("bundle
 * format version 3 is newer than this gavel reads (version 2); upgrade
 * libgavel").
 *
 * Signed bundles
 * --------------
 * `policyc compile --sign KEY` signs a bundle with Ed25519. An engine opened
 * with trusted public keys (gavel_options_trust_key) accepts only bundles
 * signed by one of them; see docs/design.md, "Threat model".
 */
#ifndef GAVEL_H_
#define GAVEL_H_

#include <stddef.h>
#include <stdint.h>

#include "gavel_version.h"

#if defined(_WIN32)
#if defined(GAVEL_BUILDING)
#define GAVEL_EXPORT __declspec(dllexport)
#else
#define GAVEL_EXPORT
#endif
#else
#define GAVEL_EXPORT __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gavel_options_t gavel_options_t;
typedef struct gavel_engine_t gavel_engine_t;
typedef struct gavel_worker_t gavel_worker_t;
typedef struct gavel_input_t gavel_input_t;
typedef struct gavel_decision_t gavel_decision_t;

/* ---- library ------------------------------------------------------------ */

GAVEL_EXPORT const char* gavel_version(void); /* GAVEL_VERSION_STRING of the library */
GAVEL_EXPORT int gavel_bundle_format(void);
/* Frees a message or buffer this library returned through errptr or as an
 * owned char*. Accepts NULL. */
GAVEL_EXPORT void gavel_free(void* ptr);

/* ---- errors ------------------------------------------------------------- */

/* Why a call failed. The values are part of the ABI: a code keeps its number
 * for good, and new codes are added after the last one (so treat a code you
 * do not know like GAVEL_ERR_INTERNAL). */
typedef enum gavel_error_t {
  GAVEL_OK = 0,
  /* A NULL handle or piece, an empty bundle, a public key that is not one, an
   * attribute the bundle does not declare or of the wrong type. */
  GAVEL_ERR_INVALID_ARGUMENT = 1,
  /* The bytes are not an intact bundle: bad magic, truncated or padded, a
   * checksum mismatch, unknown flags, a program that does not verify. */
  GAVEL_ERR_CORRUPT_BUNDLE = 2,
  /* The bundle (or its signature envelope) is of a newer format than this
   * library reads: upgrade libgavel. */
  GAVEL_ERR_NEWER_FORMAT = 3,
  /* ... of an older format than this library reads: compile the policy again. */
  GAVEL_ERR_OLDER_FORMAT = 4,
  /* Keys are trusted (gavel_options_trust_key) and the bundle is unsigned. */
  GAVEL_ERR_UNSIGNED = 5,
  /* The bundle is signed by a key that is not trusted. */
  GAVEL_ERR_UNTRUSTED_KEY = 6,
  /* The bundle is signed by a trusted key but was changed after signing. */
  GAVEL_ERR_BAD_SIGNATURE = 7,
  /* Memory ran out in this call -- or earlier, in a call whose failure this
   * one reports: an attribute setter (see gavel_input_set_string) or a
   * stream that is spent (see gavel_stream_create). */
  GAVEL_ERR_OUT_OF_MEMORY = 8,
  /* A body over gavel_options_set_max_request_bytes, or a bundle over the
   * largest the format allows (256 MiB). */
  GAVEL_ERR_TOO_LARGE = 9,
  /* Not possible in the current state: gavel_engine_rollback with no
   * previous bundle. */
  GAVEL_ERR_FAILED_PRECONDITION = 10,
  /* A failure inside the library that none of the above describes. */
  GAVEL_ERR_INTERNAL = 11
} gavel_error_t;

/* The code of a message this library set through an errptr, or GAVEL_OK for
 * NULL (so `gavel_error_code(err)` after any call says how it went when err
 * started out NULL). Pass only such messages, as to gavel_free: the code is
 * stored with the message. Allocates nothing, never fails. */
GAVEL_EXPORT gavel_error_t gavel_error_code(const char* err);

/* ---- options ------------------------------------------------------------ */

/* NULL when memory runs out. */
GAVEL_EXPORT gavel_options_t* gavel_options_create(void);
GAVEL_EXPORT void gavel_options_destroy(gavel_options_t* options);
/* Largest request (or response) body accepted, in bytes. Default 8 MiB. */
GAVEL_EXPORT void gavel_options_set_max_request_bytes(gavel_options_t* options, size_t bytes);
/* Trusts a public key for bundle signatures. `public_key` is the text of a
 * public key file as `policyc keygen` writes it (NAME.pub); its key id names
 * it. Call once per key: several keys may be trusted at once (key rotation:
 * trust the new key before bundles signed with it arrive; stop trusting the
 * old one once no bundle it signed should load). An engine opened with at
 * least one trusted key refuses, on open, reload and set_shadow alike,
 * unsigned bundles, bundles signed by any other key and bundles changed
 * after signing; it verifies the signature over the raw bytes before it reads
 * anything else. The engine copies the keys at open: no later call on the
 * options or the engine adds or removes one. Without trusted keys, nothing
 * is verified (a signed bundle loads too) and the signer is "unsigned".
 * Returns 1, or 0 and *errptr when the text is not a public key (a secret
 * key file is refused by name). */
GAVEL_EXPORT int gavel_options_trust_key(gavel_options_t* options, const char* public_key, size_t public_key_len,
                                         char** errptr);

/* ---- engine ------------------------------------------------------------- */

/* Loads a bundle (the bytes policyc compile wrote). The bytes are copied. */
GAVEL_EXPORT gavel_engine_t* gavel_engine_open(const gavel_options_t* options, const char* bundle, size_t bundle_len,
                                               char** errptr);
GAVEL_EXPORT void gavel_engine_destroy(gavel_engine_t* engine);

/* Hot reload: atomically makes `bundle` the active bundle; the previous one is
 * kept for rollback. Decisions already running finish on the bundle they
 * started with. Returns 1 on success, 0 (and *errptr) if the bundle is refused,
 * in which case the active bundle is unchanged. */
GAVEL_EXPORT int gavel_engine_reload(gavel_engine_t* engine, const char* bundle, size_t bundle_len, char** errptr);
/* Makes the previous bundle active again (the current one becomes the
 * previous). Returns 0 and *errptr if there is no previous bundle. */
GAVEL_EXPORT int gavel_engine_rollback(gavel_engine_t* engine, char** errptr);
/* The active bundle's hash ("xxh3:" and 32 hex digits), malloc'd; free with
 * gavel_free. NULL if engine is NULL or memory runs out. */
GAVEL_EXPORT char* gavel_engine_bundle_hash(const gavel_engine_t* engine);
/* The key id (16 hex digits) whose signature was verified when the active
 * bundle was loaded, or "unsigned"; malloc'd, free with gavel_free. NULL if
 * engine is NULL or memory runs out. */
GAVEL_EXPORT char* gavel_engine_bundle_signer(const gavel_engine_t* engine);
/* How many bundles were made active (open counts as 1). */
GAVEL_EXPORT uint64_t gavel_engine_generation(const gavel_engine_t* engine);

/* Shadow policies: a candidate bundle evaluated beside the active one on every
 * decision. The active decision is what gavel_decide returns; when the
 * candidate decides differently (allow/deny, status, code, route, or the
 * rules that fired), the difference counter grows and the callback, if set,
 * receives both decisions as JSON. A shadow never changes what gavel_decide
 * returns: a comparison that runs out of memory is skipped, neither counted
 * nor reported. */
typedef void (*gavel_shadow_fn)(void* arg, const char* active_json, size_t active_len, const char* shadow_json,
                                size_t shadow_len);
/* Setting a shadow resets both counters; clearing it keeps them readable. A
 * candidate that does not declare an attribute the input sets directly is not
 * evaluated for that input (and not counted). */
GAVEL_EXPORT int gavel_engine_set_shadow(gavel_engine_t* engine, const char* bundle, size_t bundle_len, char** errptr);
GAVEL_EXPORT void gavel_engine_clear_shadow(gavel_engine_t* engine);
GAVEL_EXPORT void gavel_engine_set_shadow_callback(gavel_engine_t* engine, gavel_shadow_fn fn, void* arg);
GAVEL_EXPORT uint64_t gavel_engine_shadow_decisions(const gavel_engine_t* engine);
GAVEL_EXPORT uint64_t gavel_engine_shadow_differences(const gavel_engine_t* engine);

/* Decision log: one JSON line per sampled decision (time, decision id, bundle
 * hash and signer, effect, status, rule names, codes, flags and redaction kinds with
 * counts -- never request text or matched values). sample_rate is in [0, 1];
 * 1 logs every decision, 0 none. Set fn to NULL to stop logging. If a sampled
 * decision's line cannot be built (out of memory), gavel_decide fails rather
 * than return a decision that was sampled but not logged. */
typedef void (*gavel_log_fn)(void* arg, const char* line, size_t line_len);
GAVEL_EXPORT void gavel_engine_set_decision_log(gavel_engine_t* engine, gavel_log_fn fn, void* arg, double sample_rate);

/* ---- worker ------------------------------------------------------------- */

GAVEL_EXPORT gavel_worker_t* gavel_worker_create(gavel_engine_t* engine, char** errptr);
GAVEL_EXPORT void gavel_worker_destroy(gavel_worker_t* worker);

/* ---- input -------------------------------------------------------------- */

/* NULL when memory runs out. */
GAVEL_EXPORT gavel_input_t* gavel_input_create(void);
GAVEL_EXPORT void gavel_input_destroy(gavel_input_t* input);
/* Forgets everything set, keeping the memory for the next request. */
GAVEL_EXPORT void gavel_input_clear(gavel_input_t* input);

/* JSON bodies and the endpoint. The bytes are NOT copied: they must stay
 * valid until gavel_decide() returns. A zero-length body means "none" (a rule
 * reading request attributes then meets absent attributes), not invalid JSON. */
GAVEL_EXPORT void gavel_input_set_request_json(gavel_input_t* input, const char* json, size_t len);
GAVEL_EXPORT void gavel_input_set_response_json(gavel_input_t* input, const char* json, size_t len);
GAVEL_EXPORT void gavel_input_set_principal_json(gavel_input_t* input, const char* json, size_t len);
GAVEL_EXPORT void gavel_input_set_context_json(gavel_input_t* input, const char* json, size_t len);
GAVEL_EXPORT void gavel_input_set_env_json(gavel_input_t* input, const char* json, size_t len);
/* "chat", "completions", "responses" or "embeddings"; unset = inferred. */
GAVEL_EXPORT void gavel_input_set_endpoint(gavel_input_t* input, const char* endpoint, size_t len);
/* The exact input token count, when the gateway knows it. */
GAVEL_EXPORT void gavel_input_set_input_tokens(gavel_input_t* input, int64_t tokens);
/* Decide the `on response` rules (1) instead of the request rules (0). */
GAVEL_EXPORT void gavel_input_set_response_phase(gavel_input_t* input, int response_phase);

/* Attributes set directly, without JSON, by their policy name: "principal.team",
 * "context.region", "env.time", "request.model", "request.max_tokens",
 * "request.user_text", ... They override what the JSON bodies give. Values
 * are copied. A name the bundle does not know, or a value of the wrong type,
 * makes gavel_decide fail with an error naming the attribute. A value that
 * cannot be copied (out of memory) makes gavel_decide fail until
 * gavel_input_clear(). */
GAVEL_EXPORT void gavel_input_set_string(gavel_input_t* input, const char* name, size_t name_len, const char* value,
                                         size_t value_len);
GAVEL_EXPORT void gavel_input_set_int(gavel_input_t* input, const char* name, size_t name_len, int64_t value);
GAVEL_EXPORT void gavel_input_set_float(gavel_input_t* input, const char* name, size_t name_len, double value);
GAVEL_EXPORT void gavel_input_set_bool(gavel_input_t* input, const char* name, size_t name_len, int value);
/* A list<string> or set<string> attribute; each value is values[i], lens[i]. */
GAVEL_EXPORT void gavel_input_set_string_list(gavel_input_t* input, const char* name, size_t name_len,
                                              const char* const* values, const size_t* lens, size_t count);

/* ---- deciding ----------------------------------------------------------- */

/* Decides the input against the engine's active bundle (and its shadow, if
 * any). Returns the decision, owned by the worker, or NULL and *errptr when
 * the call itself is wrong (NULL worker or input, a body over the size
 * limit, an unknown attribute name or a wrongly typed attribute value). A
 * request body that is not valid JSON or not an OpenAI-shaped body is not an
 * error here: it is a deny decision with status 400 and code
 * "invalid_request" whose message names the field. */
GAVEL_EXPORT const gavel_decision_t* gavel_decide(gavel_worker_t* worker, const gavel_input_t* input, char** errptr);

/* ---- decision accessors (valid while the decision is) ---------------------- */

GAVEL_EXPORT int gavel_decision_allowed(const gavel_decision_t* d); /* 1 allow, 0 deny */
GAVEL_EXPORT int gavel_decision_status(const gavel_decision_t* d);  /* 200, or the deny status */
/* The deciding code and message of a deny ("" when allowed). */
GAVEL_EXPORT const char* gavel_decision_code(const gavel_decision_t* d, size_t* len);
GAVEL_EXPORT const char* gavel_decision_message(const gavel_decision_t* d, size_t* len);
/* The model to route to, or NULL when the request keeps its model. */
GAVEL_EXPORT const char* gavel_decision_route(const gavel_decision_t* d, size_t* len);

/* Every rule that fired, in rule order. */
typedef enum gavel_effect_t {
  GAVEL_EFFECT_ALLOW = 0,
  GAVEL_EFFECT_DENY = 1,
  GAVEL_EFFECT_ROUTE = 2,
  GAVEL_EFFECT_FLAG = 3,
  GAVEL_EFFECT_REDACT = 4
} gavel_effect_t;
GAVEL_EXPORT size_t gavel_decision_rule_count(const gavel_decision_t* d);
GAVEL_EXPORT const char* gavel_decision_rule_name(const gavel_decision_t* d, size_t i, size_t* len);
GAVEL_EXPORT gavel_effect_t gavel_decision_rule_effect(const gavel_decision_t* d, size_t i);
/* The rule's code ("" if it has none), and its message (a route's: the model). */
GAVEL_EXPORT const char* gavel_decision_rule_code(const gavel_decision_t* d, size_t i, size_t* len);
GAVEL_EXPORT const char* gavel_decision_rule_message(const gavel_decision_t* d, size_t i, size_t* len);

/* Rules whose condition could not be evaluated (rule errors). */
GAVEL_EXPORT size_t gavel_decision_error_count(const gavel_decision_t* d);
GAVEL_EXPORT const char* gavel_decision_error_rule(const gavel_decision_t* d, size_t i, size_t* len);
GAVEL_EXPORT const char* gavel_decision_error_message(const gavel_decision_t* d, size_t i, size_t* len);

/* Redactions of the redact rules that fired (listed on a deny too, though a
 * denied request is not forwarded). Each span lies in
 * one JSON string of the body, named by its path ("request.messages[1].content",
 * "request.messages[0].content[2].text", "response.choices[0].message.content");
 * begin/end are UTF-8 byte offsets into that string's decoded value. Spans are
 * ordered by field then offset and never overlap (overlapping matches are
 * merged). kind is the pattern set that matched ("std.pii.credit_card");
 * replacement is the rule's `with` text. The matched text itself is never
 * returned. gavel_decision_redaction returns 0 when i is out of range. Any
 * output pointer may be NULL. */
GAVEL_EXPORT size_t gavel_decision_redaction_count(const gavel_decision_t* d);
GAVEL_EXPORT int gavel_decision_redaction(const gavel_decision_t* d, size_t i, const char** field, size_t* field_len,
                                          size_t* begin, size_t* end, const char** kind, size_t* kind_len,
                                          const char** replacement, size_t* replacement_len);
/* The redacted strings: one per field that has spans, its path and its value
 * with every span replaced -- what the gateway writes back into the body. */
GAVEL_EXPORT size_t gavel_decision_redacted_count(const gavel_decision_t* d);
GAVEL_EXPORT const char* gavel_decision_redacted_field(const gavel_decision_t* d, size_t i, size_t* len);
GAVEL_EXPORT const char* gavel_decision_redacted_text(const gavel_decision_t* d, size_t i, size_t* len);

GAVEL_EXPORT const char* gavel_decision_bundle_hash(const gavel_decision_t* d, size_t* len);
/* The key id that signed the decision's bundle, or "unsigned" (as
 * gavel_engine_bundle_signer); the decision JSON carries it as "signer". */
GAVEL_EXPORT const char* gavel_decision_bundle_signer(const gavel_decision_t* d, size_t* len);
GAVEL_EXPORT uint64_t gavel_decision_eval_ns(const gavel_decision_t* d);
/* The whole decision as one JSON object (rendered on first call). NULL, and
 * *len 0, if it cannot be rendered (out of memory); a later call tries again.
 * The other accessors allocate nothing and cannot fail. */
GAVEL_EXPORT const char* gavel_decision_json(const gavel_decision_t* d, size_t* len);

/* ---- streamed responses ------------------------------------------------ */

/* A response that arrives in pieces (server-sent events) is screened as it
 * comes: `on response` rules are decided over all text so far (a secret split
 * over pieces is still found), and each write returns the text that may be
 * forwarded now, with redacted spans masked. The last holdback_bytes (0: 256)
 * are held back after each write, so any match up to that length is masked
 * before any of it is forwarded; a longer match that began in text already
 * forwarded is still detected, but only its held-back part can be masked.
 * A stream is screened with the bundle active when it was created, for its
 * whole life, and is used by one thread at a time. Once a decision denies,
 * the stream forwards nothing more: end the response. A response longer than
 * 16 MiB is denied (code response_too_large), and so is one where a redacted
 * match keeps growing past 64 KiB held back (code redaction_too_long): masking
 * it needs its end, and waiting for it would rescan ever more text on every
 * write. A write or finish that runs out
 * of memory may have screened its piece without forwarding it, so the stream
 * is then spent: every later call on it fails; end the response. */
typedef struct gavel_stream_t gavel_stream_t;
GAVEL_EXPORT gavel_stream_t* gavel_stream_create(gavel_engine_t* engine, size_t holdback_bytes, char** errptr);
GAVEL_EXPORT void gavel_stream_destroy(gavel_stream_t* stream);
/* `input` is the exchange's principal, context, env and request (no response
 * body); pass the same one to every call. *out and *out_len receive the text to
 * forward (valid until the next call on the stream). The decision belongs to
 * `worker` as with gavel_decide. Returns NULL and sets *errptr on bad
 * arguments, and, as gavel_decide, when a body of `input` is over the size
 * limit (GAVEL_ERR_TOO_LARGE). */
GAVEL_EXPORT const gavel_decision_t* gavel_stream_write(gavel_stream_t* stream, gavel_worker_t* worker,
                                                        const gavel_input_t* input, const char* piece, size_t piece_len,
                                                        const char** out, size_t* out_len, char** errptr);
/* The response is complete: forwards the held-back text. */
GAVEL_EXPORT const gavel_decision_t* gavel_stream_finish(gavel_stream_t* stream, gavel_worker_t* worker,
                                                         const gavel_input_t* input, const char** out, size_t* out_len,
                                                         char** errptr);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* GAVEL_H_ */
