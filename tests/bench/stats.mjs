// What the benchmarks print of a list of times: median, min and max (NaN-free), and a fixed-width number.

export function stats(values) {
  const v = values.filter(Number.isFinite).slice().sort((a, b) => a - b);
  if (!v.length) return { median: NaN, min: NaN, max: NaN };
  const mid = Math.floor(v.length / 2);
  return { median: v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2, min: v[0], max: v.at(-1) };
}

export const fmt = (n) => (Number.isFinite(n) ? n.toFixed(1).padStart(7) : '     - ');
