"""One verdict for ``gfv-check`` and ``gfv-decode`` (issue 13, items 4 and 6), on damaged
versions of a real 10-picture stream (``damaged_streams.DAMAGES``: bit flips in a GFV payload, an
NNPFA without NNPFC, ``gfv_cnt`` out of order, a GFVE pointing at no GFV message, a suffix SEI
before its picture, a damaged payloadType, a truncated slice, a truncated SEI NAL unit).

For each: ``gfv-check`` reports an error (exit 1) naming the element; ``gfv-decode`` stops with
one line naming the element and the access unit (exit 1, no output file); ``gfv-decode
--conceal`` exits 0 and reports every concealed picture on stderr, in ``--pictures-csv`` (kind
``concealed``) and in ``--summary-json`` (``concealed``), with the count the damage implies.
"""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pytest
from damaged_streams import DAMAGES

from refsw.apps import check_app, decoder_app
from refsw.decoder import StreamError, decode_stream
from refsw.encoder import encode_video
from refsw.train.data import VALIDATION_CLIPS, load_clip
from sei.checker import check_stream
from sei.nal import read_nal_units
from sei.registry import PayloadType
from sei.sei_message import split_sei_rbsp

#: Damage -> (key picture whose segment is damaged, what happens to it): ``"after_key"``: every
#: picture of the segment but its key picture is concealed; ``"dropped"``: the message that
#: signalled the segment's last pictures is unreadable, they are missing (and the report says
#: so), nothing is concealed; ``"key_lost"``: the key picture is not decoded, the one picture
#: left of the segment is concealed.
EFFECT = {
    "bit_flips_in_gfv_payload": (1, "after_key"),
    "nnpfa_without_nnpfc": (0, "after_key"),
    "gfv_cnt_out_of_order": (1, "after_key"),
    "gfve_refers_to_no_gfv": (1, "after_key"),
    "suffix_sei_before_its_picture": (1, "after_key"),
    "damaged_payload_type": (2, "dropped"),
    "truncated_in_a_slice": (2, "key_lost"),
    "truncated_in_an_sei": (2, "dropped"),
}


@pytest.fixture(scope="module")
def clean(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A 10-picture stream of the validation clip in VTM's carriage (one SEI message per NAL
    unit), three key pictures, and the size of each key picture's segment in its decoding."""
    frames = load_clip(VALIDATION_CLIPS[0], data_dir=shared_dir / "data", max_frames=10).frames
    stream, _ = encode_video(frames, 25.0, max_kbps=0.0, decision="none", key_period=5, sei_packing="per-message")
    decoded = decode_stream(stream)
    sizes: dict[int, int] = {}
    for p in decoded.pictures:
        sizes[p.key_picture] = sizes.get(p.key_picture, 0) + 1
    assert len(sizes) == 3 and all(n > 1 for n in sizes.values())  # the damages below need this shape
    return {"stream": stream, "sizes": sizes, "dir": tmp_path_factory.mktemp("damaged")}


def _expected(clean: dict, name: str) -> tuple[int, int]:
    """``(output pictures, concealed pictures)`` the damage implies."""
    key, effect = EFFECT[name]
    total, size = sum(clean["sizes"].values()), clean["sizes"][key]
    if effect == "after_key":
        return total, size - 1
    if effect == "dropped":
        return total - (size - 1), 0
    return total - size + 1, 1


def test_clean_stream_has_one_verdict(clean: dict, capsys: pytest.CaptureFixture) -> None:
    path = clean["dir"] / "clean.266"
    path.write_bytes(clean["stream"])
    assert check_app.main(["-b", str(path)]) == 0
    assert "SEI layer and VVC layer: 3 coded pictures decoded" in capsys.readouterr().out
    summary, video = clean["dir"] / "clean.json", clean["dir"] / "clean.y4m"
    assert decoder_app.main(["-b", str(path), "-o", str(video), "--summary-json", str(summary), "--quiet"]) == 0
    assert json.loads(summary.read_text())["concealed"] == 0


@pytest.mark.parametrize("name", sorted(DAMAGES))
def test_damaged_stream(clean: dict, capsys: pytest.CaptureFixture, name: str) -> None:
    build, element = DAMAGES[name]
    work: Path = clean["dir"]
    path = work / f"{name}.266"
    path.write_bytes(build(clean["stream"]))

    # gfv-check: an error naming the element, on one line; nothing on stderr
    assert check_app.main(["-b", str(path), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    errors = [f for f in report["findings"] if f["severity"] == "error"]
    assert errors and (not element or errors[0]["element"] == element), errors
    assert check_app.main(["-b", str(path)]) == 1
    out = capsys.readouterr()
    assert out.err == "" and "[vvc @" not in out.out and "NOT conformant" in out.out

    # gfv-decode: stops with the finding, writes nothing
    video = work / f"{name}.y4m"
    assert decoder_app.main(["-b", str(path), "-o", str(video), "--quiet"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "access unit" in err[0] and errors[0]["element"] in err[0], err
    assert not video.exists()

    # gfv-decode --conceal: exit 0, every concealed picture reported three ways, the right count
    summary, pictures = work / f"{name}.json", work / f"{name}.csv"
    argv = ["-b", str(path), "-o", str(video), "--conceal", "--quiet", "-y"]
    assert decoder_app.main([*argv, "--summary-json", str(summary), "--pictures-csv", str(pictures)]) == 0
    err = capsys.readouterr().err
    total, concealed = _expected(clean, name)
    s = json.loads(summary.read_text())
    rows = list(csv.DictReader(pictures.open()))
    assert (s["pictures"], s["concealed"]) == (total, concealed)
    reported = [line.split("concealed picture ")[1] for line in err.splitlines() if "concealed picture " in line]
    assert [r["index"] for r in rows if r["kind"] == "concealed"] == [r.split(":")[0] for r in reported]
    assert sum(r["kind"] == "concealed" for r in rows) == concealed
    assert errors[0]["element"] in err  # the cause is reported
    if EFFECT[name][1] == "dropped":
        assert "not in the output" in err


def test_random_bit_flips_never_decode_silently(clean: dict) -> None:
    """The bar of issue 13: on 12 seeded single-bit flips in the SEI NAL units, whenever
    ``gfv-check``'s rules report an error the decoder refuses the stream, and ``--conceal``
    decodes it with every picture of the clean stream's count either decoded or concealed."""
    rng = random.Random(13)
    stream = clean["stream"]
    spans = [  # SEI NAL units but the decoded picture hash's (its flips are test_picture_hash's)
        (n.offset + 2, n.offset + len(n.data))
        for n in read_nal_units(stream)
        if n.nal_unit_type in (23, 24)
        and PayloadType.DECODED_PICTURE_HASH not in {t for t, _, _ in split_sei_rbsp(n.rbsp)}
    ]
    refused = 0
    for _ in range(12):
        lo, hi = rng.choice(spans)
        at = rng.randrange(lo, hi)
        damaged = stream[:at] + bytes([stream[at] ^ (1 << rng.randrange(8))]) + stream[at + 1 :]
        if check_stream(damaged).conformant:
            continue
        refused += 1
        with pytest.raises(StreamError):
            decode_stream(damaged)
        concealed = decode_stream(damaged, conceal=True)
        assert set(concealed.concealed) == {p.index for p in concealed.pictures if p.kind == "concealed"}
        assert len(concealed.frames) == len(concealed.pictures)
    assert refused >= 6  # most flips in SEI payloads break a rule
