#!/usr/bin/env bash
# training: one converter per method of $methods into exp/$profile/<src>_<tgt>_<method> (train_vc with conf/vc_<method>${profile_suffix}.yaml: method 1 a frame-level transform; seq2seq the shared trainer, task vc; recsynth the teacher-corpus content decoder adapted to the target, task recsynth, and its vocoder fine-tuned)
# outputs: $(for m in $methods; do { [ "$m" = seq2seq ] || [ "${m#recsynth}" != "$m" ]; } && echo "exp/$profile/${src_spk}_${tgt_spk}_$m/model.pt" || echo "exp/$profile/${src_spk}_${tgt_spk}_$m/vc.json"; done)
case "$profile" in quick) n=${max_utts:-5} ;; *) n=${max_utts:-0} ;; esac
for m in $methods; do
  python -m speechproc.bin.train_vc --src "data/${src_spk}_train" --tgt "data/${tgt_spk}_train" --method "$m" \
    --config "conf/vc_{method}$profile_suffix.yaml" --max-utts "$n" --nj "$nj" $([ "$force" = true ] && echo --force) \
    ${init_tts:+--init-tts "$init_tts"} ${recsynth_init:+--recsynth-init "$recsynth_init"} \
    ${vocoder_exp:+--vocoder "$vocoder_exp"} --voc-config "$voc_config" --voc-ft-epochs "$voc_ft_epochs" \
    --voc-ft-lr "$voc_ft_lr" --seq2seq-args "$seq2seq_opts" \
    --recsynth-args "$recsynth_opts" $train_opts "exp/$profile/${src_spk}_${tgt_spk}_$m"
done
