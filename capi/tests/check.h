/* The checks the plain-C tests of libgavel share: a failing check prints the
 * file, line and the test's current phase and exits; an errptr is checked for
 * absence, for a message that mentions a word, and freed. Test files that do
 * not use a helper leave it unused, so every helper is static inline. */
#ifndef GAVEL_CAPI_TESTS_CHECK_H_
#define GAVEL_CAPI_TESTS_CHECK_H_

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gavel.h"

static const char* phase = "";
static unsigned checks = 0;

static inline void StartPhase(const char* name) {
  fprintf(stderr, "=== Test %s\n", name);
  phase = name;
}

static inline void Fail(const char* file, int line, const char* what) {
  fprintf(stderr, "%s:%d: [%s] check failed: %s\n", file, line, phase, what);
  exit(1);
}

#define CHECK(cond)                               \
  do {                                            \
    ++checks;                                     \
    if (!(cond)) Fail(__FILE__, __LINE__, #cond); \
  } while (0)

/* An errptr that must still be NULL. */
#define CHECK_NOERR(err)                                                                       \
  do {                                                                                         \
    ++checks;                                                                                  \
    if ((err) != NULL) {                                                                       \
      fprintf(stderr, "%s:%d: [%s] unexpected error: %s\n", __FILE__, __LINE__, phase, (err)); \
      exit(1);                                                                                 \
    }                                                                                          \
  } while (0)

/* An errptr that must hold a message containing `needle`; frees it. */
#define CHECK_ERR(err, needle) CheckErr(__FILE__, __LINE__, &(err), (needle))

static inline void CheckErr(const char* file, int line, char** err, const char* needle) {
  ++checks;
  if (*err == NULL) {
    fprintf(stderr, "%s:%d: [%s] expected an error mentioning \"%s\", got none\n", file, line, phase, needle);
    exit(1);
  }
  if ((*err)[0] == '\0' || strstr(*err, needle) == NULL) {
    fprintf(stderr, "%s:%d: [%s] error \"%s\" does not mention \"%s\"\n", file, line, phase, *err, needle);
    exit(1);
  }
  gavel_free(*err);
  *err = NULL;
}

/* A whole file, followed by a NUL (key files are read as C strings). */
typedef struct {
  char* bytes;
  size_t len;
} Bytes;

static inline Bytes ReadBytes(const char* path) {
  Bytes b = {NULL, 0};
  FILE* f = fopen(path, "rb");
  long n;
  if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
    fprintf(stderr, "cannot read %s\n", path);
    exit(2);
  }
  b.len = (size_t)n;
  b.bytes = (char*)malloc(b.len + 1);
  if (b.bytes == NULL || fread(b.bytes, 1, b.len, f) != b.len) {
    fprintf(stderr, "cannot read %s\n", path);
    exit(2);
  }
  b.bytes[b.len] = '\0';
  fclose(f);
  return b;
}

#endif /* GAVEL_CAPI_TESTS_CHECK_H_ */
