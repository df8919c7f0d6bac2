#!/usr/bin/env bash
# evaluation: identification accuracy on the held-out utterances of the training speakers, verification EER on all pairs of each test set
# outputs: exp/${spk_exp}${profile_suffix}/eval_${valid_set}/accuracy.json exp/${spk_exp}${profile_suffix}/eval_${test_sets%% *}/eer.json
e=exp/$spk_exp$profile_suffix
python -m speechproc.bin.eval_speaker --mode identify --exp-dir "$e" "data/$valid_set" "$e/eval_$valid_set"
for s in $test_sets; do
  python -m speechproc.bin.eval_speaker --exp-dir "$e" ${max_trials:+--max-trials "$max_trials"} "data/$s" "$e/eval_$s"
done
