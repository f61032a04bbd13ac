// gemm_bench: times digitnet's native sgemm (native/gemm*.cc, native/parallel.cc) on the shapes
// of bench/gemm-shapes.json, with no Node involved, so thread scaling can be measured on any
// machine with a C++ compiler and CMake:
//   cmake -S . -B build-gemm -DDIGITNET_GEMM_BENCH=ON && cmake --build build-gemm --target gemm_bench
//   build-gemm/gemm_bench [--shapes FILE] [--threads 1,2,4,8,16] [--only TEXT[,TEXT...]]
//                         [--sequence] [--repeats N] [--min-seconds S] [--clock wall|cpu] [--json]
// --only keeps the shapes whose names contain one of the texts. --sequence times the kept shapes
// as one row, called back to back in file order, as a training step calls its GEMMs: what the
// thread pool sees there (helpers joining call after call, small GEMMs between large ones) is not
// what it sees when one shape repeats.
// Each row is the median GFLOPS of --repeats timed runs; each run repeats the call until it has
// lasted --min-seconds. --clock cpu divides by the CPU time of the process instead of the
// elapsed time: on a machine shared with other work it shows the kernels' efficiency without
// the time slices spent waiting for a core (with several threads, it hides their scaling). Before timing, every shape is checked once against sgemm_reference.
// With --json, stdout is one object {"backend", "kernel", "gemm": [rows]} whose rows have the
// fields of `digitnet bench`'s gemm rows (name, m, n, k, transA, transB, backend, threads, gflops).
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "../native/gemm.h"
#include "../native/parallel.h"

namespace {

struct Shape {
  std::string name;
  std::size_t m = 0, n = 0, k = 0;
  bool transA = false, transB = false;
};

[[noreturn]] void fail(const std::string& message) {
  std::fprintf(stderr, "gemm_bench: %s\n", message.c_str());
  std::exit(1);
}

// Reads the flat JSON of bench/gemm-shapes.json: an array of objects whose values are strings,
// non-negative integers or booleans. Anything else is an error naming the file and offset.
class ShapesParser {
 public:
  ShapesParser(std::string text, std::string file) : text_(std::move(text)), file_(std::move(file)) {}

  std::vector<Shape> parse() {
    std::vector<Shape> shapes;
    expect('[');
    if (peek() == ']') return ++pos_, shapes;
    do shapes.push_back(object());
    while (accept(','));
    expect(']');
    return shapes;
  }

 private:
  Shape object() {
    Shape s;
    bool seen[6] = {};
    expect('{');
    do {
      const std::string key = string();
      expect(':');
      if (key == "name") s.name = string(), seen[0] = true;
      else if (key == "m") s.m = integer(), seen[1] = true;
      else if (key == "n") s.n = integer(), seen[2] = true;
      else if (key == "k") s.k = integer(), seen[3] = true;
      else if (key == "transA") s.transA = boolean(), seen[4] = true;
      else if (key == "transB") s.transB = boolean(), seen[5] = true;
      else error("unknown key '" + key + "'");
    } while (accept(','));
    expect('}');
    if (!std::all_of(seen, seen + 6, [](bool b) { return b; })) {
      error("a shape needs name, m, n, k, transA and transB");
    }
    if (s.m == 0 || s.n == 0 || s.k == 0) error("shape '" + s.name + "' has a zero size");
    return s;
  }

  std::string string() {
    expect('"');
    const std::size_t end = text_.find('"', pos_);
    if (end == std::string::npos) error("unterminated string");
    std::string value = text_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return value;
  }

  std::size_t integer() {
    skipSpace();
    std::size_t value = 0, digits = 0;
    for (; pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9'; ++pos_, ++digits) {
      value = value * 10 + static_cast<std::size_t>(text_[pos_] - '0');
      if (digits > 9) error("integer too large");
    }
    if (digits == 0) error("expected a non-negative integer");
    return value;
  }

  bool boolean() {
    skipSpace();
    for (const char* word : {"true", "false"}) {
      if (text_.compare(pos_, std::strlen(word), word) == 0) {
        pos_ += std::strlen(word);
        return word[0] == 't';
      }
    }
    error("expected true or false");
  }

  void skipSpace() {
    while (pos_ < text_.size() && std::strchr(" \t\r\n", text_[pos_]) != nullptr) ++pos_;
  }
  char peek() {
    skipSpace();
    return pos_ < text_.size() ? text_[pos_] : '\0';
  }
  bool accept(char c) {
    if (peek() != c) return false;
    ++pos_;
    return true;
  }
  void expect(char c) {
    if (!accept(c)) error(std::string("expected '") + c + "'");
  }
  [[noreturn]] void error(const std::string& what) {
    fail(file_ + ": " + what + " at offset " + std::to_string(pos_));
  }

  std::string text_, file_;
  std::size_t pos_ = 0;
};

std::vector<Shape> readShapes(const std::string& file) {
  std::ifstream in(file);
  if (!in) fail("cannot read " + file + " (pass --shapes FILE)");
  std::stringstream text;
  text << in.rdbuf();
  return ShapesParser(text.str(), file).parse();
}

// Operands of one shape, stored as the transposes say, with random values in [-1, 1).
struct Operands {
  std::size_t lda, ldb, ldc;
  std::vector<float> a, b, c;

  explicit Operands(const Shape& s) {
    lda = s.transA ? s.m : s.k;
    ldb = s.transB ? s.k : s.n;
    ldc = s.n;
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
    a.resize(s.m * s.k);
    b.resize(s.k * s.n);
    c.resize(s.m * s.n);
    for (float& x : a) x = uniform(rng);
    for (float& x : b) x = uniform(rng);
  }

  void gemm(const Shape& s, float beta) {
    digitnet::sgemm(s.transA, s.transB, s.m, s.n, s.k, 1.0f, a.data(), lda, b.data(), ldb, beta,
                    c.data(), ldc);
  }
};

// Largest |ours - reference| relative to the largest |reference|: a wrong kernel must not be timed.
void check(const Shape& s) {
  Operands ops(s);
  ops.gemm(s, 0.0f);
  std::vector<float> want(ops.c.size());
  digitnet::sgemm_reference(s.transA, s.transB, s.m, s.n, s.k, 1.0f, ops.a.data(), ops.lda,
                            ops.b.data(), ops.ldb, 0.0f, want.data(), ops.ldc);
  float scale = 1e-30f, err = 0.0f;
  for (std::size_t i = 0; i < want.size(); ++i) {
    scale = std::max(scale, std::fabs(want[i]));
    err = std::max(err, std::fabs(ops.c[i] - want[i]));
  }
  if (!(err <= 1e-5f * static_cast<float>(s.k + 1) * scale)) {
    fail("shape '" + s.name + "' differs from sgemm_reference by " + std::to_string(err));
  }
}

// Seconds on the chosen clock: elapsed, or CPU time of the whole process.
double now(bool cpuClock) {
  if (!cpuClock) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  }
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

double flops(const Shape& s) {
  return 2.0 * static_cast<double>(s.m) * static_cast<double>(s.n) * static_cast<double>(s.k);
}

// Median GFLOPS of `shapes` called in order, as one unit (one shape: that shape alone).
double medianGflops(const std::vector<Shape>& shapes, int repeats, double minSeconds, bool cpuClock) {
  std::vector<Operands> ops;
  double total = 0.0;
  for (const Shape& s : shapes) {
    ops.emplace_back(s);
    total += flops(s);
  }
  const auto callAll = [&] {
    for (std::size_t i = 0; i < shapes.size(); ++i) ops[i].gemm(shapes[i], 0.0f);
  };
  callAll();  // warm-up: packing buffers, pool threads, caches
  std::size_t calls = 1;
  for (;;) {
    const double start = now(cpuClock);
    for (std::size_t i = 0; i < calls; ++i) callAll();
    if (now(cpuClock) - start >= minSeconds) break;
    calls *= 2;
  }
  std::vector<double> seconds;
  for (int r = 0; r < repeats; ++r) {
    const double start = now(cpuClock);
    for (std::size_t i = 0; i < calls; ++i) callAll();
    seconds.push_back((now(cpuClock) - start) / static_cast<double>(calls));
  }
  std::sort(seconds.begin(), seconds.end());
  return total / seconds[seconds.size() / 2] / 1e9;
}

// Whether `name` contains one of the comma-separated texts of `only` (an empty one matches all).
bool selected(const std::string& name, const std::string& only) {
  std::stringstream in(only);
  std::string text;
  if (only.empty()) return true;
  while (std::getline(in, text, ',')) {
    if (name.find(text) != std::string::npos) return true;
  }
  return false;
}

std::vector<int> parseThreads(const std::string& list) {
  std::vector<int> threads;
  std::stringstream in(list);
  std::string item;
  while (std::getline(in, item, ',')) {
    char* end = nullptr;
    const long t = std::strtol(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || t < 1 || t > digitnet::kMaxThreads) {
      fail("--threads wants a comma-separated list of counts in 1.." +
           std::to_string(digitnet::kMaxThreads) + ", got '" + list + "'");
    }
    threads.push_back(static_cast<int>(t));
  }
  if (threads.empty()) fail("--threads is empty");
  return threads;
}

struct Options {
  std::string shapes = "bench/gemm-shapes.json";
  std::vector<int> threads{1, digitnet::getThreads()};
  std::string only;
  int repeats = 7;
  double minSeconds = 0.02;
  bool cpuClock = false;
  bool json = false;
  bool sequence = false;
};

Options parseOptions(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto value = [&]() -> std::string {
      if (i + 1 >= argc) fail(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--shapes") o.shapes = value();
    else if (arg == "--threads") o.threads = parseThreads(value());
    else if (arg == "--only") o.only = value();
    else if (arg == "--repeats") o.repeats = std::max(1, std::atoi(value().c_str()));
    else if (arg == "--min-seconds") o.minSeconds = std::atof(value().c_str());
    else if (arg == "--clock") {
      const std::string clock = value();
      if (clock != "wall" && clock != "cpu") fail("--clock is wall or cpu, got '" + clock + "'");
      o.cpuClock = clock == "cpu";
    } else if (arg == "--json") o.json = true;
    else if (arg == "--sequence") o.sequence = true;
    else fail("unknown option '" + arg + "' (see the comment at the top of bench/gemm_bench.cc)");
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parseOptions(argc, argv);
  o.threads.erase(std::unique(o.threads.begin(), o.threads.end()), o.threads.end());
  std::vector<Shape> shapes;
  for (const Shape& s : readShapes(o.shapes)) {
    if (selected(s.name, o.only)) shapes.push_back(s);
  }
  for (const Shape& s : shapes) check(s);
  // A sequence is one row: its name lists the shapes, its sizes are the first shape's.
  std::vector<std::vector<Shape>> rows;
  if (o.sequence && !shapes.empty()) {
    rows.push_back(shapes);
  } else {
    for (const Shape& s : shapes) rows.push_back({s});
  }

  if (o.json) std::printf("{\"backend\":\"native\",\"kernel\":\"%s\",\"gemm\":[", digitnet::sgemm_kernel_name());
  else std::printf("kernel %s\n", digitnet::sgemm_kernel_name());
  bool first = true;
  for (const int threads : o.threads) {
    digitnet::setThreads(threads);
    for (const std::vector<Shape>& row : rows) {
      const double gflops = medianGflops(row, o.repeats, o.minSeconds, o.cpuClock);
      std::string name;
      for (const Shape& s : row) name += (name.empty() ? "" : " + ") + s.name;
      const Shape& s = row.front();
      if (o.json) {
        std::printf("%s{\"name\":\"%s\",\"m\":%zu,\"n\":%zu,\"k\":%zu,\"transA\":%s,\"transB\":%s,"
                    "\"backend\":\"native\",\"threads\":%d,\"gflops\":%.1f}",
                    first ? "" : ",", name.c_str(), s.m, s.n, s.k, s.transA ? "true" : "false",
                    s.transB ? "true" : "false", threads, gflops);
      } else if (row.size() > 1) {
        std::printf("%s threads %2d %8.1f GFLOPS\n", name.c_str(), threads, gflops);
      } else {
        std::printf("%-28s %5zu %5zu %5zu %c%c threads %2d %8.1f GFLOPS\n", s.name.c_str(), s.m, s.n,
                    s.k, s.transA ? 'T' : 'N', s.transB ? 'T' : 'N', threads, gflops);
      }
      std::fflush(stdout);
      first = false;
    }
  }
  if (o.json) std::printf("]}\n");
  return 0;
}
