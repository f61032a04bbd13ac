// The micro-kernels of the convolutions (native/conv.cc), one set per instruction set, chosen with
// sgemm's (native/gemm.h sgemm_kernel_name), as dropout's are. Both read the rows of one operand
// through a table of offsets, so that the rows of a column matrix can be read where they lie in a
// padded copy of the image (no im2col), or in a column matrix, alike.
//
// Outer products, for the forward pass and the input gradient, a register tile of rows x lanes:
//   acc[i][l] = sum_{p < depth} a[p*as + i] * b[boff[p] + l]         i < rows, l < lanes
//               (a[aoff[p] + i] when aoff is given)
//   c[i][l]   = c[i][l] + acc[i][l] when accumulate, else bias[i] + acc[i][l] (0 + acc[i][l]
//               without a bias)                                       (row i of C at c[i])
// A's rows are weights (as: a row's length; filters as rows), or runs of an image's pixels read
// through aoff, the column matrix's rows (pixels as rows, filters as lanes).
// B is read only at lanes < `lanes`, C only there too; rows of C may overlap (they are written
// one after the other). lanes <= vectors(tile) * lanes per vector, rows <= outerRows[vectors - 1].
//
// Inner products, for the filter gradient, over `segments` pairs of blocks (images):
//   c[i*ldc + j] += sum_{s < segments} sum_{p < len} a[s*aStep + i*lda + p] * b[s*bStep + boff[j] + p]
// for i < rows <= innerRows, j < cols <= innerCols, len a multiple of kInnerStep; vector lanes run
// along p and are summed once, at the end of the tile. Sums are in float, in an order of the
// tile's own. No alignment is needed anywhere.
#pragma once

#include <cstddef>

namespace digitnet {

// The inner products' len is a multiple of this: whole vectors of the widest ISA (16 floats), so
// the tiles need no tail. Callers pad their rows with zeros.
constexpr std::size_t kInnerStep = 16;

// An outer-product tile's operands. Tiles of the first layer run 25 steps (K = c*kh*kw): their
// arguments come in one struct, so that a call costs little more than its steps.
struct OuterTile {
  std::size_t rows, lanes, depth;
  const float* a;
  std::size_t as;
  const std::size_t* aoff;  // may be null
  const float* b;
  const std::size_t* boff;
  float* const* c;
  bool accumulate;
  const float* bias;  // may be null
};

using OuterTileFn = void (*)(const OuterTile& tile);

using InnerTileFn = void (*)(std::size_t rows, std::size_t cols, std::size_t segments, std::size_t len,
                             const float* a, std::size_t lda, std::size_t aStep, const float* b,
                             const std::size_t* boff, std::size_t bStep, float* c, std::size_t ldc);

constexpr std::size_t kMaxOuterVectors = 3;
constexpr std::size_t kMaxOuterRows = 14;  // the most rows of any ISA's outer tiles

struct ConvTiles {
  const char* name;  // "avx512", "avx2" or "scalar", as DIGITNET_ISA names them
  bool (*supported)();
  std::size_t lanes;                          // floats per vector
  std::size_t outerRows[kMaxOuterVectors];    // most rows of an outer tile 1, 2, 3 vectors wide
  OuterTileFn outer;
  std::size_t innerRows, innerCols;
  InnerTileFn inner;
  // The most floats of A's rows an inner tile reads over its segments (at least one segment):
  // long enough that the tile's final sums across its lanes cost little, short enough for the
  // caches. Measured per instruction set on the reference net's second layer (conv_tiles.cc).
  std::size_t innerFloats;
};

// Defined in conv_tiles.cc. On non-x86 builds the AVX ones report themselves unsupported.
extern const ConvTiles kConvTilesAvx512;
extern const ConvTiles kConvTilesAvx2;
extern const ConvTiles kConvTilesScalar;

// The instruction set sgemm chose.
const ConvTiles& convTiles();

}  // namespace digitnet
