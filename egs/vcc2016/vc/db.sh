# Corpus location for this recipe. Leave empty to use $SPEECHPROC_CORPORA/vcc2016, or set the path here
# (or export VCC2016=/path/to/vcc2016 before running). Expected layout: vcc2016_training/<SPK>/*.wav, evaluation_all/<SPK>/*.wav
export VCC2016=${VCC2016:-}
