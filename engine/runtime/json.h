// Strict RFC 8259 JSON parser: request body -> flat tape of nodes, with buffers
// reused so steady-state parses allocate nothing. It must never recurse, crash
// or hang on hostile input, nor echo input bytes in errors (secrets).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/base/cache_line.h"

namespace gavel::json {

enum class Type : uint8_t { Null, False, True, Number, String, Array, Object };

// "null", "boolean" (for False and True), "number", "string", "array",
// "object".
const char* type_name(Type t);

struct Node {
  Type type;
  bool is_int;  // Number only: no fraction/exponent and fits int64.
  // Number only: the exact value is a whole number that fits int64, however
  // it is written: 300, 300.0, 3e2, 3.00E+2 and 30000e-2 are all 300 (-0.0
  // is 0); 300.5, 3.001e2 and 1e19 are not. Where an integer is expected,
  // this is what counts (is_int implies it).
  bool integral;
  uint32_t next;    // Index one past this node's whole subtree (next sibling).
  uint32_t count;   // Array: element count; Object: member count; else 0.
  uint32_t offset;  // Byte offset of the value's first character in the input.
  uint32_t len;     // String: byte length of the (unescaped) string.
  const char* str;  // String: unescaped UTF-8 bytes (into the input when the
                    // literal has no escapes, else into the document's
                    // buffer).
  int64_t i;        // Number with integral (or is_int).
  double num;       // Number: value as double (always set).
};
// Layout: node 0 is the root. An Array's elements follow it in order, each a
// subtree. An Object's members follow it as (key String node, value subtree)
// pairs.

struct Limits {
  size_t max_bytes = 8u << 20;  // Larger input -> error.
  uint32_t max_depth = 64;      // Nesting of arrays/objects.
  uint32_t max_nodes = 1u << 20;
};

struct Error {
  size_t offset = 0;    // Byte offset in the input.
  std::string message;  // Plain words; never contains input bytes.
  // The input is over Limits::max_bytes (or 4 GiB) and was not read at all:
  // it is not invalid JSON, and offset means nothing. The message gives both
  // sizes ("input is 9000000 bytes, over the limit of 8388608 bytes").
  bool too_large = false;
};

namespace internal {
class Parser;
}  // namespace internal

class Document {
 public:
  // Parses input. Returns true on success. On failure returns false, leaves
  // the document empty (size() == 0) and fills *err (err may be nullptr).
  // The document stays valid until the next parse() or destruction; strings
  // may point into `input`, so input must outlive use.
  bool parse(std::string_view input, const Limits& limits, Error* err);

  const Node& operator[](uint32_t i) const { return nodes_[i]; }
  uint32_t size() const { return static_cast<uint32_t>(nodes_.size()); }

  // Object member lookup: index of the value node of the first member named
  // key, or npos (also when object_index is not an Object).
  uint32_t find(uint32_t object_index, std::string_view key) const;

  static constexpr uint32_t npos = 0xffffffffu;

 private:
  friend class internal::Parser;

  // All buffers are cleared, never freed, between parses so that parsing
  // same-sized inputs reaches a steady state with no heap allocation.
  // Cache-line padded: documents of workers on other threads never share a line.
  LocalVector<Node> nodes_;
  LocalVector<uint32_t> stack_;  // Indices of the open arrays/objects.
  // Unescaped strings. Sized to at least the input length before parsing
  // (unescaping never grows text), so it never reallocates mid-parse and
  // Node::str pointers into it stay stable.
  LocalVector<char> buf_;
  std::string num_scratch_;  // Only for the strtod fallback (see json.cc).
};

}  // namespace gavel::json
