// Elementwise and row-wise kernels around gemm, as plain functions over pointers and sizes.
// Matrices are row-major, one row per sample. The caller (addon.cc) has validated every size
// and buffer length; these functions only compute. Outputs may alias inputs only where noted.
//
// Labels and row indices are the exception: they are data, read from buffers that another thread
// may write while a kernel runs (a SharedArrayBuffer), so a check made before the call proves
// nothing about the value the kernel reads. The kernels that take them read each one exactly
// once, check that value, use only it, and stop at the first one out of range with an
// IndexStatus saying where it was and what was read.
#pragma once

#include <cstddef>
#include <cstdint>

namespace digitnet {

// What a kernel that reads labels or indices reports: ok, or the first one it read out of range
// (its position in the buffer passed in, and the value read there). Output rows before that
// position have been written.
struct IndexStatus {
  bool ok = true;
  std::size_t position = 0;
  std::uint32_t value = 0;
};

// ---- bias --------------------------------------------------------------------------------
// x is (rows,cols), bias is (cols): x[r,c] += bias[c]
void addBias(std::size_t rows, std::size_t cols, float* x, const float* bias);
// dy is (rows,cols), db is (cols): db[c] = beta*db[c] + sum_r dy[r,c]; beta == 0 overwrites db
void biasGrad(std::size_t rows, std::size_t cols, const float* dy, float* db, float beta);

// ---- activations -------------------------------------------------------------------------
enum class Activation { Identity, Relu, LeakyRelu, Sigmoid, Tanh };

// Parses a name of lib/backend/contract.ts ACTIVATIONS ("identity", "relu", "leaky-relu", "sigmoid",
// "tanh"); false for anything else.
bool parseActivation(const char* name, std::size_t length, Activation* kind);

// x, y are (n): y = h(factor*x), leaky-relu h(z) = z >= 0 ? z : slope*z. y may be x.
void activationForward(Activation kind, std::size_t n, const float* x, float* y, float slope,
                       float factor);
// y, dy, dx are (n): dx = factor * h'(.) * dy with h' from the output y (relu, leaky-relu:
// y > 0; sigmoid: y(1-y); tanh: 1-y^2; identity: 1). dx may be dy.
void activationBackward(Activation kind, std::size_t n, const float* y, const float* dy, float* dx,
                        float slope, float factor);

// ---- softmax and cross-entropy -----------------------------------------------------------
// logits, probs are (rows,cols): probs[r,:] = softmax(logits[r,:]), max subtracted. probs may be logits.
void softmax(std::size_t rows, std::size_t cols, const float* logits, float* probs);
// logits, probs, dlogits are (rows,cols), labels is (rows): writes probs and
// dlogits = scale*(probs - onehot(labels)); *loss = -sum_r log probs[r,labels[r]] as a
// log-sum-exp, accumulated in double. probs may be logits; dlogits may be probs or logits.
// A label >= cols stops it (IndexStatus), with *loss unset. Labels are bytes, or 16-bit for
// more than 256 classes; the two overloads compute the same thing.
IndexStatus softmaxCrossEntropy(std::size_t rows, std::size_t cols, const float* logits,
                                const std::uint8_t* labels, float* probs, float* dlogits,
                                float scale, double* loss);
IndexStatus softmaxCrossEntropy(std::size_t rows, std::size_t cols, const float* logits,
                                const std::uint16_t* labels, float* probs, float* dlogits,
                                float scale, double* loss);

// ---- dropout and elementwise product -----------------------------------------------------
// x, y, mask are (n), 0 <= rate < 1: inverted dropout with the mask of lib/core/random.ts's
// counter-based hash (native/dropout.h): value i is kept when hashAt(streamSalt(key), i) <
// (1 - rate) * 2^32; mask[i] = kept ? float(1 / (1 - rate)) : 0; y[i] = x[i] * mask[i] (the
// float product). y may be x; mask overlaps neither. Vectorised (dropout.h) and split over the
// pool; each value depends on its index alone, so neither changes a bit of the result.
void dropout(std::size_t n, std::uint32_t key, double rate, const float* x, float* y, float* mask);
// a, b, out are (n): out[i] = a[i] * b[i]. out may be a or b.
void multiply(std::size_t n, const float* a, const float* b, float* out);

// ---- data --------------------------------------------------------------------------------
// src is (srcRows,rowLen) u8, indices is (count), dst is (count,rowLen):
// dst[r,j] = scale * src[indices[r],j], rounded to float. An index >= srcRows stops it
// (IndexStatus); with threads, the lowest such position any of them met is reported.
IndexStatus gatherRows(const std::uint8_t* src, std::size_t srcRows, std::size_t rowLen,
                       const std::uint32_t* indices, std::size_t count, double scale, float* dst);

// ---- optimizer steps ---------------------------------------------------------------------
// w, g are (n): w -= lr*g
void sgdStep(std::size_t n, float lr, float* w, const float* g);
// w, g, v are (n): v = mu*v + g; w -= lr*v
void momentumStep(std::size_t n, float lr, float mu, float* w, const float* g, float* v);
// w, g, m, v are (n), t >= 1: m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
// w -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)
void adamStep(std::size_t n, float lr, float beta1, float beta2, float eps, double t, float* w,
              const float* g, float* m, float* v);

}  // namespace digitnet
