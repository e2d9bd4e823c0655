// The WGSL compute shaders of the WebGPU forward engine (webgpu/forward.ts): one per op of the dense
// transformer, each the GPU twin of a reference kernel in src/kernels/ref (same layouts, same formulas; the
// parity test compares whole forwards against the WASM engine). All f32. Elementwise shaders index a flat
// range that may span a 2-D grid (WebGPU allows 65,535 workgroups per dimension): i = x + y · 64 · groups_x.
// Glossary: N rows (B·T), C width, K/M/N of a matmul, H heads, Hkv kv heads, D head dim, Tq/Tk query/key rows.

/** workgroup size of the flat (elementwise) shaders and of the one-row-per-workgroup norm */
export const FLAT = 64;
/** tile edge of the matmul shader (a TILE × TILE workgroup computes one TILE × TILE block of out) */
export const TILE = 16;
/** the longest head dim the attention shader holds in registers */
export const MAX_HEAD_DIM = 256;

const flatIndex = /* wgsl */ `
fn flat(g: vec3u, groups: vec3u) -> u32 { return g.x + g.y * groups.x * ${FLAT}u; }`;

/** out (N, C) = table[tokens[n], :] (ref embeddingForward) */
export const EMBED = /* wgsl */ `
struct P { n: u32, c: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> tokens: array<i32>;     // (N)
@group(0) @binding(2) var<storage, read> table: array<f32>;      // (V, C)
@group(0) @binding(3) var<storage, read_write> out: array<f32>;  // (N, C)
${flatIndex}
@compute @workgroup_size(${FLAT}) fn main(@builtin(global_invocation_id) g: vec3u, @builtin(num_workgroups) w: vec3u) {
  let i = flat(g, w);
  if (i >= p.n * p.c) { return; }
  out[i] = table[u32(tokens[i / p.c]) * p.c + i % p.c];
}`;

/** out (N, C) = x · 1/sqrt(mean(x²) + eps) · w (C); one workgroup per row (ref rmsnormForward) */
export const RMSNORM = /* wgsl */ `
struct P { n: u32, c: u32, eps: f32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;          // (N, C)
@group(0) @binding(2) var<storage, read> w: array<f32>;          // (C)
@group(0) @binding(3) var<storage, read_write> out: array<f32>;  // (N, C)
var<workgroup> part: array<f32, ${FLAT}>;
@compute @workgroup_size(${FLAT}) fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) t: u32,
                                         @builtin(num_workgroups) groups: vec3u) {
  let row = wg.x + wg.y * groups.x;  // uniform across the workgroup, so the early return keeps barriers uniform
  if (row >= p.n) { return; }
  var s = 0.0;
  for (var c = t; c < p.c; c += ${FLAT}u) { let v = x[row * p.c + c]; s += v * v; }
  part[t] = s;
  workgroupBarrier();
  for (var k = ${FLAT / 2}u; k > 0u; k >>= 1u) {
    if (t < k) { part[t] += part[t + k]; }
    workgroupBarrier();
  }
  let r = 1.0 / sqrt(part[0] / f32(p.c) + p.eps);
  for (var c = t; c < p.c; c += ${FLAT}u) { out[row * p.c + c] = x[row * p.c + c] * r * w[c]; }
}`;

/** out (M, N) = a (M, K) · b (N, K)ᵀ (+ bias (N) when p.bias = 1): nn.Linear's layout (ref matmul, transB) */
export const MATMUL = /* wgsl */ `
struct P { m: u32, k: u32, n: u32, bias: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> a: array<f32>;          // (M, K)
@group(0) @binding(2) var<storage, read> b: array<f32>;          // (N, K)
@group(0) @binding(3) var<storage, read> bias: array<f32>;       // (N), or a placeholder when p.bias = 0
@group(0) @binding(4) var<storage, read_write> out: array<f32>;  // (M, N)
var<workgroup> ta: array<array<f32, ${TILE}>, ${TILE}>;  // a[row0 + y, k0 + x]
var<workgroup> tb: array<array<f32, ${TILE}>, ${TILE}>;  // b[col0 + y, k0 + x]
@compute @workgroup_size(${TILE}, ${TILE}) fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) l: vec3u) {
  let row = wg.y * ${TILE}u + l.y;
  let col = wg.x * ${TILE}u + l.x;
  let bRow = wg.x * ${TILE}u + l.y;
  var acc = 0.0;
  for (var k0 = 0u; k0 < p.k; k0 += ${TILE}u) {
    let kk = k0 + l.x;
    ta[l.y][l.x] = 0.0;
    tb[l.y][l.x] = 0.0;
    if (row < p.m && kk < p.k) { ta[l.y][l.x] = a[row * p.k + kk]; }
    if (bRow < p.n && kk < p.k) { tb[l.y][l.x] = b[bRow * p.k + kk]; }
    workgroupBarrier();
    for (var j = 0u; j < ${TILE}u; j++) { acc += ta[l.y][j] * tb[l.x][j]; }
    workgroupBarrier();
  }
  if (row < p.m && col < p.n) {
    var v = acc;
    if (p.bias == 1u) { v += bias[col]; }
    out[row * p.n + col] = v;
  }
}`;

/** rotate-half RoPE in place on x (N, heads, D) with tables (P, D/2) at positions (N) (ref ropeForward) */
export const ROPE = /* wgsl */ `
struct P { n: u32, heads: u32, d: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;    // (N, heads, D)
@group(0) @binding(2) var<storage, read> pos: array<i32>;        // (N)
@group(0) @binding(3) var<storage, read> cosT: array<f32>;       // (P, D/2)
@group(0) @binding(4) var<storage, read> sinT: array<f32>;       // (P, D/2)
${flatIndex}
@compute @workgroup_size(${FLAT}) fn main(@builtin(global_invocation_id) g: vec3u, @builtin(num_workgroups) w: vec3u) {
  let half = p.d / 2u;
  let i = flat(g, w);
  if (i >= p.n * p.heads * half) { return; }
  let head = i / half;  // n · heads + h
  let j = i % half;
  let t = u32(pos[head / p.heads]) * half + j;
  let c = cosT[t];
  let s = sinT[t];
  let base = head * p.d;
  let x1 = x[base + j];
  let x2 = x[base + j + half];
  x[base + j] = x1 * c - x2 * s;
  x[base + j + half] = x2 * c + x1 * s;
}`;

/**
 * out (B, Tq, H, D) = softmax(q·kᵀ·scale + mask) · v, one invocation per query row and head, online softmax
 * (the ref's two passes, merged); k, v (B, Tk, Hkv, D); keyValid (B, Tk) as u32 when p.hasValid = 1.
 * mask: 0 none, 1 causal (key j ≤ qStart + i), 2 block-causal (block of j ≤ block of qStart + i). A row that
 * sees no key is zeros (ref attentionForward).
 */
export const ATTENTION = /* wgsl */ `
struct P { b: u32, tq: u32, tk: u32, h: u32, hkv: u32, d: u32, scale: f32, mask: u32, qStart: u32, block: u32, hasValid: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> q: array<f32>;          // (B, Tq, H, D)
@group(0) @binding(2) var<storage, read> k: array<f32>;          // (B, Tk, Hkv, D)
@group(0) @binding(3) var<storage, read> v: array<f32>;          // (B, Tk, Hkv, D)
@group(0) @binding(4) var<storage, read> keyValid: array<u32>;   // (B, Tk), or a placeholder
@group(0) @binding(5) var<storage, read_write> out: array<f32>;  // (B, Tq, H, D)
${flatIndex}
fn visible(b: u32, i: u32, j: u32) -> bool {
  if (p.hasValid == 1u && keyValid[b * p.tk + j] == 0u) { return false; }
  let at = p.qStart + i;
  if (p.mask == 1u) { return j <= at; }
  if (p.mask == 2u) { return j / p.block <= at / p.block; }
  return true;
}
@compute @workgroup_size(${FLAT}) fn main(@builtin(global_invocation_id) g: vec3u, @builtin(num_workgroups) w: vec3u) {
  let row = flat(g, w);  // ((b · Tq + i) · H + h)
  if (row >= p.b * p.tq * p.h) { return; }
  let h = row % p.h;
  let i = (row / p.h) % p.tq;
  let b = row / (p.h * p.tq);
  let kvHead = h / (p.h / p.hkv);
  let qo = row * p.d;
  var acc: array<f32, ${MAX_HEAD_DIM}>;
  var m = -3.0e38;  // running max (no key yet)
  var l = 0.0;      // running sum of exp(score − m)
  for (var j = 0u; j < p.tk; j++) {
    if (!visible(b, i, j)) { continue; }
    let ko = ((b * p.tk + j) * p.hkv + kvHead) * p.d;
    var dot = 0.0;
    for (var d = 0u; d < p.d; d++) { dot += q[qo + d] * k[ko + d]; }
    let s = dot * p.scale;
    let mNew = max(m, s);
    let keep = exp(m - mNew);
    let e = exp(s - mNew);
    l = l * keep + e;
    for (var d = 0u; d < p.d; d++) { acc[d] = acc[d] * keep + e * v[ko + d]; }
    m = mNew;
  }
  let inv = select(0.0, 1.0 / l, l > 0.0);
  for (var d = 0u; d < p.d; d++) { out[qo + d] = acc[d] * inv; }
}`;

/** gate (n) ← silu(gate) · up, in place (ref swigluForward) */
export const SWIGLU = /* wgsl */ `
struct P { n: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> gate: array<f32>;  // (n)
@group(0) @binding(2) var<storage, read> up: array<f32>;          // (n)
${flatIndex}
@compute @workgroup_size(${FLAT}) fn main(@builtin(global_invocation_id) g: vec3u, @builtin(num_workgroups) w: vec3u) {
  let i = flat(g, w);
  if (i >= p.n) { return; }
  let x = gate[i];
  gate[i] = x / (1.0 + exp(-x)) * up[i];
}`;

/** x (n) += y (n): the residual add, in place (a buffer may not be bound twice when one binding writes) */
export const ADD = /* wgsl */ `
struct P { n: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;  // (n)
@group(0) @binding(2) var<storage, read> y: array<f32>;        // (n)
${flatIndex}
@compute @workgroup_size(${FLAT}) fn main(@builtin(global_invocation_id) g: vec3u, @builtin(num_workgroups) w: vec3u) {
  let i = flat(g, w);
  if (i >= p.n) { return; }
  x[i] = x[i] + y[i];
}`;
