#!/usr/bin/env bash
# CMU ARCTIC voice conversion: parallel source -> target speaker (clb -> slt by default).
# Stages:
#   1  data preparation: data/<src>_{train,eval}, data/<tgt>_{train,eval} (parallel ids) with utt2dur
#   2  training, one model per method of $methods -> exp/$profile/<src>_<tgt>_<method>: method 1, frame-level feature
#      transform (gmm: joint-density GMM + MLPG; dnn: frame DNN + MLPG; identity: F0 shift only); method 2, seq2seq:
#      Tacotron-style source mel -> target mel (task vc of the shared trainer, initialised from the LJSpeech Tacotron 2)
#      method 3, recsynth: recognition-synthesis, the teacher-corpus content decoder (Whisper encoder states + log-F0
#      -> log-mel, egs/ljspeech_teacher/tts stage 21) adapted to the target's clips (task recsynth)
#   3  conversion of the source's evaluation utterances (method 1: differential spectral filter of the pitch-shifted
#      source; seq2seq: free-running decoding + Griffin-Lim; recsynth: content + transformed log-F0 -> decoder -> vocoder)
#   4  evaluation: no conversion vs each method -> exp/$profile/RESULTS_<src>_<tgt>.md (judge CER against the transcripts)
. "$(dirname "$0")/../../../tools/recipe.sh"

src_spk=clb              # source speaker
tgt_spk=slt              # target speaker
methods="gmm dnn"        # converters to train, convert and evaluate: gmm dnn identity gmm_world gmm_worlddiff, recsynth
                         # (recsynth_n<N>: on N target clips; needs ljspeech_teacher stages 17 + 21), seq2seq (retired from
                         # the defaults: unintelligible, README); conf/vc_<method>[_quick].yaml
max_utts=                # use the first N training/evaluation utterances (empty: all; --profile quick: 5 train, 3 eval)
train_opts=              # extra train_vc options (method 1), e.g. "--set gmm.n_mix=16"
seq2seq_opts=            # extra trainer options of seq2seq, e.g. "--number_of_epochs 300"
init_tts=                # seq2seq start: a Tacotron 2 model.pt, or null (empty: ljspeech/tts exp/tacotron2_overfit, else exp/tacotron2; quick: null)
judge_backend=faster-whisper  # Whisper judge backend (faster-whisper, hf) or none
spk_model=../../an4/spk/exp/ecapa  # speaker model for the similarity columns (egs/an4/spk: bash run.sh); none: no columns
recsynth_init=           # recsynth start: a pre-trained content decoder model.pt, or null (empty:
                         # ../../ljspeech_teacher/tts/exp/recsynth/model.pt, its stage 21; quick: null)
recsynth_opts=           # extra trainer options of recsynth, e.g. "--number_of_epochs 50 --max_train_utts 15"
vocoder_exp=../../ljspeech_teacher/tts/exp/vocos_multi  # GAN vocoder of recsynth (stage 23 there: teacher + 78 real speakers;
                         # exp/vocos: stage 17, the teacher voice only); none: Griffin-Lim
voc_config=../../ljspeech_teacher/tts/conf/train_vocos.yaml  # its config, for the fine-tuning below
voc_ft_epochs=25         # recsynth: epochs of the vocoder fine-tuned on the adapted decoder's predictions of the
                         # target's clips (ground-truth aligned; into <exp>/vocoder); 0: the teacher vocoder as it is
voc_ft_lr=0.0001         # its learning rate
eval_opts=               # extra evaluate_vc options, e.g. "--no-f0"
recipe_main "$@"
