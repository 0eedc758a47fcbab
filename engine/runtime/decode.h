// Request decoding: turns the JSON bodies a gateway sees (OpenAI chat,
// completions, responses, embeddings; the model's response; principal, context
// and env) into the program's slot array, once per decision. Bad input becomes
// a DecodeError naming the field; nothing here throws or recurses on input.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/runtime/arena.h"
#include "engine/runtime/json.h"
#include "engine/runtime/program.h"

namespace gavel {

struct DecodeLimits {
  json::Limits json;
  uint32_t max_messages = 4096;
  uint32_t max_parts = 256;  // content parts per message
  uint32_t max_tools = 512;
  uint32_t max_list = 4096;  // principal/context lists and maps
};

// An attribute the host sets directly, without JSON; it overrides what the
// JSON bodies give. The value's storage must outlive the decision.
struct AttributeValue {
  uint32_t slot = 0;
  Value value;
};

struct DecodeInput {
  std::string_view request;    // request body; empty = no request
  std::string_view response;   // response body, for `on response` rules
  std::string_view principal;  // JSON object; empty = {}
  std::string_view context;
  std::string_view env;
  std::string_view endpoint;                   // "chat", "completions", "responses", "embeddings"; empty = infer
  int64_t input_tokens = -1;                   // exact count from the host; -1 = estimate
  const AttributeValue* attributes = nullptr;  // slots already checked by the caller
  size_t attribute_count = 0;
};

struct DecodeError {
  std::string field;    // "request.messages[2].content"
  std::string message;  // "expected a string or an array of parts, got number"
  std::string ToString() const { return field.empty() ? message : field + ": " + message; }
};

// The role a text belongs to, as request.user_text/system_text/tool_text group them.
enum LeafRole : uint8_t { kLeafOther, kLeafUser, kLeafSystem, kLeafTool };

// One JSON string of a body that the text attributes are made of: a message's
// content (or one text part of it), a prompt, a response choice's content.
// Redaction reports spans per leaf, by its path in the body, so a gateway can
// rewrite exactly that string.
struct TextLeaf {
  Value text;
  Root root = Root::kRequest;
  uint8_t role = kLeafOther;
  std::string_view base;   // "request.messages" (static text)
  int32_t index = -1;      // element of base, -1: base itself
  std::string_view tail;   // ".content"
  int32_t part = -1;       // content part, -1: none
  bool part_text = false;  // the part is an object whose "text" holds the string
  // "request.messages[1].content[0].text"
  void AppendPath(std::string* out) const;
};

// Per-worker decoding state, reused across decisions.
struct DecodeScratch {
  json::Document request, response, principal, context, env;
  std::vector<std::string_view> keys;  // duplicate-key check
  std::vector<TextLeaf> leaves;        // in body order: request leaves, then response leaves
};

// Fills slots[0..p.slots.size()) from input. Returns false and *err on bad input.
bool DecodeAll(const Program& p, const DecodeInput& input, const DecodeLimits& limits, DecodeScratch* scratch,
               Arena* arena, Value* slots, DecodeError* err);

// Parses an RFC 3339 UTC time ("2026-11-22T10:00:00Z", offsets allowed) into
// Unix seconds. Returns false if it is not one.
bool ParseRfc3339(std::string_view s, int64_t* unix_seconds);

// The endpoint a body is for, when the host does not say: `messages` means chat,
// `prompt` completions, `input` embeddings if the model name contains "embedding"
// or the body has `encoding_format`/`dimensions`, else responses.
std::string_view InferEndpoint(const json::Document& doc);

}  // namespace gavel
