// One read of a value another thread may write (a SharedArrayBuffer): labels, row indices, argmax.
#pragma once

namespace digitnet {

// Reads *p exactly once. A plain load lets the compiler read shared memory again (it may assume
// no other thread writes it), and then the value checked and the value used could differ.
template <typename T>
T readOnce(const T* p) {
#if defined(__GNUC__) || defined(__clang__)
  return __atomic_load_n(p, __ATOMIC_RELAXED);
#else
  return *static_cast<const volatile T*>(p);
#endif
}

}  // namespace digitnet
