#!/usr/bin/env bash
# Tacotron 2 and FastSpeech 2 with the multi-speaker GAN vocoder (exp/${voc_exp}_multi) on the held-out sentences, beside their Griffin-Lim synthesis and the teacher's audio (exp/result_eval_vocoder.md, README)
# outputs: exp/result_eval_vocoder.md
v="${voc_exp}_multi"
for m in "$tts_exp" "$fs2_exp"; do
  # the Griffin-Lim synthesis is reused only when it is newer than the model
  [ "exp/$m/synth_eval_griffin_lim/wav.scp" -nt "exp/$m/model.pt" ] || python -m speechproc.bin.synthesize \
    --exp-dir "exp/$m" --data data/eval --vocoder griffin_lim "exp/$m/synth_eval_griffin_lim"
  python -m speechproc.bin.synthesize --exp-dir "exp/$m" --data data/eval --vocoder-checkpoint "exp/$v" \
    "exp/$m/synth_eval_$v"
done
python -m speechproc.bin.evaluate_tts --ref data/eval --ref-name "teacher (natural reference audio)" \
  --judge-backend "$judge_backend" $eval_opts \
  --names "Tacotron 2 + Griffin-Lim,Tacotron 2 + $v,FastSpeech 2 + Griffin-Lim,FastSpeech 2 + $v" \
  --title "The acoustic models with the multi-speaker GAN vocoder on the $num_eval held-out teacher sentences" \
  --table exp/result_eval_vocoder.md --readme README.md --section eval_vocoder \
  "exp/$tts_exp/synth_eval_griffin_lim" "exp/$tts_exp/synth_eval_$v" \
  "exp/$fs2_exp/synth_eval_griffin_lim" "exp/$fs2_exp/synth_eval_$v"
