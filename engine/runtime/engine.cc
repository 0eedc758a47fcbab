// Deciding: decode inputs into slots, evaluate each distinct predicate once
// into a bitset, fire rules through the rule matrix, then combine effects by
// the precedence of docs/language.md. Steady state allocates nothing.
#include "engine/runtime/engine.h"

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <new>

#include "engine/runtime/bundle.h"

namespace gavel {

std::shared_ptr<const Engine> Engine::Load(const void* data, size_t size, const std::vector<PublicKey>& trusted,
                                           Status* status) {
  Status s;
  std::shared_ptr<Engine> engine;
  try {
    OpenedBundle opened;
    s = OpenBundle(data, size, trusted, &opened);
    if (s.ok()) {
      auto p = std::make_unique<Program>();
      s = ReadBundle(opened.bytes, opened.size, p.get());
      if (s.ok()) {
        engine = std::shared_ptr<Engine>(new Engine());
        engine->program_ = std::move(p);
        engine->hash_hex_ = HashHex(*engine->program_);
        engine->signer_ = std::move(opened.signer);
      }
    }
  } catch (const std::bad_alloc&) {
    // Everything allocated so far has been released by the unwinding. The
    // message fits in std::string's inline buffer: recording it allocates
    // nothing.
    s = Status(StatusCode::kOutOfMemory, "out of memory");
    engine.reset();
  }
  if (status) *status = std::move(s);
  return engine;
}

std::shared_ptr<const Engine> Engine::Load(const void* data, size_t size, const std::vector<PublicKey>& trusted,
                                           std::string* err) {
  Status s;
  auto engine = Load(data, size, trusted, &s);
  if (!engine && err) *err = s.message();
  return engine;
}

std::shared_ptr<const Engine> Engine::Load(const void* data, size_t size, std::string* err) {
  return Load(data, size, {}, err);
}

std::shared_ptr<const Engine> Engine::FromProgram(std::unique_ptr<Program> p) {
  auto e = std::shared_ptr<Engine>(new Engine());
  e->program_ = std::move(p);
  e->hash_hex_ = HashHex(*e->program_);
  return e;
}

namespace {

// Length of the well-formed UTF-8 sequence at s[i] (no overlong forms, no
// surrogates, nothing past U+10FFFF), or 0 if there is none.
size_t Utf8SequenceAt(std::string_view s, size_t i) {
  const unsigned char c = static_cast<unsigned char>(s[i]);
  const size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  if (n <= 1 || i + n > s.size()) return n == 1 ? 1 : 0;
  uint32_t cp = n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
  for (size_t k = 1; k < n; ++k) {
    const unsigned char cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (cc & 0x3F);
  }
  if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
      (cp >= 0xD800 && cp <= 0xDFFF))
    return 0;
  return n;
}

}  // namespace

// Decision JSON must be UTF-8 even when the text it quotes is not (a streamed
// response is raw bytes): each byte that starts no well-formed sequence
// becomes U+FFFD.
void AppendJsonString(std::string_view s, std::string* out) {
  static const char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      const size_t n = Utf8SequenceAt(s, i);
      if (n == 0) {
        *out += "\\ufffd";
        ++i;
      } else {
        out->append(s.data() + i, n);
        i += n;
      }
      continue;
    }
    ++i;
    switch (c) {
      case '"':
        *out += "\\\"";
        break;
      case '\\':
        *out += "\\\\";
        break;
      case '\n':
        *out += "\\n";
        break;
      case '\r':
        *out += "\\r";
        break;
      case '\t':
        *out += "\\t";
        break;
      default:
        if (c < 0x20) {
          *out += "\\u00";
          out->push_back(kHex[c >> 4]);
          out->push_back(kHex[c & 15]);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

std::string ErrorText(const Program& p, const VmError& e) {
  std::string s;
  if (e.slot >= 0 && static_cast<size_t>(e.slot) < p.slots.size()) s = p.slots[e.slot].name + ": ";
  s += e.what ? e.what : "error";
  return s;
}

void Worker::RenderMessage(const Program& p, const Rule& r, std::string* out) {
  out->clear();
  if (r.message.empty()) {
    *out += r.effect == Effect::kDeny     ? "denied by rule "
            : r.effect == Effect::kAllow  ? "allowed by rule "
            : r.effect == Effect::kFlag   ? "flagged by rule "
            : r.effect == Effect::kRedact ? "redacted by rule "
                                          : "rule ";
    *out += r.name;
    return;
  }
  for (const MessagePart& part : r.message) {
    if (!part.is_expr) {
      *out += part.text;
      continue;
    }
    Value v;
    VmError e;
    if (RunChunk(p, part.chunk, slots_.data(), regs_.data(), &arena_, &v, &e)) {
      AppendValue(v, out);
    } else {
      *out += "${?}";
      Reason& er = d_.errors.Push();
      er.rule = static_cast<uint32_t>(&r - p.rules.data());
      er.message = "message: " + ErrorText(p, e);
    }
  }
}

void Worker::Evaluate(const Program& p, Phase phase) {
  EvaluatePredicates(p, phase);
  EvaluateRules(p, phase);
  ApplyPrecedence(p, phase);
}

void Worker::EvaluatePredicates(const Program& p, Phase phase) {
  d_.pred_true.assign(p.words, 0);
  d_.pred_error.assign(p.words, 0);
  d_.pred_error_info.resize(p.predicates.size());
  uint64_t* T = d_.pred_true.data();
  uint64_t* E = d_.pred_error.data();

  for (uint32_t i : p.phase_predicates[static_cast<int>(phase)]) {
    Value v;
    VmError e;
    if (p.fast[i].enabled) {
      bool r;
      if (RunFast(p, p.fast[i], slots_.data(), &r, &e)) {
        if (r) T[i / 64] |= uint64_t(1) << (i % 64);
      } else {
        E[i / 64] |= uint64_t(1) << (i % 64);
        d_.pred_error_info[i] = e;
      }
      continue;
    }
    if (RunChunk(p, p.predicates[i].chunk, slots_.data(), regs_.data(), &arena_, &v, &e)) {
      if (v.kind == Kind::kBool) {
        if (v.b) T[i / 64] |= uint64_t(1) << (i % 64);
        continue;
      }
      e.what = "predicate did not produce a bool";
    }
    E[i / 64] |= uint64_t(1) << (i % 64);
    d_.pred_error_info[i] = e;
  }
}

void Worker::EvaluateRules(const Program& p, Phase phase) {
  const uint32_t words = p.words;
  const uint64_t* T = d_.pred_true.data();
  const uint64_t* E = d_.pred_error.data();
  d_.outcomes.assign(p.rules.size(), RuleOutcome::kNotEvaluated);
  bool route_decided = false;
  for (uint32_t r = 0; r < p.rules.size(); ++r) {
    const Rule& rule = p.rules[r];
    if (rule.phase != phase) continue;
    // Kleene logic over the rule's disjunction of conjunctions: an error in a
    // predicate matters only if no conjunction is decided without it.
    bool any_true = false, any_unknown = false;
    for (uint32_t c = rule.conj_begin; c < rule.conj_begin + rule.conj_count && !any_true; ++c) {
      bool is_false = false, has_err = false;
      if (words) {
        const uint64_t* pos = p.pos_mask(c);
        const uint64_t* neg = p.neg_mask(c);
        for (uint32_t w = 0; w < words; ++w) {
          if ((pos[w] & ~T[w] & ~E[w]) | (neg[w] & T[w])) is_false = true;
          if ((pos[w] | neg[w]) & E[w]) has_err = true;
        }
      }
      if (is_false) continue;
      if (has_err)
        any_unknown = true;
      else
        any_true = true;
    }
    RuleOutcome out = any_true ? RuleOutcome::kTrue : (any_unknown ? RuleOutcome::kError : RuleOutcome::kFalse);
    d_.outcomes[r] = out;
    if (out == RuleOutcome::kError) {
      Reason& er = d_.errors.Push();
      er.rule = r;
      er.message.clear();
      const uint64_t* rm = p.rule_mask.data() + size_t(r) * words;
      for (uint32_t w = 0; w < words && er.message.empty(); ++w) {
        uint64_t bits = rm[w] & E[w];
        if (bits) er.message = ErrorText(p, d_.pred_error_info[w * 64 + __builtin_ctzll(bits)]);
      }
      continue;
    }
    if (out != RuleOutcome::kTrue) continue;
    switch (rule.effect) {
      case Effect::kRoute: {
        if (route_decided) break;  // the first firing route decides, even if its target errors
        route_decided = true;
        Value v;
        VmError e;
        if (RunChunk(p, static_cast<uint32_t>(rule.target_chunk), slots_.data(), regs_.data(), &arena_, &v, &e) &&
            v.kind == Kind::kString) {
          d_.has_route = true;
          d_.route.assign(v.s, v.len);
          Reason& rs = d_.fired.Push();
          rs.rule = r;
          rs.message = d_.route;
        } else {
          Reason& er = d_.errors.Push();
          er.rule = r;
          er.message = e.what ? "route: " + ErrorText(p, e) : "route: target is not a string";
        }
        break;
      }
      case Effect::kRedact: {
        std::string why;
        const size_t before = spans_.size();
        if (!CollectSpans(p, r, &why)) {
          d_.outcomes[r] = RuleOutcome::kError;
          Reason& er = d_.errors.Push();
          er.rule = r;
          er.message = "redact: " + why;
          break;
        }
        // A redact rule takes effect, and is listed, only when it masks something.
        if (spans_.size() == before) break;
        Reason& rs = d_.fired.Push();
        rs.rule = r;
        RenderMessage(p, rule, &rs.message);
        break;
      }
      case Effect::kDeny:
      case Effect::kAllow:
      case Effect::kFlag: {
        Reason& rs = d_.fired.Push();
        rs.rule = r;
        RenderMessage(p, rule, &rs.message);
        if (rule.effect == Effect::kDeny) ++d_.denies;
        if (rule.effect == Effect::kAllow) ++d_.allows;
        if (rule.effect == Effect::kFlag) ++d_.flags;
        break;
      }
    }
  }
}

void Worker::ApplyPrecedence(const Program& p, Phase phase) {
  if (d_.denies) {
    for (const Reason& rs : d_.fired) {
      const Rule& rule = p.rules[rs.rule];
      if (rule.effect != Effect::kDeny) continue;
      d_.allow = false;
      d_.status = rule.status ? rule.status : 403;
      d_.code = rule.code.empty() ? rule.name : rule.code;
      d_.message = rs.message;
      break;
    }
  } else if (p.on_error_deny && !d_.errors.empty()) {
    d_.allow = false;
    d_.status = 403;
    d_.code = "policy_error";
    d_.message = "rule " + p.rules[d_.errors[0].rule].name + " could not be evaluated: " + d_.errors[0].message;
  } else if (p.default_deny && phase == Phase::kRequest && d_.allows == 0) {
    d_.allow = false;
    d_.status = 403;
    d_.code = "no_allow_rule";
    d_.message = "no allow rule matched (default deny)";
  }
  if (!d_.allow) d_.has_route = false;
  // Listed on a deny too: the request is not forwarded, but explain and
  // logs show what would have been masked.
  if (!spans_.empty()) ApplyRedactions(p);
}

namespace {

bool LeafInTarget(const TextLeaf& l, int32_t slot) {
  switch (slot) {
    case kSlotRequestMessages:
    case kSlotRequestText:
      return l.root == Root::kRequest;
    case kSlotRequestUserText:
      return l.root == Root::kRequest && l.role == kLeafUser;
    case kSlotRequestSystemText:
      return l.root == Root::kRequest && l.role == kLeafSystem;
    case kSlotRequestToolText:
      return l.root == Root::kRequest && l.role == kLeafTool;
    case kSlotResponseText:
      return l.root == Root::kResponse;
    default:
      return false;
  }
}

struct SpanSink {
  std::vector<Worker::RawSpan>* out;
  Worker::RawSpan proto;
};

void OnSpan(void* ctx, uint32_t begin, uint32_t end) {
  auto* s = static_cast<SpanSink*>(ctx);
  if (end <= begin) return;
  Worker::RawSpan r = s->proto;
  r.begin = begin;
  r.end = end;
  s->out->push_back(r);
}

}  // namespace

// Finds the spans a firing redact rule masks: for each text leaf of its
// field, the leaf's one scan says which patterns occur, and only those are
// searched again for their spans.
bool Worker::CollectSpans(const Program& p, uint32_t r, std::string* err) {
  const Rule& rule = p.rules[r];
  const std::vector<TextLeaf>& leaves = scratch_.leaves;
  for (uint32_t li = 0; li < leaves.size(); ++li) {
    const TextLeaf& l = leaves[li];
    if (l.text.len == 0 || !LeafInTarget(l, rule.redact_field_slot)) continue;
    const char* why = nullptr;
    const uint64_t* bits = scan_.Scan(l.text.s, l.text.len, &why);
    if (!bits) {
      *err = why;
      return false;
    }
    const size_t first = spans_.size();
    for (uint32_t s : rule.redact_sets) {
      const PatternSet& set = p.pattern_sets[s];
      for (size_t k = 0; k < set.ids.size(); ++k) {
        const uint32_t id = set.ids[k];
        if (!(bits[id / 64] >> (id % 64) & 1)) continue;
        bool done = false;
        for (size_t i = first; i < spans_.size() && !done; ++i) done = spans_[i].id == id;
        if (done) continue;
        SpanSink sink{&spans_, RawSpan{li, 0, 0, r, id, &set.patterns[k].kind}};
        if (!scan_.Spans(l.text.s, l.text.len, id, OnSpan, &sink, &why)) {
          *err = why;
          return false;
        }
      }
    }
  }
  return true;
}

void Worker::ApplyRedactions(const Program& p) {
  std::sort(spans_.begin(), spans_.end(), [](const RawSpan& a, const RawSpan& b) {
    if (a.leaf != b.leaf) return a.leaf < b.leaf;
    if (a.begin != b.begin) return a.begin < b.begin;
    if (a.end != b.end) return a.end > b.end;
    return a.rule < b.rule;
  });
  const std::vector<TextLeaf>& leaves = scratch_.leaves;
  size_t i = 0;
  while (i < spans_.size()) {
    RawSpan cur = spans_[i++];
    while (i < spans_.size() && spans_[i].leaf == cur.leaf && spans_[i].begin < cur.end) {
      cur.end = std::max(cur.end, spans_[i].end);
      ++i;
    }
    const TextLeaf& l = leaves[cur.leaf];
    if (d_.redacted.empty() || leaf_field_.back() != cur.leaf) {
      RedactedField& f = d_.redacted.Push();
      f.path.clear();
      l.AppendPath(&f.path);
      f.text.clear();
      f.root = l.root;
      f.leaf = cur.leaf;
      leaf_field_.push_back(cur.leaf);
    }
    Redaction& x = d_.redactions.Push();
    x.field = static_cast<uint32_t>(d_.redacted.size() - 1);
    x.begin = cur.begin;
    x.end = cur.end;
    x.rule = cur.rule;
    x.kind = *cur.kind;
    x.replacement.clear();
    const std::string& with = p.rules[cur.rule].redact_with;
    for (size_t k = 0; k < with.size();) {
      if (with.compare(k, 7, "${kind}") == 0) {
        x.replacement += x.kind;
        k += 7;
      } else {
        x.replacement += with[k++];
      }
    }
  }
  // Each field's text with its spans replaced.
  size_t r = 0;
  for (size_t f = 0; f < d_.redacted.size(); ++f) {
    const Value& t = leaves[leaf_field_[f]].text;
    RedactedField& out = d_.redacted.at(f);
    uint32_t at = 0;
    for (; r < d_.redactions.size() && d_.redactions[r].field == f; ++r) {
      const Redaction& x = d_.redactions[r];
      out.text.append(t.s + at, x.begin - at);
      out.text += x.replacement;
      at = x.end;
    }
    out.text.append(t.s + at, t.len - at);
  }
}

const Decision& Worker::Decide(const Engine& engine, const DecodeInput& input, const DecideOptions& options) {
  return DecideImpl(engine, input, options, nullptr);
}

const Decision& Worker::DecideImpl(const Engine& engine, const DecodeInput& input, const DecideOptions& options,
                                   StreamText* stream) {
  const auto t0 = std::chrono::steady_clock::now();
  const Program& p = engine.program();
  arena_.Reset();
  d_.engine = &engine;
  d_.phase = options.phase;
  d_.allow = true;
  d_.status = 200;
  d_.code.clear();
  d_.message.clear();
  d_.has_route = false;
  d_.route.clear();
  d_.fired.Clear();
  d_.errors.Clear();
  d_.denies = d_.allows = d_.flags = 0;
  d_.invalid_input = false;
  d_.redactions.Clear();
  d_.redacted.Clear();
  spans_.clear();
  leaf_field_.clear();
  arena_.scan = &scan_;
  std::string serr;
  // When the backend cannot screen, every screening read of the decision is a
  // rule error that says why (ScanState::Begin).
  scan_.Begin(p.screen_patterns, p.screen, &serr);
  if (slots_.size() < p.slots.size()) slots_.resize(p.slots.size());
  if (regs_.size() < p.max_regs) regs_.resize(p.max_regs);

  DecodeError derr;
  if (!DecodeAll(p, input, options.limits, &scratch_, &arena_, slots_.data(), &derr)) {
    d_.allow = false;
    d_.status = 400;
    d_.code = "invalid_request";
    d_.message = derr.ToString();
    d_.invalid_input = true;
    d_.pred_true.assign(p.words, 0);
    d_.pred_error.assign(p.words, 0);
    d_.outcomes.assign(p.rules.size(), RuleOutcome::kNotEvaluated);
  } else if (stream) {
    // A streamed response: response.text is all the text so far; its
    // detection bits are the stream's, plus the validated patterns found in
    // the window not yet forwarded, which is the one text leaf to redact.
    const std::string_view all = stream->all;
    const Value whole = Value::String(all.data(), static_cast<uint32_t>(all.size()));
    const Value window =
        Value::String(all.data() + stream->window_begin, static_cast<uint32_t>(all.size() - stream->window_begin));
    slots_[kSlotResponseText] = whole;
    TextLeaf& leaf = scratch_.leaves.emplace_back();
    leaf.text = window;
    leaf.root = Root::kResponse;
    leaf.base = "response.text";
    const char* why = nullptr;
    if (arena_.scan && window.len) {
      const uint64_t* wb = scan_.Scan(window.s, window.len, &why);
      if (wb) {
        for (uint32_t id = 0; id < p.screen_patterns.size(); ++id)
          if (p.screen_patterns[id].validator && (wb[id / 64] >> (id % 64) & 1))
            stream->bits[id / 64] |= uint64_t(1) << (id % 64);
      }
    }
    if (arena_.scan && stream->bits) scan_.Seed(whole.s, whole.len, stream->bits);
    Evaluate(p, Phase::kResponse);
  } else {
    Evaluate(p, options.phase);
  }
  d_.eval_ns = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count());
  return d_;
}

void Decision::AppendJson(std::string* out) const {
  if (engine == nullptr) {
    *out += "{\"decision\":\"deny\",\"status\":500,\"code\":\"no_decision\",\"rules\":[],\"errors\":[]}";
    return;
  }
  const Program& p = engine->program();
  char buf[64];
  *out += "{\"decision\":";
  *out += allow ? "\"allow\"" : "\"deny\"";
  snprintf(buf, sizeof buf, ",\"status\":%u", status);
  *out += buf;
  if (!allow) {
    *out += ",\"code\":";
    AppendJsonString(code, out);
    *out += ",\"message\":";
    AppendJsonString(message, out);
  }
  if (has_route) {
    *out += ",\"route\":";
    AppendJsonString(route, out);
  }
  *out += ",\"rules\":[";
  bool first = true;
  for (const Reason& r : fired) {
    const Rule& rule = p.rules[r.rule];
    if (!first) *out += ',';
    first = false;
    *out += "{\"rule\":";
    AppendJsonString(rule.name, out);
    *out += ",\"effect\":\"";
    *out += EffectName(rule.effect);
    *out += '"';
    if (rule.effect == Effect::kRoute) {
      *out += ",\"model\":";
    } else {
      if (rule.effect == Effect::kDeny || !rule.code.empty()) {
        *out += ",\"code\":";
        AppendJsonString(rule.code.empty() ? rule.name : rule.code, out);
      }
      if (rule.effect == Effect::kDeny) {
        snprintf(buf, sizeof buf, ",\"status\":%u", rule.status ? rule.status : 403);
        *out += buf;
      }
      *out += ",\"message\":";
    }
    AppendJsonString(r.message, out);
    *out += '}';
  }
  *out += "],\"errors\":[";
  first = true;
  for (const Reason& r : errors) {
    if (!first) *out += ',';
    first = false;
    *out += "{\"rule\":";
    AppendJsonString(p.rules[r.rule].name, out);
    *out += ",\"message\":";
    AppendJsonString(r.message, out);
    *out += '}';
  }
  *out += ']';
  if (!redactions.empty()) {
    *out += ",\"redactions\":[";
    for (size_t i = 0; i < redactions.size(); ++i) {
      const Redaction& x = redactions[i];
      if (i) *out += ',';
      *out += "{\"field\":";
      AppendJsonString(redacted[x.field].path, out);
      snprintf(buf, sizeof buf, ",\"start\":%u,\"end\":%u,\"kind\":", x.begin, x.end);
      *out += buf;
      AppendJsonString(x.kind, out);
      *out += ",\"replacement\":";
      AppendJsonString(x.replacement, out);
      *out += ",\"rule\":";
      AppendJsonString(p.rules[x.rule].name, out);
      *out += '}';
    }
    *out += "],\"redacted\":[";
    for (size_t i = 0; i < redacted.size(); ++i) {
      if (i) *out += ',';
      *out += "{\"field\":";
      AppendJsonString(redacted[i].path, out);
      *out += ",\"text\":";
      AppendJsonString(redacted[i].text, out);
      *out += '}';
    }
    *out += ']';
  }
  *out += ",\"package\":";
  AppendJsonString(p.package, out);
  *out += ",\"version\":";
  AppendJsonString(p.version, out);
  *out += ",\"bundle\":";
  AppendJsonString(engine->hash_hex(), out);
  *out += ",\"signer\":";
  AppendJsonString(engine->signer(), out);
  snprintf(buf, sizeof buf, ",\"eval_ns\":%" PRIu64 "}", eval_ns);
  *out += buf;
}

}  // namespace gavel
