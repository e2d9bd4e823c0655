// AdamW over the parameter table (PyTorch's form, decoupled weight decay), with global-norm gradient
// clipping. Weight decay applies to matrices only (linear layers, embedding), not to norm gains or biases,
// as in nanoGPT's configure_optimizers.
import type { Kernels } from '../kernels/backend.js';
import { numel, type ParamSpec } from '../model/params.js';

export interface AdamWConfig {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  gradClip: number; // max global L2 norm; 0 = off
}

export class AdamW {
  readonly m = new Map<string, Float32Array>(); // first moments, by parameter name
  readonly v = new Map<string, Float32Array>(); // second moments
  step = 0; // optimizer steps taken (the next one is step + 1 in the bias correction)

  constructor(
    private readonly k: Kernels,
    private readonly specs: ParamSpec[],
    readonly cfg: AdamWConfig,
  ) {
    for (const s of specs) {
      this.m.set(s.name, k.allocF32(numel(s.shape)));
      this.v.set(s.name, k.allocF32(numel(s.shape)));
    }
  }

  /** L2 norm of all gradients together (f64 accumulation) */
  static gradNorm(grads: Map<string, Float32Array>): number {
    let ss = 0;
    for (const g of grads.values()) for (let i = 0; i < g.length; i++) ss += g[i]! * g[i]!;
    return Math.sqrt(ss);
  }

  /** clip (scales grads in place), then one AdamW step at learning rate lr; returns the pre-clip grad norm */
  update(params: Map<string, Float32Array>, grads: Map<string, Float32Array>, lr: number): number {
    const norm = AdamW.gradNorm(grads);
    if (!Number.isFinite(norm)) throw new Error(`optimizer: gradient norm is ${norm}; stopping before the weights are spoiled`);
    if (this.cfg.gradClip > 0 && norm > this.cfg.gradClip) {
      const s = this.cfg.gradClip / norm;
      for (const g of grads.values()) for (let i = 0; i < g.length; i++) g[i] = g[i]! * s;
    }
    this.step++;
    for (const spec of this.specs) {
      const decay = spec.kind === 'linear' || spec.kind === 'embedding' ? this.cfg.weightDecay : 0;
      const p = params.get(spec.name)!;
      this.k.adamwStep(p, grads.get(spec.name)!, this.m.get(spec.name)!, this.v.get(spec.name)!, p.length, {
        lr,
        beta1: this.cfg.beta1,
        beta2: this.cfg.beta2,
        eps: this.cfg.eps,
        weightDecay: decay,
        step: this.step,
      });
    }
    return norm;
  }

  dispose(): void {
    for (const b of [...this.m.values(), ...this.v.values()]) this.k.free(b);
    this.m.clear();
    this.v.clear();
  }
}
