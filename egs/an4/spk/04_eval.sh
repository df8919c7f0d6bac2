#!/usr/bin/env bash
# evaluation: identification accuracy on the held-out utterances of the training speakers, verification EER on all pairs of each test set
# outputs: exp/${spk_exp}/eval_${valid_set}/accuracy.json exp/${spk_exp}/eval_${test_sets%% *}/eer.json
python -m speechproc.bin.eval_speaker --mode identify --exp-dir "exp/$spk_exp" "data/$valid_set" "exp/$spk_exp/eval_$valid_set"
for s in $test_sets; do
  python -m speechproc.bin.eval_speaker --exp-dir "exp/$spk_exp" ${max_trials:+--max-trials "$max_trials"} \
    "data/$s" "exp/$spk_exp/eval_$s"
done
