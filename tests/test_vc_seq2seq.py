"""Toy-size seq2seq VC forward/backward."""

import torch

from speechproc.models.tts.tacotron2 import Tacotron2Loss
from speechproc.models.vc.seq2seq import Seq2SeqVC


def test_seq2seq_vc_forward_backward():
    torch.manual_seed(0)
    model = Seq2SeqVC(n_src_mels=8, n_mels=8, embedding_dim=16, encoder_n_convolutions=1, encoder_kernel_size=3,
                      attention_rnn_dim=16, decoder_rnn_dim=16, attention_dim=8, attention_location_n_filters=4,
                      attention_location_kernel_size=3, prenet_dim=8, postnet_embedding_dim=8,
                      postnet_n_convolutions=2, reduction_factor=2)
    src, src_len = torch.randn(2, 11, 8), torch.tensor([11, 7])
    tgt, tgt_len = torch.randn(2, 9, 8), torch.tensor([9, 6])
    out = model(src, src_len, tgt, tgt_len)
    assert out["mel_after"].shape == (2, 10, 8)
    assert out["alignments"].shape == (2, 5, 11)
    loss = Tacotron2Loss()(out, tgt, tgt_len, src_len, model.r)["loss"]
    assert torch.isfinite(loss)
    loss.backward()
    assert model.src_prenet[0].weight.grad.abs().sum() > 0
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.decoder.parameters())


def _toy(**kw):
    return Seq2SeqVC(n_src_mels=8, n_mels=8, embedding_dim=16, encoder_n_convolutions=1, encoder_kernel_size=3,
                     attention_rnn_dim=16, decoder_rnn_dim=16, attention_dim=8, attention_location_n_filters=4,
                     attention_location_kernel_size=3, prenet_dim=8, postnet_embedding_dim=8,
                     postnet_n_convolutions=2, p_attention_dropout=0.0, p_decoder_dropout=0.0, **kw)


def test_guided_attention_prefers_diagonal():
    L, S = 10, 10
    lengths = torch.tensor([L])
    diag = torch.eye(S, L)[None]
    rand = torch.softmax(torch.randn(1, S, L) * 3, dim=-1)
    crit = Tacotron2Loss()
    mels = torch.zeros(1, S, 8)
    base = {"mel_before": mels, "mel_after": mels, "gate": torch.zeros(1, S)}
    d = crit({**base, "alignments": diag}, mels, torch.tensor([S]), lengths, 1)["attn_loss"]
    r = crit({**base, "alignments": rand}, mels, torch.tensor([S]), lengths, 1)["attn_loss"]
    assert d < r


def test_seq2seq_vc_overfits_two_pairs():
    torch.manual_seed(0)
    model = _toy()
    src, src_len = torch.randn(2, 8, 8), torch.tensor([8, 6])
    tgt, tgt_len = torch.randn(2, 8, 8), torch.tensor([8, 6])
    crit = Tacotron2Loss()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(120):
        opt.zero_grad()
        loss = crit(model(src, src_len, tgt, tgt_len), tgt, tgt_len, src_len, model.r)["loss"]
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.6 * losses[0]


def test_init_from_copies_matching_tensors(tmp_path):
    from speechproc.models.tts.tacotron2 import Tacotron2
    from speechproc.models.vc.seq2seq import init_from

    torch.manual_seed(1)
    tts = Tacotron2(vocab_size=5, n_mels=8, embedding_dim=16, encoder_n_convolutions=1, encoder_kernel_size=3,
                    attention_rnn_dim=16, decoder_rnn_dim=16, attention_dim=8, attention_location_n_filters=4,
                    attention_location_kernel_size=3, prenet_dim=8, postnet_embedding_dim=8, postnet_n_convolutions=2)
    torch.save({"model": tts.state_dict()}, tmp_path / "model.pt")
    vc = _toy()
    copied, skipped = init_from(vc, tmp_path / "model.pt")
    assert copied and any(k.startswith("embedding") for k in skipped)
    for k in copied:
        assert torch.equal(vc.state_dict()[k], tts.state_dict()[k])
