{
  "targets": [
    {
      "target_name": "digitnet",
      # Every native/*.cc, listed by the same rule CMakeLists.txt uses (file(GLOB native/*.cc)),
      # so the two builds cannot drift apart.
      "sources": [
        "<!@(node -p \"require('fs').readdirSync('native').filter(f => f.endsWith('.cc')).sort().map(f => 'native/' + f).join(' ')\")"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NODE_ADDON_API_DISABLE_CPP_EXCEPTIONS"
      ],
      # No -march=native: one binary runs on every CPU of the architecture; native/gemm.cc
      # picks its AVX2 / AVX-512 micro-kernels at run time. -fno-trapping-math: no kernel enables
      # floating-point traps, and without it GCC keeps every float select a branch (max-pooling's
      # comparisons ran 3x slower); it changes no result.
      # -ffp-contract=off: no multiply-add is fused into an FMA, so that the kernels that promise
      # the TypeScript backend's bits (augment) round every product and sum as it does.
      # -fno-math-errno: nothing reads errno after a math function, and while it may be set GCC
      # keeps every square root scalar (Adam's step ran 4x slower); it changes no result.
      "cflags": ["-O3", "-Wall", "-Wextra", "-fvisibility=hidden", "-fno-trapping-math", "-fno-math-errno", "-ffp-contract=off"],
      "cflags_cc": ["-std=c++17", "-fno-exceptions"],
      "cflags!": ["-O2"],
      "cflags_cc!": ["-std=gnu++17", "-std=gnu++1y", "-std=gnu++20"],
      "xcode_settings": {
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "GCC_ENABLE_CPP_EXCEPTIONS": "NO",
        "GCC_SYMBOLS_PRIVATE_EXTERN": "YES",
        "GCC_OPTIMIZATION_LEVEL": "3",
        "OTHER_CFLAGS": ["-Wall", "-Wextra", "-fno-trapping-math", "-fno-math-errno", "-ffp-contract=off"]
      },
      "msvs_settings": {
        "VCCLCompilerTool": {
          "ExceptionHandling": 0,
          "Optimization": 2,
          "AdditionalOptions": ["/std:c++17"]
        }
      }
    }
  ]
}
