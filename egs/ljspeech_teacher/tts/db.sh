# Corpus location for this recipe. Leave empty to use $SPEECHPROC_CORPORA/ljspeech, or set the path here
# (or export LJSPEECH=/path/to/ljspeech before running). Expected layout: LJSpeech-1.1/metadata.csv, LJSpeech-1.1/wavs/
export LJSPEECH=${LJSPEECH:-}
