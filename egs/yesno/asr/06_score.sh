#!/usr/bin/env bash
# scoring: WER/CER reports (score_wer/, score_cer/) and exp/RESULTS.md
# outputs: exp/asr/decode_test/score_wer/result.txt exp/RESULTS.md
python -m speechproc.bin.score_asr --ref data/test/text --hyp exp/asr/decode_test/text --results exp exp/asr/decode_test
