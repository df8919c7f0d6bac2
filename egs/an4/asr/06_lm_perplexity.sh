#!/usr/bin/env bash
# LM perplexity on the test sets (exp/lm/perplexity_<set>/perplexity.json)
# outputs: $(for s in $test_sets; do echo exp/lm/perplexity_$s/perplexity.json; done)
for s in $test_sets; do
  python -m speechproc.bin.lm_perplexity --lm-dir exp/lm "data/$s" "exp/lm/perplexity_$s"
done
