# Corpus location for this recipe. Leave empty to use $SPEECHPROC_CORPORA/cmu_arctic, or set the path here
# (or export CMU_ARCTIC=/path/to/cmu_arctic before running). Expected layout: cmu_us_<spk>_arctic/{wav,etc/txt.done.data}
export CMU_ARCTIC=${CMU_ARCTIC:-}
