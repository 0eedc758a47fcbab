// Decoding of request, response, principal, context and env JSON into slots.
// Strings are not copied: slot values point into the caller's input or the
// JSON document's unescape buffer, both alive for the whole decision.
#include "engine/runtime/decode.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "engine/runtime/vm.h"

namespace gavel {

namespace {

using json::Document;
using json::Node;
using json::Type;
constexpr uint32_t kNone = Document::npos;

struct Ctx {
  const DecodeLimits& limits;
  Arena* arena;
  DecodeError* err;
  std::vector<TextLeaf>* leaves;
  Root root = Root::kRequest;
};

std::string Got(const Node& n) { return std::string("got ") + json::type_name(n.type); }

// Where an integer is expected: any JSON number whose exact value is a whole
// number in int64 (Node::integral), so 300, 300.0 and 3e2 are 300. What else
// a number was, in words (without echoing it).
std::string GotNotInteger(const Node& n) {
  if (n.type != Type::Number) return Got(n);
  return std::fabs(n.num) >= 9223372036854775808.0 ? "got a number outside the 64-bit integer range"
                                                   : "got a number with a fractional part";
}

// A field's name, rendered only when an error needs it: decoding a valid body
// must not build strings.
struct Path {
  std::string_view base;
  int64_t index = -1;
  std::string_view tail;
  std::string_view key;
  Path(const char* b) : base(b) {}         // NOLINT: implicit by design
  Path(const std::string& b) : base(b) {}  // NOLINT
  Path(std::string_view b, int64_t i, std::string_view t = "", std::string_view k = "")
      : base(b), index(i), tail(t), key(k) {}
  std::string str() const {
    std::string s(base);
    if (index >= 0) s += "[" + std::to_string(index) + "]";
    s += tail;
    if (!key.empty()) s += "." + std::string(key);
    return s;
  }
};

bool Fail(Ctx& c, std::string field, std::string message) {
  c.err->field = std::move(field);
  c.err->message = std::move(message);
  return false;
}

Value Str(const Node& n) { return Value::String(n.str, n.len); }

// Field names are built only on the error path, so decoding allocates nothing.
std::string Indexed(const char* base, uint32_t i, const char* tail = "") {
  return std::string(base) + "[" + std::to_string(i) + "]" + tail;
}

bool OptString(Ctx& c, const Document& d, uint32_t obj, const char* key, const Path& field, Value* out) {
  uint32_t v = d.find(obj, key);
  if (v == kNone || d[v].type == Type::Null) return true;
  if (d[v].type != Type::String) return Fail(c, field.str(), "expected a string, " + Got(d[v]));
  *out = Str(d[v]);
  return true;
}

enum RoleClass : uint8_t { kOther = kLeafOther, kUser = kLeafUser, kSystem = kLeafSystem, kTool = kLeafTool };

void AddLeaf(Ctx& c, Value text, std::string_view base, int64_t index, std::string_view tail, int64_t part = -1,
             bool part_text = false, uint8_t role = kLeafOther) {
  TextLeaf& l = c.leaves->emplace_back();
  l.text = text;
  l.root = c.root;
  l.role = role;
  l.base = base;
  l.index = static_cast<int32_t>(index);
  l.tail = tail;
  l.part = static_cast<int32_t>(part);
  l.part_text = part_text;
}

RoleClass ClassOf(std::string_view role) {
  if (role == "user") return kUser;
  if (role == "system" || role == "developer") return kSystem;
  if (role == "tool" || role == "function") return kTool;
  return kOther;
}

// Content: a string, null, or an array of parts whose text parts are joined
// with "\n". Non-text parts (images, audio, files) carry no text.
bool Content(Ctx& c, const Document& d, uint32_t v, const Path& path, Value* out) {
  const Node& n = d[v];
  if (n.type == Type::Null) {
    *out = Value::String("", 0);
    return true;
  }
  if (n.type == Type::String) {
    *out = Str(n);
    AddLeaf(c, *out, path.base, path.index, path.tail);
    return true;
  }
  if (n.type != Type::Array) return Fail(c, path.str(), "expected a string or an array of parts, " + Got(n));
  if (n.count > c.limits.max_parts)
    return Fail(c, path.str(), "more than " + std::to_string(c.limits.max_parts) + " content parts");
  uint32_t total = 0, texts = 0;
  uint32_t e = v + 1;
  for (uint32_t k = 0; k < n.count; ++k, e = d[e].next) {
    if (d[e].type == Type::String) {  // some clients send bare strings as parts
      total += d[e].len + 1;
      ++texts;
      AddLeaf(c, Str(d[e]), path.base, path.index, path.tail, k);
      continue;
    }
    if (d[e].type != Type::Object)
      return Fail(c, path.str() + "[" + std::to_string(k) + "]", "expected an object, " + Got(d[e]));
    uint32_t t = d.find(e, "text");
    if (t == kNone) continue;
    if (d[t].type != Type::String)
      return Fail(c, path.str() + "[" + std::to_string(k) + "].text", "expected a string, " + Got(d[t]));
    total += d[t].len + 1;
    ++texts;
    AddLeaf(c, Str(d[t]), path.base, path.index, path.tail, k, true);
  }
  if (texts == 1) {  // common case: one text part, no copy
    e = v + 1;
    for (uint32_t k = 0; k < n.count; ++k, e = d[e].next) {
      if (d[e].type == Type::String) {
        *out = Str(d[e]);
        return true;
      }
      uint32_t t = d.find(e, "text");
      if (t != kNone) {
        *out = Str(d[t]);
        return true;
      }
    }
  }
  char* buf = c.arena->bytes.Alloc(total + 1);
  uint32_t used = 0;
  e = v + 1;
  for (uint32_t k = 0; k < n.count; ++k, e = d[e].next) {
    const Node* s = nullptr;
    if (d[e].type == Type::String) {
      s = &d[e];
    } else {
      uint32_t t = d.find(e, "text");
      if (t != kNone) s = &d[t];
    }
    if (!s) continue;
    if (used) buf[used++] = '\n';
    std::memcpy(buf + used, s->str, s->len);
    used += s->len;
  }
  *out = Value::String(buf, used);
  return true;
}

Value* NewMessage(Ctx& c, Value role, Value content, Value name) {
  Value* f = c.arena->values.Alloc(kMessageFieldCount);
  f[kMessageRole] = role;
  f[kMessageContent] = content;
  f[kMessageName] = name;
  return f;
}

// Collected messages before they are laid out as a list value.
struct MessageList {
  Value* items = nullptr;
  uint32_t n = 0;
  uint32_t cap = 0;
};

bool PushMessage(Ctx& c, MessageList* ml, Value role, Value content, Value name) {
  if (ml->n == ml->cap)
    return Fail(c, "request.messages", "more than " + std::to_string(c.limits.max_messages) + " messages");
  ml->items[ml->n++] = Value::Aggregate(Kind::kRecord, NewMessage(c, role, content, name), kMessageFieldCount);
  return true;
}

bool ChatMessages(Ctx& c, const Document& d, uint32_t arr, const char* field, MessageList* ml) {
  const Node& a = d[arr];
  if (a.type != Type::Array) return Fail(c, field, "expected an array, " + Got(a));
  uint32_t e = arr + 1;
  for (uint32_t k = 0; k < a.count; ++k, e = d[e].next) {
    if (d[e].type != Type::Object) return Fail(c, Indexed(field, k), "expected an object, " + Got(d[e]));
    uint32_t r = d.find(e, "role");
    // Responses-API items without a role: function results and other typed items.
    if (r == kNone) {
      uint32_t ty = d.find(e, "type");
      if (ty != kNone && d[ty].type == Type::String &&
          std::string_view(d[ty].str, d[ty].len) == "function_call_output") {
        Value out = Value::String("", 0);
        uint32_t o = d.find(e, "output");
        const size_t first = c.leaves->size();
        if (o != kNone && !Content(c, d, o, Path(field, k, ".output"), &out)) return false;
        for (size_t i = first; i < c.leaves->size(); ++i) (*c.leaves)[i].role = kTool;
        if (!PushMessage(c, ml, Value::String("tool"), out, Value())) return false;
        continue;
      }
      if (ty != kNone) continue;  // other typed items (function_call, reasoning) carry no prompt text
      return Fail(c, Indexed(field, k, ".role"), "missing");
    }
    if (d[r].type != Type::String) return Fail(c, Indexed(field, k, ".role"), "expected a string, " + Got(d[r]));
    Value content = Value::String("", 0);
    uint32_t ct = d.find(e, "content");
    const size_t first = c.leaves->size();
    if (ct != kNone && !Content(c, d, ct, Path(field, k, ".content"), &content)) return false;
    const uint8_t role = ClassOf(std::string_view(d[r].str, d[r].len));
    for (size_t i = first; i < c.leaves->size(); ++i) (*c.leaves)[i].role = role;
    Value name;
    uint32_t nm = d.find(e, "name");
    if (nm != kNone && d[nm].type != Type::Null) {
      if (d[nm].type != Type::String) return Fail(c, Indexed(field, k, ".name"), "expected a string, " + Got(d[nm]));
      name = Str(d[nm]);
    }
    if (!PushMessage(c, ml, Str(d[r]), content, name)) return false;
  }
  return true;
}

// Prompts of completions and inputs of embeddings: a string, an array of
// strings, or token arrays (which carry no text).
bool PromptMessages(Ctx& c, const Document& d, uint32_t v, const char* field, MessageList* ml) {
  const Node& n = d[v];
  if (n.type == Type::String) {
    AddLeaf(c, Str(n), field, -1, "", -1, false, kUser);
    return PushMessage(c, ml, Value::String("user"), Str(n), Value());
  }
  if (n.type != Type::Array) return Fail(c, field, "expected a string or an array, " + Got(n));
  uint32_t e = v + 1;
  for (uint32_t k = 0; k < n.count; ++k, e = d[e].next) {
    if (d[e].type == Type::String) {
      AddLeaf(c, Str(d[e]), field, k, "", -1, false, kUser);
      if (!PushMessage(c, ml, Value::String("user"), Str(d[e]), Value())) return false;
    } else if (d[e].type != Type::Number && d[e].type != Type::Array) {
      return Fail(c, Indexed(field, k), "expected a string or tokens, " + Got(d[e]));
    }
  }
  return true;
}

bool Tools(Ctx& c, const Document& d, uint32_t arr, const char* field, Value* out) {
  const Node& a = d[arr];
  if (a.type != Type::Array) return Fail(c, field, "expected an array, " + Got(a));
  if (a.count > c.limits.max_tools) return Fail(c, field, "more than " + std::to_string(c.limits.max_tools) + " tools");
  Value* items = c.arena->values.Alloc(a.count ? a.count : 1);
  uint32_t e = arr + 1;
  for (uint32_t k = 0; k < a.count; ++k, e = d[e].next) {
    if (d[e].type != Type::Object) return Fail(c, Indexed(field, k), "expected an object, " + Got(d[e]));
    Value type = Value::String("function");
    if (!OptString(c, d, e, "type", Path(field, k, ".type"), &type)) return false;
    Value name;
    uint32_t fn = d.find(e, "function");
    if (fn != kNone) {
      if (d[fn].type != Type::Object)
        return Fail(c, Indexed(field, k, ".function"), "expected an object, " + Got(d[fn]));
      if (!OptString(c, d, fn, "name", Path(field, k, ".function.name"), &name)) return false;
    } else if (!OptString(c, d, e, "name", Path(field, k, ".name"), &name)) {
      return false;
    }
    // Built-in tools of the responses API (web_search, file_search, ...) are named by their type.
    if (name.missing()) name = type;
    Value* f = c.arena->values.Alloc(kToolFieldCount);
    f[kToolName] = name;
    f[kToolType] = type;
    items[k] = Value::Aggregate(Kind::kRecord, f, kToolFieldCount);
  }
  *out = Value::Aggregate(Kind::kList, items, a.count);
  return true;
}

bool IntField(Ctx& c, const Document& d, uint32_t obj, const char* key, const char* field, Value* out) {
  uint32_t v = d.find(obj, key);
  if (v == kNone || d[v].type == Type::Null) return true;
  if (d[v].type != Type::Number || !d[v].integral) return Fail(c, field, "expected an integer, " + GotNotInteger(d[v]));
  if (d[v].i < 0) return Fail(c, field, "must not be negative");
  *out = Value::Int(d[v].i);
  return true;
}

Value Join(Ctx& c, const MessageList& ml, int cls) {
  uint32_t total = 0, count = 0;
  const Value* only = nullptr;
  for (uint32_t i = 0; i < ml.n; ++i) {
    const Value* f = ml.items[i].items;
    if (cls >= 0 && ClassOf(f[kMessageRole].str()) != cls) continue;
    if (f[kMessageContent].len == 0) continue;
    total += f[kMessageContent].len + 1;
    ++count;
    only = &f[kMessageContent];
  }
  if (count == 0) return Value::String("", 0);
  if (count == 1) return *only;
  char* buf = c.arena->bytes.Alloc(total);
  uint32_t used = 0;
  for (uint32_t i = 0; i < ml.n; ++i) {
    const Value* f = ml.items[i].items;
    if (cls >= 0 && ClassOf(f[kMessageRole].str()) != cls) continue;
    if (f[kMessageContent].len == 0) continue;
    if (used) buf[used++] = '\n';
    std::memcpy(buf + used, f[kMessageContent].s, f[kMessageContent].len);
    used += f[kMessageContent].len;
  }
  return Value::String(buf, used);
}

// JSON parsers disagree on duplicate keys (first wins here, last wins in most
// servers), so a body with one could be decided on a value the model never
// sees. Every object of every body is checked; such a body is refused.
bool CheckDuplicateKeys(Ctx& c, const Document& d, const char* root, std::vector<std::string_view>* keys) {
  for (uint32_t i = 0; i < d.size(); ++i) {
    if (d[i].type != Type::Object || d[i].count < 2) continue;
    keys->clear();
    uint32_t m = i + 1;
    for (uint32_t k = 0; k < d[i].count; ++k, m = d[m + 1].next) keys->emplace_back(d[m].str, d[m].len);
    std::sort(keys->begin(), keys->end());
    for (size_t k = 1; k < keys->size(); ++k)
      if ((*keys)[k] == (*keys)[k - 1])
        return Fail(c, root,
                    "duplicate key \"" + std::string((*keys)[k].substr(0, 64)) + "\" in the object at byte " +
                        std::to_string(d[i].offset));
  }
  return true;
}

bool Parse(Ctx& c, Document* d, std::string_view body, const char* root, std::vector<std::string_view>* keys) {
  json::Error je;
  if (!d->parse(body, c.limits.json, &je)) {
    // A body over the cap was not read: saying where its JSON went wrong
    // ("at byte 0") would send the caller looking for a syntax error.
    if (je.too_large) return Fail(c, root, je.message);
    return Fail(c, root, "invalid JSON at byte " + std::to_string(je.offset) + ": " + je.message);
  }
  if ((*d)[0].type != Type::Object) return Fail(c, root, "expected a JSON object, " + Got((*d)[0]));
  return CheckDuplicateKeys(c, *d, root, keys);
}

bool DecodeRequest(Ctx& c, const Document& d, std::string_view endpoint, int64_t exact_tokens, Value* slots) {
  const uint32_t root = 0;
  if (!OptString(c, d, root, "model", "request.model", &slots[kSlotRequestModel])) return false;
  if (endpoint.empty()) endpoint = InferEndpoint(d);
  if (endpoint != "chat" && endpoint != "completions" && endpoint != "responses" && endpoint != "embeddings")
    return Fail(c, "request.endpoint", "unknown endpoint (chat, completions, responses or embeddings)");
  slots[kSlotRequestEndpoint] = Value::String(endpoint);

  // Every JSON node yields at most one message, so this bound is never exceeded by input.
  MessageList ml;
  ml.cap = c.limits.max_messages;
  ml.items = c.arena->values.Alloc(std::min<uint32_t>(ml.cap, d.size()) + 1);
  ml.cap = std::min<uint32_t>(ml.cap, d.size());
  if (endpoint == "chat") {
    uint32_t m = d.find(root, "messages");
    if (m != kNone && !ChatMessages(c, d, m, "request.messages", &ml)) return false;
  } else if (endpoint == "completions") {
    uint32_t pr = d.find(root, "prompt");
    if (pr != kNone && d[pr].type != Type::Null && !PromptMessages(c, d, pr, "request.prompt", &ml)) return false;
  } else if (endpoint == "embeddings") {
    uint32_t in = d.find(root, "input");
    if (in != kNone && !PromptMessages(c, d, in, "request.input", &ml)) return false;
  } else {
    Value instructions;
    if (!OptString(c, d, root, "instructions", "request.instructions", &instructions)) return false;
    if (!instructions.missing()) {
      AddLeaf(c, instructions, "request.instructions", -1, "", -1, false, kSystem);
      if (!PushMessage(c, &ml, Value::String("system"), instructions, Value())) return false;
    }
    uint32_t in = d.find(root, "input");
    if (in != kNone) {
      if (d[in].type == Type::String) {
        AddLeaf(c, Str(d[in]), "request.input", -1, "", -1, false, kUser);
        if (!PushMessage(c, &ml, Value::String("user"), Str(d[in]), Value())) return false;
      } else if (!ChatMessages(c, d, in, "request.input", &ml)) {
        return false;
      }
    }
  }
  slots[kSlotRequestMessages] = Value::Aggregate(Kind::kList, ml.items, ml.n);

  uint32_t tl = d.find(root, "tools");
  if (tl == kNone || d[tl].type == Type::Null) tl = d.find(root, "functions");
  if (tl != kNone && d[tl].type != Type::Null) {
    if (!Tools(c, d, tl, "request.tools", &slots[kSlotRequestTools])) return false;
  } else {
    slots[kSlotRequestTools] = Value::Aggregate(Kind::kList, nullptr, 0);
  }

  if (!IntField(c, d, root, "max_tokens", "request.max_tokens", &slots[kSlotRequestMaxTokens])) return false;
  if (slots[kSlotRequestMaxTokens].missing() &&
      !IntField(c, d, root, "max_completion_tokens", "request.max_completion_tokens", &slots[kSlotRequestMaxTokens]))
    return false;
  if (slots[kSlotRequestMaxTokens].missing() &&
      !IntField(c, d, root, "max_output_tokens", "request.max_output_tokens", &slots[kSlotRequestMaxTokens]))
    return false;

  slots[kSlotRequestStream] = Value::Bool(false);
  uint32_t st = d.find(root, "stream");
  if (st != kNone && d[st].type != Type::Null) {
    if (d[st].type != Type::True && d[st].type != Type::False)
      return Fail(c, "request.stream", "expected a boolean, " + Got(d[st]));
    slots[kSlotRequestStream] = Value::Bool(d[st].type == Type::True);
  }
  uint32_t te = d.find(root, "temperature");
  if (te != kNone && d[te].type != Type::Null) {
    if (d[te].type != Type::Number) return Fail(c, "request.temperature", "expected a number, " + Got(d[te]));
    slots[kSlotRequestTemperature] = Value::Float(d[te].num);
  }
  if (!OptString(c, d, root, "user", "request.user", &slots[kSlotRequestUser])) return false;

  uint32_t md = d.find(root, "metadata");
  if (md != kNone && d[md].type != Type::Null) {
    if (d[md].type != Type::Object) return Fail(c, "request.metadata", "expected an object, " + Got(d[md]));
    const uint32_t n = d[md].count;
    if (n > c.limits.max_list)
      return Fail(c, "request.metadata", "more than " + std::to_string(c.limits.max_list) + " entries");
    Value* items = c.arena->values.Alloc(2 * n + 1);
    uint32_t m = md + 1;
    for (uint32_t k = 0; k < n; ++k, m = d[m + 1].next) {
      if (d[m + 1].type != Type::String)
        return Fail(c, "request.metadata." + std::string(d[m].str, d[m].len), "expected a string, " + Got(d[m + 1]));
      items[2 * k] = Str(d[m]);
      items[2 * k + 1] = Str(d[m + 1]);
    }
    slots[kSlotRequestMetadata] = Value::Aggregate(Kind::kMap, items, n);
  } else {
    slots[kSlotRequestMetadata] = Value::Aggregate(Kind::kMap, nullptr, 0);
  }

  slots[kSlotRequestText] = Join(c, ml, -1);
  slots[kSlotRequestUserText] = Join(c, ml, kUser);
  slots[kSlotRequestSystemText] = Join(c, ml, kSystem);
  slots[kSlotRequestToolText] = Join(c, ml, kTool);
  if (exact_tokens >= 0) {
    slots[kSlotRequestInputTokens] = Value::Int(exact_tokens);
  } else {
    // Documented estimate: ~4 bytes per token of content, plus 4 tokens of
    // framing per message and 3 for the reply primer (OpenAI's chat format).
    int64_t t = 3;
    for (uint32_t i = 0; i < ml.n; ++i) {
      const Value& content = ml.items[i].items[kMessageContent];
      t += 4 + EstimateTokens(content.s, content.len);
    }
    slots[kSlotRequestInputTokens] = Value::Int(t);
  }
  return true;
}

bool DecodeResponse(Ctx& c, const Document& d, Value* slots) {
  const uint32_t root = 0;
  // Gather text: chat (choices[].message.content), completions (choices[].text),
  // responses (output[].content[].text).
  uint32_t total = 0;
  const uint32_t kMaxPieces = 256;
  const Node* pieces[kMaxPieces];
  uint32_t np = 0;
  bool too_many = false;
  auto add = [&](uint32_t v, std::string_view base, uint32_t index, std::string_view tail, int64_t part = -1) {
    if (v == kNone || d[v].type != Type::String) return;
    if (np == kMaxPieces) {
      too_many = true;  // never screen part of a response as if it were all of it
      return;
    }
    pieces[np++] = &d[v];
    total += d[v].len + 1;
    AddLeaf(c, Str(d[v]), base, index, tail, part, part >= 0);
  };
  // As strict as requests: a field of the wrong shape is an error, not an
  // empty text that screening would wave through.
  uint32_t ch = d.find(root, "choices");
  if (ch != kNone && d[ch].type != Type::Array && d[ch].type != Type::Null)
    return Fail(c, "response.choices", "expected an array, " + Got(d[ch]));
  if (ch != kNone && d[ch].type == Type::Array) {
    uint32_t e = ch + 1;
    for (uint32_t k = 0; k < d[ch].count; ++k, e = d[e].next) {
      if (d[e].type != Type::Object) return Fail(c, Indexed("response.choices", k), "expected an object, " + Got(d[e]));
      uint32_t m = d.find(e, "message");
      const bool delta = m == kNone;
      if (m == kNone) m = d.find(e, "delta");
      if (m != kNone && d[m].type == Type::Object)
        add(d.find(m, "content"), "response.choices", k, delta ? ".delta.content" : ".message.content");
      add(d.find(e, "text"), "response.choices", k, ".text");
      uint32_t fr = d.find(e, "finish_reason");
      if (fr != kNone && d[fr].type == Type::String && slots[kSlotResponseFinishReason].missing())
        slots[kSlotResponseFinishReason] = Str(d[fr]);
    }
  }
  uint32_t out = d.find(root, "output");
  if (out != kNone && d[out].type != Type::Array && d[out].type != Type::Null)
    return Fail(c, "response.output", "expected an array, " + Got(d[out]));
  if (out != kNone && d[out].type == Type::Array) {
    uint32_t e = out + 1;
    for (uint32_t k = 0; k < d[out].count; ++k, e = d[e].next) {
      if (d[e].type != Type::Object) continue;
      uint32_t cs = d.find(e, "content");
      if (cs == kNone || d[cs].type != Type::Array) continue;
      uint32_t p = cs + 1;
      for (uint32_t j = 0; j < d[cs].count; ++j, p = d[p].next)
        if (d[p].type == Type::Object) add(d.find(p, "text"), "response.output", k, ".content", j);
    }
    if (slots[kSlotResponseFinishReason].missing()) {
      Value status;
      if (!OptString(c, d, root, "status", "response.status", &status)) return false;
      if (!status.missing()) slots[kSlotResponseFinishReason] = status;
    }
  }
  if (too_many) return Fail(c, "response", "more than " + std::to_string(kMaxPieces) + " text pieces in the response");
  char* buf = c.arena->bytes.Alloc(total + 1);
  uint32_t used = 0;
  for (uint32_t i = 0; i < np; ++i) {
    if (used) buf[used++] = '\n';
    std::memcpy(buf + used, pieces[i]->str, pieces[i]->len);
    used += pieces[i]->len;
  }
  slots[kSlotResponseText] = Value::String(buf, used);
  uint32_t us = d.find(root, "usage");
  if (us != kNone && d[us].type == Type::Object) {
    Value* f = c.arena->values.Alloc(kUsageFieldCount);
    f[kUsageInputTokens] = Value();
    f[kUsageOutputTokens] = Value();
    if (!IntField(c, d, us, "prompt_tokens", "response.usage.prompt_tokens", &f[kUsageInputTokens])) return false;
    if (f[kUsageInputTokens].missing() &&
        !IntField(c, d, us, "input_tokens", "response.usage.input_tokens", &f[kUsageInputTokens]))
      return false;
    if (!IntField(c, d, us, "completion_tokens", "response.usage.completion_tokens", &f[kUsageOutputTokens]))
      return false;
    if (f[kUsageOutputTokens].missing() &&
        !IntField(c, d, us, "output_tokens", "response.usage.output_tokens", &f[kUsageOutputTokens]))
      return false;
    slots[kSlotResponseUsage] = Value::Aggregate(Kind::kRecord, f, kUsageFieldCount);
  }
  return true;
}

bool Scalar(Ctx& c, const Document& d, uint32_t v, Kind want, const Path& path, Value* out) {
  const Node& n = d[v];
  switch (want) {
    case Kind::kString:
      if (n.type != Type::String) return Fail(c, path.str(), "expected a string, " + Got(n));
      *out = Str(n);
      return true;
    case Kind::kInt:
      if (n.type != Type::Number || !n.integral) return Fail(c, path.str(), "expected an integer, " + GotNotInteger(n));
      *out = Value::Int(n.i);
      return true;
    case Kind::kFloat:
      if (n.type != Type::Number) return Fail(c, path.str(), "expected a number, " + Got(n));
      *out = Value::Float(n.num);
      return true;
    case Kind::kBool:
      if (n.type != Type::True && n.type != Type::False) return Fail(c, path.str(), "expected a boolean, " + Got(n));
      *out = Value::Bool(n.type == Type::True);
      return true;
    default:
      return Fail(c, path.str(), "unsupported attribute type");
  }
}

bool ParseDurationText(std::string_view s, int64_t* ms) {
  if (s.empty()) return false;
  size_t i = 0;
  int64_t n = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
    if (n > (INT64_MAX / 1000 - 9) / 10) return false;
    n = n * 10 + (s[i++] - '0');
  }
  if (i == 0) return false;
  std::string_view unit = s.substr(i);
  int64_t mul = unit == "ms"  ? 1
                : unit == "s" ? 1000
                : unit == "m" ? 60000
                : unit == "h" ? 3600000
                : unit == "d" ? 86400000
                              : 0;
  if (mul == 0 || n > INT64_MAX / mul) return false;
  *ms = n * mul;
  return true;
}

bool Attribute(Ctx& c, const Document& d, uint32_t v, SlotType type, const std::string& field, Value* out) {
  const Node& n = d[v];
  switch (type) {
    case SlotType::kBool:
      return Scalar(c, d, v, Kind::kBool, field, out);
    case SlotType::kInt:
      return Scalar(c, d, v, Kind::kInt, field, out);
    case SlotType::kFloat:
      return Scalar(c, d, v, Kind::kFloat, field, out);
    case SlotType::kString:
      return Scalar(c, d, v, Kind::kString, field, out);
    case SlotType::kDuration: {
      int64_t ms;
      if (n.type == Type::Number && n.integral) {
        *out = Value::Duration(n.i);
        return true;
      }
      if (n.type != Type::String || !ParseDurationText(std::string_view(n.str, n.len), &ms))
        return Fail(c, field, "expected a duration such as \"90s\" or milliseconds, " + Got(n));
      *out = Value::Duration(ms);
      return true;
    }
    case SlotType::kListString:
    case SlotType::kListInt:
    case SlotType::kListFloat:
    case SlotType::kSetString:
    case SlotType::kSetInt: {
      if (n.type != Type::Array) return Fail(c, field, "expected an array, " + Got(n));
      if (n.count > c.limits.max_list)
        return Fail(c, field, "more than " + std::to_string(c.limits.max_list) + " items");
      const Kind k = (type == SlotType::kListString || type == SlotType::kSetString) ? Kind::kString
                     : (type == SlotType::kListFloat)                                ? Kind::kFloat
                                                                                     : Kind::kInt;
      Value* items = c.arena->values.Alloc(n.count + 1);
      uint32_t e = v + 1;
      for (uint32_t i = 0; i < n.count; ++i, e = d[e].next)
        if (!Scalar(c, d, e, k, Path(field, i), &items[i])) return false;
      uint32_t count = n.count;
      const bool is_set = type == SlotType::kSetString || type == SlotType::kSetInt;
      if (is_set) {
        // A set has no duplicates; sorted, `in` can binary-search it like a constant set.
        auto less = [](const Value& a, const Value& b) {
          return a.kind == Kind::kString ? std::string_view(a.s, a.len) < std::string_view(b.s, b.len) : a.i < b.i;
        };
        auto same = [&](const Value& a, const Value& b) { return !less(a, b) && !less(b, a); };
        std::sort(items, items + count, less);
        count = static_cast<uint32_t>(std::unique(items, items + count, same) - items);
      }
      *out = Value::Aggregate(Kind::kList, items, count);
      if (is_set) out->sorted = 1;
      return true;
    }
    case SlotType::kMapString:
    case SlotType::kMapInt:
    case SlotType::kMapFloat:
    case SlotType::kMapBool: {
      if (n.type != Type::Object) return Fail(c, field, "expected an object, " + Got(n));
      if (n.count > c.limits.max_list)
        return Fail(c, field, "more than " + std::to_string(c.limits.max_list) + " entries");
      const Kind k = type == SlotType::kMapString  ? Kind::kString
                     : type == SlotType::kMapInt   ? Kind::kInt
                     : type == SlotType::kMapFloat ? Kind::kFloat
                                                   : Kind::kBool;
      Value* items = c.arena->values.Alloc(2 * n.count + 1);
      uint32_t m = v + 1;
      for (uint32_t i = 0; i < n.count; ++i, m = d[m + 1].next) {
        items[2 * i] = Str(d[m]);
        if (!Scalar(c, d, m + 1, k, Path(field, -1, "", std::string_view(d[m].str, d[m].len)), &items[2 * i + 1]))
          return false;
      }
      *out = Value::Aggregate(Kind::kMap, items, n.count);
      return true;
    }
    case SlotType::kBuiltin:
      break;
  }
  return Fail(c, field, "unsupported attribute type");
}

bool DecodeAttributes(Ctx& c, const Program& p, Root root, const Document* d, Value* slots) {
  const char* prefix = root == Root::kPrincipal ? "principal." : "context.";
  const size_t plen = std::strlen(prefix);
  for (size_t i = kBuiltinSlotCount; i < p.slots.size(); ++i) {
    const SlotInfo& s = p.slots[i];
    if (s.root != root) continue;
    uint32_t v = d ? d->find(0, std::string_view(s.name).substr(plen)) : kNone;
    if (v == kNone || (*d)[v].type == Type::Null) {
      slots[i] = s.default_const >= 0 ? p.consts[s.default_const] : Value();
      continue;
    }
    if (!Attribute(c, *d, v, s.type, s.name, &slots[i])) return false;
  }
  return true;
}

}  // namespace

std::string_view InferEndpoint(const Document& d) {
  if (d.find(0, "messages") != kNone) return "chat";
  if (d.find(0, "prompt") != kNone) return "completions";
  if (d.find(0, "input") != kNone) {
    if (d.find(0, "encoding_format") != kNone || d.find(0, "dimensions") != kNone) return "embeddings";
    uint32_t m = d.find(0, "model");
    if (m != kNone && d[m].type == Type::String &&
        std::string_view(d[m].str, d[m].len).find("embedding") != std::string_view::npos)
      return "embeddings";
    return "responses";
  }
  return "chat";
}

void TextLeaf::AppendPath(std::string* out) const {
  char buf[16];
  out->append(base.data(), base.size());
  if (index >= 0) {
    snprintf(buf, sizeof buf, "[%d]", index);
    *out += buf;
  }
  out->append(tail.data(), tail.size());
  if (part >= 0) {
    snprintf(buf, sizeof buf, "[%d]", part);
    *out += buf;
    if (part_text) *out += ".text";
  }
}

bool ParseRfc3339(std::string_view s, int64_t* out) {
  // YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)
  auto num = [&](size_t pos, size_t n, int* v) {
    if (pos + n > s.size()) return false;
    int x = 0;
    for (size_t i = pos; i < pos + n; ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
      x = x * 10 + (s[i] - '0');
    }
    *v = x;
    return true;
  };
  int y, mo, d, h, mi, se;
  if (!num(0, 4, &y) || s.size() < 20 || s[4] != '-' || !num(5, 2, &mo) || s[7] != '-' || !num(8, 2, &d) ||
      (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !num(11, 2, &h) || s[13] != ':' || !num(14, 2, &mi) ||
      s[16] != ':' || !num(17, 2, &se))
    return false;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) return false;
  size_t i = 19;
  if (i < s.size() && s[i] == '.') {
    ++i;
    size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    if (i == start) return false;
  }
  int64_t offset = 0;
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    ++i;
  } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    int oh, om;
    if (!num(i + 1, 2, &oh) || i + 3 >= s.size() || s[i + 3] != ':' || !num(i + 4, 2, &om) || oh > 23 || om > 59)
      return false;
    offset = (oh * 3600 + om * 60) * (s[i] == '+' ? 1 : -1);
    i += 6;
  } else {
    return false;
  }
  if (i != s.size()) return false;
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (d > kDays[mo - 1] + (mo == 2 && leap ? 1 : 0)) return false;
  // Days from civil (Howard Hinnant's algorithm).
  const int yy = y - (mo <= 2);
  const int era = (yy >= 0 ? yy : yy - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(yy - era * 400);
  const unsigned doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  const int64_t days = int64_t(era) * 146097 + int64_t(doe) - 719468;
  *out = days * 86400 + h * 3600 + mi * 60 + se - offset;
  return true;
}

bool DecodeAll(const Program& p, const DecodeInput& in, const DecodeLimits& limits, DecodeScratch* scratch,
               Arena* arena, Value* slots, DecodeError* err) {
  scratch->leaves.clear();
  Ctx c{limits, arena, err, &scratch->leaves};
  for (size_t i = 0; i < p.slots.size(); ++i) slots[i] = Value();
  if (!in.request.empty()) {
    if (!Parse(c, &scratch->request, in.request, "request", &scratch->keys)) return false;
    if (!DecodeRequest(c, scratch->request, in.endpoint, in.input_tokens, slots)) return false;
  }
  if (!in.response.empty()) {
    c.root = Root::kResponse;
    if (!Parse(c, &scratch->response, in.response, "response", &scratch->keys)) return false;
    if (!DecodeResponse(c, scratch->response, slots)) return false;
  }
  const Document* pd = nullptr;
  if (!in.principal.empty()) {
    if (!Parse(c, &scratch->principal, in.principal, "principal", &scratch->keys)) return false;
    pd = &scratch->principal;
  }
  if (!DecodeAttributes(c, p, Root::kPrincipal, pd, slots)) return false;
  const Document* cd = nullptr;
  if (!in.context.empty()) {
    if (!Parse(c, &scratch->context, in.context, "context", &scratch->keys)) return false;
    cd = &scratch->context;
  }
  if (!DecodeAttributes(c, p, Root::kContext, cd, slots)) return false;
  if (!in.env.empty()) {
    if (!Parse(c, &scratch->env, in.env, "env", &scratch->keys)) return false;
    const Document& d = scratch->env;
    uint32_t t = d.find(0, "time");
    if (t != kNone && d[t].type != Type::Null) {
      int64_t secs;
      if (d[t].type == Type::Number && d[t].integral) {
        slots[kSlotEnvTime] = Value::Int(d[t].i);
      } else if (d[t].type == Type::String && ParseRfc3339(std::string_view(d[t].str, d[t].len), &secs)) {
        slots[kSlotEnvTime] = Value::Int(secs);
      } else {
        return Fail(c, "env.time", "expected Unix seconds or an RFC 3339 time such as \"2026-11-22T10:00:00Z\"");
      }
    }
  }
  for (size_t i = 0; i < in.attribute_count; ++i) {
    const AttributeValue& a = in.attributes[i];
    if (a.slot >= p.slots.size()) return Fail(c, "attribute", "slot out of range");
    slots[a.slot] = a.value;
  }
  return true;
}

}  // namespace gavel
