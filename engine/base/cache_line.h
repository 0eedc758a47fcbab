// Cache-line isolation for per-thread memory. Two workers deciding on two
// threads must not write to the same cache line: a worker's small buffers
// (bitsets, outcomes, registers) come from this allocator, which aligns and
// pads every buffer to whole cache lines, and worker objects are aligned.
#pragma once

#include <cstddef>
#include <new>
#include <vector>

namespace gavel {

constexpr size_t kCacheLine = 64;

template <typename T>
struct CacheLineAllocator {
  using value_type = T;
  CacheLineAllocator() = default;
  template <typename U>
  CacheLineAllocator(const CacheLineAllocator<U>&) {}  // NOLINT: rebinding is implicit by design
  T* allocate(size_t n) {
    const size_t bytes = (n * sizeof(T) + kCacheLine - 1) / kCacheLine * kCacheLine;
    return static_cast<T*>(::operator new(bytes, std::align_val_t(kCacheLine)));
  }
  void deallocate(T* p, size_t) { ::operator delete(p, std::align_val_t(kCacheLine)); }
  template <typename U>
  bool operator==(const CacheLineAllocator<U>&) const {
    return true;
  }
  template <typename U>
  bool operator!=(const CacheLineAllocator<U>&) const {
    return false;
  }
};

template <typename T>
using LocalVector = std::vector<T, CacheLineAllocator<T>>;

}  // namespace gavel
