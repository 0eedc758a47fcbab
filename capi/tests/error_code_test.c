/* error_code_test: every error code a gateway can meet through the C API, in
 * plain C99, read with gavel_error_code() rather than from the message; and
 * a refused open, reload or shadow that leaves the engine as it was.
 * Arguments: reload_a.bundle reload_b.bundle reload_a.signed_test_a.bundle
 * reload_b.signed_test_a.bundle reload_b.signed_test_b.bundle test_a.pub
 * (see CMakeLists.txt). The out-of-memory code is checked by
 * alloc_failure_test, which can make allocations fail. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "gavel.h"

/* *err must be a message with `code` that mentions `needle`; it is freed. */
#define CHECK_CODE(err, code, needle) CheckCode(__FILE__, __LINE__, &(err), (code), #code, (needle))

static void CheckCode(const char* file, int line, char** err, gavel_error_t code, const char* code_name,
                      const char* needle) {
  ++checks;
  if (*err == NULL || gavel_error_code(*err) != code || strstr(*err, needle) == NULL) {
    fprintf(stderr, "%s:%d: [%s] expected %s mentioning \"%s\", got code %d: %s\n", file, line, phase, code_name,
            needle, *err ? (int)gavel_error_code(*err) : 0, *err ? *err : "(no error)");
    exit(1);
  }
  gavel_free(*err);
  *err = NULL;
}

static Bytes Copy(const Bytes* b) {
  Bytes c;
  c.len = b->len;
  c.bytes = (char*)malloc(b->len + 1);
  if (c.bytes == NULL) exit(1);
  memcpy(c.bytes, b->bytes, b->len + 1);
  return c;
}

/* A bundle's format version: the little-endian u32 at byte 8 (and the
 * envelope's, at byte 8 of a signed bundle). */
static void SetVersion(Bytes* b, uint32_t v) {
  int i;
  for (i = 0; i < 4; ++i) b->bytes[8 + i] = (char)((v >> (8 * i)) & 0xff);
}

static const char kRequest[] = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";

/* Which bundle decides: bundle A allows a request naming a model, bundle B
 * denies it with status 451. Returns the status. */
static int Decide(gavel_worker_t* w, const char* request) {
  char* err = NULL;
  gavel_input_t* in = gavel_input_create();
  const gavel_decision_t* d;
  int status;
  CHECK(in != NULL);
  gavel_input_set_request_json(in, request, strlen(request));
  d = gavel_decide(w, in, &err);
  if (d == NULL) {
    fprintf(stderr, "[%s] gavel_decide failed: %s\n", phase, err ? err : "(no message)");
    exit(1);
  }
  status = gavel_decision_status(d);
  gavel_input_destroy(in);
  return status;
}

/* A refused reload of `bundle` with `code`: the active bundle (A) keeps
 * deciding and the generation does not move. */
static void CheckRefusedReload(gavel_engine_t* e, gavel_worker_t* w, const Bytes* bundle, gavel_error_t code,
                               const char* code_name, const char* needle) {
  char* err = NULL;
  const uint64_t generation = gavel_engine_generation(e);
  ++checks;
  if (gavel_engine_reload(e, bundle->bytes, bundle->len, &err) != 0) Fail(__FILE__, __LINE__, "reload accepted");
  CheckCode(__FILE__, __LINE__, &err, code, code_name, needle);
  CHECK(gavel_engine_generation(e) == generation);
  CHECK(Decide(w, kRequest) == 200);
  /* set_shadow refuses it the same way */
  CHECK(gavel_engine_set_shadow(e, bundle->bytes, bundle->len, &err) == 0);
  CheckCode(__FILE__, __LINE__, &err, code, code_name, needle);
}
#define CHECK_REFUSED_RELOAD(e, w, bundle, code, needle) CheckRefusedReload(e, w, bundle, code, #code, needle)

int main(int argc, char** argv) {
  Bytes a, b, a_signed_a, b_signed_a, b_signed_b, pub_a;
  char* err = NULL;
  gavel_options_t* options;
  gavel_engine_t* e;
  gavel_worker_t* w;
  if (argc != 7) {
    fprintf(stderr, "usage: error_code_test A B A.signed_a B.signed_a B.signed_b test_a.pub\n");
    return 2;
  }
  a = ReadBytes(argv[1]);
  b = ReadBytes(argv[2]);
  a_signed_a = ReadBytes(argv[3]);
  b_signed_a = ReadBytes(argv[4]);
  b_signed_b = ReadBytes(argv[5]);
  pub_a = ReadBytes(argv[6]);

  phase = "no error";
  CHECK(gavel_error_code(NULL) == GAVEL_OK);
  /* The numbers are the ABI: a binding may hard-code them. */
  CHECK(GAVEL_ERR_INVALID_ARGUMENT == 1 && GAVEL_ERR_CORRUPT_BUNDLE == 2 && GAVEL_ERR_NEWER_FORMAT == 3 &&
        GAVEL_ERR_OLDER_FORMAT == 4 && GAVEL_ERR_UNSIGNED == 5 && GAVEL_ERR_UNTRUSTED_KEY == 6 &&
        GAVEL_ERR_BAD_SIGNATURE == 7 && GAVEL_ERR_OUT_OF_MEMORY == 8 && GAVEL_ERR_TOO_LARGE == 9 &&
        GAVEL_ERR_FAILED_PRECONDITION == 10 && GAVEL_ERR_INTERNAL == 11);

  phase = "invalid arguments";
  CHECK(gavel_engine_open(NULL, NULL, 0, &err) == NULL);
  CHECK_CODE(err, GAVEL_ERR_INVALID_ARGUMENT, "empty bundle");
  CHECK(gavel_engine_reload(NULL, a.bytes, a.len, &err) == 0);
  CHECK_CODE(err, GAVEL_ERR_INVALID_ARGUMENT, "engine is NULL");
  CHECK(gavel_worker_create(NULL, &err) == NULL);
  CHECK_CODE(err, GAVEL_ERR_INVALID_ARGUMENT, "engine is NULL");
  CHECK(gavel_decide(NULL, NULL, &err) == NULL);
  CHECK_CODE(err, GAVEL_ERR_INVALID_ARGUMENT, "worker is NULL");
  options = gavel_options_create();
  CHECK(options != NULL);
  CHECK(gavel_options_trust_key(options, "not a key", 9, &err) == 0);
  CHECK_CODE(err, GAVEL_ERR_INVALID_ARGUMENT, "not a public key");
  CHECK(gavel_options_trust_key(NULL, pub_a.bytes, pub_a.len, &err) == 0);
  CHECK_CODE(err, GAVEL_ERR_INVALID_ARGUMENT, "options is NULL");

  phase = "corrupt bundles";
  CHECK(gavel_engine_open(NULL, "hello", 5, &err) == NULL);
  CHECK_CODE(err, GAVEL_ERR_CORRUPT_BUNDLE, "bundle truncated");
  CHECK(gavel_engine_open(NULL, a.bytes, a.len - 1, &err) == NULL);
  CHECK_CODE(err, GAVEL_ERR_CORRUPT_BUNDLE, "truncated or padded");
  {
    Bytes flipped = Copy(&a);
    flipped.bytes[flipped.len - 2] ^= 0x40;
    CHECK(gavel_engine_open(NULL, flipped.bytes, flipped.len, &err) == NULL);
    CHECK_CODE(err, GAVEL_ERR_CORRUPT_BUNDLE, "checksum");
    free(flipped.bytes);
  }

  phase = "formats";
  {
    Bytes v = Copy(&a);
    SetVersion(&v, (uint32_t)gavel_bundle_format() + 1);
    CHECK(gavel_engine_open(NULL, v.bytes, v.len, &err) == NULL);
    CHECK_CODE(err, GAVEL_ERR_NEWER_FORMAT, "upgrade libgavel");
    SetVersion(&v, (uint32_t)gavel_bundle_format() - 1);
    CHECK(gavel_engine_open(NULL, v.bytes, v.len, &err) == NULL);
    CHECK_CODE(err, GAVEL_ERR_OLDER_FORMAT, "compile the policy again");
    free(v.bytes);
  }

  phase = "a refused reload keeps the active bundle";
  e = gavel_engine_open(NULL, a.bytes, a.len, &err);
  CHECK(e != NULL && err == NULL);
  w = gavel_worker_create(e, &err);
  CHECK(w != NULL && err == NULL);
  CHECK(Decide(w, kRequest) == 200);
  CHECK(gavel_engine_rollback(e, &err) == 0);
  CHECK_CODE(err, GAVEL_ERR_FAILED_PRECONDITION, "no previous bundle");
  {
    Bytes corrupt = Copy(&b), newer = Copy(&b);
    corrupt.bytes[corrupt.len / 2] ^= 0x01;
    SetVersion(&newer, (uint32_t)gavel_bundle_format() + 1);
    CHECK_REFUSED_RELOAD(e, w, &corrupt, GAVEL_ERR_CORRUPT_BUNDLE, "bundle");
    CHECK_REFUSED_RELOAD(e, w, &newer, GAVEL_ERR_NEWER_FORMAT, "newer");
    free(corrupt.bytes);
    free(newer.bytes);
  }
  /* A reload that is accepted after the refusals. */
  CHECK(gavel_engine_reload(e, b.bytes, b.len, &err) == 1 && err == NULL);
  CHECK(Decide(w, kRequest) == 451);

  phase = "request body over the cap";
  {
    gavel_options_t* small = gavel_options_create();
    gavel_engine_t* capped;
    gavel_worker_t* cw;
    gavel_input_t* in = gavel_input_create();
    gavel_stream_t* stream;
    const char* out = NULL;
    size_t out_len = 0;
    CHECK(small != NULL && in != NULL);
    gavel_options_set_max_request_bytes(small, 16);
    capped = gavel_engine_open(small, a.bytes, a.len, &err);
    CHECK(capped != NULL && err == NULL);
    cw = gavel_worker_create(capped, &err);
    CHECK(cw != NULL && err == NULL);
    gavel_input_set_request_json(in, kRequest, strlen(kRequest));
    CHECK(gavel_decide(cw, in, &err) == NULL);
    CHECK_CODE(err, GAVEL_ERR_TOO_LARGE, "the limit is 16");
    /* Regression: a stream's request was held to no cap but the decoder's
     * own (8 MiB), whatever max_request_bytes said. */
    phase = "a stream's request body over the cap";
    stream = gavel_stream_create(capped, 0, &err);
    CHECK(stream != NULL && err == NULL);
    CHECK(gavel_stream_write(stream, cw, in, "text", 4, &out, &out_len, &err) == NULL);
    CHECK_CODE(err, GAVEL_ERR_TOO_LARGE, "the limit is 16");
    CHECK(out_len == 0);
    gavel_stream_destroy(stream);
    gavel_input_destroy(in);
    gavel_worker_destroy(cw);
    gavel_engine_destroy(capped);
    gavel_options_destroy(small);
  }

  phase = "a cap raised above the decoder's default holds for streams too";
  {
    /* Regression: a stream decided with the decoder's default cap (8 MiB), so
     * a body gavel_decide accepted under a higher max_request_bytes was
     * refused mid-stream. */
    static const char kHead[] = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"";
    static const char kTail[] = "\"}]}";
    const size_t pad = (9u << 20) - strlen(kHead) - strlen(kTail);
    char* big = (char*)malloc(strlen(kHead) + pad + strlen(kTail));
    gavel_options_t* large = gavel_options_create();
    gavel_engine_t* le;
    gavel_worker_t* lw;
    gavel_input_t* in = gavel_input_create();
    gavel_stream_t* stream;
    const gavel_decision_t* d;
    const char* out = NULL;
    size_t out_len = 0, n = 0;
    CHECK(big != NULL && large != NULL && in != NULL);
    memcpy(big, kHead, strlen(kHead));
    n = strlen(kHead);
    memset(big + n, 'a', pad);
    n += pad;
    memcpy(big + n, kTail, strlen(kTail));
    n += strlen(kTail);
    gavel_options_set_max_request_bytes(large, 10u << 20);
    le = gavel_engine_open(large, a.bytes, a.len, &err);
    CHECK(le != NULL && err == NULL);
    lw = gavel_worker_create(le, &err);
    CHECK(lw != NULL && err == NULL);
    gavel_input_set_request_json(in, big, n);
    d = gavel_decide(lw, in, &err);
    CHECK(d != NULL && err == NULL);
    stream = gavel_stream_create(le, 0, &err);
    CHECK(stream != NULL && err == NULL);
    d = gavel_stream_write(stream, lw, in, "text", 4, &out, &out_len, &err);
    CHECK_NOERR(err);
    CHECK(d != NULL && gavel_decision_status(d) != 400);
    gavel_stream_destroy(stream);
    gavel_input_destroy(in);
    gavel_worker_destroy(lw);
    gavel_engine_destroy(le);
    gavel_options_destroy(large);
    free(big);
  }

  phase = "an attribute name with a NUL in it";
  {
    /* The message is a C string: the NUL becomes '?', so the text is whole
     * and the code after it is found. */
    gavel_input_t* in = gavel_input_create();
    CHECK(in != NULL);
    gavel_input_set_string(in, "no\0such", 7, "x", 1);
    CHECK(gavel_decide(w, in, &err) == NULL);
    CHECK_CODE(err, GAVEL_ERR_INVALID_ARGUMENT, "unknown attribute 'no?such'");
    gavel_input_destroy(in);
  }
  gavel_worker_destroy(w);
  gavel_engine_destroy(e);

  phase = "signatures";
  CHECK(gavel_options_trust_key(options, pub_a.bytes, pub_a.len, &err) == 1 && err == NULL);
  CHECK(gavel_engine_open(options, a.bytes, a.len, &err) == NULL);
  CHECK_CODE(err, GAVEL_ERR_UNSIGNED, "unsigned");
  CHECK(gavel_engine_open(options, b_signed_b.bytes, b_signed_b.len, &err) == NULL);
  CHECK_CODE(err, GAVEL_ERR_UNTRUSTED_KEY, "unknown key id");
  e = gavel_engine_open(options, a_signed_a.bytes, a_signed_a.len, &err);
  CHECK(e != NULL && err == NULL);
  w = gavel_worker_create(e, &err);
  CHECK(w != NULL && err == NULL);
  CHECK(Decide(w, kRequest) == 200);
  {
    Bytes tampered = Copy(&b_signed_a), newer_envelope = Copy(&b_signed_a);
    tampered.bytes[tampered.len / 2] ^= 0x01; /* inside the signed bundle */
    SetVersion(&newer_envelope, 2);           /* the envelope's version is 1 */
    CHECK_REFUSED_RELOAD(e, w, &b, GAVEL_ERR_UNSIGNED, "unsigned");
    CHECK_REFUSED_RELOAD(e, w, &b_signed_b, GAVEL_ERR_UNTRUSTED_KEY, "unknown key id");
    CHECK_REFUSED_RELOAD(e, w, &tampered, GAVEL_ERR_BAD_SIGNATURE, "bad signature");
    CHECK_REFUSED_RELOAD(e, w, &newer_envelope, GAVEL_ERR_NEWER_FORMAT, "envelope version 2 is newer");
    free(tampered.bytes);
    free(newer_envelope.bytes);
  }
  CHECK(gavel_engine_reload(e, b_signed_a.bytes, b_signed_a.len, &err) == 1 && err == NULL);
  CHECK(Decide(w, kRequest) == 451);

  phase = "a message replaced by the next one";
  /* *errptr already holding a message is freed and replaced, code and all. */
  CHECK(gavel_engine_reload(e, b.bytes, b.len, &err) == 0);
  CHECK(gavel_error_code(err) == GAVEL_ERR_UNSIGNED);
  CHECK(gavel_engine_reload(e, "x", 1, &err) == 0);
  CHECK_CODE(err, GAVEL_ERR_CORRUPT_BUNDLE, "");

  gavel_worker_destroy(w);
  gavel_engine_destroy(e);
  gavel_options_destroy(options);
  free(a.bytes);
  free(b.bytes);
  free(a_signed_a.bytes);
  free(b_signed_a.bytes);
  free(b_signed_b.bytes);
  free(pub_a.bytes);
  printf("error_code_test: %u checks passed\n", checks);
  return 0;
}
