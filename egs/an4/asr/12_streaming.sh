#!/usr/bin/env bash
# streaming decoding of test at chunks of $streaming_chunks (ms) and in full context: WER, CER, chunk and final latency, RTF on $onnx_threads threads (README section streaming)
# outputs: $(for s in $test_sets; do echo exp/${streaming_exp}${profile_suffix}/streaming_$s/result.json; done)
for s in $test_sets; do
  python -m speechproc.bin.benchmark_streaming --exp-dir "exp/$streaming_exp$profile_suffix" --data "data/$s" \
    --chunks "$streaming_chunks" --threads "$onnx_threads" --out "exp/$streaming_exp$profile_suffix/streaming_$s" \
    $([ -f README.md ] && [ "$profile" = full ] && [ "$s" = test ] && echo "--readme README.md --section streaming")
done
