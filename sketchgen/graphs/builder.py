"""A small helper for writing ONNX graphs by hand: node and initializer bookkeeping, model assembly.

The graphs of a model folder that are not converted by tf2onnx (the fused sampler, the step twin, the primer, the
fast encoder, and every graph of an imported official model) are built from numpy weights with it, so building them
needs only ``numpy`` and ``onnx``: the app can build them too.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from sketchgen.model_folder import OPSET

MS_DOMAIN = "com.microsoft"
FLOAT = TensorProto.FLOAT
INT64 = TensorProto.INT64


class Builder:
    """Collects nodes (for one graph or a Loop body) and initializers (always in the outermost graph)."""

    def __init__(self, initializers: list[onnx.TensorProto], prefix: str):
        self.nodes: list[onnx.NodeProto] = []
        self.initializers = initializers
        self.prefix = prefix
        self._count = 0

    def _name(self, hint: str) -> str:
        self._count += 1
        return f"{self.prefix}{hint}_{self._count}"

    def const(self, hint: str, value) -> str:
        name = self._name(hint)
        self.initializers.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(self, op_type: str, inputs: list[str], outputs: int | list[str] = 1, domain: str | None = None,
           **attrs) -> list[str]:
        names = outputs if isinstance(outputs, list) else [self._name(op_type.lower()) for _ in range(outputs)]
        self.nodes.append(helper.make_node(op_type, inputs, names, domain=domain, name=self._name(op_type), **attrs))
        return names

    def op1(self, op_type: str, inputs: list[str], output: str | None = None, domain: str | None = None,
            **attrs) -> str:
        return self.op(op_type, inputs, [output] if output else 1, domain, **attrs)[0]


def uses_ms_domain(graph: onnx.GraphProto) -> bool:
    return any(node.domain == MS_DOMAIN or any(uses_ms_domain(a.g) for a in node.attribute if a.type == a.GRAPH)
               for node in graph.node)


def make_model(graph: onnx.GraphProto, doc: str) -> onnx.ModelProto:
    opsets = [helper.make_opsetid("", OPSET)]
    if uses_ms_domain(graph):  # ONNX Runtime's contrib ops (QGemm, FusedGemm, DynamicQuantizeLSTM)
        opsets.append(helper.make_opsetid(MS_DOMAIN, 1))
    model = helper.make_model(graph, opset_imports=opsets, producer_name="sketchgen-export", doc_string=doc)
    model.ir_version = min(model.ir_version, 8)
    return model


def vi(name: str, elem: int, shape: list) -> onnx.ValueInfoProto:
    """A graph input or output: name, element type and shape (ints or symbolic names)."""
    return helper.make_tensor_value_info(name, elem, shape)

