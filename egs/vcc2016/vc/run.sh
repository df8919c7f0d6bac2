#!/usr/bin/env bash
# Voice Conversion Challenge 2016: parallel source -> target speaker conversion.
# Stages:
#   1  data preparation: data/<src>_{train,eval}, data/<tgt>_{train,eval} (parallel ids) with utt2dur
# Stages 2-4 are the voice-conversion template's (egs/TEMPLATE/vc, shared with the other VC recipe):
#   2  training, one model per method of $methods -> exp/$profile/<src>_<tgt>_<method>: method 1, frame-level feature
#      transform (gmm: joint-density GMM + MLPG; dnn: frame DNN + MLPG; identity: F0 shift only); method 2, seq2seq:
#      Tacotron-style source mel -> target mel (task vc of the shared trainer, initialised from the LJSpeech Tacotron 2)
#      method 3, recsynth: recognition-synthesis, the teacher-corpus content decoder (Whisper encoder states + log-F0
#      -> log-mel, egs/ljspeech_teacher/tts stage 21) adapted to the target's clips (task recsynth)
#   3  conversion of the source's evaluation utterances (method 1: differential spectral filter of the pitch-shifted
#      source; seq2seq: free-running decoding + Griffin-Lim; recsynth: content + transformed log-F0 -> decoder -> vocoder)
#   4  evaluation: no conversion vs each method -> exp/$profile/RESULTS_<src>_<tgt>.md
# Stage 1 writes the dirs of one pair: after changing --src-spk/--tgt-spk run it again with --force true.
. "$(dirname "$0")/../../../tools/recipe.sh"
recipe_template vc       # stages 2-4 and the shared options: egs/TEMPLATE/vc (options.sh)

src_spk=SF1           # source speaker (SF1 SM1 TF1 TM1)
tgt_spk=TF1           # target speaker
recipe_main "$@"
