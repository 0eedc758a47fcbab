/* gavel_filter: decides OpenAI request bodies against a bundle, the way a
 * gateway would through libgavel. Reads each request file named (or stdin
 * with "-" or no file), prints one decision JSON line per request.
 * Exit status: 0 all allowed, 1 some denied, 2 usage or I/O error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gavel.h"

static char* read_all(const char* path, size_t* len) {
  FILE* f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
  char* buf = NULL;
  size_t cap = 0, n = 0;
  if (f == NULL) return NULL;
  for (;;) {
    size_t got;
    if (n == cap) {
      char* grown;
      cap = cap ? cap * 2 : 65536;
      grown = (char*)realloc(buf, cap + 1);
      if (grown == NULL) {
        free(buf);
        if (f != stdin) fclose(f);
        return NULL;
      }
      buf = grown;
    }
    got = fread(buf + n, 1, cap - n, f);
    n += got;
    if (got == 0) break;
  }
  if (f != stdin) fclose(f);
  buf[n] = '\0';
  *len = n;
  return buf;
}

static int usage(void) {
  fprintf(stderr,
          "usage: gavel_filter BUNDLE [--principal FILE] [--context FILE] [--env FILE] [REQUEST...]\n"
          "Decides each request body (a file, or - for stdin) and prints the decision as JSON.\n");
  return 2;
}

int main(int argc, char** argv) {
  const char* bundle_path = NULL;
  const char* side_paths[3] = {NULL, NULL, NULL}; /* principal, context, env */
  char* side[3] = {NULL, NULL, NULL};
  size_t side_len[3] = {0, 0, 0};
  const char* requests[256];
  int nrequests = 0, i, status = 0;
  char* err = NULL;
  char* bundle;
  size_t bundle_len = 0;
  gavel_engine_t* engine;
  gavel_worker_t* worker;
  gavel_input_t* input;

  for (i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "--help") == 0) return usage() - 2;
    if ((strcmp(argv[i], "--principal") == 0 || strcmp(argv[i], "--context") == 0 || strcmp(argv[i], "--env") == 0) &&
        i + 1 < argc) {
      int k = argv[i][2] == 'p' ? 0 : argv[i][2] == 'c' ? 1 : 2;
      side_paths[k] = argv[++i];
    } else if (argv[i][0] == '-' && argv[i][1] == '-') {
      return usage();
    } else if (bundle_path == NULL) {
      bundle_path = argv[i];
    } else if (nrequests < 256) {
      requests[nrequests++] = argv[i];
    } else {
      fprintf(stderr, "gavel_filter: at most 256 request files\n");
      return 2;
    }
  }
  if (bundle_path == NULL) return usage();
  if (nrequests == 0) requests[nrequests++] = "-";

  bundle = read_all(bundle_path, &bundle_len);
  if (bundle == NULL) {
    fprintf(stderr, "gavel_filter: cannot read %s\n", bundle_path);
    return 2;
  }
  engine = gavel_engine_open(NULL, bundle, bundle_len, &err);
  free(bundle);
  if (engine == NULL) {
    fprintf(stderr, "gavel_filter: %s: %s\n", bundle_path, err);
    gavel_free(err);
    return 2;
  }
  for (i = 0; i < 3; ++i) {
    if (side_paths[i] == NULL) continue;
    side[i] = read_all(side_paths[i], &side_len[i]);
    if (side[i] == NULL) {
      fprintf(stderr, "gavel_filter: cannot read %s\n", side_paths[i]);
      gavel_engine_destroy(engine);
      return 2;
    }
  }
  worker = gavel_worker_create(engine, &err);
  input = gavel_input_create();
  if (worker == NULL || input == NULL) {
    fprintf(stderr, "gavel_filter: %s\n", err ? err : "out of memory");
    gavel_free(err);
    gavel_input_destroy(input);
    gavel_engine_destroy(engine);
    return 2;
  }

  for (i = 0; i < nrequests; ++i) {
    size_t len = 0, json_len = 0;
    char* body = read_all(requests[i], &len);
    const gavel_decision_t* d;
    const char* json;
    if (body == NULL) {
      fprintf(stderr, "gavel_filter: cannot read %s\n", requests[i]);
      status = 2;
      continue;
    }
    gavel_input_clear(input);
    gavel_input_set_request_json(input, body, len);
    if (side[0]) gavel_input_set_principal_json(input, side[0], side_len[0]);
    if (side[1]) gavel_input_set_context_json(input, side[1], side_len[1]);
    if (side[2]) gavel_input_set_env_json(input, side[2], side_len[2]);
    d = gavel_decide(worker, input, &err);
    if (d == NULL) {
      fprintf(stderr, "gavel_filter: %s: %s\n", requests[i], err);
      gavel_free(err);
      err = NULL;
      status = 2;
    } else {
      json = gavel_decision_json(d, &json_len);
      fwrite(json, 1, json_len, stdout);
      fputc('\n', stdout);
      if (!gavel_decision_allowed(d) && status == 0) status = 1;
    }
    free(body);
  }

  for (i = 0; i < 3; ++i) free(side[i]);
  gavel_input_destroy(input);
  gavel_worker_destroy(worker);
  gavel_engine_destroy(engine);
  return status;
}
