"""ONNX graphs built straight from numpy weights, with nothing but ``numpy`` and ``onnx``.

The export writes them beside its tf2onnx graphs (the fused sampler, the prefix primer, the int8 encoder), and the
official-model import builds a whole model folder from them, TensorFlow-free, so the app can import too.

- :mod:`.builder`: node and initializer bookkeeping, model assembly (opset, contrib domain).
- :mod:`.layout`: the weights as numpy arrays and their layouts (Keras / ONNX gate orders, the ``[K, 8]`` head).
- :mod:`.decoder`: one decoder step and the whole sampling loop in one ``Loop`` (fp32 or int8).
- :mod:`.hyper`: the sampling loop of a HyperLSTM decoder (``dec_model=hyper``, fp32).
- :mod:`.prime`: the decoder teacher-forced over a prefix.
- :mod:`.encoder`: the bidirectional encoder as one ``LSTM`` op.
- :mod:`.init`: the decoder's first state, from z or zeros.
"""
from sketchgen.graphs.builder import MS_DOMAIN
from sketchgen.graphs.decoder import UNROLL, build_sampler, build_step
from sketchgen.graphs.encoder import build_encoder
from sketchgen.graphs.hyper import HyperDecoderWeights, build_hyper_sampler
from sketchgen.graphs.init import build_init
from sketchgen.graphs.layout import INT8_SCALES, DecoderWeights, EncoderWeights, noise_layout, quantize_int8
from sketchgen.graphs.prime import build_prime
from sketchgen.model_folder import HEAD_COLUMNS, OPSET, PRECISIONS

__all__ = ["MS_DOMAIN", "OPSET", "UNROLL", "HEAD_COLUMNS", "INT8_SCALES", "PRECISIONS", "DecoderWeights",
           "EncoderWeights", "noise_layout", "quantize_int8", "build_sampler", "build_step", "build_prime",
           "build_encoder", "HyperDecoderWeights", "build_hyper_sampler", "build_init"]
