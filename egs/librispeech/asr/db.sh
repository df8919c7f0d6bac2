# Corpus location for this recipe. Leave empty to use $SPEECHPROC_CORPORA/librispeech, or set the path here
# (or export LIBRISPEECH=/path/to/LibriSpeech before running). Expected layout: <part>/<spk>/<chapter>/*.flac + *.trans.txt
export LIBRISPEECH=${LIBRISPEECH:-}
