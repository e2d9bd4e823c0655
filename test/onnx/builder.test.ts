// The ONNX graph builder shares initializers by name (shape constants, tied weights); a name asked for again
// must mean the same initializer, else the graph would silently read another constant.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Builder } from '../../src/onnx/graph.js';

test('Builder: a reused initializer name must keep its type and values', () => {
  const g = new Builder();
  assert.equal(g.i64('shape', [0, 0, 4]), 'shape');
  assert.equal(g.i64('shape', [0, 0, 4]), 'shape', 'the same constant again is shared');
  assert.equal(g.inits.length, 1);
  assert.throws(() => g.i64('shape', [0, 0, 8]), /"shape" asked for as INT64 \[0,0,8\] but it is INT64 \[0,0,4\]/);
  g.f32('w', [2], new Float32Array([1, 2]));
  assert.throws(() => g.i64('w', [1]), /"w" asked for as INT64 \[1\] but it is FLOAT/);
});
