// A 64-byte aligned float buffer that only grows (a cache line; an AVX-512 vector), for the
// per-thread scratch the kernels reuse across calls: sgemm's packed panels, the convolutions'
// image copies and columns. C++17's aligned new is the portable way to get the alignment:
// std::aligned_alloc is missing from MSVC's library.
#pragma once

#include <cstddef>
#include <memory>
#include <new>

namespace digitnet {

class AlignedBuffer {
 public:
  // Room for `count` floats, or nullptr when the allocation fails.
  float* reserve(std::size_t count) {
    if (count <= capacity_) return data_.get();
    data_.reset();  // free the old buffer first: the peak is one buffer, not two
    data_.reset(static_cast<float*>(::operator new(count * sizeof(float), kAlign, std::nothrow)));
    capacity_ = data_ ? count : 0;
    return data_.get();
  }

 private:
  static constexpr std::align_val_t kAlign{64};
  struct Deleter {
    void operator()(float* p) const { ::operator delete(p, kAlign); }
  };
  std::unique_ptr<float, Deleter> data_;
  std::size_t capacity_ = 0;
};

}  // namespace digitnet
