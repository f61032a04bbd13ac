// 2-D convolution (cross-correlation, as PyTorch's nn.Conv2d) and its two gradients, as plain
// functions over pointers and sizes. All tensors are row-major:
//   x (n,c,h,w), weight (f,c,kh,kw), bias (f), y (n,f,oh,ow)
//   y[i,o,oy,ox] = bias[o] + sum_{j,ky,kx} weight[o,j,ky,kx] * x[i, j, oy*stride - padTop + ky, ox*stride - padLeft + kx]
// where a position outside x reads 0 (zero padding; below and right, whatever oh and ow imply).
//
// The caller (addon.cc) has checked that every buffer holds the elements its shape needs and that
// outputs overlap no input. A size may then still be huge where a partner size is 0 (c = 2^50
// with n = 0: x is empty): the kernels look at the factors, never at such a product, and do
// nothing for an empty output. stride >= 1; stride and the paddings may be up to 2^53.
//
// The fast paths are GEMMs on the sgemm micro-kernel (native/gemm_kernels.h) over columns built
// per chunk of output pixels (im2col), and inner products for the filter gradient
// (native/inner_products.h), split over the thread pool. Each also has a naive reference below,
// which is the fallback when a scratch buffer cannot be allocated.
#pragma once

#include <cstddef>

namespace digitnet {

struct ConvGeometry {
  std::size_t n, c, h, w;  // input: images, channels, rows, columns
  std::size_t f, kh, kw;   // filters and their rows, columns
  std::size_t stride, padTop, padLeft;
  std::size_t oh, ow;  // output rows, columns
};

// y (n,f,oh,ow) = conv(x, weight) + bias. y is overwritten.
void conv2d(const ConvGeometry& g, const float* x, const float* weight, const float* bias, float* y);

// dx (n,c,h,w) = dE/dx from dy = dE/dy (n,f,oh,ow). dx is overwritten.
void conv2dBackwardData(const ConvGeometry& g, const float* dy, const float* weight, float* dx);

// dWeight (f,c,kh,kw) = beta*dWeight + dE/dweight, dBias (f) = beta*dBias + dE/dbias, from x and
// dy. beta == 0 overwrites (NaN in the old values does not propagate). With several threads the
// images are summed in groups, one per thread, so the rounding depends on the thread count.
void conv2dBackwardFilter(const ConvGeometry& g, const float* x, const float* dy, float* dWeight,
                          float* dBias, float beta);

// The naive references: the definitions as loops, sums in double, single thread. Same contracts.
void conv2dReference(const ConvGeometry& g, const float* x, const float* weight, const float* bias,
                     float* y);
void conv2dBackwardDataReference(const ConvGeometry& g, const float* dy, const float* weight,
                                 float* dx);
void conv2dBackwardFilterReference(const ConvGeometry& g, const float* x, const float* dy,
                                   float* dWeight, float* dBias, float beta);

}  // namespace digitnet
