// Max pooling (PyTorch's nn.MaxPool2d without padding) and its backward, as plain functions over
// pointers and sizes. Row-major: x and dx (n,c,h,w), y, dy and argmax (n,c,oh,ow):
//   y[i,j,oy,ox] = max of x[i,j,oy*stride + a, ox*stride + b] over a, b < size, the window cut at
//   the input's edge; argmax[i,j,oy,ox] = the winner's position in its plane, row*w + col.
// NaN wins (the first NaN of the window, in row-major order); on ties the first maximum wins.
//
// The caller (addon.cc) has checked every buffer's length and oh <= floor((h-1)/stride) + 1,
// ow <= floor((w-1)/stride) + 1 (so that no window is empty). A size may be huge where a partner
// size is 0: the kernels look at the factors and do nothing for an empty output.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels.h"

namespace digitnet {

struct PoolGeometry {
  std::size_t n, c, h, w;  // input: images, channels, rows, columns
  std::size_t size, stride;
  std::size_t oh, ow;  // output rows, columns
};

// y and argmax (n,c,oh,ow) from x (n,c,h,w); both overwritten.
void maxPool2d(const PoolGeometry& g, const float* x, float* y, std::uint32_t* argmax);

// dx (n,c,h,w) = 0, then dx[i,j,argmax[i,j,q]] += dy[i,j,q] (g.size and g.stride are not used).
// argmax may be memory other threads write: each value is read once, checked against h*w and
// only that value used. A value >= h*w stops the plane it is in (IndexStatus: its position in
// argmax, and the value); the lowest such position any thread met is reported, dx left partly
// written.
IndexStatus maxPool2dBackward(const PoolGeometry& g, const float* dy, const std::uint32_t* argmax,
                              float* dx);

}  // namespace digitnet
