// The KV-cache paths of the forward pass against full recomputation: AR decoding token by token equals the
// causal forward of the whole sequence; a diffusion step that recomputes only a block with a fresh cache
// equals the full bidirectional forward on those rows (Fast-dLLM caches are exact until other rows change).
import { test } from 'node:test';
import { createKernels } from '../../src/platform/node.js';
import { CausalLM } from '../../src/model/causal-lm.js';
import { DiffusionLM } from '../../src/model/diffusion-lm.js';
import { expectClose } from '../helpers/expect-close.js';
import { tinyConfig, tinyModel } from '../helpers/tiny-model.js';

// same weights and inputs; only the order of f32 operations differs (fewer query rows per call)
const TOL = { atol: 2e-5, rtol: 2e-5 };

test('AR decoding with the KV cache equals the full causal forward, token by token', async () => {
  const k = await createKernels({ backend: 'wasm', threads: 2 });
  try {
    const cfg = tinyConfig('llama'),
      m = tinyModel(k, cfg),
      V = cfg.vocabSize;
    const ids = Int32Array.from([3, 17, 5, 44, 0, 9, 21, 8]);
    const full = m.forward({ tokens: ids, B: 1, T: ids.length });
    const lm = new CausalLM(m, { eos: null, eot: null, pad: null });
    const st = lm.newState();
    // a 3-token prompt, then one token at a time
    let logits = await st.append(ids.subarray(0, 3));
    expectClose(logits, full.subarray(2 * V, 3 * V), { ...TOL, label: 'after prompt' });
    for (let t = 3; t < ids.length; t++) {
      logits = await st.append(ids.subarray(t, t + 1));
      expectClose(logits, full.subarray(t * V, (t + 1) * V), { ...TOL, label: `token ${t}` });
    }
    st.dispose();
    m.dispose();
  } finally {
    k.dispose();
  }
});

for (const arch of ['llada', 'dream'] as const) {
  test(`${arch}: prefix and dual caches equal exact mode right after the refresh; rows computed shrink`, async () => {
    const k = await createKernels({ backend: 'wasm', threads: 2 });
    try {
      const cfg = tinyConfig(arch),
        m = tinyModel(k, cfg),
        V = cfg.vocabSize,
        B = 2,
        T = 12;
      const tokens = Int32Array.from({ length: B * T }, (_, i) => (i * 7) % (V - 1));
      const keyValid = Uint8Array.from({ length: B * T }, (_, i) => (i === T ? 0 : 1)); // row 1 left-padded by one
      const exact = new DiffusionLM(m, { mask: V - 1, eos: null, eot: null, pad: null }, 'none');
      const region = { start: 4, end: 8, blockStart: false };
      const want = await exact.denoise({ tokens, B, T, keyValid, region });
      for (const mode of ['prefix', 'dual'] as const) {
        const cached = new DiffusionLM(m, { mask: V - 1, eos: null, eot: null, pad: null }, mode);
        const first = await cached.denoise({ tokens, B, T, keyValid, region: { ...region, blockStart: true } });
        expectClose(first, want, { ...TOL, label: `${arch} ${mode} refresh step` });
        const again = await cached.denoise({ tokens, B, T, keyValid, region });
        expectClose(again, want, { ...TOL, label: `${arch} ${mode} cached step (nothing changed)` });
        const per =
          mode === 'prefix' ? T - region.start + (cfg.shiftLogits ? 1 : 0) : region.end - region.start + (cfg.shiftLogits ? 1 : 0);
        if (cached.rowsComputed !== B * T + B * per)
          throw new Error(`${mode}: computed ${cached.rowsComputed} rows, expected ${B * T} + ${B * per}`);
        cached.reset();
      }
      void V;
      m.dispose();
    } finally {
      k.dispose();
    }
  });
}
