#!/usr/bin/env bash
# content-layer study: for each Whisper encoder layer of $layer_study, the recsynth decoder pre-trained $layer_study_epochs epochs on the first $layer_study_utts teacher sentences, then the 32 real LJSpeech clips (a speaker it never heard) converted into the teacher voice (Griffin-Lim) and judged (exp/result_recsynth_layers.md, README)
# outputs: exp/result_recsynth_layers.md
python -m speechproc.bin.subset_data_dir --first "$layer_study_utts" data/train "data/train_$layer_study_utts"
dirs=(); names=()
for l in $layer_study; do
  python -m speechproc.bin.compute_content --whisper "$content_whisper" --layer "$l" --mel-config conf/mel.yaml --nj "$nj" \
    "data/train_$layer_study_utts" "dump/train_${layer_study_utts}_content_l$l" data/dev "dump/dev_content_l$l"
  exp="exp/${recsynth_exp}_layer$l"
  python -m speechproc.bin.train "$recsynth_config" --output_folder "$exp" --train_data "dump/train_${layer_study_utts}_content_l$l" \
    --train_mel dump/train --valid_data "dump/dev_content_l$l" --valid_mel dump/dev --cmvn_stats dump/train/cmvn.npz \
    --number_of_epochs "$layer_study_epochs"
  python -m speechproc.bin.convert_vc --exp-dir "$exp" --data data/lj/all --set vocoder=griffin_lim --nj "$nj" "$exp/convert_lj_all"
  dirs+=("$exp/convert_lj_all"); names+=("layer $l")
done
python -m speechproc.bin.evaluate_tts --ref data/lj/all --ref-name "natural LJSpeech recordings (the source)" \
  --judge-backend "$judge_backend" $eval_opts --names "$(IFS=,; echo "${names[*]}")" \
  --title "Real LJSpeech speech converted into the teacher voice by decoders pre-trained on each Whisper $content_whisper encoder layer" \
  --table exp/result_recsynth_layers.md ${readme:+--readme "$readme"} --section recsynth_layers "${dirs[@]}"
