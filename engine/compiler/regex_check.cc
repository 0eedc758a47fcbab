// Unsupported-regex checker: see regex_check.h. One left-to-right scan that
// tracks only what changes how later bytes read: inside a class or a \Q...\E
// quote, whether the x option is on (per group), whether the last item can
// take a quantifier, and how many capturing groups have opened (it decides
// whether \12 is a back-reference or an octal escape).
#include "engine/compiler/regex_check.h"

#include <cstring>
#include <utility>
#include <vector>

namespace gavel {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsWord(char c) { return IsAlpha(c) || IsDigit(c) || c == '_'; }
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// Escapes that mean something inside a character class (besides digits, which
// are octal or literal, and punctuation, which is literal).
constexpr const char kClassEscapes[] = "abdDefhHnoprsStvVwWxPcQE";

const char* const kBackrefAdvice =
    " are not supported: the screening engine matches each pattern in one pass without remembering what a group "
    "matched. If the repeated text comes from a short list, write each repetition out, e.g. (?:abab|cdcd) instead of "
    "(ab|cd)\\1";

const char* const kRecursionAdvice =
    " are not supported: the screening engine matches regular patterns only, without a stack. Write the group's text "
    "out again where it is called (nested to a fixed depth if you need nesting)";

const char* const kNoBacktrack = " the screening engine does not backtrack, so there is nothing to prevent;";

class Scan {
 public:
  Scan(std::string_view s, RegexProblem* out) : s_(s), n_(s.size()), out_(out) {}

  bool Run() {
    size_t i = 0;
    while (i < n_) {
      const char c = s_[i];
      if (extended_ && IsSpace(c)) {
        ++i;
        continue;
      }
      if (extended_ && c == '#') {
        while (i < n_ && s_[i] != '\n') ++i;
        continue;
      }
      switch (c) {
        case '\\':
          if (!Escape(&i)) return true;
          break;
        case '[':
          if (!Class(&i)) return true;
          atom_ = true;
          break;
        case '(':
          if (!Group(&i)) return true;
          break;
        case ')':
          if (!scopes_.empty()) {
            extended_ = scopes_.back();
            scopes_.pop_back();
          }
          atom_ = true;
          ++i;
          break;
        case '|':
          atom_ = false;
          ++i;
          break;
        case '*':
        case '+':
        case '?':
          if (!Quantifier(i, i + 1)) return true;
          i = AfterQuantifier(i + 1);
          break;
        case '{': {
          const size_t end = BraceQuantifierEnd(i);
          if (end == 0) {  // literal "{"
            atom_ = true;
            ++i;
            break;
          }
          if (!Quantifier(i, end)) return true;
          i = AfterQuantifier(end);
          break;
        }
        default:
          atom_ = true;
          ++i;
          break;
      }
    }
    return false;
  }

 private:
  // Records the problem; returns false so callers can `return Fail(...)`.
  bool Fail(size_t at, std::string reason) {
    out_->offset = at;
    out_->reason = std::move(reason);
    return false;
  }

  // The source text [from, to), cut short for messages.
  std::string Text(size_t from, size_t to) const {
    if (to > n_) to = n_;
    if (to - from > 32) return std::string(s_.substr(from, 29)) + "...";
    return std::string(s_.substr(from, to - from));
  }

  size_t Find(char c, size_t from) const {
    const size_t k = s_.find(c, from);
    return k == std::string_view::npos ? n_ : k;
  }

  // One past a name of word characters starting at `from`.
  size_t NameEnd(size_t from) const {
    while (from < n_ && IsWord(s_[from])) ++from;
    return from;
  }

  // If a valid {n}, {n,} or {n,m} starts at i, one past its "}", else 0.
  size_t BraceQuantifierEnd(size_t i) const {
    size_t j = i + 1;
    const size_t digits = j;
    while (j < n_ && IsDigit(s_[j])) ++j;
    if (j == digits || j >= n_) return 0;
    if (s_[j] == '}') return j + 1;
    if (s_[j] != ',') return 0;
    ++j;
    while (j < n_ && IsDigit(s_[j])) ++j;
    return j < n_ && s_[j] == '}' ? j + 1 : 0;
  }

  // A quantifier [at, end) was read; a "+" right after it makes it possessive.
  bool Quantifier(size_t at, size_t end) {
    if (atom_ && end < n_ && s_[end] == '+') {
      return Fail(at, "possessive quantifiers like " + Text(at, end + 1) + " are not supported:" + kNoBacktrack +
                          " drop the trailing + and write " + Text(at, end));
    }
    return true;
  }

  // Skips a lazy "?" after a quantifier ending at end.
  size_t AfterQuantifier(size_t end) {
    atom_ = false;
    return end < n_ && s_[end] == '?' ? end + 1 : end;
  }

  // A backslash at *i outside a class.
  bool Escape(size_t* i) {
    const size_t at = *i;
    if (at + 1 >= n_) {  // a lone trailing backslash: a syntax error for the compiler
      *i = n_;
      return true;
    }
    const char d = s_[at + 1];
    switch (d) {
      case 'Q': {  // quoted text: an empty \Q\E adds nothing
        const size_t end = s_.find("\\E", at + 2);
        const size_t stop = end == std::string_view::npos ? n_ : end;
        if (stop > at + 2) atom_ = true;
        *i = end == std::string_view::npos ? n_ : end + 2;
        return true;
      }
      case 'E':  // an \E without \Q: ignored
        *i = at + 2;
        return true;
      default:
        break;
    }
    atom_ = true;
    switch (d) {
      case '1':
      case '2':
      case '3':
      case '4':
      case '5':
      case '6':
      case '7':
      case '8':
      case '9': {
        size_t j = at + 1;
        unsigned long value = 0;
        while (j < n_ && IsDigit(s_[j])) {
          if (value < 100000) value = value * 10 + unsigned(s_[j] - '0');
          ++j;
        }
        if (d == '8' || d == '9' || value < 10 || value <= groups_) {
          std::string reason = "back-references like " + Text(at, j) + kBackrefAdvice;
          if (d == '8' || d == '9') reason += std::string(". To match the digit itself, write ") + d;
          return Fail(at, reason);
        }
        *i = j;  // an octal escape, then literal digits
        return true;
      }
      case 'g': {
        const size_t end = ReferenceEnd(at + 2);
        if (at + 2 < n_ && (s_[at + 2] == '<' || s_[at + 2] == '\''))
          return Fail(at, "recursion and subroutine calls like " + Text(at, end) + kRecursionAdvice);
        return Fail(at, "back-references like " + Text(at, end) + kBackrefAdvice);
      }
      case 'k':
        return Fail(at, "back-references like " + Text(at, ReferenceEnd(at + 2)) + kBackrefAdvice);
      case 'G':
        return Fail(at,
                    "\\G (the end of the previous match) is not supported: the screening engine scans each text once, "
                    "without a previous match. Anchor with \\A or ^ for the start of the text, or remove it");
      case 'K':
        return Fail(at,
                    "\\K (restart the reported match here) is not supported; remove it: a pattern only needs to "
                    "match, and its match then also covers the text before \\K");
      case 'C':
        return Fail(at,
                    "\\C (one byte, even inside a multi-byte character) is not supported: patterns match whole UTF-8 "
                    "characters. Use . for any one character");
      case 'R':
        return Fail(at,
                    "\\R (any line break) is not supported; write (?:\\r\\n|\\n|\\r), or list the line breaks you "
                    "need in a class such as [\\n\\r]");
      case 'X':
        return Fail(at,
                    "\\X (one character with its combining marks) is not supported; write \\P{M}\\p{M}* for that, "
                    "or . for any one character");
      case 'N':
        return Fail(at, "\\N (any character but a newline) is not supported; write [^\\n]");
      case 'l':
      case 'u':
      case 'L':
      case 'U':
        return Fail(at, std::string("\\") + d +
                            " changes the case of what follows in Perl strings and is not regex syntax, so it is not "
                            "supported; write the letters themselves and use the caseless flag (or (?i)) to ignore "
                            "case");
      case 'c':  // control character: \c and any one character
        *i = at + 3 < n_ ? at + 3 : n_;
        return true;
      case 'x':
      case 'o':
      case 'p':
      case 'P':
        if (at + 2 < n_ && s_[at + 2] == '{') {
          *i = Find('}', at + 3) + 1;
          if (*i > n_) *i = n_;
        } else {
          *i = (d == 'p' || d == 'P') && at + 2 < n_ ? at + 3 : at + 2;  // \pL
        }
        return true;
      default:
        *i = at + 2;  // \0 octal, assertions, classes, escaped punctuation, letters that stand for themselves
        return true;
    }
  }

  // One past the reference after \g or \k starting at `from`: {..}, <..>, '..',
  // or an optionally signed number.
  size_t ReferenceEnd(size_t from) const {
    if (from >= n_) return n_;
    const char c = s_[from];
    if (c == '{') return Find('}', from + 1) + 1;
    if (c == '<') return Find('>', from + 1) + 1;
    if (c == '\'') return Find('\'', from + 1) + 1;
    size_t j = from;
    if (c == '-' || c == '+') ++j;
    while (j < n_ && IsDigit(s_[j])) ++j;
    return j;
  }

  // A "(" at *i.
  bool Group(size_t* i) {
    const size_t at = *i;
    auto peek = [&](size_t k) { return at + k < n_ ? s_[at + k] : '\0'; };
    if (peek(1) == '*') return Verb(at);
    if (peek(1) != '?') {
      ++groups_;
      Open(extended_);
      *i = at + 1;
      return true;
    }
    const char c = peek(2);
    switch (c) {
      case '#':  // comment: changes nothing, not even whether a quantifier may follow
        *i = Find(')', at + 3) + 1;
        if (*i > n_) *i = n_;
        return true;
      case '=':
      case '!':
        return Fail(at, "lookahead assertions like " + Text(at, at + 3) +
                            "...) are not supported: the screening engine cannot check text without matching it. "
                            "Match the text itself, or split the check into two patterns and combine them in the "
                            "rule with and / not");
      case '<':
        if (peek(3) == '=' || peek(3) == '!') {
          return Fail(at, "lookbehind assertions like " + Text(at, at + 4) +
                              "...) are not supported: the screening engine cannot check the text before a match "
                              "without matching it. Include that text in the pattern, or split the check into two "
                              "patterns and combine them in the rule with and / not");
        }
        return NamedGroup(i, at + 3, '>');
      case '\'':
        return NamedGroup(i, at + 3, '\'');
      case '>':
        return Fail(at, std::string("atomic groups like (?>...) are not supported:") + kNoBacktrack +
                            " write a plain group (?:...) instead");
      case '(':
        return Fail(at,
                    "conditional groups (?(condition)yes|no) are not supported: the screening engine cannot choose a "
                    "branch from an earlier match or assertion. List the alternatives with | instead");
      case '|':
        return Fail(at,
                    "branch-reset groups (?|...) are not supported; write (?:...) instead: patterns never capture, "
                    "so group numbers do not matter");
      case 'R':
        return Fail(at, "recursion and subroutine calls like " + Text(at, Find(')', at) + 1) + kRecursionAdvice);
      case '&':
        return Fail(at, "recursion and subroutine calls like " + Text(at, Find(')', at) + 1) + kRecursionAdvice);
      case 'C':
        return Fail(at, "callouts like " + Text(at, Find(')', at) + 1) +
                            " are not supported: the screening engine runs no code during a match; remove it");
      case '{':
        return EmbeddedCode(at);
      case '?':
        if (peek(3) == '{') return EmbeddedCode(at);
        break;
      case 'P':
        if (peek(3) == '=') return Fail(at, "back-references like " + Text(at, Find(')', at) + 1) + kBackrefAdvice);
        if (peek(3) == '>')
          return Fail(at, "recursion and subroutine calls like " + Text(at, Find(')', at) + 1) + kRecursionAdvice);
        if (peek(3) == '<') return NamedGroup(i, at + 4, '>');
        break;
      default:
        if (IsDigit(c) || ((c == '+' || c == '-') && IsDigit(peek(3))))
          return Fail(at, "recursion and subroutine calls like " + Text(at, Find(')', at) + 1) + kRecursionAdvice);
        return Options(i);
    }
    // Not a construct this checker knows: read on as a group; the compiler
    // reports the syntax error.
    Open(extended_);
    *i = at + 2;
    return true;
  }

  bool EmbeddedCode(size_t at) {
    return Fail(at, "embedded code like " + Text(at, at + (s_[at + 2] == '?' ? 4 : 3)) +
                        "...}) is not supported: the screening engine runs no code during a match; remove it");
  }

  // (?<name>, (?'name' or (?P<name>: a capturing group. The name starts at `from`.
  bool NamedGroup(size_t* i, size_t from, char close) {
    const size_t end = NameEnd(from);
    ++groups_;
    Open(extended_);
    *i = end < n_ && s_[end] == close ? end + 1 : from;
    return true;
  }

  // (?flags) or (?flags:...) at *i; only i, m, s and x exist for the engine.
  bool Options(size_t* i) {
    const size_t at = *i;
    bool on = true;
    bool x = extended_;
    size_t j = at + 2;
    for (; j < n_; ++j) {
      const char c = s_[j];
      if (c == ')' || c == ':') break;
      if (c == '-') {
        on = false;
        continue;
      }
      if (c == 'x') {
        x = on;
        continue;
      }
      if (c == 'i' || c == 'm' || c == 's') continue;
      if (IsAlpha(c) || c == '^') {
        return Fail(at, "the inline option " + std::string(1, c) + " in " + Text(at, Find(')', at) + 1) +
                            " is not supported: only i (caseless), m (^ and $ match at line breaks), s (. matches a "
                            "newline) and x (spaces ignored, # starts a comment) can be set inside a pattern");
      }
      break;  // not an option group: the compiler reports it
    }
    if (j < n_ && s_[j] == ')') {  // applies to the rest of the enclosing group
      extended_ = x;
      atom_ = false;
      *i = j + 1;
      return true;
    }
    Open(extended_);
    if (j < n_ && s_[j] == ':') {
      extended_ = x;
      *i = j + 1;
    } else {
      *i = at + 2;
    }
    return true;
  }

  // "(*" at `at`: a backtracking verb or a start-of-pattern option.
  bool Verb(size_t at) {
    const size_t close = Find(')', at);
    const std::string text = Text(at, close + 1);
    size_t name_end = at + 2;
    while (name_end < close && s_[name_end] != ':') ++name_end;
    const std::string_view name = s_.substr(at + 2, name_end - (at + 2));
    static const char* const kVerbs[] = {"ACCEPT", "FAIL", "F", "COMMIT", "PRUNE", "SKIP", "THEN", "MARK", ""};
    for (const char* v : kVerbs) {
      if (name != v) continue;
      std::string reason =
          "backtracking control verbs like " + text + " are not supported:" + kNoBacktrack + " remove it";
      if (name == "FAIL" || name == "F") reason += " (a branch that must never match can simply be deleted)";
      if (name == "ACCEPT") reason += " (end the pattern there instead)";
      return Fail(at, reason);
    }
    return Fail(at, "pattern options like " + text +
                        " are not supported: gavel itself sets how every pattern is matched (UTF-8, line breaks); "
                        "remove it");
  }

  // A "[" at *i: skips the class, reporting escapes that mean nothing there.
  bool Class(size_t* i) {
    const size_t at = *i;
    size_t j = at + 1;
    if (j < n_ && s_[j] == '^') ++j;
    bool early = true;  // a "]" here is a literal
    while (j < n_) {
      const char c = s_[j];
      if (c == ']' && !early) {
        *i = j + 1;
        return true;
      }
      if (c == '\\') {
        if (j + 1 >= n_) break;
        const char d = s_[j + 1];
        if (d == 'Q') {
          const size_t end = s_.find("\\E", j + 2);
          if (end == std::string_view::npos) break;
          if (end > j + 2) early = false;
          j = end + 2;
          continue;
        }
        if (d == 'E') {
          j += 2;
          continue;
        }
        early = false;
        if (d == 'c') {
          j += 3;
          continue;
        }
        if ((d == 'x' || d == 'o' || d == 'p' || d == 'P') && j + 2 < n_ && s_[j + 2] == '{') {
          j = Find('}', j + 3) + 1;
          continue;
        }
        if (d == 'p' || d == 'P') {
          j += 3;
          continue;
        }
        if (IsAlpha(d) && std::strchr(kClassEscapes, d) == nullptr) {
          return Fail(j, std::string("\\") + d +
                             " has no meaning inside a character class and is not supported; inside [...] write the "
                             "character itself, escaping only punctuation");
        }
        j += 2;
        continue;
      }
      if (c == '[' && j + 1 < n_ && (s_[j + 1] == ':' || s_[j + 1] == '.' || s_[j + 1] == '=')) {
        // [:name:], [.x.] or [=x=]: only if the first unescaped "]" closes it.
        const char kind = s_[j + 1];
        size_t k = j + 2;
        while (k < n_ && s_[k] != ']') k += s_[k] == '\\' && k + 1 < n_ && s_[k + 1] == ']' ? 2 : 1;
        if (k < n_ && k >= j + 3 && s_[k - 1] == kind) {
          if (kind != ':') {
            return Fail(j, "POSIX collating elements like " + Text(j, k + 1) +
                               " are not supported; write the characters themselves");
          }
          early = false;
          j = k + 1;
          continue;
        }
      }
      early = false;
      ++j;
    }
    *i = n_;  // unclosed: the compiler reports it
    return true;
  }

  void Open(bool extended) {
    scopes_.push_back(extended);
    atom_ = false;
  }

  std::string_view s_;
  size_t n_;
  RegexProblem* out_;
  bool extended_ = false;     // the x option: spaces ignored, # starts a comment
  bool atom_ = false;         // the last item can take a quantifier
  unsigned long groups_ = 0;  // capturing groups opened so far
  std::vector<bool> scopes_;  // extended_ outside each open group
};

}  // namespace

bool FindUnsupportedRegex(std::string_view source, RegexProblem* out) {
  RegexProblem found;
  if (!Scan(source, &found).Run()) return false;
  *out = std::move(found);
  return true;
}

}  // namespace gavel
