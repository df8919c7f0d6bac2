#!/usr/bin/env bash
# FastSpeech 2 speaker adaptation compared: each of $fs2_adapt_compare (decoder, full, lora, adapters) fine-tunes exp/$fs2_exp on the 25 real clips (best of $adapt_epochs epochs on the 3 dev clips) into exp/${fs2_exp}_adapt_<name>; the 4 held-out clips with the multi-speaker vocoder, before and after, with judge CER, MCD, speaker similarity, DistillMOS (exp/result_adapt_compare.md, README)
# outputs: exp/result_adapt_compare.md
a="exp/${tts_exp}_adapt"
v="exp/${voc_exp}_multi"
convs='"fs2.decoder.layers.*.pos_ffn.*.conv", "fs2.postnet.*.conv", "fs2.linear.w"'
dirs=("exp/$fs2_exp/synth_lj_eval_${voc_exp}_multi")
names="FastSpeech 2 before adaptation (teacher voice)"
python -m speechproc.bin.synthesize --exp-dir "exp/$fs2_exp" --data data/lj/eval --vocoder-checkpoint "$v" "${dirs[0]}"
for m in $fs2_adapt_compare; do
  case "$m" in
    decoder) strategy=$fs2_adapt_strategy; lr=$fs2_adapt_lr ;;  # decoder + postnet (the default of stage 15)
    full) strategy="{name: full}"; lr=$fs2_adapt_lr ;;
    lora) strategy="{name: lora, lora: {rank: 8, alpha: 16, target_modules: [$convs]}}"; lr=0.001 ;;
    adapters) strategy="{name: adapters, adapters: {projection_size: 32, target_modules: [\"fs2.decoder.layers.*.pos_ffn.2.conv\"]}}"; lr=0.001 ;;
    *) echo "26_adapt_compare.sh: unknown adaptation '$m' in --fs2-adapt-compare; use decoder full lora adapters" >&2; exit 1 ;;
  esac
  e="exp/${fs2_exp}_adapt_$m"
  python -m speechproc.bin.train "$fs2_config" --nproc "$nproc" --cmd "$cmd" --cmd-conf "$cmd_conf" \
    --output_folder "$e" --train_data dump/lj_train --valid_data dump/lj_dev \
    --train_durations "$a/durations/lj_train/durations" --valid_durations "$a/durations/lj_dev/durations" \
    --token_dir data/token/char --cmvn_stats dump/train/cmvn.npz --init_model "exp/$fs2_exp/model.pt" \
    --number_of_epochs "$adapt_epochs" --lr "$lr" --lr_scheduler null --strategy "$strategy"
  python -m speechproc.bin.synthesize --exp-dir "$e" --data data/lj/eval --vocoder-checkpoint "$v" \
    "$e/synth_lj_eval_${voc_exp}_multi"
  dirs+=("$e/synth_lj_eval_${voc_exp}_multi")
  names="$names,FastSpeech 2 adapted: $m"
done
python -m speechproc.bin.evaluate_tts --ref data/lj/eval --ref-name "real LJSpeech audio" \
  --judge-backend "$judge_backend" $eval_opts --speaker-exp "$spk_model" --speaker-ref data/lj/train_adapt \
  --names "$names" --title "FastSpeech 2 adapted to the real LJSpeech voice in four ways: the 4 held-out clips" \
  --table exp/result_adapt_compare.md --readme README.md --section adapt_compare "${dirs[@]}"
