// LLaDA2.1 token editing (decoders.ts count rule 'joint-threshold'; SGLang's JointThreshold, the algorithm its
// LLaDA2.1 recipe serves with: sglang/srt/dllm/algorithm/joint_threshold.py). One step over the current block,
// from the argmax x̂ and its probability p at every position of it:
//   M2T (mask to token)   the block's masks with p > τ, or the most confident mask when none passes;
//                         with no mask left the step is a post-edit step, and past maxPostEditSteps of them the
//                         block ends without a change
//   T2T (token to token)  every token the block generated (not the prompt's tail, not pinned ids) whose x̂
//                         differs and p > editThreshold becomes x̂
// Both apply at once; a step that would change nothing ends the block. As in every dllm decoder, [MASK] is
// banned from the proposals, so p is the argmax's share of the other ids.
import { byConfidence, thresholdOrCount, type Candidate } from './select.js';

export interface JointStep {
  unmask: Candidate[]; // M2T: masks that get x̂
  edit: Candidate[]; // T2T: generated tokens replaced by x̂
  blockDone: boolean; // the block is finished (nothing changed this step, or the post-edit budget is spent)
}

/**
 * masks: proposals at the block's masked positions; generated: proposals at its generated, unmasked ones;
 * current(p): the token at p now; state.postEditSteps counts this block's steps without a mask (it is updated)
 */
export function jointThresholdStep(
  masks: readonly Candidate[],
  generated: readonly Candidate[],
  current: (position: number) => number,
  o: { readonly threshold: number; readonly editThreshold: number; readonly maxPostEditSteps: number },
  state: { postEditSteps: number },
): JointStep {
  let unmask: Candidate[] = [];
  if (masks.length > 0) {
    const sorted = byConfidence(masks);
    unmask = sorted.slice(0, thresholdOrCount(sorted, o.threshold, 1)); // all above τ (strictly), at least the top one
  } else if (++state.postEditSteps > o.maxPostEditSteps) return { unmask, edit: [], blockDone: true };
  const edit = generated.filter((c) => c.confidence > o.editThreshold && c.token !== current(c.position));
  return { unmask, edit, blockDone: unmask.length === 0 && edit.length === 0 };
}
