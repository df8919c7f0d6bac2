# Options shared by the voice-conversion recipes (egs/vcc2016/vc, egs/cmu_arctic/vc): sourced by the runner when a
# run.sh calls `recipe_template vc`; the run.sh sets src_spk and tgt_spk (and may override any default below).
methods="gmm dnn"        # converters to train, convert and evaluate: gmm dnn identity gmm_world gmm_worlddiff, recsynth
                         # (recsynth_n<N>: on N target clips; needs ljspeech_teacher stages 17 + 21), seq2seq (retired from
                         # the defaults: unintelligible, README); conf/vc_<method>[_quick].yaml
max_utts=                # use the first N training/evaluation utterances (empty: all; --profile quick: 5 train, 3 eval)
train_opts=              # extra train_vc options of method 1, e.g. "--set gmm.n_mix=16"
seq2seq_opts=            # extra trainer options of seq2seq, e.g. "--number_of_epochs 300"
init_tts=                # seq2seq start: a Tacotron 2 model.pt, or null (empty: init_tts of conf/vc_seq2seq[_quick].yaml:
                         # ljspeech/tts exp/tacotron2_overfit; quick: null)
judge_backend=faster-whisper  # Whisper judge backend (faster-whisper, hf) or none
spk_model=../../an4/spk/exp/ecapa  # speaker model for the similarity columns (egs/an4/spk: bash run.sh); none: no columns
recsynth_init=           # recsynth start: a pre-trained content decoder model.pt, or null (empty: init_model of
                         # conf/vc_recsynth[_quick].yaml: ../../ljspeech_teacher/tts/exp/recsynth/model.pt, its stage 21;
                         # quick: null)
recsynth_opts=           # extra trainer options of recsynth, e.g. "--number_of_epochs 50 --max_train_utts 15"
vocoder_exp=             # GAN vocoder of recsynth; none: Griffin-Lim (empty: vocoder_checkpoint of
                         # conf/vc_recsynth[_quick].yaml: ../../ljspeech_teacher/tts/exp/vocos_multi, stage 23 there, teacher
                         # + 78 real speakers; exp/vocos: stage 17, the teacher voice only; quick: Griffin-Lim)
voc_config=../../ljspeech_teacher/tts/conf/train_vocos.yaml  # its config, for the fine-tuning below
voc_ft_epochs=25         # recsynth: epochs of the vocoder fine-tuned on the adapted decoder's predictions of the
                         # target's clips (ground-truth aligned; into <exp>/vocoder); 0: the teacher vocoder as it is
voc_ft_lr=0.0001         # its learning rate
convert_opts=            # extra convert_vc options of every method, e.g. "--set vocoder_checkpoint=../../ljspeech_teacher/tts/exp/vocos_multi"
eval_opts=               # extra evaluate_vc options, e.g. "--no-f0"
