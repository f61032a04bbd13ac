// Sums of float terms in double, fast and in a fixed order: eight running sums, term i going to
// sum i % 8 of its run, added together at the end. One double sum is a chain of dependent adds
// (4 cycles each); eight are independent, and the compiler vectorizes them. The order depends on
// the runs alone, never on the thread count.
#pragma once

#include <cstddef>

namespace digitnet {

class DoubleSum {
 public:
  // Adds term(0) .. term(count - 1).
  template <typename Term>
  void add(std::size_t count, Term term) {
    const std::size_t whole = count - count % kLanes;
    for (std::size_t i = 0; i < whole; i += kLanes) {
      for (std::size_t l = 0; l < kLanes; ++l) lanes_[l] += term(i + l);
    }
    for (std::size_t l = 0; l < count % kLanes; ++l) lanes_[l] += term(whole + l);
  }

  double total() const {
    double sum = 0.0;
    for (const double lane : lanes_) sum += lane;
    return sum;
  }

 private:
  static constexpr std::size_t kLanes = 8;
  double lanes_[kLanes] = {};
};

}  // namespace digitnet
