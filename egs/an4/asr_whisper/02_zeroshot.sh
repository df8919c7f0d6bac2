#!/usr/bin/env bash
# zero-shot: greedy decoding of the dev/test sets with the pretrained model, scored raw and Whisper-normalised
# outputs: $(for s in $test_sets; do echo exp/zeroshot_hf_window${window_seconds}/decode_$s/text; done)
sfx=""; [ "$profile" = quick ] && sfx=_quick   # quick: the subsets of stage 1
for s in $test_sets; do
  for b in $zeroshot_backends; do
    case $b in
      faster-whisper) outs="exp/zeroshot_faster_whisper/decode_$s" ;;
      hf) outs="exp/zeroshot_hf_window30/decode_$s exp/zeroshot_hf_window${window_seconds}/decode_$s" ;;
    esac
    for out in $outs; do
      win=30
      case $out in *window${window_seconds}/*) win=$window_seconds ;; esac
      extra=()
      [ "$b" = hf ] && extra=(--window-seconds "$win")
      python -m speechproc.bin.whisper_decode --backend "$b" --model "$whisper" "${extra[@]}" "data/$s$sfx" "$out"
    done
  done
done
