# Corpus locations for this recipe. Leave empty to use $SPEECHPROC_CORPORA/<corpus>, or set the paths here
# (or export LJSPEECH=/path/to/ljspeech before running). Expected layout: LJSpeech-1.1/metadata.csv, LJSpeech-1.1/wavs/
export LJSPEECH=${LJSPEECH:-}
# stage 23 (multi-speaker vocoder) also reads the real speech of AN4 (etc/, wav/) and VCC 2016 (vcc2016_training/)
export AN4=${AN4:-}
export VCC2016=${VCC2016:-}
