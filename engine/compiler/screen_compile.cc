#include "engine/compiler/screen_compile.h"

#include <hs/hs.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

#include "engine/screen/normalize.h"

namespace gavel {

namespace {

// Databases run on any x86-64 with SSSE3: no AVX2/AVX-512 paths, generic tuning.
hs_platform_info_t GenericPlatform() {
  hs_platform_info_t plat{};
  plat.tune = HS_TUNE_FAMILY_GENERIC;
  plat.cpu_features = 0;
  return plat;
}

struct DbDeleter {
  void operator()(hs_database_t* d) const { hs_free_database(d); }
};
using Db = std::unique_ptr<hs_database_t, DbDeleter>;

// Hyperscan's messages, reworded where a policy author would not know them.
std::string Reason(const std::string& hs_message) {
  if (hs_message.find("empty buffer") != std::string::npos)
    return "the pattern can match empty text, so it would match everywhere";
  if (hs_message.find("too large") != std::string::npos)
    return "the pattern is too large for the screening engine (shorten large bounded repeats such as {1,1000})";
  if (hs_message.find("Backreference") != std::string::npos || hs_message.find("backreference") != std::string::npos)
    return "back-references are not supported";
  if (hs_message.find("Lookaround") != std::string::npos || hs_message.find("lookaround") != std::string::npos ||
      hs_message.find("assertion") != std::string::npos)
    return "lookahead and lookbehind are not supported";
  if (hs_message.find("SOM") != std::string::npos || hs_message.find("start of match") != std::string::npos)
    return "the screening engine cannot find where matches of this pattern start, which redaction and validators "
           "need (" +
           hs_message + ")";
  return hs_message;
}

std::string Serialize(const hs_database_t* db, std::string* out) {
  char* bytes = nullptr;
  size_t len = 0;
  if (hs_serialize_database(db, &bytes, &len) != HS_SUCCESS) return "could not serialize a screening database";
  out->assign(bytes, len);
  std::free(bytes);
  return "";
}

std::string Compile(const std::vector<std::string>& exprs, const std::vector<unsigned>& flags,
                    const std::vector<unsigned>& ids, unsigned mode, Db* out) {
  std::vector<const char*> ptrs;
  for (const std::string& e : exprs) ptrs.push_back(e.c_str());
  hs_platform_info_t plat = GenericPlatform();
  hs_database_t* db = nullptr;
  hs_compile_error_t* cerr = nullptr;
  if (hs_compile_multi(ptrs.data(), flags.data(), ids.data(), static_cast<unsigned>(ptrs.size()), mode, &plat, &db,
                       &cerr) != HS_SUCCESS) {
    std::string msg = cerr ? cerr->message : "unknown error";
    if (cerr && cerr->expression >= 0) msg = "pattern " + std::to_string(ids[cerr->expression]) + ": " + Reason(msg);
    hs_free_compile_error(cerr);
    return msg;
  }
  out->reset(db);
  return "";
}

}  // namespace

// `$` means the end of the text, as documented (and as RE2 has it), not also
// "before a final newline" as Hyperscan and PCRE read it: otherwise
// `request.model matches /^gpt-4o$/` would accept "gpt-4o\n". Outside
// classes and escapes, `$` becomes `\z`; a pattern with the m option keeps
// its per-line meaning.
std::string EndOfText(const std::string& re) {
  if (re.find("(?m") != std::string::npos || re.find('$') == std::string::npos) return re;
  std::string out;
  bool in_class = false, quoted = false;
  for (size_t i = 0; i < re.size(); ++i) {
    const char c = re[i];
    if (quoted) {  // \Q ... \E
      if (c == '\\' && i + 1 < re.size() && re[i + 1] == 'E') quoted = false;
      out += c;
      continue;
    }
    if (c == '\\' && i + 1 < re.size()) {
      if (re[i + 1] == 'Q') quoted = true;
      out += c;
      out += re[++i];
      continue;
    }
    if (in_class) {
      if (c == ']') in_class = false;
      out += c;
      continue;
    }
    if (c == '[') {
      in_class = true;
      out += c;
      if (i + 1 < re.size() && re[i + 1] == '^') out += re[++i];
      if (i + 1 < re.size() && re[i + 1] == ']') out += re[++i];
      continue;
    }
    if (c == '$') {
      out += "\\z";
      continue;
    }
    out += c;
  }
  return out;
}

std::string ScreenExpression(const std::string& source, bool regex) {
  if (regex) return EndOfText(source);
  // Text is normalized before it is scanned, so a literal is too: a literal
  // written with full-width letters must match what the scanner sees.
  NormalizedText norm;
  const std::string& lit = NormalizeForScreening(source.data(), source.size(), &norm) ? norm.text : source;
  std::string out;
  for (unsigned char c : lit) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  return out;
}

namespace {

// The largest bound of a counted repeat ({n}, {n,}, {n,m}) in a regex, outside
// classes and escapes. Hyperscan's compile time grows with these bounds (a
// pattern with {1,9000} can take a minute), so large ones are refused first.
uint64_t LargestRepeat(const std::string& re) {
  uint64_t most = 0;
  bool in_class = false;
  for (size_t i = 0; i < re.size(); ++i) {
    const char c = re[i];
    if (c == '\\') {
      ++i;
      continue;
    }
    if (in_class) {
      if (c == ']') in_class = false;
      continue;
    }
    if (c == '[') {
      in_class = true;
      if (i + 1 < re.size() && re[i + 1] == '^') ++i;
      if (i + 1 < re.size() && re[i + 1] == ']') ++i;
      continue;
    }
    if (c != '{') continue;
    size_t k = i + 1;
    uint64_t n = 0, m = 0;
    bool digits = false;
    while (k < re.size() && re[k] >= '0' && re[k] <= '9' && n < 1000000) n = n * 10 + (re[k++] - '0'), digits = true;
    if (!digits) continue;
    if (k < re.size() && re[k] == ',') {
      ++k;
      while (k < re.size() && re[k] >= '0' && re[k] <= '9' && m < 1000000) m = m * 10 + (re[k++] - '0');
    }
    if (k < re.size() && re[k] == '}') most = std::max(most, std::max(n, m));
  }
  return most;
}

}  // namespace

std::string CheckPatternCompiles(const std::string& source, bool regex, bool caseless, bool som) {
  if (regex && LargestRepeat(source) > kMaxRepeat)
    return "a counted repeat over " + std::to_string(kMaxRepeat) +
           " makes the pattern too large for the screening engine; bound it more tightly";
  const std::string expr = ScreenExpression(source, regex);
  const unsigned base = caseless ? HS_FLAG_CASELESS : 0;
  Db db;
  std::string err = Compile({expr}, {base | HS_FLAG_SINGLEMATCH}, {0}, HS_MODE_BLOCK, &db);
  if (err.empty() && som) err = Compile({expr}, {base | HS_FLAG_SOM_LEFTMOST}, {0}, HS_MODE_BLOCK, &db);
  if (err.rfind("pattern 0: ", 0) == 0) err = err.substr(11);
  return err;
}

std::string BuildScreenData(Program* p) {
  AssignScreenIds(p);
  ScreenData& sd = p->screen_data;
  sd = ScreenData();
  const size_t n = p->screen_patterns.size();
  if (n == 0) return "";

  std::vector<bool> need_spans(n, false);
  for (const Rule& r : p->rules)
    for (uint32_t s : r.redact_sets)
      for (uint32_t id : p->pattern_sets[s].ids) need_spans[id] = true;

  std::vector<std::string> exprs(n);
  std::vector<unsigned> flags(n), ids(n);
  sd.max_width.assign(n, UINT32_MAX);
  for (size_t i = 0; i < n; ++i) {
    const ScreenPattern& sp = p->screen_patterns[i];
    exprs[i] = ScreenExpression(sp.source, sp.regex);
    ids[i] = static_cast<unsigned>(i);
    const unsigned base = sp.caseless ? HS_FLAG_CASELESS : 0;
    // A validated pattern reports every candidate end; the others stop at their first match.
    flags[i] = base | (sp.validator ? 0 : HS_FLAG_SINGLEMATCH);
    hs_expr_info_t* info = nullptr;
    hs_compile_error_t* cerr = nullptr;
    if (hs_expression_info(exprs[i].c_str(), base, &info, &cerr) == HS_SUCCESS) {
      if (info->max_width != UINT_MAX) sd.max_width[i] = info->max_width;
      std::free(info);
    } else {
      hs_free_compile_error(cerr);
    }
  }
  Db block, stream;
  std::string err = Compile(exprs, flags, ids, HS_MODE_BLOCK, &block);
  if (err.empty()) err = Serialize(block.get(), &sd.block);
  if (err.empty()) err = Compile(exprs, flags, ids, HS_MODE_STREAM, &stream);
  if (err.empty()) err = Serialize(stream.get(), &sd.stream);
  if (!err.empty()) return err;
  sd.spans.assign(n, std::string());
  for (size_t i = 0; i < n; ++i) {
    const ScreenPattern& sp = p->screen_patterns[i];
    if (!sp.validator && !need_spans[i]) continue;
    Db one;
    const unsigned f = (sp.caseless ? HS_FLAG_CASELESS : 0) | HS_FLAG_SOM_LEFTMOST;
    err = Compile({exprs[i]}, {f}, {static_cast<unsigned>(i)}, HS_MODE_BLOCK, &one);
    if (err.empty()) err = Serialize(one.get(), &sd.spans[i]);
    if (!err.empty()) return "pattern \"" + sp.source + "\": " + err;
  }
  return "";
}

}  // namespace gavel
