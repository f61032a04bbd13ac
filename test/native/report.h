// The reporting of the C++ test programs (test/native/*.cc, built by CMake with
// -DDIGITNET_NATIVE_TESTS=ON): one line per test, "ok - name" or "not ok - name: why", then a
// count; with --json FILE also jest's two counters ({"numPassedTests": N, "numFailedTests": M}),
// which .ci/run adds to its total. The exit status is 1 when a test failed.
#pragma once

#include <cstdio>
#include <cstring>
#include <string>

namespace digitnet_test {

class Report {
 public:
  // Records one test: passed when `failure` is empty.
  void test(const char* name, const std::string& failure) {
    if (failure.empty()) {
      ++passed_;
      std::printf("ok - %s\n", name);
    } else {
      ++failed_;
      std::printf("not ok - %s: %s\n", name, failure.c_str());
    }
    std::fflush(stdout);
  }

  // Prints the count, writes --json FILE when asked, and returns the exit status.
  int finish(int argc, char** argv) const {
    std::printf("%d passed, %d failed\n", passed_, failed_);
    for (int i = 1; i + 1 < argc; ++i) {
      if (std::strcmp(argv[i], "--json") != 0) continue;
      std::FILE* out = std::fopen(argv[i + 1], "w");
      if (out == nullptr) return 1;
      std::fprintf(out, "{\"numPassedTests\": %d, \"numFailedTests\": %d}\n", passed_, failed_);
      std::fclose(out);
    }
    return failed_ == 0 ? 0 : 1;
  }

 private:
  int passed_ = 0;
  int failed_ = 0;
};

}  // namespace digitnet_test
