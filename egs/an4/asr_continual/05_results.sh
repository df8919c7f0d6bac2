#!/usr/bin/env bash
# results: the accuracy matrix, gain, forgetting and general-domain change of every method (exp/RESULTS.md, general_wer.png, README.md)
# outputs: exp/RESULTS.md
sets=$(for x in $suite; do printf '%s ' "${x%%=*}"; done)
readme=(--readme README.md); plot=general_wer.png   # beside the README that shows it
[ "$profile" = quick ] && { readme=(); plot=exp/general_wer.png; }
python -m speechproc.bin.continual_results exp --methods $methods --sets $sets --tolerance "$tolerance" \
  --title "Continual fine-tuning of Whisper $whisper: WER % on the evaluation suite after every period" \
  --table exp/RESULTS.md --plot "$plot" "${readme[@]}"
