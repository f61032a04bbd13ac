// The N-API surface: the only file that sees JS values. One function per Backend method of
// lib/backend/contract.ts, same positional arguments. Each validates every argument, in argument order,
// before any kernel runs (a buffer's length right after the last size it depends on), with the
// exact messages of lib/backend/check.ts, takes TypedArray views without copying (the data
// pointer N-API returns already includes the view's byteOffset), then calls the kernel. Labels, row
// indices and argmax values are data in memory other threads may write: the kernels check them
// again as they read them (native/kernels.h, native/pool.h), and report a bad one here.
#include <napi.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <variant>

#include "augment.h"
#include "batchnorm.h"
#include "conv.h"
#include "fma_peak.h"
#include "gemm.h"
#include "kernels.h"
#include "parallel.h"
#include "pool.h"

namespace {

using digitnet::Activation;
using std::size_t;

// A validated typed-array view.
template <typename T>
struct View {
  T* data = nullptr;
  size_t length = 0;
};

// A validated labels argument: a Uint8Array, or a Uint16Array for more than 256 classes.
using Labels = std::variant<View<std::uint8_t>, View<std::uint16_t>>;

// JS's own text for a number (as in a template literal), for messages that quote one.
std::string jsNumber(Napi::Env env, double value) {
  return Napi::Number::New(env, value).ToString().Utf8Value();
}

// Elements from the first to the last of a stored rows x cols matrix with leading dimension ld.
double matrixSpan(double rows, double cols, double ld) {
  return rows == 0 || cols == 0 ? 0.0 : (rows - 1) * ld + cols;
}

// A validated size as an index type. Sizes are integers >= 0 that JS holds exactly (< 2^53 in
// every case that reaches a loop: a size that large only passes when a partner size is 0).
size_t toSize(double value) {
  constexpr double kMax = 9007199254740992.0;  // 2^53
  return static_cast<size_t>(std::min(value, kMax));
}

// Reads and validates the arguments of one call. After the first failure it has thrown a JS
// exception and every later read is a no-op returning a default, so a binding reads all its
// arguments in order and checks ok() once before running the kernel.
class Args {
 public:
  Args(const Napi::CallbackInfo& info, const char* kernel)
      : info_(info), env_(info.Env()), kernel_(kernel) {}

  bool ok() const { return ok_; }
  Napi::Env env() const { return env_; }

  bool boolean(size_t i, const char* arg) {
    if (!ok_) return false;
    bool value = false;
    if (napi_get_value_bool(env_, info_[i], &value) != napi_ok) {
      return typeError(arg, "must be a boolean"), false;
    }
    return value;
  }

  // A scalar the kernel uses in double (gatherRows' scale): any number, NaN included.
  double number(size_t i, const char* arg) {
    if (!ok_) return 0.0;
    double value = 0.0;
    if (napi_get_value_double(env_, info_[i], &value) != napi_ok) {
      return typeError(arg, "must be a number"), 0.0;
    }
    return value;
  }

  // A scalar the kernel uses as a float (alpha, beta, lr, slope, ...): any number float holds,
  // NaN and the infinities included. A finite value beyond float's range has no float to become
  // (converting it is undefined behaviour in C++), so it is refused.
  float floatNumber(size_t i, const char* arg) {
    const double value = number(i, arg);
    if (!ok_) return 0.0f;
    if (std::isfinite(value) && std::fabs(value) > FLT_MAX) {
      return rangeError(std::string(arg) + " must be within float32 range (magnitude <= " +
                        jsNumber(env_, FLT_MAX) + "), got " + jsNumber(env_, value)),
             0.0f;
    }
    return static_cast<float>(value);
  }

  // A size, leading dimension, offset, count, step, thread count or key: a finite integer in
  // [min, max].
  double integer(size_t i, const char* arg, double min, double max = INFINITY) {
    if (!ok_) return 0.0;
    double value = 0.0;
    if (napi_get_value_double(env_, info_[i], &value) != napi_ok || !std::isfinite(value) ||
        std::trunc(value) != value) {
      return typeError(arg, "must be an integer"), 0.0;
    }
    if (value < min) {
      return rangeError(std::string(arg) + " must be >= " + jsNumber(env_, min) + ", got " +
                        jsNumber(env_, value)),
             0.0;
    }
    if (value > max) {
      return rangeError(std::string(arg) + " must be <= " + jsNumber(env_, max) + ", got " +
                        jsNumber(env_, value)),
             0.0;
    }
    return value;
  }

  // A fraction in [0, 1) (dropout's rate); NaN is refused.
  double fraction(size_t i, const char* arg) {
    const double value = number(i, arg);
    if (!ok_) return 0.0;
    if (!(value >= 0.0 && value < 1.0)) {
      return rangeError(std::string(arg) + " must be in [0, 1), got " + jsNumber(env_, value)), 0.0;
    }
    return value;
  }

  View<float> f32(size_t i, const char* arg) {
    return typedArray<float>(i, arg, napi_float32_array, "must be a Float32Array");
  }
  View<std::uint8_t> u8(size_t i, const char* arg) {
    return typedArray<std::uint8_t>(i, arg, napi_uint8_array, "must be a Uint8Array");
  }
  View<std::uint32_t> u32(size_t i, const char* arg) {
    return typedArray<std::uint32_t>(i, arg, napi_uint32_array, "must be a Uint32Array");
  }
  // Labels are bytes, or 16-bit when there are more than 256 classes.
  Labels labels(size_t i, const char* arg) {
    constexpr const char* kProblem = "must be a Uint8Array or Uint16Array";
    if (isTypedArrayOf(i, napi_uint16_array)) {
      return typedArray<std::uint16_t>(i, arg, napi_uint16_array, kProblem);
    }
    return typedArray<std::uint8_t>(i, arg, napi_uint8_array, kProblem);
  }

  // The buffer holds at least `needed` elements (needed computed in double, as JS does).
  template <typename T>
  void length(const char* arg, const View<T>& view, double needed) {
    if (!ok_ || static_cast<double>(view.length) >= needed) return;
    rangeError(std::string(arg) + " has " + jsNumber(env_, static_cast<double>(view.length)) +
               " elements, needs at least " + jsNumber(env_, needed));
  }
  // The same for labels of either width.
  void length(const char* arg, const Labels& labels, double needed) {
    std::visit([&](const auto& view) { length(arg, view, needed); }, labels);
  }

  // A stored rows x cols matrix with leading dimension ld: the last row ends at (rows-1)*ld + cols.
  template <typename T>
  void matrix(const char* arg, const View<T>& view, double rows, double cols, double ld) {
    length(arg, view, matrixSpan(rows, cols, ld));
  }

  // `out` (written) shares memory with `in` (read, or also written): refused with `why`, since
  // the kernel would read or keep what it has already overwritten. Spans are
  // [data, data + elements); empty ones overlap nothing.
  void disjoint(const char* out, const View<float>& outView, double outElements, const char* in,
                const View<float>& inView, double inElements, const char* why) {
    if (!ok_ || outElements == 0 || inElements == 0) return;
    const auto begin = [](const View<float>& v) { return reinterpret_cast<std::uintptr_t>(v.data); };
    const std::uintptr_t outEnd = begin(outView) + toSize(outElements) * sizeof(float);
    const std::uintptr_t inEnd = begin(inView) + toSize(inElements) * sizeof(float);
    if (begin(outView) < inEnd && begin(inView) < outEnd) {
      rangeError(std::string(out) + " overlaps " + in + " (" + why + ")");
    }
  }

  Activation activation(size_t i, const char* arg) {
    if (!ok_) return Activation::Identity;
    const Napi::Value value = info_[i];
    if (!value.IsString()) return typeError(arg, "must be a string"), Activation::Identity;
    const std::string name = value.As<Napi::String>().Utf8Value();
    Activation kind = Activation::Identity;
    if (!digitnet::parseActivation(name.data(), name.size(), &kind)) {
      rangeError("unknown activation '" + name + "'");
    }
    return kind;
  }

  // Throws a RangeError whose message is `${kernel}: ${detail}`.
  void rangeError(const std::string& detail) {
    if (!ok_) return;
    ok_ = false;
    Napi::RangeError::New(env_, std::string(kernel_) + ": " + detail).ThrowAsJavaScriptException();
  }

 private:
  template <typename T>
  View<T> typedArray(size_t i, const char* arg, napi_typedarray_type want, const char* problem) {
    View<T> view;
    if (!ok_) return view;
    const napi_value value = info_[i];
    bool isTypedArray = false;
    napi_typedarray_type type = napi_int8_array;
    void* data = nullptr;
    if (napi_is_typedarray(env_, value, &isTypedArray) != napi_ok || !isTypedArray ||
        napi_get_typedarray_info(env_, value, &type, &view.length, &data, nullptr, nullptr) !=
            napi_ok ||
        type != want) {
      typeError(arg, problem);
      return View<T>{};
    }
    view.data = static_cast<T*>(data);
    return view;
  }

  // Whether argument i is a typed array of type `want` (throws nothing; false after a failure).
  bool isTypedArrayOf(size_t i, napi_typedarray_type want) {
    bool isTypedArray = false;
    napi_typedarray_type type = napi_int8_array;
    return ok_ && napi_is_typedarray(env_, info_[i], &isTypedArray) == napi_ok && isTypedArray &&
           napi_get_typedarray_info(env_, info_[i], &type, nullptr, nullptr, nullptr, nullptr) == napi_ok &&
           type == want;
  }

  void typeError(const char* arg, const char* problem) {
    if (!ok_) return;
    ok_ = false;
    Napi::TypeError::New(env_, std::string(kernel_) + ": " + arg + " " + problem)
        .ThrowAsJavaScriptException();
  }

  const Napi::CallbackInfo& info_;
  Napi::Env env_;
  const char* kernel_;
  bool ok_ = true;
};

// ---- gemm ----------------------------------------------------------------------------------

using GemmFn = void (*)(bool, bool, size_t, size_t, size_t, float, const float*, size_t,
                        const float*, size_t, float, float*, size_t);

// The leading dimension the kernel is given: a matrix of at most one stored row never steps to a
// second one, so any ld >= its width is valid there, up to 2^53; the kernel gets the width
// instead, and forms no pointer a huge ld away from the buffer.
size_t kernelLd(double rows, double cols, double ld) {
  return rows <= 1 ? toSize(std::max(1.0, cols)) : toSize(ld);
}

// gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
Napi::Value gemmWith(const Napi::CallbackInfo& info, const char* kernel, GemmFn run) {
  Args in(info, kernel);
  const bool transA = in.boolean(0, "transA");
  const bool transB = in.boolean(1, "transB");
  const double m = in.integer(2, "m", 0);
  const double n = in.integer(3, "n", 0);
  const double k = in.integer(4, "k", 0);
  const float alpha = in.floatNumber(5, "alpha");
  const View<float> a = in.f32(6, "a");
  const double aRows = transA ? k : m, aCols = transA ? m : k;
  const double lda = in.integer(7, "lda", std::max(1.0, aCols));
  in.matrix("a", a, aRows, aCols, lda);
  const View<float> b = in.f32(8, "b");
  const double bRows = transB ? n : k, bCols = transB ? k : n;
  const double ldb = in.integer(9, "ldb", std::max(1.0, bCols));
  in.matrix("b", b, bRows, bCols, ldb);
  const float beta = in.floatNumber(10, "beta");
  const View<float> c = in.f32(11, "c");
  const double ldc = in.integer(12, "ldc", std::max(1.0, n));
  in.matrix("c", c, m, n, ldc);
  const double cSpan = matrixSpan(m, n, ldc);
  constexpr const char* kWhy = "the product cannot be written over an operand";
  in.disjoint("c", c, cSpan, "a", a, matrixSpan(aRows, aCols, lda), kWhy);
  in.disjoint("c", c, cSpan, "b", b, matrixSpan(bRows, bCols, ldb), kWhy);
  if (!in.ok()) return Napi::Value();
  run(transA, transB, toSize(m), toSize(n), toSize(k), alpha, a.data, kernelLd(aRows, aCols, lda),
      b.data, kernelLd(bRows, bCols, ldb), beta, c.data, kernelLd(m, n, ldc));
  return Napi::Value();
}

Napi::Value Gemm(const Napi::CallbackInfo& info) { return gemmWith(info, "gemm", digitnet::sgemm); }

Napi::Value GemmReference(const Napi::CallbackInfo& info) {
  return gemmWith(info, "gemmReference", digitnet::sgemm_reference);
}

// ---- bias ----------------------------------------------------------------------------------

// addBias(rows, cols, x, bias)
Napi::Value AddBias(const Napi::CallbackInfo& info) {
  Args in(info, "addBias");
  const double rows = in.integer(0, "rows", 0);
  const double cols = in.integer(1, "cols", 0);
  const View<float> x = in.f32(2, "x");
  in.length("x", x, rows * cols);
  const View<float> bias = in.f32(3, "bias");
  in.length("bias", bias, cols);
  if (!in.ok()) return Napi::Value();
  if (rows * cols == 0) return Napi::Value();
  digitnet::addBias(toSize(rows), toSize(cols), x.data, bias.data);
  return Napi::Value();
}

// biasGrad(rows, cols, dy, db, beta)
Napi::Value BiasGrad(const Napi::CallbackInfo& info) {
  Args in(info, "biasGrad");
  const double rows = in.integer(0, "rows", 0);
  const double cols = in.integer(1, "cols", 0);
  const View<float> dy = in.f32(2, "dy");
  in.length("dy", dy, rows * cols);
  const View<float> db = in.f32(3, "db");
  in.length("db", db, cols);
  const float beta = in.floatNumber(4, "beta");
  if (!in.ok()) return Napi::Value();
  if (cols == 0) return Napi::Value();
  digitnet::biasGrad(toSize(rows), toSize(cols), dy.data, db.data, beta);
  return Napi::Value();
}

// ---- activations ---------------------------------------------------------------------------

// activation(kind, n, x, y, slope, factor)
Napi::Value ActivationForward(const Napi::CallbackInfo& info) {
  Args in(info, "activation");
  const Activation kind = in.activation(0, "kind");
  const double n = in.integer(1, "n", 0);
  const View<float> x = in.f32(2, "x");
  in.length("x", x, n);
  const View<float> y = in.f32(3, "y");
  in.length("y", y, n);
  const float slope = in.floatNumber(4, "slope");
  const float factor = in.floatNumber(5, "factor");
  if (!in.ok()) return Napi::Value();
  digitnet::activationForward(kind, toSize(n), x.data, y.data, slope, factor);
  return Napi::Value();
}

// activationGrad(kind, n, y, dy, dx, slope, factor)
Napi::Value ActivationBackward(const Napi::CallbackInfo& info) {
  Args in(info, "activationGrad");
  const Activation kind = in.activation(0, "kind");
  const double n = in.integer(1, "n", 0);
  const View<float> y = in.f32(2, "y");
  in.length("y", y, n);
  const View<float> dy = in.f32(3, "dy");
  in.length("dy", dy, n);
  const View<float> dx = in.f32(4, "dx");
  in.length("dx", dx, n);
  const float slope = in.floatNumber(5, "slope");
  const float factor = in.floatNumber(6, "factor");
  if (!in.ok()) return Napi::Value();
  digitnet::activationBackward(kind, toSize(n), y.data, dy.data, dx.data, slope, factor);
  return Napi::Value();
}

// ---- softmax and cross-entropy -------------------------------------------------------------

// softmax(rows, cols, logits, probs)
Napi::Value Softmax(const Napi::CallbackInfo& info) {
  Args in(info, "softmax");
  const double rows = in.integer(0, "rows", 0);
  const double cols = in.integer(1, "cols", 0);
  const View<float> logits = in.f32(2, "logits");
  in.length("logits", logits, rows * cols);
  const View<float> probs = in.f32(3, "probs");
  in.length("probs", probs, rows * cols);
  if (!in.ok()) return Napi::Value();
  if (rows * cols == 0) return Napi::Value();
  digitnet::softmax(toSize(rows), toSize(cols), logits.data, probs.data);
  return Napi::Value();
}

// "labels[r] is v, must be < cols (c)", the message of lib/backend/check.ts.
void labelError(Args& in, size_t position, unsigned value, double cols) {
  in.rangeError("labels[" + std::to_string(position) + "] is " + std::to_string(value) +
                ", must be < cols (" + jsNumber(in.env(), cols) + ")");
}

// The kernel on validated arguments, for labels of either width (Label: std::uint8_t or
// std::uint16_t); rows <= labels.length.
template <typename Label>
Napi::Value softmaxCrossEntropyOf(Args& in, size_t rows, double cols, const View<float>& logits,
                                  const View<Label>& labels, const View<float>& probs,
                                  const View<float>& dlogits, float scale) {
  // Every label is checked before anything is written, so a bad one leaves the outputs as they
  // were. The kernel checks each label again as it reads it: another thread may change one in
  // between, and then it stops at that label instead of reading or writing past a row.
  for (size_t r = 0; r < rows; ++r) {
    const Label label = labels.data[r];
    if (label >= cols) return labelError(in, r, label, cols), Napi::Value();
  }
  double loss = 0.0;
  const digitnet::IndexStatus status = digitnet::softmaxCrossEntropy(
      rows, toSize(cols), logits.data, labels.data, probs.data, dlogits.data, scale, &loss);
  if (!status.ok) return labelError(in, status.position, status.value, cols), Napi::Value();
  return Napi::Number::New(in.env(), loss);
}

// softmaxCrossEntropy(rows, cols, logits, labels, probs, dlogits, scale) -> summed loss
Napi::Value SoftmaxCrossEntropy(const Napi::CallbackInfo& info) {
  Args in(info, "softmaxCrossEntropy");
  const double rows = in.integer(0, "rows", 0);
  const double cols = in.integer(1, "cols", 0);
  const View<float> logits = in.f32(2, "logits");
  in.length("logits", logits, rows * cols);
  const Labels labels = in.labels(3, "labels");
  in.length("labels", labels, rows);
  const View<float> probs = in.f32(4, "probs");
  in.length("probs", probs, rows * cols);
  const View<float> dlogits = in.f32(5, "dlogits");
  in.length("dlogits", dlogits, rows * cols);
  const float scale = in.floatNumber(6, "scale");
  if (!in.ok()) return Napi::Value();
  return std::visit([&](const auto& view) {
    return softmaxCrossEntropyOf(in, toSize(rows), cols, logits, view, probs, dlogits, scale);
  }, labels);
}

// ---- dropout and elementwise product --------------------------------------------------------

// dropout(n, key, rate, x, y, mask)
Napi::Value Dropout(const Napi::CallbackInfo& info) {
  Args in(info, "dropout");
  const double n = in.integer(0, "n", 0);
  const double key = in.integer(1, "key", 0, 4294967295.0);
  const double rate = in.fraction(2, "rate");
  const View<float> x = in.f32(3, "x");
  in.length("x", x, n);
  const View<float> y = in.f32(4, "y");
  in.length("y", y, n);
  const View<float> mask = in.f32(5, "mask");
  in.length("mask", mask, n);
  constexpr const char* kWhy = "the mask needs memory of its own";
  in.disjoint("mask", mask, n, "x", x, n, kWhy);
  in.disjoint("mask", mask, n, "y", y, n, kWhy);
  if (!in.ok()) return Napi::Value();
  digitnet::dropout(toSize(n), static_cast<std::uint32_t>(key), rate, x.data, y.data, mask.data);
  return Napi::Value();
}

// multiply(n, a, b, out)
Napi::Value Multiply(const Napi::CallbackInfo& info) {
  Args in(info, "multiply");
  const double n = in.integer(0, "n", 0);
  const View<float> a = in.f32(1, "a");
  in.length("a", a, n);
  const View<float> b = in.f32(2, "b");
  in.length("b", b, n);
  const View<float> out = in.f32(3, "out");
  in.length("out", out, n);
  if (!in.ok()) return Napi::Value();
  digitnet::multiply(toSize(n), a.data, b.data, out.data);
  return Napi::Value();
}

// ---- convolution, pooling, batch normalization -----------------------------------------------

// What an output that overlaps an input is told (lib/backend/contract.ts).
constexpr const char* kOverInput = "the output cannot be written over an input";

// Elements of a tensor of sizes a x b x c x d, as lib/backend/check.ts elementCount computes them:
// 0 when any size is 0, even where the others overflow to Infinity (a plain product would give
// 0 * Infinity = NaN, which every length passes).
double elementCount(double a, double b, double c, double d = 1) {
  return a == 0 || b == 0 || c == 0 || d == 0 ? 0 : a * b * c * d;
}

// The sizes every convolution kernel takes first, validated; the element counts of its tensors
// computed in double, as JS computes them (a product with a huge factor stays a number).
struct ConvSizes {
  double n, c, h, w, f, kh, kw, stride, padTop, padLeft, oh, ow;

  double input() const { return elementCount(n, c, h, w); }
  double weights() const { return elementCount(f, c, kh, kw); }
  double output() const { return elementCount(n, f, oh, ow); }
  digitnet::ConvGeometry geometry() const {
    return {toSize(n), toSize(c), toSize(h), toSize(w), toSize(f), toSize(kh), toSize(kw),
            toSize(stride), toSize(padTop), toSize(padLeft), toSize(oh), toSize(ow)};
  }
};

// (n, c, h, w, f, kh, kw, stride, padTop, padLeft, oh, ow): integers >= 0, stride >= 1.
ConvSizes convSizes(Args& in) {
  ConvSizes s;
  s.n = in.integer(0, "n", 0);
  s.c = in.integer(1, "c", 0);
  s.h = in.integer(2, "h", 0);
  s.w = in.integer(3, "w", 0);
  s.f = in.integer(4, "f", 0);
  s.kh = in.integer(5, "kh", 0);
  s.kw = in.integer(6, "kw", 0);
  s.stride = in.integer(7, "stride", 1);
  s.padTop = in.integer(8, "padTop", 0);
  s.padLeft = in.integer(9, "padLeft", 0);
  s.oh = in.integer(10, "oh", 0);
  s.ow = in.integer(11, "ow", 0);
  return s;
}

// conv2d(n, c, h, w, f, kh, kw, stride, padTop, padLeft, oh, ow, x, weight, bias, y)
Napi::Value Conv2d(const Napi::CallbackInfo& info) {
  Args in(info, "conv2d");
  const ConvSizes s = convSizes(in);
  const View<float> x = in.f32(12, "x");
  in.length("x", x, s.input());
  const View<float> weight = in.f32(13, "weight");
  in.length("weight", weight, s.weights());
  const View<float> bias = in.f32(14, "bias");
  in.length("bias", bias, s.f);
  const View<float> y = in.f32(15, "y");
  in.length("y", y, s.output());
  in.disjoint("y", y, s.output(), "x", x, s.input(), kOverInput);
  in.disjoint("y", y, s.output(), "weight", weight, s.weights(), kOverInput);
  in.disjoint("y", y, s.output(), "bias", bias, s.f, kOverInput);
  if (!in.ok()) return Napi::Value();
  digitnet::conv2d(s.geometry(), x.data, weight.data, bias.data, y.data);
  return Napi::Value();
}

// conv2dBackwardData(n, c, h, w, f, kh, kw, stride, padTop, padLeft, oh, ow, dy, weight, dx)
Napi::Value Conv2dBackwardData(const Napi::CallbackInfo& info) {
  Args in(info, "conv2dBackwardData");
  const ConvSizes s = convSizes(in);
  const View<float> dy = in.f32(12, "dy");
  in.length("dy", dy, s.output());
  const View<float> weight = in.f32(13, "weight");
  in.length("weight", weight, s.weights());
  const View<float> dx = in.f32(14, "dx");
  in.length("dx", dx, s.input());
  in.disjoint("dx", dx, s.input(), "dy", dy, s.output(), kOverInput);
  in.disjoint("dx", dx, s.input(), "weight", weight, s.weights(), kOverInput);
  if (!in.ok()) return Napi::Value();
  digitnet::conv2dBackwardData(s.geometry(), dy.data, weight.data, dx.data);
  return Napi::Value();
}

// conv2dBackwardFilter(n, c, h, w, f, kh, kw, stride, padTop, padLeft, oh, ow, x, dy, dWeight,
//                      dBias, beta)
Napi::Value Conv2dBackwardFilter(const Napi::CallbackInfo& info) {
  Args in(info, "conv2dBackwardFilter");
  const ConvSizes s = convSizes(in);
  const View<float> x = in.f32(12, "x");
  in.length("x", x, s.input());
  const View<float> dy = in.f32(13, "dy");
  in.length("dy", dy, s.output());
  const View<float> dWeight = in.f32(14, "dWeight");
  in.length("dWeight", dWeight, s.weights());
  const View<float> dBias = in.f32(15, "dBias");
  in.length("dBias", dBias, s.f);
  const float beta = in.floatNumber(16, "beta");
  in.disjoint("dWeight", dWeight, s.weights(), "x", x, s.input(), kOverInput);
  in.disjoint("dWeight", dWeight, s.weights(), "dy", dy, s.output(), kOverInput);
  in.disjoint("dBias", dBias, s.f, "x", x, s.input(), kOverInput);
  in.disjoint("dBias", dBias, s.f, "dy", dy, s.output(), kOverInput);
  if (!in.ok()) return Napi::Value();
  digitnet::conv2dBackwardFilter(s.geometry(), x.data, dy.data, dWeight.data, dBias.data, beta);
  return Napi::Value();
}

// The most output rows a pooling window can start at, stride apart, without an empty window:
// floor((h - 1) / stride) + 1, or 0 for no input (computed as lib/backend/check.ts does).
double poolOutputMax(double inputSize, double stride) {
  return inputSize == 0 ? 0 : std::floor((inputSize - 1) / stride) + 1;
}

// maxPool2d(n, c, h, w, size, stride, oh, ow, x, y, argmax)
Napi::Value MaxPool2d(const Napi::CallbackInfo& info) {
  Args in(info, "maxPool2d");
  const double n = in.integer(0, "n", 0);
  const double c = in.integer(1, "c", 0);
  const double h = in.integer(2, "h", 0);
  const double w = in.integer(3, "w", 0);
  const double size = in.integer(4, "size", 1);
  const double stride = in.integer(5, "stride", 1);
  const double oh = in.integer(6, "oh", 0, poolOutputMax(h, stride));
  const double ow = in.integer(7, "ow", 0, poolOutputMax(w, stride));
  const double inputs = elementCount(n, c, h, w), outputs = elementCount(n, c, oh, ow);
  const View<float> x = in.f32(8, "x");
  in.length("x", x, inputs);
  const View<float> y = in.f32(9, "y");
  in.length("y", y, outputs);
  const View<std::uint32_t> argmax = in.u32(10, "argmax");
  in.length("argmax", argmax, outputs);
  in.disjoint("y", y, outputs, "x", x, inputs, kOverInput);
  if (!in.ok()) return Napi::Value();
  digitnet::maxPool2d({toSize(n), toSize(c), toSize(h), toSize(w), toSize(size), toSize(stride), toSize(oh), toSize(ow)},
                      x.data, y.data, argmax.data);
  return Napi::Value();
}

// maxPool2dBackward(n, c, h, w, oh, ow, dy, argmax, dx)
Napi::Value MaxPool2dBackward(const Napi::CallbackInfo& info) {
  Args in(info, "maxPool2dBackward");
  const double n = in.integer(0, "n", 0);
  const double c = in.integer(1, "c", 0);
  const double h = in.integer(2, "h", 0);
  const double w = in.integer(3, "w", 0);
  const double oh = in.integer(4, "oh", 0);
  const double ow = in.integer(5, "ow", 0);
  const double inputs = elementCount(n, c, h, w), outputs = elementCount(n, c, oh, ow);
  const View<float> dy = in.f32(6, "dy");
  in.length("dy", dy, outputs);
  const View<std::uint32_t> argmax = in.u32(7, "argmax");
  in.length("argmax", argmax, outputs);
  const View<float> dx = in.f32(8, "dx");
  in.length("dx", dx, inputs);
  in.disjoint("dx", dx, inputs, "dy", dy, outputs, kOverInput);
  if (!in.ok()) return Napi::Value();
  const digitnet::IndexStatus status = digitnet::maxPool2dBackward(
      {toSize(n), toSize(c), toSize(h), toSize(w), 1, 1, toSize(oh), toSize(ow)}, dy.data, argmax.data, dx.data);
  if (!status.ok) {
    in.rangeError("argmax[" + std::to_string(status.position) + "] is " + std::to_string(status.value) +
                  ", must be < h * w (" + jsNumber(in.env(), h * w) + ")");
  }
  return Napi::Value();
}

// batchNormTrain(n, c, s, momentum, eps, x, weight, bias, runningMean, runningVar, y, saved)
Napi::Value BatchNormTrain(const Napi::CallbackInfo& info) {
  Args in(info, "batchNormTrain");
  const double n = in.integer(0, "n", 0);
  const double c = in.integer(1, "c", 0);
  const double s = in.integer(2, "s", 0);
  const float momentum = in.floatNumber(3, "momentum");
  const float eps = in.floatNumber(4, "eps");
  const double values = elementCount(n, c, s);
  const View<float> x = in.f32(5, "x");
  in.length("x", x, values);
  const View<float> weight = in.f32(6, "weight");
  in.length("weight", weight, c);
  const View<float> bias = in.f32(7, "bias");
  in.length("bias", bias, c);
  const View<float> runningMean = in.f32(8, "runningMean");
  in.length("runningMean", runningMean, c);
  const View<float> runningVar = in.f32(9, "runningVar");
  in.length("runningVar", runningVar, c);
  const View<float> y = in.f32(10, "y");
  in.length("y", y, values);
  const View<float> saved = in.f32(11, "saved");
  in.length("saved", saved, 2 * c);
  in.disjoint("y", y, values, "x", x, values, kOverInput);
  in.disjoint("saved", saved, 2 * c, "x", x, values, kOverInput);
  in.disjoint("saved", saved, 2 * c, "y", y, values, kOverInput);
  if (!in.ok()) return Napi::Value();
  digitnet::batchNormTrain(toSize(n), toSize(c), toSize(s), momentum, eps, x.data, weight.data, bias.data,
                           runningMean.data, runningVar.data, y.data, saved.data);
  return Napi::Value();
}

// batchNormInfer(n, c, s, eps, x, weight, bias, runningMean, runningVar, y)
Napi::Value BatchNormInfer(const Napi::CallbackInfo& info) {
  Args in(info, "batchNormInfer");
  const double n = in.integer(0, "n", 0);
  const double c = in.integer(1, "c", 0);
  const double s = in.integer(2, "s", 0);
  const float eps = in.floatNumber(3, "eps");
  const double values = elementCount(n, c, s);
  const View<float> x = in.f32(4, "x");
  in.length("x", x, values);
  const View<float> weight = in.f32(5, "weight");
  in.length("weight", weight, c);
  const View<float> bias = in.f32(6, "bias");
  in.length("bias", bias, c);
  const View<float> runningMean = in.f32(7, "runningMean");
  in.length("runningMean", runningMean, c);
  const View<float> runningVar = in.f32(8, "runningVar");
  in.length("runningVar", runningVar, c);
  const View<float> y = in.f32(9, "y");
  in.length("y", y, values);
  if (!in.ok()) return Napi::Value();
  digitnet::batchNormInfer(toSize(n), toSize(c), toSize(s), eps, x.data, weight.data, bias.data,
                           runningMean.data, runningVar.data, y.data);
  return Napi::Value();
}

// batchNormBackward(n, c, s, x, dy, weight, saved, dx, dWeight, dBias, beta)
Napi::Value BatchNormBackward(const Napi::CallbackInfo& info) {
  Args in(info, "batchNormBackward");
  const double n = in.integer(0, "n", 0);
  const double c = in.integer(1, "c", 0);
  const double s = in.integer(2, "s", 0);
  const double values = elementCount(n, c, s);
  const View<float> x = in.f32(3, "x");
  in.length("x", x, values);
  const View<float> dy = in.f32(4, "dy");
  in.length("dy", dy, values);
  const View<float> weight = in.f32(5, "weight");
  in.length("weight", weight, c);
  const View<float> saved = in.f32(6, "saved");
  in.length("saved", saved, 2 * c);
  const View<float> dx = in.f32(7, "dx");
  in.length("dx", dx, values);
  const View<float> dWeight = in.f32(8, "dWeight");
  in.length("dWeight", dWeight, c);
  const View<float> dBias = in.f32(9, "dBias");
  in.length("dBias", dBias, c);
  const float beta = in.floatNumber(10, "beta");
  if (!in.ok()) return Napi::Value();
  digitnet::batchNormBackward(toSize(n), toSize(c), toSize(s), x.data, dy.data, weight.data, saved.data,
                              dx.data, dWeight.data, dBias.data, beta);
  return Napi::Value();
}

// ---- augmentation ----------------------------------------------------------------------------

// augment(n, c, h, w, x, y, transforms, key, alpha, blur)
Napi::Value Augment(const Napi::CallbackInfo& info) {
  Args in(info, "augment");
  const double n = in.integer(0, "n", 0);
  const double c = in.integer(1, "c", 0);
  const double h = in.integer(2, "h", 0);
  const double w = in.integer(3, "w", 0);
  const double values = elementCount(n, c, h, w);
  const View<float> x = in.f32(4, "x");
  in.length("x", x, values);
  const View<float> y = in.f32(5, "y");
  in.length("y", y, values);
  const View<float> transforms = in.f32(6, "transforms");
  in.length("transforms", transforms, 6 * n);
  const double key = in.integer(7, "key", 0, 4294967295.0);
  const double alpha = in.number(8, "alpha");
  if (in.ok() && !(std::isfinite(alpha) && std::fabs(alpha) <= FLT_MAX)) {
    in.rangeError("alpha must be finite, within float32 range (magnitude <= " + jsNumber(in.env(), FLT_MAX) +
                  "), got " + jsNumber(in.env(), alpha));
  }
  const View<float> blur = in.f32(9, "blur");
  if (in.ok() && blur.length % 2 == 0) {
    in.rangeError("blur must have an odd number of elements (a centre tap), got " +
                  jsNumber(in.env(), static_cast<double>(blur.length)));
  }
  in.disjoint("y", y, values, "x", x, values, kOverInput);
  in.disjoint("y", y, values, "transforms", transforms, 6 * n, kOverInput);
  in.disjoint("y", y, values, "blur", blur, static_cast<double>(blur.length), kOverInput);
  if (!in.ok()) return Napi::Value();
  digitnet::augment(toSize(n), toSize(c), toSize(h), toSize(w), x.data, y.data, transforms.data,
                    static_cast<std::uint32_t>(key), static_cast<float>(alpha), blur.data, blur.length);
  return Napi::Value();
}

// ---- data ----------------------------------------------------------------------------------

// "indices[i] is v, src has n rows", the message of lib/backend/check.ts.
void indexError(Args& in, size_t position, std::uint32_t value, size_t rowsInSrc) {
  in.rangeError("indices[" + std::to_string(position) + "] is " + std::to_string(value) +
                ", src has " + std::to_string(rowsInSrc) + " rows");
}

// gatherRows(src, rowLen, indices, offset, count, scale, dst)
Napi::Value GatherRows(const Napi::CallbackInfo& info) {
  Args in(info, "gatherRows");
  const View<std::uint8_t> src = in.u8(0, "src");
  const double rowLen = in.integer(1, "rowLen", 0);
  const View<std::uint32_t> indices = in.u32(2, "indices");
  const double offset = in.integer(3, "offset", 0);
  const double count = in.integer(4, "count", 0);
  in.length("indices", indices, offset + count);
  const double scale = in.number(5, "scale");
  const View<float> dst = in.f32(6, "dst");
  in.length("dst", dst, count * rowLen);
  if (!in.ok()) return Napi::Value();
  if (rowLen == 0) return Napi::Value();  // zero-length rows: nothing is read, any index is harmless
  const size_t first = toSize(offset), n = toSize(count), len = toSize(rowLen);
  const size_t rowsInSrc = src.length / len;
  // Checked before anything is written, and again by the kernel as it reads each index (see
  // SoftmaxCrossEntropy).
  for (size_t i = first; i < first + n; ++i) {
    const std::uint32_t index = indices.data[i];
    if (index >= rowsInSrc) return indexError(in, i, index, rowsInSrc), Napi::Value();
  }
  const digitnet::IndexStatus status = digitnet::gatherRows(src.data, rowsInSrc, len,
                                                            indices.data + first, n, scale, dst.data);
  if (!status.ok) return indexError(in, first + status.position, status.value, rowsInSrc), Napi::Value();
  return Napi::Value();
}

// ---- optimizer steps -----------------------------------------------------------------------

// sgdStep(n, lr, w, g)
Napi::Value SgdStep(const Napi::CallbackInfo& info) {
  Args in(info, "sgdStep");
  const double n = in.integer(0, "n", 0);
  const float lr = in.floatNumber(1, "lr");
  const View<float> w = in.f32(2, "w");
  in.length("w", w, n);
  const View<float> g = in.f32(3, "g");
  in.length("g", g, n);
  if (!in.ok()) return Napi::Value();
  digitnet::sgdStep(toSize(n), lr, w.data, g.data);
  return Napi::Value();
}

// momentumStep(n, lr, mu, w, g, v)
Napi::Value MomentumStep(const Napi::CallbackInfo& info) {
  Args in(info, "momentumStep");
  const double n = in.integer(0, "n", 0);
  const float lr = in.floatNumber(1, "lr");
  const float mu = in.floatNumber(2, "mu");
  const View<float> w = in.f32(3, "w");
  in.length("w", w, n);
  const View<float> g = in.f32(4, "g");
  in.length("g", g, n);
  const View<float> v = in.f32(5, "v");
  in.length("v", v, n);
  if (!in.ok()) return Napi::Value();
  digitnet::momentumStep(toSize(n), lr, mu, w.data, g.data, v.data);
  return Napi::Value();
}

// adamStep(n, lr, beta1, beta2, eps, t, w, g, m, v)
Napi::Value AdamStep(const Napi::CallbackInfo& info) {
  Args in(info, "adamStep");
  const double n = in.integer(0, "n", 0);
  const float lr = in.floatNumber(1, "lr");
  const float beta1 = in.floatNumber(2, "beta1");
  const float beta2 = in.floatNumber(3, "beta2");
  const float eps = in.floatNumber(4, "eps");
  const double t = in.integer(5, "t", 1);
  const View<float> w = in.f32(6, "w");
  in.length("w", w, n);
  const View<float> g = in.f32(7, "g");
  in.length("g", g, n);
  const View<float> m = in.f32(8, "m");
  in.length("m", m, n);
  const View<float> v = in.f32(9, "v");
  in.length("v", v, n);
  if (!in.ok()) return Napi::Value();
  digitnet::adamStep(toSize(n), lr, beta1, beta2, eps, t, w.data, g.data, m.data, v.data);
  return Napi::Value();
}

// ---- threads and build info ----------------------------------------------------------------

// setThreads(n)
Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  Args in(info, "setThreads");
  const double n = in.integer(0, "n", 1);
  if (!in.ok()) return Napi::Value();
  digitnet::setThreads(static_cast<int>(std::min(n, static_cast<double>(digitnet::kMaxThreads))));
  return Napi::Value();
}

// getThreads()
Napi::Value GetThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), digitnet::getThreads());
}

// fmaPeak(seconds) -> GFLOPS of one thread's multiply-adds on the chosen ISA, for the benchmark
// (not a Backend kernel). seconds in (0, 10]: it runs that long.
Napi::Value FmaPeak(const Napi::CallbackInfo& info) {
  Args in(info, "fmaPeak");
  const double seconds = in.number(0, "seconds");
  if (in.ok() && !(seconds > 0 && seconds <= 10)) {
    in.rangeError("seconds must be in (0, 10], got " + jsNumber(in.env(), seconds));
  }
  if (!in.ok()) return Napi::Value();
  return Napi::Number::New(in.env(), digitnet::fmaPeakGflops(seconds));
}

// nativeInfo() -> { gemmKernel, gemmBlocks, maxThreads }, for `digitnet doctor` and the tests
Napi::Value NativeInfo(const Napi::CallbackInfo& info) {
  Napi::Object result = Napi::Object::New(info.Env());
  result.Set("gemmKernel", digitnet::sgemm_kernel_name());
  const digitnet::GemmBlockSizes blocks = digitnet::sgemm_block_sizes();
  Napi::Object gemmBlocks = Napi::Object::New(info.Env());
  for (const auto& [name, size] : {std::pair<const char*, size_t>{"mr", blocks.mr}, {"nr", blocks.nr},
                                   {"mc", blocks.mc}, {"kc", blocks.kc}, {"nc", blocks.nc}}) {
    gemmBlocks.Set(name, static_cast<double>(size));
  }
  result.Set("gemmBlocks", gemmBlocks);
  result.Set("maxThreads", digitnet::kMaxThreads);
  return result;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  struct Export {
    const char* name;
    Napi::Value (*fn)(const Napi::CallbackInfo&);
  };
  static const Export kExports[] = {
      {"gemm", Gemm},
      {"gemmReference", GemmReference},
      {"addBias", AddBias},
      {"biasGrad", BiasGrad},
      {"activation", ActivationForward},
      {"activationGrad", ActivationBackward},
      {"softmax", Softmax},
      {"softmaxCrossEntropy", SoftmaxCrossEntropy},
      {"dropout", Dropout},
      {"multiply", Multiply},
      {"conv2d", Conv2d},
      {"conv2dBackwardData", Conv2dBackwardData},
      {"conv2dBackwardFilter", Conv2dBackwardFilter},
      {"maxPool2d", MaxPool2d},
      {"maxPool2dBackward", MaxPool2dBackward},
      {"batchNormTrain", BatchNormTrain},
      {"batchNormInfer", BatchNormInfer},
      {"batchNormBackward", BatchNormBackward},
      {"augment", Augment},
      {"gatherRows", GatherRows},
      {"sgdStep", SgdStep},
      {"momentumStep", MomentumStep},
      {"adamStep", AdamStep},
      {"setThreads", SetThreads},
      {"getThreads", GetThreads},
      {"nativeInfo", NativeInfo},
      {"fmaPeak", FmaPeak},
  };
  for (const Export& e : kExports) exports.Set(e.name, Napi::Function::New(env, e.fn, e.name));
  return exports;
}

}  // namespace

NODE_API_MODULE(digitnet, Init)
