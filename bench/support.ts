/** Measurement helpers shared by the benchmarks. */

/** Heap in use after two full collections (needs `--expose-gc`; without it the figure includes garbage). */
export function heapUsed(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) {
    gc();
    gc();
  }
  return process.memoryUsage().heapUsed;
}
