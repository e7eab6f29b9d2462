"""``gfv-studio``: the page in a real headless browser (Debian's chromium and chromium-driver
through Selenium; ``.ci/run`` installs them): it loads a stream, shows the decoded picture, a
slider edit changes the edited picture's pixels, and the export writes a decodable mp4. Also the
command line's one-line errors and the session's refusals.

``GFV_STUDIO_SCREENSHOT=docs/img/studio.png`` makes the browser test save its screenshot there
(the one in the docs was made so).
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from refsw.apps import studio_app

#: A clip of ../shared/data, its first pictures.
CLIP, PICTURES = "lp_d0", 15
#: Another person, for the base picture.
OTHER_FACE = "mead_w009_front_surprised_level3_001"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


def test_cli_refuses_a_missing_stream(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert studio_app.main([str(tmp_path / "none.266")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"gfv-studio: error: cannot read {tmp_path / 'none.266'}: no such file"]


def test_cli_refuses_a_bad_port(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stream = tmp_path / "s.266"
    stream.write_bytes(b"\x00\x00\x01")
    assert studio_app.main([str(stream), "--port", "70000"]) == 1
    assert "--port 70000" in capsys.readouterr().err


@pytest.fixture(scope="module")
def session(shared_dir: Path):
    from refsw.encoder import encode_video
    from refsw.studio.session import StudioSession
    from refsw.train.data import load_clip

    clip = load_clip(CLIP, data_dir=shared_dir / "data", max_frames=PICTURES)
    stream, _ = encode_video(clip.frames, 25.0, max_kbps=0.0, model="sem3d", qp=32)
    out = StudioSession(stream, clip.frames)
    assert out.num_pictures == PICTURES
    yield out
    out.close()


def test_session_refuses_bad_edits(session) -> None:
    from refsw.decoder.edits import EditError
    from refsw.studio.session import StudioError

    with pytest.raises(EditError, match="unknown edit key 'blink'"):
        session.settings({"blink": 1.0})
    with pytest.raises(EditError, match="outside"):
        session.settings({"yaw": float("nan")})
    with pytest.raises(EditError, match="outside"):
        session.settings({"zoom": 100})
    with pytest.raises(StudioError, match="unknown base picture"):
        session.settings({}, "0123456789ab")
    with pytest.raises(StudioError, match="cannot be read as a picture"):
        session.add_base(b"not a picture")


def test_sliders_are_the_decoder_edits() -> None:
    from refsw.decoder.edits import EDIT_KEYS, RANGES
    from refsw.studio.session import SLIDERS

    assert [s.key for s in SLIDERS] == list(EDIT_KEYS)
    for s in SLIDERS:
        lo, hi = RANGES[s.key]
        assert lo <= s.minimum <= s.neutral <= s.maximum <= hi, s


def _png(picture: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".png", cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
    assert ok
    return data.tobytes()


def test_preview_is_the_rendered_picture(session, shared_dir: Path) -> None:
    """The one-picture preview shown while the whole video renders is that video's picture,
    with the stream's own face and with another face (a clip the stream is not from)."""
    from refsw.decoder import BasePictureError
    from refsw.train.data import load_clip

    index = next(p.index for p in session.decoded.pictures if p.kind == "generated")
    portrait = load_clip(OTHER_FACE, data_dir=shared_dir / "data", max_frames=1).frames[0]
    base = session.add_base(_png(portrait))
    for settings in (session.settings({"yaw": -10, "mouth": 2}), session.settings({"eyes": 0.2}, base)):
        preview = session.picture(index, settings)
        whole = session.render(settings).frames[index]
        assert np.abs(preview.astype(int) - whole.astype(int)).mean() < 0.5
        assert np.abs(whole.astype(int) - session.decoded.frames[index].astype(int)).mean() > 2.0
    with pytest.raises(BasePictureError, match="no face"):
        session.add_base(_png(np.full((200, 160, 3), 128, np.uint8)))


def test_plot_curves_move_as_the_edits(session) -> None:
    """The plot's curves are in the edit keys' units and signs: an edit shifts its own curve by
    its value (yaw and pitch: times sem3d's turn gain; zoom: multiplies it) and leaves the
    others (the Euler angles of a head pitched by 10 degrees move by up to 1.7 degrees under a
    10-degree roll about the camera axis)."""
    from refsw.models import get_model
    from refsw.models.sem3d import EDIT_TURN_GAIN
    from refsw.studio.plot import first_log_scale, named_curves, parameter_plot, parameter_table

    params = parameter_table(session.decoded.params)
    before = named_curves(params, "sem3d")
    gain = {"yaw": EDIT_TURN_GAIN[0], "pitch": EDIT_TURN_GAIN[1]}
    for key, value in (("yaw", 12.0), ("pitch", -8.0), ("roll", 10.0), ("zoom", 1.2), ("tx", 0.1), ("ty", -0.05)):
        edited = np.stack([get_model("sem3d").apply_edit(p, {key: value}) for p in params])
        after = named_curves(edited, "sem3d", first_log_scale(params))
        for name, (values, _) in before.items():
            change = after[name][0] / values if name == "zoom" else after[name][0] - values
            expected = value * gain.get(name, 1.0) if name == key else (1.0 if name == "zoom" else 0.0)
            angle = name in ("yaw", "pitch", "roll")
            tolerance = (0.5 if name == key else 2.0) if angle else 1e-6
            np.testing.assert_allclose(change, expected, atol=tolerance, err_msg=f"{name} after {key}={value}")
    png = parameter_plot(params, "sem3d", ["key"] * len(params), edited).png
    assert cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR).shape[1] == 900


@pytest.fixture(scope="module")
def server(session) -> Iterator[str]:
    from werkzeug.serving import make_server

    from refsw.apps.studio_web import create_app

    app = create_app(session, "test.266", "edited.mp4")
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_port}"
    srv.shutdown()
    thread.join(5)


@pytest.fixture(scope="module")
def browser():
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("chromium and chromedriver are not installed (.ci/run installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1120,1330",
    ):
        options.add_argument(arg)
    options.binary_location = CHROMIUM
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    yield driver
    driver.quit()


def _image(url: str) -> np.ndarray:
    """The picture at ``url`` as ``(H, W, 3)`` uint8 RGB."""
    from urllib.request import urlopen

    with urlopen(url, timeout=30) as response:
        data = np.frombuffer(response.read(), dtype=np.uint8)
    return cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def _wait(condition, seconds: float = 30.0) -> None:
    end = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.1)


def test_page_edits_and_exports(session, server: str, browser, tmp_path: Path, shared_dir: Path) -> None:
    from selenium.webdriver.common.by import By

    from refsw.media.video_io import read_video
    from refsw.train.data import load_clip

    browser.get(server + "/")
    status = browser.find_element(By.ID, "status")
    _wait(lambda: status.get_attribute("data-state") == "ready")
    decoded = browser.find_element(By.ID, "decoded")
    _wait(lambda: browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", decoded) > 0)
    # a generated (not key) picture: the slider moves the head there
    index = next(p.index for p in session.decoded.pictures if p.kind == "generated")
    browser.execute_script(f"show({index})")
    src = decoded.get_attribute("src")
    assert src.endswith(f"/picture/decoded/{index}.png")
    before = _image(src)
    np.testing.assert_array_equal(before, session.decoded.frames[index])

    browser.execute_script(
        "const el = document.getElementById('slider-yaw'); el.value = 15;"
        "el.dispatchEvent(new Event('input')); el.dispatchEvent(new Event('change'));"
    )
    edited = browser.find_element(By.ID, "edited")
    _wait(
        lambda: (
            "/picture/edited/decoded/" not in edited.get_attribute("src")
            and status.get_attribute("data-state") == "ready"
        )
    )
    assert "?preview" not in edited.get_attribute("src")  # the whole rendering is done
    after = _image(edited.get_attribute("src"))
    plot = browser.find_element(By.ID, "plot")
    assert "/plot/decoded.png" not in plot.get_attribute("src")
    _wait(lambda: browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", plot) > 0)
    assert after.shape == before.shape
    changed = np.abs(after.astype(int) - before.astype(int)).max(axis=2) > 16
    assert changed.mean() > 0.02, changed.mean()  # the head turned: a few % of the picture moved

    if shot := os.environ.get("GFV_STUDIO_SCREENSHOT"):
        from PIL import Image

        browser.save_screenshot(shot)
        Image.open(shot).convert("RGB").quantize(256).save(shot, optimize=True)  # 256 colours: < 300 kB
    target = tmp_path / "edited.mp4"
    browser.find_element(By.ID, "export-path").clear()
    browser.find_element(By.ID, "export-path").send_keys(str(target))
    browser.find_element(By.ID, "export").click()
    state = browser.find_element(By.ID, "export-status")
    _wait(lambda: state.get_attribute("data-state") in ("done", "error"))
    assert state.get_attribute("data-state") == "done", state.text
    video = read_video(str(target))
    assert len(video.frames) == PICTURES
    # H.264 at CRF 10: the exported picture is the edited one, not the decoded one
    err_edited = np.abs(video.frames[index].astype(int) - after.astype(int)).mean()
    err_decoded = np.abs(video.frames[index].astype(int) - before.astype(int)).mean()
    assert err_edited < 0.5 * err_decoded, (err_edited, err_decoded)

    browser.find_element(By.ID, "export").click()  # again: the file exists, no replace ticked
    _wait(lambda: state.get_attribute("data-state") == "error")
    assert "exists" in state.text

    # another face: upload a portrait through the picker; the edited picture becomes that face
    portrait = tmp_path / "portrait.png"
    portrait.write_bytes(_png(load_clip(OTHER_FACE, data_dir=shared_dir / "data", max_frames=1).frames[0]))
    browser.find_element(By.ID, "base-file").send_keys(str(portrait))
    _wait(lambda: browser.find_element(By.ID, "base").get_attribute("value") != "")
    _wait(lambda: "?preview" not in edited.get_attribute("src") and status.get_attribute("data-state") == "ready")
    other = _image(edited.get_attribute("src"))
    assert np.abs(other.astype(int) - after.astype(int)).mean() > 10, "the base picture did not change the face"


def test_parameter_table_flattens_each_picture() -> None:
    """kptps' ``(K, 2)`` keypoints become a row of ``2K`` values; a picture without a generator a
    NaN row."""
    from refsw.studio.plot import named_curves, parameter_table

    keypoints = np.arange(6.0).reshape(3, 2)
    table = parameter_table([keypoints, None, keypoints + 1])
    assert table.shape == (3, 6)
    np.testing.assert_array_equal(table[2], keypoints.ravel() + 1)
    assert np.isnan(table[1]).all()
    assert list(named_curves(table, "kptps")) == [f"p{i}" for i in range(6)]
