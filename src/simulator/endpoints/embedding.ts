import { hashString } from '../random.js';

/** A deterministic unit-ish vector derived from `text` and `seed`. */
export function embeddingFor(text: string, dims: number, seed: number): number[] {
  const out = new Array<number>(dims);
  let h = hashString(text, seed);
  for (let i = 0; i < dims; i++) {
    h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0;
    out[i] = Math.round(((h / 4294967296) * 2 - 1) * 1e6) / 1e6;
  }
  return out;
}

/** Float32 little-endian base64, as OpenAI returns with `encoding_format: "base64"`. */
export function embeddingBase64(values: number[]): string {
  return Buffer.from(new Float32Array(values).buffer).toString('base64');
}
