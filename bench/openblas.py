"""OpenBLAS (through numpy) on the same matmul shapes as bench/kernels.bench.ts, in the same run.
Usage: OPENBLAS_NUM_THREADS=T python3 bench/openblas.py '[[M,K,N],...]' → JSON list of {shape, gflops_median, gflops_best}.
B is stored (N, K) like nn.Linear weights and used transposed, as dllm's benchmark does."""
import json, sys, time
import numpy as np

def bench(M, K, N, min_seconds=0.4, min_runs=5):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((M, K), dtype=np.float32)
    b = rng.standard_normal((N, K), dtype=np.float32)
    out = np.empty((M, N), dtype=np.float32)
    for _ in range(2):
        np.matmul(a, b.T, out=out)
    times, start = [], time.perf_counter()
    while len(times) < min_runs or time.perf_counter() - start < min_seconds:
        t = time.perf_counter(); np.matmul(a, b.T, out=out); times.append(time.perf_counter() - t)
        if len(times) >= 200: break
    times.sort()
    flops = 2.0 * M * K * N
    return {"shape": [M, K, N], "gflops_median": flops / times[len(times) // 2] / 1e9, "gflops_best": flops / times[0] / 1e9}

if __name__ == "__main__":
    shapes = json.loads(sys.argv[1])
    print(json.dumps({"numpy": np.__version__, "results": [bench(*s) for s in shapes]}))
