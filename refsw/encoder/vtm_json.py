"""Syntax values from the neutral JSON of the SEI conformance vectors, as VTM's encoder forms them.

The JSON (``docs/conformance.md#json-format``) holds, per message, the coded values of the
syntax elements that do not depend on quantisation (``syntax``) and the configured floats
(``coordinates``, ``matrices``, ``pupil``). :class:`VtmJsonEncoder` turns them into the syntax
values of this package's tables, applying the VTM-23.13 encoder's quantisation and prediction
(``docs/gfv_sei.md``: ``#gfv-writer-quantisation``, ``#gfve-writer-quantisation``,
``#spti-message``), so that the written
payloads are VTM's bytes. The CTC and conformance tools use it to build SEI messages from the
same inputs VTM was given.

VTM encoder behaviours reproduced (all visible in the public vectors):

* GFV/GFVE NN information is a global encoder setting: VTM's writer tests its NN present flag
  and mode for every message, so with mode 0 it appends the NN payload (after zero alignment
  bits) also to non-base messages, whose syntax has no payload (vector ``gfv_nnr_payload``).
  Non-base messages therefore get the base message's NN values here; the table's writer then
  does what VTM's writer does.
* GFV writer prediction state: base coordinates are stored by every message while the global
  base-picture flag is set, base matrices only by base messages
  (``docs/gfv_sei.md#gfv-vtm-writer-behaviours`` item 2, ``#gfv-vtm-reader-behaviours`` item 3).
* GFVE pupils are quantised with the precision configured for each message (the reader uses the
  base message's; they agree in every vector).
* SPTI: VTM writes ``spti_persistence_flag`` 1, ``spti_max_sublayers_minus1`` =
  MaxTempLayer - 1, ``spti_sublayer_interval_scale_factor[ i ]`` = 2^(max - i) and synthesized
  flags 0; values missing from the JSON are filled that way.
"""

from __future__ import annotations

from typing import Any, Iterable

from bitstream_spec.dsl import Element, For, If
from sei.context import DecodingContext
from sei.nal import make_nal_unit
from sei.registry import PayloadType, lookup
from sei.sei_message import sei_rbsp, write_payload

from . import quantise


def _element_labels(body: tuple, out: dict[str, str]) -> None:
    """Maps VTM dump labels that differ from the element name to the name."""
    for node in body:
        if isinstance(node, Element):
            if node.trace and node.trace != node.name and "[" not in node.trace:
                out.setdefault(node.trace, node.name)
        elif isinstance(node, If):
            _element_labels(node.then, out)
            _element_labels(node.orelse, out)
        elif isinstance(node, For):
            _element_labels(node.body, out)


def _indexed_rows(v: dict, rows: Iterable[dict]) -> None:
    """Spreads a list of per-entry dicts (``gfv_matrix_types``, ``gfve_matrix_dims``) into
    indexed elements: ``v[name][i] = row[name]``."""
    for i, row in enumerate(rows):
        for name, value in row.items():
            v.setdefault(name, {})[i] = value


def coded_values(payload_type: int, syntax: dict[str, Any], variant: str = "C") -> dict[str, Any]:
    """The coded syntax values of a JSON ``syntax`` object, keyed by element name.

    VTM dump labels are renamed to element names (``gfv_mode_idc`` -> ``gfv_nn_mode_idc``),
    per-entry lists become indexed elements, ``null`` list entries (absent components) are
    dropped and ``*_payload_hex`` strings become the ``*_payload_byte`` bytes. ``variant`` is
    the GFV syntax variant whose labels apply (``"C"``, VTM-23.12 and later).

    Raises:
        KeyError: ``payload_type`` has no registered syntax.
    """
    mt = lookup(payload_type)
    if mt is None:
        raise KeyError(f"no syntax registered for payloadType {payload_type}")
    labels: dict[str, str] = {}
    _element_labels(mt.compiled(variant).syntax.body, labels)
    v: dict[str, Any] = {}
    for key, value in syntax.items():
        if key in ("gfv_matrix_types", "gfve_matrix_dims"):
            _indexed_rows(v, value)
        elif key.endswith("_payload_hex"):
            v[key[: -len("_hex")] + "_byte"] = bytes.fromhex(value)
        elif isinstance(value, list):
            v[labels.get(key, key)] = {i: x for i, x in enumerate(value) if x is not None}
        else:
            v[labels.get(key, key)] = value
    return v


class VtmJsonEncoder:
    """Builds the payloads of a vector's messages in order, as VTM's encoder wrote them.

    One instance per stream: it keeps the writer-side prediction state (in ``ctx``) and VTM's
    global encoder settings between messages.

    Args:
        ctx: writer context (a new ``"vtm"`` context by default).
        max_temporal_layers: VTM's ``MaxTempLayer`` for SPTI (1 with the all-intra
            configuration of the conformance vectors).
    """

    def __init__(self, ctx: DecodingContext | None = None, max_temporal_layers: int = 1) -> None:
        self.ctx = ctx or DecodingContext()
        self.max_temporal_layers = max_temporal_layers
        self._nn_global: dict[int, dict[str, Any]] = {}
        self._gfv_base_flag = 0

    def syntax_values(self, message: dict[str, Any]) -> dict[str, Any]:
        """Syntax values of one JSON message, quantised as VTM's writer does.

        Messages must be given in bitstream order: the quantisation of a predicted message
        uses the reconstruction of earlier ones, and the state is completed when the message
        is written (:meth:`payload`).
        """
        ptype = message["payloadType"]
        v = coded_values(ptype, message.get("syntax", {}), self.ctx.variant)
        if ptype == PayloadType.GENERATIVE_FACE_VIDEO:
            self._gfv(v, message)
        elif ptype == PayloadType.GENERATIVE_FACE_VIDEO_ENHANCEMENT:
            self._gfve(v, message)
        elif ptype == PayloadType.SOURCE_PICTURE_TIMING_INFO:
            self._spti(v)
        return v

    def payload(self, message: dict[str, Any]) -> tuple[int, bytes]:
        """``(payloadType, payload bytes)`` of one JSON message (see :meth:`syntax_values`).

        Raises:
            SEIWriteError: a value does not fit its descriptor.
        """
        ptype = message["payloadType"]
        data, _ = write_payload(ptype, self.syntax_values(message), self.ctx)
        return ptype, data

    def nal_unit(self, message: dict[str, Any]) -> bytes:
        """The SEI NAL unit (header + EBSP, no start code) carrying one JSON message alone, in
        the NAL unit type the JSON gives (VTM writes one GFV/GFVE message per NAL unit)."""
        ptype, data = self.payload(message)
        return make_nal_unit(message["nal_unit_type"], sei_rbsp([(ptype, data)]))

    # ----------------------------------------------------------------- per message type
    def _nn_settings(self, ptype: int, prefix: str, v: dict[str, Any], base: bool) -> None:
        """VTM's global NN settings: kept from the base message, given to the others."""
        names = (f"{prefix}_nn_present_flag", f"{prefix}_nn_mode_idc", f"{prefix}_nn_payload_byte")
        if base:
            self._nn_global[ptype] = {n: v[n] for n in names if n in v}
        else:
            for name, value in self._nn_global.get(ptype, {}).items():
                v.setdefault(name, value)

    def _gfv(self, v: dict[str, Any], message: dict[str, Any]) -> None:
        cnt = v["gfv_cnt"]
        if cnt == 0:
            self._gfv_base_flag = v.get("gfv_base_picture_flag", 0)
        base = cnt == 0 and bool(v.get("gfv_base_picture_flag", 0))
        self._nn_settings(PayloadType.GENERATIVE_FACE_VIDEO, "gfv", v, base)
        state = self.ctx.select_state(PayloadType.GENERATIVE_FACE_VIDEO, v["gfv_id"])
        num_kps = 0
        if v.get("gfv_coordinate_present_flag"):
            coords = message["coordinates"]
            coded = base or not v["gfv_kps_pred_flag"]
            z = v["gfv_coordinate_z_present_flag"] if coded else state.base_z_present
            num_kps = v["gfv_num_kps_minus1"] + 1 if coded else state.base_num_kps
            axes = [coords["x"], coords["y"]] + ([coords["z"]] if z else [])
            quantise.quantise_coordinates(v, axes, state)
            if self._gfv_base_flag and not base:
                # VTM's writer stores its base coordinates whenever the (global) base flag is set.
                state.base_xyz = [list(a) for a in state.prev_xyz]
        if v.get("gfv_matrix_present_flag"):
            pred = v.get("gfv_matrix_pred_flag", 0)
            matrix_element_precision_factor = (
                state.base_matrix_prec if pred else v["gfv_matrix_element_precision_factor_minus1"] + 1
            )
            flat = [x for mtype in message["matrices"] for mat in mtype["elements"] for row in mat for x in row]
            # VTM's writer replaces its base matrices only with base messages ("spec" behaviour).
            quantise.quantise_matrices(v, flat, matrix_element_precision_factor, state, mode="spec", num_kps=num_kps)

    def _gfve(self, v: dict[str, Any], message: dict[str, Any]) -> None:
        cnt = v["gfve_gfv_cnt"]
        base = cnt == 0 and bool(v.get("gfve_base_picture_flag", 0))
        self._nn_settings(PayloadType.GENERATIVE_FACE_VIDEO_ENHANCEMENT, "gfve", v, base)
        state = self.ctx.select_state(PayloadType.GENERATIVE_FACE_VIDEO_ENHANCEMENT, v["gfve_id"])
        if v.get("gfve_matrix_present_flag"):
            quantise.quantise_gfve_matrices(v, [m["elements"] for m in message["matrices"]], state)
        pupil = message.get("pupil", {})
        factor = pupil.get("precision_factor_configured", state.base_pupil_prec or 1)
        quantise.quantise_pupils(v, pupil.get("left"), pupil.get("right"), factor, state)

    def _spti(self, v: dict[str, Any]) -> None:
        if v.get("spti_cancel_flag") or v.get("spti_source_timing_equals_output_timing_flag", 1):
            return
        persistence = v.setdefault("spti_persistence_flag", 1)
        top = (
            v.setdefault("spti_max_sublayers_minus1", self.max_temporal_layers - 1)
            if persistence
            else self.ctx.sps_max_sublayers_minus1
        )
        first = 0 if persistence else top
        v.setdefault("spti_sublayer_interval_scale_factor", {i: 1 << (top - i) for i in range(first, top + 1)})
        v.setdefault("spti_sublayer_synthesized_picture_flag", {i: 0 for i in range(first, top + 1)})
