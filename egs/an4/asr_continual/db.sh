# Corpus locations for this recipe. Leave empty to use $SPEECHPROC_CORPORA/<corpus>, or set the paths here
# (or export them before running). an4: etc/an4_train.transcription, wav/...; yesno: waves_yesno/;
# ljspeech: LJSpeech-1.1/metadata.csv, wavs/; cmu_arctic: cmu_us_{clb,slt}_arctic/
export AN4=${AN4:-}
export YESNO=${YESNO:-}
export LJSPEECH=${LJSPEECH:-}
export CMU_ARCTIC=${CMU_ARCTIC:-}
