// Finds regex syntax that the screening engine (Hyperscan) cannot run, so that
// policyc reports it at the pattern's line and column with a plain-words reason
// instead of passing on the engine's own error. Back-references, lookaround,
// atomic groups, possessive quantifiers, conditionals, recursion and subroutine
// calls, \G \K \C \R \N \X, Perl case escapes, callouts and embedded code,
// backtracking verbs and start-of-pattern options, branch-reset groups, inline
// options other than i m s x, and escapes that mean nothing inside a character
// class.
//
// The scan follows PCRE syntax as Hyperscan reads it: escapes, \Q...\E
// quoting, character classes (where "(?=" or "+" mean nothing special, and a
// "]" first in the class is a literal), (?#...) comments, and the x option's
// spaces and # comments. A {...} is a quantifier only when it reads {n}, {n,}
// or {n,m}; anything else is literal text. Malformed syntax (an unclosed class
// or group, a quantifier with nothing to repeat) is not reported here: compiling
// the pattern with Hyperscan catches it, along with patterns that match the
// empty string or are too large.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace gavel {

struct RegexProblem {
  size_t offset = 0;   // byte offset in the regex source where the construct starts
  std::string reason;  // plain words: what the construct is, why it cannot run, what to write instead
};

// Finds the first construct the screening engine cannot run. False if there is
// none (out is left alone).
bool FindUnsupportedRegex(std::string_view source, RegexProblem* out);

}  // namespace gavel
