#!/usr/bin/env bash
# LM perplexity on the test sets (exp/lm${profile_suffix}/perplexity_<set>/perplexity.json)
# outputs: $(for s in $test_sets; do echo exp/lm${profile_suffix}/perplexity_$s/perplexity.json; done)
for s in $test_sets; do
  python -m speechproc.bin.lm_perplexity --lm-dir exp/lm${profile_suffix} "data/$s" "exp/lm${profile_suffix}/perplexity_$s"
done
