#!/usr/bin/env bash
# Teacher-corpus TTS benchmark: a Tacotron 2 trained on hours of LJSpeech sentences read by the hibari-tts
# teacher (one consistent synthetic voice, 24 kHz), measured on held-out sentences, compared with espeak-ng,
# flite and the teacher, then adapted to the real LJSpeech speaker (32 clips, 4 held out).
# Needs: tools/venv/bin/pip install hibari-tts==0.2.1; Debian packages espeak-ng and flite (stage 6).
# Stages:
#   1  teacher corpus: $num_utts sentences synthesized by hibari (data/{train,dev,eval})
#   2  text cleaning and token list: english cleaner, characters (data/token/char)
#   3  mel features: 80-bin log-mel dumps (dump/) + normalisation stats of train
#   4  acoustic model training: Tacotron 2 with guided attention (exp/$tts_exp)
#   5  synthesis of the held-out sentences with $vocoder
#   6  reference systems on the same sentences: espeak-ng, flite, hibari (exp/baselines)
#   7  evaluation vs the teacher's audio: judge CER/WER, MCD, F0, RTF side by side (exp/result_eval.md)
#   8  real LJSpeech clips for adaptation: data/lj/{train_adapt,dev,eval} (25 / 3 / last 4 held out) + mels
#   9  speaker adaptation: fine-tune on the real clips (exp/${tts_exp}_adapt)
#  10  adaptation result on the 4 held-out real clips, before and after (exp/result_adapt.md)
#  11  FastSpeech 2 durations from the Tacotron 2 attention at epoch $align_epoch (<that model>/durations)
#  12  FastSpeech 2 training (exp/$fs2_exp)
#  13  FastSpeech 2 synthesis; exp/result_eval.md with both acoustic models and the references
#  14  FastSpeech 2 durations of the real clips from the adapted Tacotron 2
#  15  FastSpeech 2 speaker adaptation (exp/${fs2_exp}_adapt)
#  16  exp/result_adapt.md with both acoustic models before and after adaptation
#  17  GAN vocoder training on the teacher audio (exp/$voc_exp; Vocos-style by default)
#  18  GAN vocoder against Griffin-Lim: copy synthesis of the held-out teacher sentences and of the 32 real LJSpeech
#      clips (exp/result_vocoder_{teacher,lj}.md, written into README.md)
#  19  GAN vocoder fine-tuned on the 25 real LJSpeech adaptation clips (exp/${voc_exp}_lj)
#  20  teacher-only vs fine-tuned vocoder vs Griffin-Lim on the 7 held-out real clips (exp/result_vocoder_lj_heldout.md)
#  21  recognition-synthesis VC decoder pre-training: Whisper encoder content + log-F0 -> teacher log-mel (exp/$recsynth_exp;
#      adapted to target speakers by egs/vcc2016/vc and egs/cmu_arctic/vc, method recsynth)
#  22  content-layer study: a short pre-training per Whisper encoder layer of $layer_study, real LJSpeech speech converted
#      into the teacher voice and judged (exp/result_recsynth_layers.md, written into README.md)
#  23  multi-speaker GAN vocoder: exp/$voc_exp fine-tuned on the teacher audio + real speech of 78 speakers (AN4, VCC 2016
#      training clips) into exp/${voc_exp}_multi
#  24  Griffin-Lim vs teacher-only vs multi-speaker vocoder: copy synthesis of the held-out teacher sentences and the 32
#      real LJSpeech clips (exp/result_vocoder_multi_{teacher,lj}.md, written into README.md)
#  25  Tacotron 2 and FastSpeech 2 with the multi-speaker vocoder on the held-out sentences, beside Griffin-Lim and the
#      teacher (exp/result_eval_vocoder.md, written into README.md)
#  26  FastSpeech 2 speaker adaptation compared: each method of $fs2_adapt_compare (conf/adapt_methods.yaml: decoder +
#      postnet, full, LoRA, adapters) fine-tuned on the 25 real clips into exp/${fs2_exp}_adapt_<method>
#  27  GAN vocoder exp/${voc_exp}_multi fine-tuned on FastSpeech 2's ground-truth-aligned mels (exp/${voc_exp}_fs2)
#  28  FastSpeech 2 with Griffin-Lim, the multi-speaker vocoder and its FastSpeech 2 fine-tuning, held-out sentences
#  29  FastSpeech 2 adaptation $wise_adapt interpolated with the teacher model (WiSE-FT) at $wise_weights
#  30  the adaptations of stage 26 and the interpolations of stage 29 on the 4 held-out clips with the multi-speaker
#      vocoder: judge CER, MCD, speaker similarity, DistillMOS before and after (exp/result_adapt_{compare,wise}.md,
#      written into README.md)
. "$(dirname "$0")/../../../tools/recipe.sh"

num_utts=1200                          # training sentences (1200 give about 2.3 h of teacher audio)
num_dev=50                             # validation sentences
num_eval=50                            # held-out evaluation sentences
teacher_voice=heart                    # hibari voice (heart ships in the wheel)
tts_config=conf/train_tacotron2.yaml   # training config (conf/train_tacotron2_debug.yaml: toy model for smoke tests)
tts_exp=tacotron2                      # experiment name (exp/<name>)
tts_train_args=                        # extra speechproc.bin.train options of stage 4, e.g. "--number_of_epochs 18" (the
                                       # FastSpeech 2 alignment model only; a later run with more epochs resumes it)
vocoder=griffin_lim                    # griffin_lim (hifigan needs a trained checkpoint)
adapt_epochs=30                        # fine-tuning epochs on the real clips
# what adapts and how fast (--strategy of the trainer). FastSpeech 2 keeps its text encoder and variance predictors
# and adapts decoder + postnet; for Tacotron 2 every variant tried lost intelligibility (README), full fine-tuning the least
tts_adapt_lr=0.0003                    # Tacotron 2 fine-tuning learning rate
tts_adapt_strategy="{name: full}"      # Tacotron 2: everything adapts
fs2_adapt_lr=0.0001                    # FastSpeech 2 fine-tuning learning rate
fs2_adapt_strategy="{name: freeze_encoder, freeze: [fs2.durPred, fs2.pitchPred, fs2.energyPred, fs2.energyEmbed, fs2.pitchEmbed]}"  # FastSpeech 2
align_epoch=18                         # Tacotron 2 epoch whose attention gives the FastSpeech 2 durations: stage 4
                                       # exports it as exp/$tts_exp/snapshots/epoch<N>; empty: the final model
fs2_config=conf/train_fastspeech2.yaml # FastSpeech 2 config (conf/train_fastspeech2_debug.yaml: toy model)
fs2_exp=fastspeech2                    # FastSpeech 2 experiment name
voc_config=conf/train_vocos.yaml       # GAN vocoder config (conf/train_vocos_debug.yaml: toy model; conf/train_hifigan.yaml: HiFi-GAN)
voc_exp=vocos                          # vocoder experiment name
voc_train_args=                        # extra speechproc.bin.train options of stage 17, e.g. "--number_of_epochs 20"
voc_ft_epochs=50                       # stage 19: fine-tuning epochs on the 25 real clips (4 updates each)
voc_ft_lr=0.0001                       # stage 19: fine-tuning learning rate
voc_multi_epochs=12                    # stage 23: epochs on teacher + real speech (about 300 updates, 9.5 min each)
voc_multi_lr=0.0005                    # stage 23: learning rate
voc_gta_epochs=16                      # stage 27: epochs on FastSpeech 2's ground-truth-aligned mels (150 updates each)
voc_gta_lr=0.0001                      # stage 27: learning rate
content_whisper=tiny.en                # stage 21: Whisper model of the content encoder
content_layer=4                        # stage 21: its encoder layer whose output is the content (tiny.en: 0-4)
recsynth_config=conf/train_recsynth.yaml  # stage 21: decoder config
recsynth_exp=recsynth                  # stage 21: experiment name
recsynth_train_args=                   # stage 21: extra speechproc.bin.train options, e.g. "--number_of_epochs 10"
layer_study="2 3 4"                    # stage 22: the encoder layers compared
layer_study_utts=300                   # stage 22: training sentences of each short pre-training
layer_study_epochs=6                   # stage 22: its epochs
fs2_adapt_compare="decoder full lora adapters"  # stages 26, 30: the FastSpeech 2 adaptations compared (conf/adapt_methods.yaml)
spk_model=../../an4/spk/exp/ecapa      # stage 30: speaker model of the similarity column (egs/an4/spk: bash run.sh)
wise_adapt=full                        # stages 29, 30: the stage-26 adaptation interpolated with the teacher model
wise_weights="0.25 0.5"                # stages 29, 30: weights of the adapted model (0: teacher, 1: adapted)
judge_backend=faster-whisper           # Whisper judge backend (faster-whisper, hf) or none
eval_opts=                             # extra evaluate_tts options, e.g. "--no-f0"
readme=README.md                       # where stages 18-30 write their tables (between results markers); empty: nowhere
recipe_main "$@"
