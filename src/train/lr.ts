// Learning-rate schedule: linear warmup from 0, then cosine decay to lrMin (nanoGPT's get_lr).

export interface LrSchedule {
  lrMax: number;
  lrMin: number;
  lrWarmupSteps: number;
  lrDecaySteps: number; // usually the total number of steps
}

/** learning rate at optimizer step `step` (0-based) */
export function learningRate(s: LrSchedule, step: number): number {
  if (step < s.lrWarmupSteps) return (s.lrMax * (step + 1)) / s.lrWarmupSteps;
  if (step >= s.lrDecaySteps) return s.lrMin;
  const ratio = (step - s.lrWarmupSteps) / Math.max(1, s.lrDecaySteps - s.lrWarmupSteps);
  return s.lrMin + 0.5 * (1 + Math.cos(Math.PI * ratio)) * (s.lrMax - s.lrMin);
}
