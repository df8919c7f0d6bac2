#!/usr/bin/env bash
# Continual fine-tuning of Whisper tiny.en: new data arrives period after period (AN4, then the yesno corpus), each
# method fine-tunes the latest version into the next (exp/<method>/v1, v2, ...), and every version is measured on
# a fixed evaluation suite that nothing trains on: the general-domain real read speech (32 LJSpeech clips, 58 CMU
# ARCTIC utterances) and every period's test set. The table shows gain and forgetting side by side per method.
# Stages:
#   1  data: data/an4/{train_nodev,train_dev,test}, data/yesno/{train_nodev,dev,test}, data/general (LJSpeech +
#      ARCTIC, evaluation only)
#   2  zero-shot: the pretrained model on the suite (faster-whisper, 30-s window): exp/zeroshot/decode_<set>; with
#      CTranslate2 beam search of each width in $zeroshot_beams: exp/zeroshot_beam<N>/decode_<set>
#   3  pseudo-rehearsal data: per entry of $pseudo_sets, LJSpeech sentences (never the 32 evaluation clips) read by
#      the teacher TTS, labelled by the pretrained model's own transcripts (data/pseudo, data/pseudo_wide)
#   4  the period sequence ($periods) for every method of $methods (conf/methods.yaml): exp/<method>/v<N>
#   5  results: exp/RESULTS.md and general_wer.png, written into README.md
#   6  one more period for one method: --new-data DIR --valid-data DIR --method M [--period-name N --epochs E]
#      (nothing to do without --new-data)
#   7  deployment: version $deploy_version of exp/$deploy_method exported as a CTranslate2 model for faster-whisper,
#      scored beside the PyTorch model on the suite (exp/RESULTS_deploy.md, README.md)
. "$(dirname "$0")/../../../tools/recipe.sh"

whisper=tiny.en                  # pretrained model (tiny.en, base with the whisper-base extra, a local HF dir)
window_seconds=10                # input window of fine-tuning and decoding (the suite's longest utterance: 9.95 s)
methods="full freeze_encoder lora_merged lora_routed_beam5 l2sp rehearsal"   # entries of conf/methods.yaml (more there:
                                 # lora_switch lora_routed rehearsal_l2sp rehearsal_wide, the last with pseudo_wide below)
zeroshot_beams=5                 # stage 2: beam widths of the zero-shot decodings that beam methods compare with
# the periods, in order: name:train dir:dev dir:epochs[:resample] (resample: its audio is not at 16 kHz)
periods="an4:data/an4/train_nodev:data/an4/train_dev:2 yesno:data/yesno/train_nodev:data/yesno/dev:4:resample"
suite="general=data/general an4=data/an4/test yesno=data/yesno/test"   # evaluation suite, NAME=DATA_DIR
tolerance=0.10                   # a version more than this (relative) worse on general than zero-shot is flagged
train_args=                      # extra speechproc.bin.train options of every period, e.g. "--max_valid_utts 20"
pseudo_sets="pseudo:150:7"       # stage 3: pseudo-rehearsal pools NAME:SENTENCES:SEED (data/NAME; empty: none);
                                 # rehearsal_wide draws from "pseudo_wide:600:8"
new_data=                        # stage 6: the new period's training data dir
valid_data=                      # stage 6: its dev dir
method=                          # stage 6: the method whose latest version is fine-tuned
period_name=                     # stage 6: the period's name (default: the data dir's name)
epochs=2                         # stage 6: epochs of the new period
deploy_method=lora_merged        # stage 7: the method whose version is exported
deploy_version=v1                # stage 7: that version (v1: after AN4, v2: after yesno)
deploy_quantization=int8         # stage 7: CTranslate2 weight type
deploy_beam=5                    # stage 7: beam size of the beam-search rows
recipe_main "$@"
