// Per-worker bump allocators for one decision's decoded values and strings.
// Blocks are kept across decisions, so a worker that has seen a request of a
// given size decides the next one of that size without touching the heap.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "engine/base/cache_line.h"
#include "engine/runtime/value.h"

namespace gavel {

template <typename T>
class BlockArena {
 public:
  explicit BlockArena(size_t block_items = 4096) : block_items_(block_items) {}

  // Returns room for n items that stays valid until Reset().
  T* Alloc(size_t n) {
    while (current_ < blocks_.size()) {
      Block& b = blocks_[current_];
      if (b.cap - b.used >= n) {
        T* p = b.data.data() + b.used;
        b.used += n;
        return p;
      }
      ++current_;
    }
    const size_t cap = n > block_items_ ? n : block_items_;
    blocks_.push_back(Block{LocalVector<T>(cap), cap, n});
    current_ = blocks_.size() - 1;
    return blocks_.back().data.data();
  }

  void Reset() {
    for (Block& b : blocks_) b.used = 0;
    current_ = 0;
  }

  size_t capacity() const {
    size_t c = 0;
    for (const Block& b : blocks_) c += b.cap;
    return c;
  }

 private:
  struct Block {
    LocalVector<T> data;
    size_t cap;
    size_t used;
  };
  size_t block_items_;
  LocalVector<Block> blocks_;  // written on every allocation
  size_t current_ = 0;
};

// Strings the VM builds (lower, upper, concatenation) are memoized for the
// decision, so a loop-invariant `lower(request.text)` inside a quantifier is
// computed once, and their total size is capped per decision.
struct StringMemo {
  static constexpr int kEntries = 8;
  struct Entry {
    uint8_t op = 0;
    const char* a = nullptr;
    uint32_t alen = 0;
    const char* b = nullptr;
    uint32_t blen = 0;
    Value result;
  };
  Entry entries[kEntries];
  int next = 0;
  void Reset() {
    for (Entry& e : entries) e = Entry();
    next = 0;
  }
};

class ScanState;  // engine/screen/screen.h

struct Arena {
  static constexpr size_t kMaxVmStringBytes = 64u << 20;  // per decision
  // Backward jumps (loop iterations) per decision, over all chunks: the CPU a
  // single request can cost is bounded, however many predicates loop.
  static constexpr uint32_t kStepBudget = 1u << 22;
  uint32_t steps_left = kStepBudget;
  BlockArena<Value> values{1024};
  BlockArena<char> bytes{16384};
  StringMemo memo;
  ScanState* scan = nullptr;  // the worker's screening state; null: screening is a rule error
  size_t vm_string_bytes = 0;
  void Reset() {
    values.Reset();
    bytes.Reset();
    memo.Reset();
    vm_string_bytes = 0;
    steps_left = kStepBudget;
  }
};

}  // namespace gavel
