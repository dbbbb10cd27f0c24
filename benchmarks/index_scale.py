"""Gallery search at scale: the index VisionGuard builds above 100k images, next to exact search.

    .venv/bin/python benchmarks/index_scale.py [--count 1000000] [--dim 128] [--queries 2000]

Makes `count` clustered unit vectors (a Gaussian mixture: real gallery embeddings cluster by
brand and product), builds `visionguard.index.vector_index` on them (IVF + 8-bit codes, nprobe
tuned to Recall@1 >= 0.99) and reports its build time, size in memory, queries/s and Recall@1
on fresh queries near the gallery, next to exact inner-product search (`faiss.knn`, the
baseline) measured in the same run, and the process's peak RSS. Not run in CI.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import faiss
import numpy as np

from visionguard.index import describe_search, vector_index


def clustered_vectors(count: int, dim: int, rng: np.random.Generator, clusters: int = 20_000) -> np.ndarray:
    centres = rng.standard_normal((clusters, dim), dtype=np.float32)
    vectors = np.empty((count, dim), np.float32)
    for start in range(0, count, 100_000):  # in chunks: no second full-size temporary
        end = min(count, start + 100_000)
        vectors[start:end] = centres[rng.integers(0, clusters, end - start)]
        vectors[start:end] += rng.standard_normal((end - start, dim), dtype=np.float32) * 0.6
    faiss.normalize_L2(vectors)
    return vectors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument(
        "--dim", type=int, default=128,
        help="128: the default model's logo vectors (its photo vectors are 256-d; the ImageNet baseline's 1280-d)",
    )
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    faiss.omp_set_num_threads(args.threads)
    rng = np.random.default_rng(0)

    started = time.perf_counter()
    vectors = clustered_vectors(args.count, args.dim, rng)
    print(f"{args.count:,} vectors x {args.dim} d ({vectors.nbytes / 2**30:.2f} GiB as float32), made in {time.perf_counter() - started:.0f}s")
    queries = vectors[rng.choice(args.count, args.queries, replace=False)].copy()
    queries += rng.standard_normal(queries.shape, dtype=np.float32) * (0.3 / np.sqrt(args.dim))
    faiss.normalize_L2(queries)

    started = time.perf_counter()
    _, truth = faiss.knn(queries, vectors, 1, metric=faiss.METRIC_INNER_PRODUCT)
    exact_qps = args.queries / (time.perf_counter() - started)

    started = time.perf_counter()
    index = vector_index(vectors)
    build_s = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "vectors.faiss"
        faiss.write_index(index, str(path))
        size = path.stat().st_size
    started = time.perf_counter()
    _, found = index.search(queries, 1)
    ivf_qps = args.queries / (time.perf_counter() - started)
    recall = float(np.mean(found[:, 0] == truth[:, 0]))

    search = describe_search(index)
    print(f"{'search':<34}{'build s':>9}{'memory GiB':>12}{'queries/s':>11}{'Recall@1':>10}")
    print(f"{'exact (faiss.knn, baseline)':<34}{0:>9.0f}{vectors.nbytes / 2**30:>12.2f}{exact_qps:>11.0f}{1:>10.3f}")
    label = f"{search['type']}, nprobe {search.get('nprobe', '-')}"
    print(f"{label:<34}{build_s:>9.0f}{size / 2**30:>12.2f}{ivf_qps:>11.0f}{recall:>10.3f}")
    print(f"speed-up {ivf_qps / exact_qps:.1f}x; peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.1f} GiB")


if __name__ == "__main__":
    main()
