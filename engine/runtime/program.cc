// Verification and linking of a Program, and its disassembly. The verifier is
// the only gate between bundle bytes and the VM: everything the VM indexes
// without a check is checked here once, at load time.
#include "engine/runtime/program.h"

#include <algorithm>
#include <cinttypes>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <map>
#include <string_view>
#include <tuple>

#include "engine/screen/screen.h"
#include "engine/screen/validators.h"

namespace gavel {

const char* KindName(Kind k) {
  switch (k) {
    case Kind::kMissing:
      return "absent";
    case Kind::kBool:
      return "bool";
    case Kind::kInt:
      return "int";
    case Kind::kFloat:
      return "float";
    case Kind::kString:
      return "string";
    case Kind::kDuration:
      return "duration";
    case Kind::kList:
      return "list";
    case Kind::kMap:
      return "map";
    case Kind::kRecord:
      return "record";
    case Kind::kIter:
      return "iterator";
    case Kind::kError:
      return "error";
  }
  return "?";
}

const char* EffectName(Effect e) {
  switch (e) {
    case Effect::kAllow:
      return "allow";
    case Effect::kDeny:
      return "deny";
    case Effect::kRoute:
      return "route";
    case Effect::kFlag:
      return "flag";
    case Effect::kRedact:
      return "redact";
  }
  return "?";
}

const char* SlotTypeName(SlotType t) {
  switch (t) {
    case SlotType::kBool:
      return "bool";
    case SlotType::kInt:
      return "int";
    case SlotType::kFloat:
      return "float";
    case SlotType::kString:
      return "string";
    case SlotType::kDuration:
      return "duration";
    case SlotType::kListString:
      return "list<string>";
    case SlotType::kListInt:
      return "list<int>";
    case SlotType::kListFloat:
      return "list<float>";
    case SlotType::kSetString:
      return "set<string>";
    case SlotType::kSetInt:
      return "set<int>";
    case SlotType::kMapString:
      return "map<string, string>";
    case SlotType::kMapInt:
      return "map<string, int>";
    case SlotType::kMapFloat:
      return "map<string, float>";
    case SlotType::kMapBool:
      return "map<string, bool>";
    case SlotType::kBuiltin:
      return "builtin";
  }
  return "?";
}

namespace {

const char* const kBuiltinNames[] = {
#define GAVEL_SLOT_NAME(name, path) path,
    GAVEL_BUILTIN_SLOTS(GAVEL_SLOT_NAME)
#undef GAVEL_SLOT_NAME
};

std::string Fmt(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string Fmt(const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return buf;
}

int CompareConst(const Value& a, const Value& b) {
  if (a.kind == Kind::kString) {
    std::string_view x(a.s, a.len), y(b.s, b.len);
    return x < y ? -1 : (y < x ? 1 : 0);
  }
  return a.i < b.i ? -1 : (b.i < a.i ? 1 : 0);
}

std::string VerifyConsts(Program* p) {
  const size_t n = p->const_entries.size();
  p->consts.assign(n, Value());
  for (size_t i = 0; i < n; ++i) {
    const ConstEntry& e = p->const_entries[i];
    Value& v = p->consts[i];
    v.kind = e.kind;
    v.len = e.len;
    switch (e.kind) {
      case Kind::kBool:
        if (e.payload > 1) return Fmt("constant %zu: bad bool", i);
        v.b = e.payload != 0;
        break;
      case Kind::kInt:
      case Kind::kDuration:
        v.i = static_cast<int64_t>(e.payload);
        break;
      case Kind::kFloat:
        std::memcpy(&v.f, &e.payload, sizeof v.f);
        break;
      case Kind::kString:
        if (e.payload > p->strings.size() || e.len > p->strings.size() - e.payload)
          return Fmt("constant %zu: string out of bounds", i);
        v.s = p->strings.data() + e.payload;
        break;
      case Kind::kList:
      case Kind::kRecord:
      case Kind::kMap: {
        const uint64_t items = e.kind == Kind::kMap ? uint64_t(e.len) * 2 : e.len;
        if (items != 0 && (e.payload <= i || e.payload > n || items > n - e.payload))
          return Fmt("constant %zu: items out of bounds", i);
        v.items = items ? p->consts.data() + e.payload : nullptr;
        break;
      }
      default:
        return Fmt("constant %zu: bad kind %u", i, unsigned(e.kind));
    }
  }
  // Items come after their parents, so a second pass sees them filled in.
  for (size_t i = 0; i < n; ++i) {
    const ConstEntry& e = p->const_entries[i];
    if (e.kind == Kind::kMap) {
      for (uint32_t k = 0; k < e.len; ++k)
        if (p->consts[e.payload + 2 * k].kind != Kind::kString) return Fmt("constant %zu: map key is not a string", i);
    }
    if (e.sorted) {
      if (e.kind != Kind::kList) return Fmt("constant %zu: only lists can be sorted", i);
      const Value& v = p->consts[i];
      for (uint32_t k = 0; k < v.len; ++k) {
        Kind ik = v.items[k].kind;
        if (ik != Kind::kString && ik != Kind::kInt) return Fmt("constant %zu: unsortable item", i);
        if (k > 0 && (ik != v.items[0].kind || CompareConst(v.items[k - 1], v.items[k]) >= 0))
          return Fmt("constant %zu: set is not sorted", i);
      }
      p->consts[i].sorted = 1;
    }
  }
  return "";
}

std::string VerifyChunk(const Program& p, size_t ci) {
  const Chunk& c = p.chunks[ci];
  if (c.size == 0 || c.begin > p.code.size() || c.size > p.code.size() - c.begin)
    return Fmt("chunk %zu: code out of bounds", ci);
  if (c.nregs == 0 || c.nregs > 256) return Fmt("chunk %zu: bad register count", ci);
  if (p.code[c.begin + c.size - 1].op != Op::kRet) return Fmt("chunk %zu: does not end in ret", ci);
  for (uint32_t pc = 0; pc < c.size; ++pc) {
    const Instr& in = p.code[c.begin + pc];
    if (in.op >= Op::kCount) return Fmt("chunk %zu @%u: unknown opcode %u", ci, pc, unsigned(in.op));
    const OpInfo& info = GetOpInfo(in.op);
    const char* f = info.format;
    const uint32_t fields[3] = {in.a, in.b, in.c};
    for (int k = 0; k < 3; ++k) {
      const uint32_t x = fields[k];
      bool ok = true;
      switch (f[k]) {
        case '_':
          ok = x == 0;
          break;
        case 'R':
          ok = x < c.nregs;
          break;
        case 'S':
          ok = x < p.slots.size();
          break;
        case 'K':
          ok = x < p.consts.size();
          break;
        case 'P':
          ok = x < p.pattern_sets.size();
          break;
        case 'N':
          break;
        case 'J':
          if (info.flags & kOpJumpsBack) {
            ok = x >= 1 && x <= pc && p.code[c.begin + x - 1].op == Op::kIterBegin && p.code[c.begin + x - 1].a == in.a;
            for (uint32_t q = x; ok && q < pc; ++q)
              if (p.code[c.begin + q].op == Op::kIterBegin && p.code[c.begin + q].a == in.a) ok = false;
          } else {
            ok = x > pc && x < c.size;
            // A loop's exit lands right after its iter_next, so an error at
            // iter_begin can never enter the body without an item.
            if (ok && in.op == Op::kIterBegin)
              ok = p.code[c.begin + x - 1].op == Op::kIterNext && p.code[c.begin + x - 1].a == in.a;
          }
          break;
      }
      if (!ok) return Fmt("chunk %zu @%u: bad operand %c of %s", ci, pc, "abc"[k], info.mnemonic);
    }
    // The registers an instruction uses beyond its operands (opcodes.h).
    if ((info.flags & kOpWritesA1) && uint32_t(in.a) + 1 >= c.nregs)
      return Fmt("chunk %zu @%u: iterator item register out of range", ci, pc);
    if ((info.flags & kOpWritesA1) && f[1] == 'R' && (in.b == uint32_t(in.a) + 1 || in.b == in.a))
      return Fmt("chunk %zu @%u: %s's list register overlaps its cursor", ci, pc, info.mnemonic);
    if ((info.flags & kOpReadsB12) && uint32_t(in.b) + 2 >= c.nregs)
      return Fmt("chunk %zu @%u: %s arguments out of range", ci, pc, info.mnemonic);
  }
  return "";
}

}  // namespace

int32_t FindSlot(const Program& p, std::string_view name) {
  for (size_t i = 0; i < p.slots.size(); ++i)
    if (p.slots[i].name == name) return static_cast<int32_t>(i);
  return -1;
}

void AssignScreenIds(Program* p) {
  p->screen_patterns.clear();
  std::map<std::tuple<std::string_view, bool, bool, uint8_t>, uint32_t> ids;
  for (auto& ps : p->pattern_sets) {
    ps.ids.clear();
    for (const Pattern& pat : ps.patterns) {
      auto key = std::make_tuple(std::string_view(pat.source), pat.regex, pat.caseless, pat.validator);
      auto it = ids.find(key);
      if (it == ids.end()) {
        it = ids.emplace(key, static_cast<uint32_t>(p->screen_patterns.size())).first;
        p->screen_patterns.push_back(ScreenPattern{pat.source, pat.regex, pat.caseless, pat.validator});
      }
      ps.ids.push_back(it->second);
    }
  }
}

namespace {

// Checks everything that the VM, the decoder and the engine index later
// without a check. It builds only what the checks need: the constants as
// Values, the screen pattern ids and the loaded screening databases.
std::string Verify(Program* p) {
  if (p->slots.size() < kBuiltinSlotCount) return "missing built-in slots";
  for (uint32_t i = 0; i < kBuiltinSlotCount; ++i)
    if (p->slots[i].name != kBuiltinNames[i] || p->slots[i].type != SlotType::kBuiltin)
      return Fmt("slot %u is not the built-in %s", i, kBuiltinNames[i]);
  if (std::string e = VerifyConsts(p); !e.empty()) return e;
  for (size_t i = kBuiltinSlotCount; i < p->slots.size(); ++i) {
    const SlotInfo& s = p->slots[i];
    if (s.type > SlotType::kMapBool) return Fmt("slot %zu: bad type", i);
    if (s.root != Root::kPrincipal && s.root != Root::kContext) return Fmt("slot %zu: bad root", i);
    // The decoder looks attributes up by the name after the root's prefix.
    const char* prefix = s.root == Root::kPrincipal ? "principal." : "context.";
    if (s.name.size() <= std::strlen(prefix) || s.name.compare(0, std::strlen(prefix), prefix) != 0)
      return Fmt("slot %zu: name does not start with %s", i, prefix);
    for (size_t j = kBuiltinSlotCount; j < i; ++j)
      if (p->slots[j].name == s.name) return Fmt("slot %zu: duplicate name", i);
    if (s.default_const < -1 || s.default_const >= int64_t(p->consts.size())) return Fmt("slot %zu: bad default", i);
  }
  for (size_t i = 0; i < p->chunks.size(); ++i)
    if (std::string e = VerifyChunk(*p, i); !e.empty()) return e;
  const size_t npred = p->predicates.size();
  // The bitset is at least one word wide, so the matrix exists even without predicates.
  if (p->words != std::max<size_t>(1, (npred + 63) / 64)) return "predicate bitset width does not match";
  for (size_t i = 0; i < npred; ++i)
    if (p->predicates[i].chunk >= p->chunks.size()) return Fmt("predicate %zu: bad chunk", i);
  if (p->masks.size() % (2 * p->words) != 0) return "rule matrix has a partial row";
  const size_t nconj = p->masks.size() / (2 * p->words);
  if (npred % 64 != 0 || npred == 0) {
    const uint64_t spare = ~((uint64_t(1) << (npred % 64)) - 1);
    for (size_t r = 0; r < nconj * 2; ++r)
      if (p->masks[r * p->words + p->words - 1] & spare) return "rule matrix names unknown predicates";
  }
  for (auto& ps : p->pattern_sets)
    for (const Pattern& pat : ps.patterns)
      if (pat.validator > static_cast<uint8_t>(Validator::kEntropy))
        return "pattern set " + ps.name + " names an unknown validator";
  AssignScreenIds(p);
  {
    const ScreenData& sd = p->screen_data;
    const size_t n = p->screen_patterns.size();
    if (!sd.spans.empty() && sd.spans.size() != n) return "screening span databases do not match the patterns";
    if (!sd.max_width.empty() && sd.max_width.size() != n) return "screening widths do not match the patterns";
    if (sd.block.empty() && (!sd.stream.empty() || !sd.spans.empty()))
      return "screening databases without the main database";
    if (!sd.block.empty()) {
      if (sd.spans.size() != n || sd.max_width.size() != n) return "screening databases are incomplete";
      for (size_t i = 0; i < n; ++i)
        if (p->screen_patterns[i].validator && sd.spans[i].empty()) return "a validated pattern has no span database";
    }
    std::string err;
    p->screen = ScreenDb::Load(p->screen_patterns, p->screen_data, &err);
    if (!err.empty()) return err;
  }
  for (auto& ps : p->pattern_sets) {
    if (ps.patterns.empty()) return "empty pattern set " + ps.name;
    for (const Pattern& pat : ps.patterns)
      if (pat.source.empty()) return "pattern set " + ps.name + " has an empty pattern";
  }
  for (size_t r = 0; r < p->rules.size(); ++r) {
    const Rule& rule = p->rules[r];
    if (rule.effect > Effect::kRedact || rule.phase > Phase::kResponse) return Fmt("rule %zu: bad effect", r);
    // As the checker allows: only a deny has a status, and it is a 4xx or 5xx.
    if (rule.status != 0 && (rule.effect != Effect::kDeny || rule.status < 400 || rule.status > 599))
      return Fmt("rule %zu: bad status", r);
    // a rule with no conjunction never fires; a conjunction with no terms always does
    if (rule.conj_begin > nconj || rule.conj_count > nconj - rule.conj_begin)
      return Fmt("rule %zu: conjunctions out of bounds", r);
    for (auto& part : rule.message)
      if (part.is_expr && part.chunk >= p->chunks.size()) return Fmt("rule %zu: bad message chunk", r);
    if (rule.target_chunk < -1 || rule.target_chunk >= int64_t(p->chunks.size()))
      return Fmt("rule %zu: bad route chunk", r);
    if (rule.effect == Effect::kRoute && rule.target_chunk < 0) return Fmt("rule %zu: route without target", r);
    for (uint32_t s : rule.redact_sets)
      if (s >= p->pattern_sets.size()) return Fmt("rule %zu: bad pattern set", r);
    if (rule.redact_field_slot < -1 || rule.redact_field_slot >= int64_t(p->slots.size()))
      return Fmt("rule %zu: bad redact field", r);
  }
  return "";
}

// Builds the derived tables of a verified program.
void Link(Program* p) {
  p->max_regs = 1;
  for (const Chunk& c : p->chunks) p->max_regs = std::max(p->max_regs, c.nregs);
  for (auto& ps : p->pattern_sets) {
    ps.has_regex = false;
    ps.has_caseless = false;
    ps.folded.clear();
    for (const Pattern& pat : ps.patterns) {
      ps.has_regex |= pat.regex;
      ps.has_caseless |= pat.caseless;
      ps.folded.push_back(pat.source);
      for (char& ch : ps.folded.back())
        if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch + 32);
    }
  }
  const size_t npred = p->predicates.size();
  p->rule_mask.assign(p->rules.size() * p->words, 0);
  for (int ph = 0; ph < 2; ++ph) p->phase_mask[ph].assign(p->words, 0), p->phase_predicates[ph].clear();
  for (size_t r = 0; r < p->rules.size(); ++r) {
    const Rule& rule = p->rules[r];
    uint64_t* rm = p->rule_mask.data() + r * p->words;
    for (uint32_t c = rule.conj_begin; c < rule.conj_begin + rule.conj_count; ++c)
      for (uint32_t w = 0; w < p->words; ++w) rm[w] |= p->pos_mask(c)[w] | p->neg_mask(c)[w];
    auto& pm = p->phase_mask[static_cast<int>(rule.phase)];
    for (uint32_t w = 0; w < p->words; ++w) pm[w] |= rm[w];
  }
  for (int ph = 0; ph < 2; ++ph)
    for (uint32_t i = 0; i < npred; ++i)
      if (p->phase_mask[ph][i / 64] >> (i % 64) & 1) p->phase_predicates[ph].push_back(i);
  // load_slot x, s; <op>_k y, x, k; [not z, y;] ret  ->  a fast predicate.
  p->fast.assign(npred, FastPredicate());
  for (uint32_t i = 0; i < npred; ++i) {
    const Chunk& c = p->chunks[p->predicates[i].chunk];
    if (c.size != 3 && c.size != 4) continue;
    const Instr* code = p->code.data() + c.begin;
    const Op op = code[1].op;
    const bool k_op = op == Op::kInK || IsCompareK(op);
    if (code[0].op != Op::kLoadSlot || !k_op || code[1].b != code[0].a) continue;
    const bool negate = c.size == 4;
    if (negate && (code[2].op != Op::kNot || code[2].b != code[1].a || code[3].a != code[2].a)) continue;
    if (!negate && code[2].a != code[1].a) continue;
    FastPredicate& f = p->fast[i];
    f.enabled = true;
    f.negate = negate;
    f.op = op;
    f.slot = code[0].c;
    f.constant = code[1].c;
  }
}

}  // namespace

std::string VerifyAndLink(Program* p) {
  if (std::string e = Verify(p); !e.empty()) return e;
  Link(p);
  return "";
}

namespace {

void RenderConst(const Program& p, const Value& v, std::string* out, int depth) {
  char buf[64];
  switch (v.kind) {
    case Kind::kBool:
      *out += v.b ? "true" : "false";
      return;
    case Kind::kInt:
      snprintf(buf, sizeof buf, "%" PRId64, v.i);
      *out += buf;
      return;
    case Kind::kDuration:
      snprintf(buf, sizeof buf, "%" PRId64 "ms", v.i);
      *out += buf;
      return;
    case Kind::kFloat:
      snprintf(buf, sizeof buf, "%g", v.f);
      *out += buf;
      if (!strpbrk(buf, ".en")) *out += ".0";
      return;
    case Kind::kString:
      *out += '"';
      for (uint32_t i = 0; i < v.len; ++i) {
        unsigned char ch = static_cast<unsigned char>(v.s[i]);
        if (ch == '"' || ch == '\\') {
          *out += '\\';
          *out += char(ch);
        } else if (ch < 0x20) {
          snprintf(buf, sizeof buf, "\\u%04x", ch);
          *out += buf;
        } else
          *out += char(ch);
      }
      *out += '"';
      return;
    case Kind::kList:
    case Kind::kMap:
    case Kind::kRecord: {
      if (depth > 8) {
        *out += "...";
        return;
      }
      *out += v.kind == Kind::kList ? "{" : (v.kind == Kind::kMap ? "{" : "(");
      const uint32_t step = v.kind == Kind::kMap ? 2 : 1;
      for (uint32_t i = 0; i < v.len; ++i) {
        if (i) *out += ", ";
        RenderConst(p, v.items[i * step], out, depth + 1);
        if (step == 2) {
          *out += ": ";
          RenderConst(p, v.items[i * 2 + 1], out, depth + 1);
        }
      }
      *out += v.kind == Kind::kRecord ? ")" : "}";
      return;
    }
    default:
      *out += KindName(v.kind);
      return;
  }
}

void Line(std::string* out, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void Line(std::string* out, const char* fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  *out += buf;
  *out += '\n';
}

void DisassembleChunk(const Program& p, uint32_t ci, std::string* out) {
  const Chunk& c = p.chunks[ci];
  for (uint32_t pc = 0; pc < c.size; ++pc) {
    const Instr& in = p.code[c.begin + pc];
    const OpInfo& info = GetOpInfo(in.op);
    std::string ops;
    const uint32_t fields[3] = {in.a, in.b, in.c};
    for (int k = 0; k < 3; ++k) {
      char buf[96];
      const uint32_t x = fields[k];
      switch (info.format[k]) {
        case '_':
          continue;
        case 'R':
          snprintf(buf, sizeof buf, "r%u", x);
          break;
        case 'S':
          snprintf(buf, sizeof buf, "%s", p.slots[x].name.c_str());
          break;
        case 'K': {
          std::string k2;
          RenderConst(p, p.consts[x], &k2, 0);
          if (k2.size() > 60) k2 = k2.substr(0, 57) + "...";
          snprintf(buf, sizeof buf, "k%u=%s", x, k2.c_str());
          break;
        }
        case 'P':
          snprintf(buf, sizeof buf, "%s", p.pattern_sets[x].name.c_str());
          break;
        case 'N':
          snprintf(buf, sizeof buf, "#%u", x);
          break;
        case 'J':
          snprintf(buf, sizeof buf, "@%u", x);
          break;
      }
      if (!ops.empty()) ops += ", ";
      ops += buf;
    }
    Line(out, "    %3u  %-14s %s", pc, info.mnemonic, ops.c_str());
  }
}

}  // namespace

std::string Disassemble(const Program& p) {
  std::string out;
  Line(&out, "package %s", p.package.c_str());
  Line(&out, "version \"%s\"", p.version.c_str());
  Line(&out, "default %s, on_error %s", p.default_deny ? "deny" : "allow", p.on_error_deny ? "deny" : "skip");
  Line(&out, "\nslots (%zu):", p.slots.size());
  for (size_t i = kBuiltinSlotCount; i < p.slots.size(); ++i) {
    std::string def;
    if (p.slots[i].default_const >= 0) {
      def = " = ";
      RenderConst(p, p.consts[p.slots[i].default_const], &def, 0);
    }
    Line(&out, "  s%-3zu %s: %s%s", i, p.slots[i].name.c_str(), SlotTypeName(p.slots[i].type), def.c_str());
  }
  if (!p.pattern_sets.empty()) {
    Line(&out, "\npattern sets (%zu):", p.pattern_sets.size());
    for (auto& ps : p.pattern_sets) {
      std::string items;
      for (auto& pat : ps.patterns) {
        if (!items.empty()) items += " ";
        items += pat.regex ? "/" + pat.source + "/" : "\"" + pat.source + "\"";
        if (pat.caseless) items += "i";
        if (pat.validator) items += std::string("[") + ValidatorName(static_cast<Validator>(pat.validator)) + "]";
      }
      Line(&out, "  %s: %s", ps.name.c_str(), items.c_str());
    }
    size_t spans = 0;
    for (const std::string& d : p.screen_data.spans) spans += !d.empty();
    Line(&out, "screening: %zu distinct patterns, %s, %zu with span databases", p.screen_patterns.size(),
         p.screen_data.block.empty() ? "no databases" : "block and stream databases", spans);
  }
  Line(&out, "\npredicates (%zu):", p.predicates.size());
  for (size_t i = 0; i < p.predicates.size(); ++i) {
    const Chunk& c = p.chunks[p.predicates[i].chunk];
    Line(&out, "  p%zu  %s    [regs %u]", i, p.predicates[i].text.c_str(), c.nregs);
    DisassembleChunk(p, p.predicates[i].chunk, &out);
  }
  Line(&out, "\nrules (%zu):", p.rules.size());
  for (size_t r = 0; r < p.rules.size(); ++r) {
    const Rule& rule = p.rules[r];
    std::string when;
    for (uint32_t c = rule.conj_begin; c < rule.conj_begin + rule.conj_count; ++c) {
      std::string term;
      for (uint32_t i = 0; i < p.predicates.size(); ++i) {
        const bool pos = p.pos_mask(c)[i / 64] >> (i % 64) & 1;
        const bool neg = p.neg_mask(c)[i / 64] >> (i % 64) & 1;
        if (!pos && !neg) continue;
        if (!term.empty()) term += " & ";
        term += (neg ? "!p" : "p") + std::to_string(i);
      }
      if (term.empty()) term = "true";
      if (!when.empty()) when += " | ";
      when += rule.conj_count > 1 ? "(" + term + ")" : term;
    }
    if (rule.conj_count == 0) when = "false";
    std::string extra;
    if (rule.status) extra += " status " + std::to_string(rule.status);
    if (!rule.code.empty()) extra += " code \"" + rule.code + "\"";
    Line(&out, "  r%zu  %s%s: %s when %s%s", r, rule.name.c_str(),
         rule.phase == Phase::kResponse ? " (on response)" : "", EffectName(rule.effect), when.c_str(), extra.c_str());
    for (auto& part : rule.message)
      if (part.is_expr) {
        Line(&out, "      message expression:");
        DisassembleChunk(p, part.chunk, &out);
      }
    if (rule.target_chunk >= 0) {
      Line(&out, "      route target:");
      DisassembleChunk(p, static_cast<uint32_t>(rule.target_chunk), &out);
    }
  }
  if (!p.usage_rules.empty()) {
    Line(&out, "\nusage rules (%zu):", p.usage_rules.size());
    for (auto& u : p.usage_rules) Line(&out, "  %s %s: %s", u.kind.c_str(), u.name.c_str(), u.text.c_str());
  }
  return out;
}

}  // namespace gavel
