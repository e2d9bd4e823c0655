// A loss plot as a small standalone SVG: training loss (per step) and validation loss (per eval) against step.
import { join } from 'node:path';
import { writeFileAtomic } from '../platform/node-files.js';
import type { TrainConfig } from '../train/config.js';
import { readRunLog } from './run-log.js';

type Row = Record<string, number | string>;

export function lossPlotSvg(log: Row[], title: string): string {
  const steps = log.filter((r) => r['event'] === 'step' && typeof r['loss'] === 'number');
  const evals = log.filter((r) => r['event'] === 'eval' && typeof r['valLoss'] === 'number');
  const W = 640,
    H = 360,
    m = { l: 56, r: 16, t: 28, b: 40 };
  if (steps.length === 0)
    return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}"><text x="20" y="40">no steps logged</text></svg>\n`;
  const xs = steps.map((r) => r['step'] as number),
    ys = [...steps.map((r) => r['loss'] as number), ...evals.map((r) => r['valLoss'] as number)];
  const x0 = Math.min(...xs),
    x1 = Math.max(...xs, x0 + 1),
    y0 = Math.min(...ys),
    y1 = Math.max(...ys, y0 + 1e-6);
  const X = (x: number) => m.l + ((x - x0) / (x1 - x0)) * (W - m.l - m.r);
  const Y = (y: number) => H - m.b - ((y - y0) / (y1 - y0)) * (H - m.t - m.b);
  const line = (rows: Row[], key: string) =>
    rows.map((r, i) => `${i ? 'L' : 'M'}${X(r['step'] as number).toFixed(1)},${Y(r[key] as number).toFixed(1)}`).join('');
  const ticks = [0, 0.25, 0.5, 0.75, 1]
    .map((f) => {
      const y = y0 + f * (y1 - y0);
      return `<text x="${m.l - 6}" y="${Y(y) + 4}" text-anchor="end" font-size="11">${y.toFixed(2)}</text><line x1="${m.l}" x2="${W - m.r}" y1="${Y(y)}" y2="${Y(y)}" stroke="#eee"/>`;
    })
    .join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="${m.l}" y="18" font-size="13">${title}: loss vs step (blue: train, orange: validation)</text>
${ticks}
<path d="${line(steps, 'loss')}" fill="none" stroke="#1f77b4" stroke-width="1"/>
<path d="${line(evals, 'valLoss')}" fill="none" stroke="#ff7f0e" stroke-width="2"/>
<text x="${W / 2}" y="${H - 8}" text-anchor="middle" font-size="11">step (${x0}–${x1})</text>
</svg>
`;
}

/** loss.svg of a run from its log.jsonl (both engines write the same log events) */
export async function writeLossPlot(cfg: TrainConfig, note = ''): Promise<void> {
  const log = readRunLog(join(cfg.out, 'log.jsonl')) as Row[];
  await writeFileAtomic(join(cfg.out, 'loss.svg'), lossPlotSvg(log, `${cfg.objective} ${cfg.hiddenSize}×${cfg.numLayers}${note}`));
}
