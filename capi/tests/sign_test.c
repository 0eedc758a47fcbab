/* sign_test: signed bundles through the C API, in plain C99. An engine opened
 * with trusted keys refuses unsigned, foreign-key and tampered bundles on
 * open, reload and set_shadow, and a refused reload leaves the previous
 * bundle deciding. Arguments: bundle and key paths (see CMakeLists.txt). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "gavel.h"

/* The key id of a public key file: the second field of its key line. */
static void KeyIdOf(const Bytes* pub, char id[17]) {
  const char* line = strstr(pub->bytes, "gavel-ed25519-public ");
  if (line == NULL) {
    fprintf(stderr, "not a public key file\n");
    exit(1);
  }
  memcpy(id, line + strlen("gavel-ed25519-public "), 16);
  id[16] = '\0';
}

static gavel_options_t* OptionsTrusting(const Bytes* k1, const Bytes* k2) {
  char* err = NULL;
  gavel_options_t* o = gavel_options_create();
  CHECK(o != NULL);
  if (k1) {
    CHECK(gavel_options_trust_key(o, k1->bytes, k1->len, &err) == 1);
    CHECK_NOERR(err);
  }
  if (k2) {
    CHECK(gavel_options_trust_key(o, k2->bytes, k2->len, &err) == 1);
    CHECK_NOERR(err);
  }
  return o;
}

/* Decides an empty chat request with principal.team "red": bundle A flags
 * it (allow), bundle B denies it (451). Returns the status. */
static int Decide(gavel_engine_t* e, char* signer, size_t signer_size) {
  static const char kRequest[] = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
  char* err = NULL;
  gavel_worker_t* w = gavel_worker_create(e, &err);
  gavel_input_t* in = gavel_input_create();
  const gavel_decision_t* d;
  const char* s;
  size_t len = 0;
  int status;
  CHECK_NOERR(err);
  gavel_input_set_request_json(in, kRequest, sizeof kRequest - 1);
  gavel_input_set_string(in, "principal.team", 14, "red", 3);
  d = gavel_decide(w, in, &err);
  CHECK_NOERR(err);
  CHECK(d != NULL);
  s = gavel_decision_bundle_signer(d, &len);
  CHECK(s != NULL && len < signer_size && s[len] == '\0');
  memcpy(signer, s, len + 1);
  {
    /* The decision JSON names the signer too. */
    char want[64];
    const char* json = gavel_decision_json(d, &len);
    snprintf(want, sizeof want, "\"signer\":\"%s\"", signer);
    CHECK(strstr(json, want) != NULL);
  }
  status = gavel_decision_status(d);
  gavel_input_destroy(in);
  gavel_worker_destroy(w);
  return status;
}

static Bytes Flipped(const Bytes* b, size_t at) {
  Bytes c;
  c.len = b->len;
  c.bytes = (char*)malloc(c.len);
  CHECK(c.bytes != NULL);
  memcpy(c.bytes, b->bytes, c.len);
  c.bytes[at] ^= 0x01;
  return c;
}

int main(int argc, char** argv) {
  Bytes a_plain, a_signed_a, b_signed_a, b_signed_b, key_a, key_b, a_tampered, b_tampered;
  char id_a[17], id_b[17], signer[64], want[128];
  char* err = NULL;
  char* s;
  gavel_options_t* opts;
  gavel_engine_t* e;
  uint64_t generation;

  if (argc != 7) {
    fprintf(stderr, "usage: %s A.bundle A_signed_by_a.bundle B_signed_by_a.bundle B_signed_by_b.bundle a.pub b.pub\n",
            argv[0]);
    return 2;
  }
  a_plain = ReadBytes(argv[1]);
  a_signed_a = ReadBytes(argv[2]);
  b_signed_a = ReadBytes(argv[3]);
  b_signed_b = ReadBytes(argv[4]);
  key_a = ReadBytes(argv[5]);
  key_b = ReadBytes(argv[6]);
  KeyIdOf(&key_a, id_a);
  KeyIdOf(&key_b, id_b);
  a_tampered = Flipped(&a_signed_a, a_signed_a.len / 2);
  b_tampered = Flipped(&b_signed_a, b_signed_a.len / 2);

  phase = "no trusted keys";
  e = gavel_engine_open(NULL, a_plain.bytes, a_plain.len, &err);
  CHECK_NOERR(err);
  CHECK(Decide(e, signer, sizeof signer) == 200);
  CHECK(strcmp(signer, "unsigned") == 0);
  s = gavel_engine_bundle_signer(e);
  CHECK(s != NULL && strcmp(s, "unsigned") == 0);
  gavel_free(s);
  /* A signed bundle loads too, but nothing was verified: still "unsigned". */
  CHECK(gavel_engine_reload(e, a_signed_a.bytes, a_signed_a.len, &err) == 1);
  CHECK_NOERR(err);
  CHECK(Decide(e, signer, sizeof signer) == 200);
  CHECK(strcmp(signer, "unsigned") == 0);
  gavel_engine_destroy(e);

  phase = "trust_key refuses what is not a public key";
  opts = gavel_options_create();
  CHECK(gavel_options_trust_key(opts, "nonsense", 8, &err) == 0);
  CHECK_ERR(err, "not a public key");
  CHECK(gavel_options_trust_key(opts, NULL, 0, &err) == 0);
  CHECK_ERR(err, "no key");
  CHECK(gavel_options_trust_key(NULL, key_a.bytes, key_a.len, &err) == 0);
  CHECK_ERR(err, "options is NULL");
  /* A refused key leaves the options trusting nothing: unsigned still opens. */
  e = gavel_engine_open(opts, a_plain.bytes, a_plain.len, &err);
  CHECK_NOERR(err);
  CHECK(e != NULL);
  gavel_engine_destroy(e);
  gavel_options_destroy(opts);

  phase = "open refuses";
  opts = OptionsTrusting(&key_a, NULL);
  CHECK(gavel_engine_open(opts, a_plain.bytes, a_plain.len, &err) == NULL);
  CHECK_ERR(err, "bundle is unsigned");
  CHECK(gavel_engine_open(opts, b_signed_b.bytes, b_signed_b.len, &err) == NULL);
  snprintf(want, sizeof want, "signed by unknown key id %s", id_b);
  CHECK_ERR(err, want);
  CHECK(gavel_engine_open(opts, a_tampered.bytes, a_tampered.len, &err) == NULL);
  CHECK_ERR(err, "bad signature");
  CHECK(gavel_engine_open(opts, a_signed_a.bytes, a_signed_a.len - 1, &err) == NULL);
  CHECK_ERR(err, "truncated");

  phase = "open accepts the trusted key";
  e = gavel_engine_open(opts, a_signed_a.bytes, a_signed_a.len, &err);
  CHECK_NOERR(err);
  CHECK(e != NULL);
  /* The engine copied the keys: trusting another key on the options, or
   * destroying them, changes nothing for it. */
  CHECK(gavel_options_trust_key(opts, key_b.bytes, key_b.len, &err) == 1);
  gavel_options_destroy(opts);
  CHECK(Decide(e, signer, sizeof signer) == 200);
  CHECK(strcmp(signer, id_a) == 0);
  s = gavel_engine_bundle_signer(e);
  CHECK(s != NULL && strcmp(s, id_a) == 0);
  gavel_free(s);
  generation = gavel_engine_generation(e);

  phase = "refused reloads keep the previous bundle deciding";
  CHECK(gavel_engine_reload(e, b_signed_b.bytes, b_signed_b.len, &err) == 0);
  CHECK_ERR(err, want); /* unknown key id b: the later trust_key did not reach the engine */
  CHECK(gavel_engine_reload(e, a_plain.bytes, a_plain.len, &err) == 0);
  CHECK_ERR(err, "bundle is unsigned");
  CHECK(gavel_engine_reload(e, b_tampered.bytes, b_tampered.len, &err) == 0);
  CHECK_ERR(err, "bad signature");
  CHECK(gavel_engine_generation(e) == generation);
  CHECK(Decide(e, signer, sizeof signer) == 200); /* still bundle A, which allows */
  CHECK(strcmp(signer, id_a) == 0);

  phase = "reload accepts the trusted key";
  CHECK(gavel_engine_reload(e, b_signed_a.bytes, b_signed_a.len, &err) == 1);
  CHECK_NOERR(err);
  CHECK(Decide(e, signer, sizeof signer) == 451); /* bundle B denies */
  CHECK(strcmp(signer, id_a) == 0);
  CHECK(gavel_engine_rollback(e, &err) == 1);
  CHECK(Decide(e, signer, sizeof signer) == 200);

  phase = "set_shadow refuses";
  CHECK(gavel_engine_set_shadow(e, a_plain.bytes, a_plain.len, &err) == 0);
  CHECK_ERR(err, "bundle is unsigned");
  CHECK(gavel_engine_set_shadow(e, b_signed_b.bytes, b_signed_b.len, &err) == 0);
  CHECK_ERR(err, "unknown key id");
  CHECK(gavel_engine_set_shadow(e, b_tampered.bytes, b_tampered.len, &err) == 0);
  CHECK_ERR(err, "bad signature");
  CHECK(Decide(e, signer, sizeof signer) == 200);
  CHECK(gavel_engine_shadow_decisions(e) == 0); /* no shadow was set */
  CHECK(gavel_engine_set_shadow(e, b_signed_a.bytes, b_signed_a.len, &err) == 1);
  CHECK_NOERR(err);
  CHECK(Decide(e, signer, sizeof signer) == 200);
  CHECK(gavel_engine_shadow_decisions(e) == 1);
  CHECK(gavel_engine_shadow_differences(e) == 1); /* B denies what A allows */
  gavel_engine_destroy(e);

  phase = "two trusted keys: either is accepted";
  opts = OptionsTrusting(&key_a, &key_b);
  e = gavel_engine_open(opts, b_signed_b.bytes, b_signed_b.len, &err);
  CHECK_NOERR(err);
  CHECK(Decide(e, signer, sizeof signer) == 451);
  CHECK(strcmp(signer, id_b) == 0);
  CHECK(gavel_engine_reload(e, a_signed_a.bytes, a_signed_a.len, &err) == 1);
  CHECK_NOERR(err);
  CHECK(Decide(e, signer, sizeof signer) == 200);
  CHECK(strcmp(signer, id_a) == 0);
  CHECK(gavel_engine_reload(e, a_plain.bytes, a_plain.len, &err) == 0);
  CHECK_ERR(err, "bundle is unsigned");
  gavel_engine_destroy(e);
  gavel_options_destroy(opts);

  phase = "a newer bundle format is refused naming both versions";
  {
    Bytes newer = Flipped(&a_plain, 0);
    const uint32_t v = (uint32_t)gavel_bundle_format() + 1;
    newer.bytes[0] = a_plain.bytes[0];
    memcpy(newer.bytes + 8, &v, 4); /* little-endian hosts, as the format */
    CHECK(gavel_engine_open(NULL, newer.bytes, newer.len, &err) == NULL);
    snprintf(want, sizeof want,
             "bundle format version %u is newer than this gavel reads (version %d); upgrade libgavel", (unsigned)v,
             gavel_bundle_format());
    CHECK_ERR(err, want);
    free(newer.bytes);
  }

  free(a_plain.bytes);
  free(a_signed_a.bytes);
  free(b_signed_a.bytes);
  free(b_signed_b.bytes);
  free(key_a.bytes);
  free(key_b.bytes);
  free(a_tampered.bytes);
  free(b_tampered.bytes);
  fprintf(stderr, "sign_test: %u checks passed\n", checks);
  return 0;
}
