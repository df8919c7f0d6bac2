#!/usr/bin/env bash
# FastSpeech 2 on the held-out sentences with Griffin-Lim, exp/${voc_exp}_multi and its fine-tuned exp/${voc_exp}_fs2, beside the teacher's audio (README section eval_vocoder_fs2)
# outputs: exp/result_eval_vocoder_fs2.md
# a synthesis is reused only when it is newer than both models that made it (a retrained vocoder re-synthesises)
for v in "${voc_exp}_multi" "${voc_exp}_fs2"; do
  s="exp/$fs2_exp/synth_eval_$v/wav.scp"
  { [ "$s" -nt "exp/$v/model.pt" ] && [ "$s" -nt "exp/$fs2_exp/model.pt" ]; } || python -m speechproc.bin.synthesize \
    --exp-dir "exp/$fs2_exp" --data data/eval --vocoder-checkpoint "exp/$v" "exp/$fs2_exp/synth_eval_$v"
done
[ "exp/$fs2_exp/synth_eval_griffin_lim/wav.scp" -nt "exp/$fs2_exp/model.pt" ] || python -m speechproc.bin.synthesize \
  --exp-dir "exp/$fs2_exp" --data data/eval --vocoder griffin_lim "exp/$fs2_exp/synth_eval_griffin_lim"
python -m speechproc.bin.evaluate_tts --ref data/eval --ref-name "teacher (natural reference audio)" \
  --judge-backend "$judge_backend" $eval_opts \
  --names "FastSpeech 2 + Griffin-Lim,FastSpeech 2 + ${voc_exp}_multi,FastSpeech 2 + ${voc_exp}_fs2 (fine-tuned on its mels)" \
  --title "FastSpeech 2 with the GAN vocoder fine-tuned on its own ground-truth-aligned mels, $num_eval held-out teacher sentences" \
  --table exp/result_eval_vocoder_fs2.md --readme README.md --section eval_vocoder_fs2 \
  "exp/$fs2_exp/synth_eval_griffin_lim" "exp/$fs2_exp/synth_eval_${voc_exp}_multi" "exp/$fs2_exp/synth_eval_${voc_exp}_fs2"
