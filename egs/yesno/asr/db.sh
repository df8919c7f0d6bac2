# Corpus location for this recipe. Leave empty to use $SPEECHPROC_CORPORA/yesno, or set the path here
# (or export YESNO=/path/to/yesno before running). Expected layout: yesno/waves_yesno/*.wav
export YESNO=${YESNO:-}
