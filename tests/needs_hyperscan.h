// For tests of screening with regular expressions, which a runtime built
// without Hyperscan (GAVEL_WITH_HYPERSCAN=OFF, the portable build) cannot do:
// there every regex rule is a rule error by design, and such a test is
// reported as skipped with the reason, never silently passed.
#ifndef GAVEL_TESTS_NEEDS_HYPERSCAN_H_
#define GAVEL_TESTS_NEEDS_HYPERSCAN_H_

#include <gtest/gtest.h>

#if defined(GAVEL_HAVE_HYPERSCAN)
#define GAVEL_NEEDS_HYPERSCAN() static_cast<void>(0)
#else
#define GAVEL_NEEDS_HYPERSCAN() \
  GTEST_SKIP() << "screens with regular expressions; this build's runtime has no Hyperscan"
#endif

#endif  // GAVEL_TESTS_NEEDS_HYPERSCAN_H_
