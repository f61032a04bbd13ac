// Batch normalization (PyTorch's nn.BatchNorm1d / 2d) in training and inference, and its
// backward, as plain functions over pointers and sizes. x, y, dy, dx are (n,c,s): channel j's
// values are x[i,j,k] for i < n, k < s (s = h*w after a convolution, 1 after a dense layer);
// weight, bias, runningMean, runningVar, dWeight, dBias are (c); saved is (2c): the batch's mean
// (saved[j]) and 1/sqrt(var + eps) (saved[c + j]). Sums add each image's row in float lanes and
// the rows in double, per channel in one order, so the thread count never changes a result;
// outputs are computed in float, as PyTorch's are.
//
// The caller (addon.cc) has checked every buffer's length. A size may be huge where a partner
// size is 0: the kernels look at the factors and do nothing for an empty output.
#pragma once

#include <cstddef>

namespace digitnet {

// Per channel, over its m = n*s values: mean and biased variance; y = (x - mean) * invstd *
// weight + bias; saved = mean, invstd; running = (1 - momentum) running + momentum batch, with the
// unbiased variance var*m/(m-1) (the biased one when m is 1). m = 0 changes nothing. y overlaps
// neither x nor saved.
void batchNormTrain(std::size_t n, std::size_t c, std::size_t s, float momentum, float eps,
                    const float* x, const float* weight, const float* bias, float* runningMean,
                    float* runningVar, float* y, float* saved);

// y = (x - runningMean) / sqrt(runningVar + eps) * weight + bias. y may be x.
void batchNormInfer(std::size_t n, std::size_t c, std::size_t s, float eps, const float* x,
                    const float* weight, const float* bias, const float* runningMean,
                    const float* runningVar, float* y);

// With xhat = (x - mean) * invstd from saved: dWeight = beta*dWeight + sum dy*xhat,
// dBias = beta*dBias + sum dy (beta == 0 overwrites), dx = weight * invstd * (dy - mean(dy) -
// xhat * mean(dy*xhat)), means over the channel's m values. dx may be dy.
void batchNormBackward(std::size_t n, std::size_t c, std::size_t s, const float* x, const float* dy,
                       const float* weight, const float* saved, float* dx, float* dWeight,
                       float* dBias, float beta);

}  // namespace digitnet
