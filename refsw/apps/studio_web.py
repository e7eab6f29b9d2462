"""The studio page of ``gfv-studio``: a Flask application over one
:class:`refsw.studio.session.StudioSession`.

Routes (all local; the page loads nothing from outside: its script and style sheet are in
``studio_assets/``):

========================================  ==================================================
``GET /``                                 the page
``GET /api/info``                         stream facts, sliders, plot geometry (JSON)
``GET /picture/input/<i>.png``            picture ``i`` of ``--ref`` (404 without it)
``GET /picture/decoded/<i>.png``          decoded picture ``i``
``POST /api/render``                      ``{"values": {key: value}, "base": id|null}``:
                                          starts the whole rendering -> ``{"id", "done"}``
``GET /api/render/<id>``                  ``{"done", "seconds"}`` (400: its error)
``GET /picture/edited/<id>/<i>.png``      picture ``i`` of a rendering (a preview of that
                                          picture alone until the rendering is done)
``GET /plot/<id>.png``                    the parameter plot, with the rendering's dashed
``POST /api/base``                        multipart ``file``: a base picture -> ``{"id": ...}``
``POST /api/export``                      ``{"values", "base", "path", "overwrite"}``: writes
                                          the edited mp4 -> ``{"path", "pictures", "download"}``
``GET /download/<name>``                  a file exported in this session
========================================  ==================================================

Bad requests get status 400 and ``{"error": one line}``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from flask import Flask, Response, abort, jsonify, render_template, request, send_file

from refsw.decoder import BasePictureError, StreamError
from refsw.decoder.edits import EditError
from refsw.media.video_io import OutputError
from refsw.models import ModelError
from refsw.studio.plot import parameter_plot, parameter_table
from refsw.studio.session import SLIDERS, Settings, StudioError, StudioSession

from .common import UsageError, check_output_path

#: Errors that are the user's doing: shown on the page, status 400.
REQUEST_ERRORS = (StudioError, EditError, BasePictureError, StreamError, ModelError, UsageError, OutputError)
#: Largest request (an uploaded base picture), bytes.
MAX_UPLOAD = 64 * 1024 * 1024
#: Render id of the unedited decode.
DECODED = "decoded"
ASSETS = Path(__file__).resolve().parent / "studio_assets"


def png(picture: np.ndarray, cache: bool = True) -> Response:
    """``(H, W, 3)`` uint8 RGB as a PNG response; ``cache``: the browser may keep it (not for a
    preview, which the finished rendering replaces)."""
    ok, data = cv2.imencode(".png", cv2.cvtColor(picture, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        abort(500)
    control = "max-age=3600" if cache else "no-store"
    return Response(data.tobytes(), mimetype="image/png", headers={"Cache-Control": control})


def create_app(session: StudioSession, stream_name: str, export_default: str) -> Flask:
    """The Flask application of the studio page for ``session``.

    Args:
        session: the stream.
        stream_name: shown in the title.
        export_default: the export path proposed on the page.
    """
    app = Flask(__name__, template_folder=str(ASSETS), static_folder=str(ASSETS), static_url_path="/assets")
    app.config["MAX_CONTENT_LENGTH"] = MAX_UPLOAD
    renders: dict[str, Settings] = {DECODED: ((), None)}
    exported: dict[str, Path] = {}
    decoded = session.decoded
    kinds = [p.kind for p in decoded.pictures]
    table = parameter_table(decoded.params)
    base_plot = parameter_plot(table, decoded.generator, kinds)

    def bad_request(err: Exception) -> tuple[Response, int]:
        text = str(err).strip().splitlines()
        return jsonify(error=text[0] if text else type(err).__name__), 400

    for error in REQUEST_ERRORS:
        app.register_error_handler(error, bad_request)

    def picture_index(i: int) -> int:
        if not 0 <= i < session.num_pictures:
            abort(404)
        return i

    def body() -> dict[str, Any]:
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            raise StudioError("expected a JSON object")
        return data

    def settings_of(data: dict[str, Any]) -> tuple[str, Settings]:
        """The render id and settings of a request's ``values`` and ``base``."""
        values = data.get("values") or {}
        if not isinstance(values, dict):
            raise StudioError("values: expected an object of edit key -> number")
        settings = session.settings(values, data.get("base") or None)
        if settings == renders[DECODED]:
            return DECODED, settings
        rid = hashlib.sha256(json.dumps(settings).encode()).hexdigest()[:12]
        renders[rid] = settings
        return rid, settings

    def settings_by_id(rid: str) -> Settings:
        if rid not in renders:
            abort(404)
        return renders[rid]

    @app.get("/")
    def index() -> str:
        return render_template(
            "index.html",
            name=stream_name,
            sliders=SLIDERS,
            has_ref=session.reference is not None,
            export_default=export_default,
        )

    @app.get("/api/info")
    def info() -> Response:
        return jsonify(
            pictures=session.num_pictures,
            fps=decoded.fps,
            generator=decoded.generator,
            kinds=kinds,
            has_ref=session.reference is not None,
            plot_axes=base_plot.axes,
            plot_span=base_plot.span,
            decode_seconds=round(session.decode_seconds, 3),
            sliders=[s.__dict__ for s in SLIDERS],
        )

    @app.get("/picture/input/<int:i>.png")
    def input_picture(i: int) -> Response:
        if session.reference is None:
            abort(404)
        return png(session.reference[picture_index(i)])

    @app.get("/picture/decoded/<int:i>.png")
    def decoded_picture(i: int) -> Response:
        return png(decoded.frames[picture_index(i)])

    @app.post("/api/render")
    def render() -> Response:
        rid, settings = settings_of(body())
        future = session.submit(settings)
        return jsonify(id=rid, done=future.done())

    @app.get("/api/render/<rid>")
    def render_state(rid: str) -> Response:
        settings = settings_by_id(rid)
        future = session.submit(settings)
        if not future.done():
            return jsonify(id=rid, done=False)
        future.result()  # raises the rendering's error: a 400 with its message
        seconds = session.render_seconds.get(settings, 0.0)
        return jsonify(id=rid, done=True, seconds=round(seconds, 3))

    @app.get("/picture/edited/<rid>/<int:i>.png")
    def edited_picture(rid: str, i: int) -> Response:
        picture = session.picture(picture_index(i), settings_by_id(rid))
        return png(picture, cache=session.submit(renders[rid]).done())

    @app.get("/plot/<rid>.png")
    def plot(rid: str) -> Response:
        if rid == DECODED:
            data = base_plot.png
        else:
            video = session.render(settings_by_id(rid))
            data = parameter_plot(table, decoded.generator, kinds, edited=parameter_table(video.params)).png
        return Response(data, mimetype="image/png")

    @app.post("/api/base")
    def upload_base() -> Response:
        upload = request.files.get("file")
        if upload is None:
            raise StudioError("no file uploaded")
        bid = session.add_base(upload.read())
        h, w = session.bases[bid].shape[:2]
        return jsonify(id=bid, width=w, height=h, name=upload.filename or bid)

    @app.post("/api/export")
    def export() -> Response:
        data = body()
        _, settings = settings_of(data)
        target = str(data.get("path") or "").strip()
        if not target:
            raise StudioError("give the path of the video to write")
        overwrite = bool(data.get("overwrite"))
        if Path(target).is_file() and not overwrite:
            raise StudioError(f"{target} exists; tick 'replace an existing file' to replace it")
        path = check_output_path(target, overwrite)
        if path.suffix.lower() != ".mp4":
            raise StudioError(f"{target}: the export is an .mp4 file")
        pictures = session.export(path, settings)
        exported[path.name] = path.resolve()
        return jsonify(path=str(path.resolve()), pictures=pictures, download=f"/download/{path.name}")

    @app.get("/download/<name>")
    def download(name: str) -> Response:
        if name not in exported:
            abort(404)
        return send_file(exported[name], mimetype="video/mp4", as_attachment=True, download_name=name)

    return app
