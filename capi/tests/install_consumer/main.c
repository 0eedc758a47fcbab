/* gavel_consumer: built against an installed libgavel (CMake package or
 * pkg-config). Decides one request against the bundle named on the command
 * line and prints the library version and the decision as JSON. */
#include <gavel.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char kRequest[] =
    "{\"model\":\"gpt-4-turbo\",\"messages\":[{\"role\":\"user\",\"content\":\"Where is my order?\"}]}";

int main(int argc, char** argv) {
  FILE* f;
  char* bundle = NULL;
  size_t len = 0, cap = 0, got;
  char* err = NULL;
  gavel_engine_t* engine;
  gavel_worker_t* worker;
  gavel_input_t* input;
  const gavel_decision_t* d;
  const char* json;
  size_t json_len;

  if (argc != 2) {
    fprintf(stderr, "usage: gavel_consumer BUNDLE\n");
    return 2;
  }
  /* The installed header's version macros and the library are one release. */
  if (strcmp(gavel_version(), GAVEL_VERSION_STRING) != 0 || GAVEL_VERSION_NUMBER <= 0) {
    fprintf(stderr, "gavel_consumer: header %s, library %s\n", GAVEL_VERSION_STRING, gavel_version());
    return 1;
  }
  f = fopen(argv[1], "rb");
  if (f == NULL) {
    fprintf(stderr, "gavel_consumer: cannot open %s\n", argv[1]);
    return 2;
  }
  do {
    if (len == cap) {
      cap = cap ? 2 * cap : 65536;
      bundle = (char*)realloc(bundle, cap);
      if (bundle == NULL) return 2;
    }
    got = fread(bundle + len, 1, cap - len, f);
    len += got;
  } while (got > 0);
  fclose(f);

  engine = gavel_engine_open(NULL, bundle, len, &err);
  free(bundle);
  if (engine == NULL) {
    fprintf(stderr, "gavel_consumer: %s\n", err);
    gavel_free(err);
    return 1;
  }
  worker = gavel_worker_create(engine, &err);
  input = gavel_input_create();
  gavel_input_set_request_json(input, kRequest, strlen(kRequest));
  d = gavel_decide(worker, input, &err);
  if (d == NULL) {
    fprintf(stderr, "gavel_consumer: %s\n", err);
    gavel_free(err);
    return 1;
  }
  json = gavel_decision_json(d, &json_len);
  printf("gavel %s (bundle format %d)\n%.*s\n", gavel_version(), gavel_bundle_format(), (int)json_len, json);
  gavel_input_destroy(input);
  gavel_worker_destroy(worker);
  gavel_engine_destroy(engine);
  return 0;
}
