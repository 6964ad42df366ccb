"""A trained Keras SketchRNN's weights as the numpy dataclasses the graph builders (sketchgen.graphs) take."""
from __future__ import annotations

import numpy as np

from sketchgen.graphs import DecoderWeights, EncoderWeights, HyperDecoderWeights


def _numpy(variable) -> np.ndarray:
    return np.asarray(variable.numpy(), dtype=np.float32)


def decoder_weights(model) -> DecoderWeights:
    """The decoder of a training.model.SketchRNN, in its Keras layout."""
    cell, hp = model.decoder.cell, model.hp
    return DecoderWeights(kernel=_numpy(cell.kernel), recurrent_kernel=_numpy(cell.recurrent_kernel),
                          bias=None if cell.layer_norm else _numpy(cell.bias),
                          ln_gamma=_numpy(cell.ln_gamma) if cell.layer_norm else None,
                          ln_beta=_numpy(cell.ln_beta) if cell.layer_norm else None,
                          out_kernel=_numpy(model.output_head.kernel), out_bias=_numpy(model.output_head.bias),
                          num_mixture=hp.num_mixture, z_size=hp.z_size if hp.conditional else 0)


def hyper_decoder_weights(model) -> HyperDecoderWeights:
    """The HyperLSTM decoder (dec_model=hyper) of a training.model.SketchRNN, in its Keras layout."""
    cell, hp = model.decoder.cell, model.hp
    names = ("kernel", "recurrent_kernel", "bias", "ln_gamma", "ln_beta", "hyper_kernel", "hyper_recurrent_kernel",
             "hyper_ln_gamma", "hyper_ln_beta", "zw_kernel", "zw_bias", "alpha_kernel", "zb_kernel", "beta_kernel")
    return HyperDecoderWeights(**{n: _numpy(getattr(cell, n)) for n in names},
                               out_kernel=_numpy(model.output_head.kernel), out_bias=_numpy(model.output_head.bias),
                               num_mixture=hp.num_mixture, z_size=hp.z_size if hp.conditional else 0)


def encoder_weights(model) -> EncoderWeights:
    """The bidirectional encoder and the two latent heads of a conditional training.model.SketchRNN."""
    cells = (model.enc_fw.cell, model.enc_bw.cell)
    return EncoderWeights(kernels=tuple(_numpy(c.kernel) for c in cells),
                          recurrent_kernels=tuple(_numpy(c.recurrent_kernel) for c in cells),
                          biases=tuple(_numpy(c.bias) for c in cells),
                          mu=(_numpy(model.mu_head.kernel), _numpy(model.mu_head.bias)),
                          logvar=(_numpy(model.logvar_head.kernel), _numpy(model.logvar_head.bias)))
