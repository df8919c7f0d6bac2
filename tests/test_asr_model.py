"""Toy-size ASR model properties: shapes, backward, padding invariance, teacher-forced overfit."""
from __future__ import annotations

import pytest
import torch

from speechproc.models.asr import ConformerASR, Conv2dSubsampling
from speechproc.models.asr.conformer import subsampled_lengths

V = 12


def toy_model(encoder_module: str = "conformer", attention_type: str = "RelPosMHAXL") -> ConformerASR:
    torch.manual_seed(0)
    return ConformerASR(V, input_size=20, d_model=32, nhead=2, num_encoder_layers=2, num_decoder_layers=1,
                        d_ffn=64, kernel_size=5, encoder_module=encoder_module, attention_type=attention_type,
                        subsampling_channels=8)


def test_subsampling_lengths_match_output():
    sub = Conv2dSubsampling(20, channels=4)
    for t in (7, 8, 9, 50, 101):
        y = sub(torch.randn(1, t, 20))
        assert y.shape == (1, int(subsampled_lengths(torch.tensor(t))), sub.output_size)
    assert sub.output_size == 4 * 4  # ((20-1)//2 - 1)//2 = 4 bins


def test_forward_shapes_and_backward():
    model = toy_model()
    feats = torch.randn(3, 60, 20)
    lengths = torch.tensor([60, 45, 30])
    tokens_bos = torch.randint(1, V, (3, 6))
    ctc, dec, enc_len = model(feats, lengths, tokens_bos)
    assert ctc.shape == (3, 14, V) and dec.shape == (3, 6, V)
    assert enc_len.tolist() == [14, 10, 6]
    assert torch.allclose(ctc.exp().sum(-1), torch.ones(3, 14), atol=1e-5)
    loss = -(ctc.mean() + dec.mean())
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0


@pytest.mark.parametrize("encoder_module", ["conformer", "transformer"])
def test_encoder_padding_invariance(encoder_module):
    """An utterance encodes the same alone as inside a padded batch (eval mode)."""
    model = toy_model(encoder_module).eval()
    feats = torch.randn(3, 80, 20)
    lengths = torch.tensor([80, 57, 31])
    with torch.no_grad():
        enc, enc_len = model.encode(feats, lengths)
        for i in range(3):
            n = int(lengths[i])
            alone, alone_len = model.encode(feats[i : i + 1, :n], lengths[i : i + 1])
            assert int(alone_len) == int(enc_len[i])
            m = int(enc_len[i])
            assert torch.allclose(alone[0, :m], enc[i, :m], atol=1e-5), f"utterance {i} differs when padded"
            assert float(enc[i, m:].abs().max() if m < enc.shape[1] else 0.0) == 0.0


def test_decoder_is_causal():
    """Changing a later decoder input token leaves earlier outputs unchanged."""
    model = toy_model().eval()
    feats, lengths = torch.randn(1, 40, 20), torch.tensor([40])
    with torch.no_grad():
        enc, el = model.encode(feats, lengths)
        a = model.decoder_logprobs(torch.tensor([[V - 1, 3, 4, 5]]), enc, el)
        b = model.decoder_logprobs(torch.tensor([[V - 1, 3, 4, 9]]), enc, el)
    assert torch.allclose(a[0, :3], b[0, :3], atol=1e-6)
    assert not torch.allclose(a[0, 3], b[0, 3])


def test_toy_model_overfits_two_utterances():
    """A few dozen Adam steps make CTC and the attention decoder reproduce two training targets."""
    torch.manual_seed(0)
    model = toy_model()
    feats = torch.randn(2, 48, 20)
    lengths = torch.tensor([48, 40])
    targets = [[3, 4, 5], [6, 7]]
    tok = torch.zeros(2, 3, dtype=torch.long)
    for i, t in enumerate(targets):
        tok[i, : len(t)] = torch.tensor(t)
    tok_len = torch.tensor([3, 2])
    bos = torch.tensor([[V - 1, 3, 4, 5], [V - 1, 6, 7, 0]])
    eos = torch.tensor([[3, 4, 5, V - 1], [6, 7, V - 1, 0]])
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(150):
        ctc, dec, enc_len = model(feats, lengths, bos)
        l_ctc = torch.nn.functional.ctc_loss(ctc.transpose(0, 1), tok, enc_len, tok_len, blank=0)
        mask = eos != 0
        l_att = -(dec.gather(-1, eos[..., None])[..., 0] * mask).sum() / mask.sum()
        loss = 0.3 * l_ctc + 0.7 * l_att
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    from speechproc.decode.asr import greedy_attention
    from speechproc.models.asr.ctc import ctc_greedy_ids

    with torch.no_grad():
        enc, el = model.encode(feats, lengths)
        assert ctc_greedy_ids(model.ctc_logprobs(enc), el) == targets
        assert greedy_attention(model, enc, el, sos=V - 1, eos=V - 1) == targets


def test_constructor_checks():
    with pytest.raises(ValueError, match="odd"):
        ConformerASR(V, kernel_size=4)
    with pytest.raises(ValueError, match="divisible"):
        ConformerASR(V, d_model=30, nhead=4)
