"""The local web page (``bwcolor app``): drop photos, click color hints, download the results.

A `Gradio <https://www.gradio.app>`_ Blocks app built on the public :class:`~bwcolor.Colorizer`
only. Gradio is an optional extra (``pip install "bwcolor[app]"``): importing :mod:`bwcolor`
never imports it, and this module imports it only when an app is built.

The page binds ``127.0.0.1`` by default, sends nothing to the internet (Gradio's analytics are
off, no share link, no server-side rendering), refuses uploads over ``max_upload_mb`` and photos
over ``max_pixels`` (decoded by :func:`bwcolor.data.open_image`, with Pillow's
decompression-bomb guard on), and reports a bad file in one line on the page, never a stack
trace. Results, and Gradio's own copies of uploads (its ``GRADIO_TEMP_DIR``), are kept in a
private temporary folder named for the process: removed at exit, and by the next app (or any
bwcolor temporary folder made there) when a kill left it behind.

Examples
--------
>>> from bwcolor.app import launch
>>> launch(preset="default")                    # doctest: +SKIP
"""

from __future__ import annotations

import atexit
import errno
import itertools
import os
import shutil
import socket
import tempfile
import threading
import time
import uuid

import numpy as np
from PIL import Image, ImageDraw

from bwcolor import _io, presets
from bwcolor._io import atomic_write
from bwcolor.colorizer import Colorizer
from bwcolor.data import ImageDecodeError, open_image
from bwcolor.hints import parse_color, parse_hints

__all__ = ["DEFAULT_MAX_PIXELS", "DEFAULT_MAX_UPLOAD_MB", "INSTALL_MESSAGE", "build_app",
           "check_address", "import_gradio", "launch"]

#: What to do when Gradio is missing (the CLI says this line and exits 2).
INSTALL_MESSAGE = 'install the app extra: pip install "bwcolor[app]"'
#: Largest upload, in MB (Gradio's ``max_file_size``; checked again before decoding).
DEFAULT_MAX_UPLOAD_MB = 50
#: Largest photo, in pixels (width x height), read before the pixels are decoded.
DEFAULT_MAX_PIXELS = 50_000_000
#: Long side of the pictures shown on the page (results are downloaded at full resolution).
PREVIEW_SIDE = 1024


def import_gradio():
    """Import Gradio with its analytics off, or raise ImportError with :data:`INSTALL_MESSAGE`."""
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # read when gradio is imported
    try:
        import gradio
    except ImportError:
        raise ImportError(INSTALL_MESSAGE) from None
    return gradio


# ------------------------------------------------------------------ photos and hints
def _one_line(error, path, name):
    """An error's message on one line, naming the upload by its own name, not the temp path."""
    text = " ".join(str(error).split()).replace(f" Received: path={str(path)!r}", "")
    return f"{name}: " + text.replace(str(path), name)


def read_photo(path, name, *, max_pixels, max_bytes):
    """Decode an uploaded photo, or raise ValueError with one line naming it."""
    try:
        size = os.path.getsize(path)
        if size > max_bytes:
            raise ValueError(f"the file is larger than the {max_bytes / 2**20:g} MB upload limit "
                             f"({size / 2**20:.1f} MB)")
        try:  # the header alone: refuse a huge photo before decoding its pixels
            with Image.open(path) as header:
                width, height = header.size
        except Exception:  # open_image below says what is wrong with the file
            width = height = 0
        if width * height > max_pixels:
            raise ValueError(f"the photo has {width} x {height} pixels, more than the limit of "
                             f"{max_pixels} pixels (bwcolor app --max-pixels)")
        image = open_image(path)
    except (ImageDecodeError, OSError, ValueError) as e:
        raise ValueError(_one_line(e, path, name)) from None
    if image.width * image.height > max_pixels:
        raise ValueError(f"{name}: the photo has {image.width} x {image.height} pixels, more "
                         f"than the limit of {max_pixels} pixels (bwcolor app --max-pixels)")
    return image


def picker_color(value):
    """A color picker's value (``"#rrggbb"``, ``"rgb(r, g, b)"`` or ``"rgba(...)"``) as
    ``"#rrggbb"``, by :func:`bwcolor.hints.parse_color`; ValueError naming it otherwise."""
    return "#{:02x}{:02x}{:02x}".format(*parse_color(str(value or "").strip()))


def _preview(image, max_side=PREVIEW_SIDE):
    """A copy no longer than ``max_side`` on its long side, and its scale (preview / photo)."""
    scale = min(1.0, max_side / max(image.size))
    if scale < 1.0:
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.LANCZOS)
    return image, scale


def _marked(preview, scale, hints):
    """The preview in RGB with each hint drawn as a numbered dot of its color."""
    out = preview.convert("RGB")
    draw = ImageDraw.Draw(out)
    dot = max(5, round(max(out.size) / 80))
    for i, hint in enumerate(hints, 1):
        x, y = (hint["x"] + 0.5) * scale, (hint["y"] + 0.5) * scale
        if hint.get("radius"):
            r = max(1.0, hint["radius"] * scale)
            draw.rectangle((x - r, y - r, x + r, y + r), outline=hint["color"], width=2)
        draw.ellipse((x - dot, y - dot, x + dot, y + dot), fill=hint["color"],
                     outline="white", width=2)
        draw.text((x + dot + 2, y - dot), str(i), fill="white", stroke_width=2,
                  stroke_fill="black")
    return np.asarray(out)


class _Photo:
    """One uploaded photo of a session: its name, decoded image, preview and hints."""

    def __init__(self, name, image, result_file):
        self.name, self.image = name, image
        self.result_file = result_file  # its own PNG name in the session folder
        self.preview, self.scale = _preview(image)
        self.hints = []  # dicts x, y, color, radius in the photo's pixels
        self.result = None  # (preview array, PNG path) of the last colorization

    def add_hint(self, x, y, color, radius):
        """Append a hint at photo pixel (x, y); ValueError (one line) for a bad one, from the
        checks of :func:`bwcolor.hints.parse_hints` (an empty field says so)."""
        empty = [name for name, v in (("x", x), ("y", y)) if v is None or str(v).strip() == ""]
        if empty:
            raise ValueError(f"type both x (column) and y (row) in the photo's pixels before "
                             f"'Add hint', or click on the photo; {' and '.join(empty)} "
                             f"{'is' if len(empty) == 1 else 'are'} empty")
        try:
            hint, = parse_hints([{"x": x, "y": y, "color": picker_color(color),
                                  "radius": radius or None}], self.image.height, self.image.width)
        except ValueError as e:  # one hint: its index says nothing here
            raise ValueError(str(e).removeprefix("hint 0: ")) from None
        self.hints.append({"x": hint.x, "y": hint.y, "color": hint.color, "radius": hint.radius})
        self.result = None


class _Session:
    """What one browser tab holds: its photos, the current one, its results folder."""

    def __init__(self, folder):
        self.photos, self.current = {}, None
        self.paths = set()  # uploads already read (Gradio sends the whole list again)
        self.folder = os.path.join(folder, uuid.uuid4().hex)

    @property
    def photo(self):
        return self.photos.get(self.current)

    def add(self, file_name, image):
        """A new photo of the upload ``file_name``, made current. Its name is unique in the
        session (``a.jpg (2)`` for a second ``a.jpg``) and so is its result's file name
        (``a_color.png``; ``a_jpg_color.png`` or ``a_color (2).png`` when taken), so two photos'
        results never replace one another."""
        name, n = file_name, 1
        while name in self.photos:
            n += 1
            name = f"{file_name} ({n})"
        stem, ext = os.path.splitext(file_name)
        stem = stem[:100] or "photo"  # within NAME_MAX, whatever name the browser sent
        taken = {photo.result_file for photo in self.photos.values()}
        tagged = [f"{stem}_{ext.lstrip('.').lower()[:12]}_color.png"] if ext.strip(".") else []
        numbered = (f"{stem}_color ({n}).png" for n in itertools.count(2))
        result = next(c for c in itertools.chain([f"{stem}_color.png"], tagged, numbered)
                      if c not in taken)
        self.photos[name] = _Photo(name, image, result)
        self.current = name
        return name


# ------------------------------------------------------------------ the page's logic
class _Logic:
    """The event handlers, independent of the layout: each returns :meth:`view`'s updates."""

    def __init__(self, gr, colorizer, max_pixels, max_upload_mb):
        self.gr, self.colorizer = gr, colorizer
        self.max_pixels, self.max_bytes = int(max_pixels), int(max_upload_mb * 2**20)
        # Named for this process: the next app removes it if this one is killed before atexit.
        self.folder = str(_io.temporary_folder(tempfile.gettempdir()))
        atexit.register(shutil.rmtree, self.folder, ignore_errors=True)
        _keep_gradios_copies_in(os.path.join(self.folder, "gradio"))
        self.lock = threading.Lock()  # one colorization at a time: the model is shared

    def session(self, state):
        return state if isinstance(state, _Session) else _Session(self.folder)

    def upload(self, files, state, render_size, temperature):
        session = self.session(state)
        problems = []
        for item in files or []:
            path = getattr(item, "name", None) or str(item)
            name = os.path.basename(getattr(item, "orig_name", None) or path)
            if path in session.paths:
                continue
            try:
                image = read_photo(path, name, max_pixels=self.max_pixels, max_bytes=self.max_bytes)
            except ValueError as e:
                problems.append(str(e))
                continue
            session.paths.add(path)
            session.add(name, image)
        if problems and session.photo is None:
            raise _error(self.gr, problems[0] if len(problems) == 1 else
                                f"none of the files could be read: {'; '.join(problems)}")
        for problem in problems:
            self.gr.Warning(problem)
        note = f"skipped: {'; '.join(problems)}" if problems else ""
        return self.render(session, render_size, temperature, note)

    def pick(self, name, state, render_size, temperature):
        session = self.session(state)
        if name in session.photos:
            session.current = name
        return self.render(session, render_size, temperature)

    def add_hint(self, state, x, y, color, radius, render_size, temperature):
        session = self.session(state)
        if session.photo is None:
            raise _error(self.gr, "drop a photo first, then click on it to place a color hint")
        if not self.colorizer.accepts_hints:
            raise _error(self.gr, "this model does not take color hints (start the app with a "
                                "model trained with hints)")
        try:
            session.photo.add_hint(x, y, color, radius)
        except (TypeError, ValueError) as e:
            raise _error(self.gr, e) from None
        return self.render(session, render_size, temperature)

    def click(self, state, color, radius, render_size, temperature, evt):
        """A click on the shown photo: its preview pixel, mapped to the photo's pixels."""
        session = self.session(state)
        photo = session.photo
        if photo is None or evt is None or evt.index is None:
            return self.render(session, render_size, temperature)
        px, py = evt.index[:2]
        x = min(photo.image.width - 1, max(0.0, (px + 0.5) / photo.scale - 0.5))
        y = min(photo.image.height - 1, max(0.0, (py + 0.5) / photo.scale - 0.5))
        return self.add_hint(session, round(x), round(y), color, radius, render_size, temperature)

    def remove(self, state, which, render_size, temperature):
        session = self.session(state)
        photo = session.photo
        if photo is not None and which:
            index = int(str(which).split(":")[0]) - 1
            if 0 <= index < len(photo.hints):
                del photo.hints[index]
                photo.result = None
        return self.render(session, render_size, temperature)

    def clear(self, state, render_size, temperature):
        session = self.session(state)
        if session.photo is not None and session.photo.hints:
            session.photo.hints.clear()
            session.photo.result = None
        return self.render(session, render_size, temperature)

    def settings(self, state, render_size, temperature):
        session = self.session(state)
        if session.photo is not None:
            session.photo.result = None
        return self.render(session, render_size, temperature)

    def render(self, session, render_size, temperature, note=""):
        """Colorize the current photo (when its result is out of date) and show it."""
        photo = session.photo
        if photo is not None and photo.result is None:
            options = {"render_size": int(render_size) if render_size else None,
                       "annealing_temperature": float(temperature) if temperature else None}
            try:
                with self.lock:
                    rgb = self.colorizer.colorize(photo.image, hints=photo.hints or None,
                                                  **options)
            except (TypeError, ValueError) as e:
                raise _error(self.gr, e) from None
            photo.result = (np.asarray(_preview(Image.fromarray(rgb))[0]),
                            self._write_png(session, photo, rgb))
        return self.view(session, note)

    def _write_png(self, session, photo, rgb):
        os.makedirs(session.folder, exist_ok=True)
        path = os.path.join(session.folder, photo.result_file)
        with atomic_write(path) as f:
            Image.fromarray(rgb).save(f, format="PNG", compress_level=1)
        return path

    def view(self, session, note=""):
        """The page's outputs, in build_app's order."""
        gr, photo = self.gr, session.photo
        if photo is None:
            return (session, gr.update(choices=[], value=None), None, None, [],
                    gr.update(choices=[], value=None), gr.update(value=None, interactive=False),
                    "Drop photos above to begin.", note)
        hints = [[i, round(h["x"]), round(h["y"]), h["color"],
                  "default" if h["radius"] is None else f"{h['radius']:g}"]
                 for i, h in enumerate(photo.hints, 1)]
        choices = [f"{i}: ({x}, {y}) {c}" for i, x, y, c, _ in hints]
        preview, png = photo.result
        info = (f"{photo.name}: {photo.image.width} x {photo.image.height} pixels, "
                f"{len(photo.hints)} hint{'' if len(photo.hints) == 1 else 's'}")
        return (session, gr.update(choices=list(session.photos), value=photo.name),
                _marked(photo.preview, photo.scale, photo.hints), preview, hints,
                gr.update(choices=choices, value=choices[-1] if choices else None),
                gr.update(value=png, interactive=True), info, note)


# ------------------------------------------------------------------ the layout
def _controls(gr, colorizer):
    """The settings column: render size, temperature, hint color and radius."""
    size = colorizer.config["image_size"]
    low = max(presets.MIN_RENDER_SIZE, colorizer.preprocessor.input_multiple)
    render = gr.Slider(low, presets.MAX_RENDER_SIZE, value=size, step=low,
                       label="Render size (short side the model sees)",
                       info=f"the model was trained at {size}; larger is slower and sharper")
    classification = colorizer.head == "classification"
    temperature = gr.Slider(0.05, 1.0, step=0.01, interactive=classification,
                            value=colorizer.config.get("annealing_temperature") or 0.38,
                            label="Annealing temperature",
                            info="lower is more vivid" if classification
                            else "only for classification models")
    color = gr.ColorPicker(value="#7a5230", label="Hint color", elem_id="bwcolor-color",
                           info="then click on the photo where that color belongs",
                           interactive=colorizer.accepts_hints)
    radius = gr.Slider(0, 64, value=0, step=1, label="Hint radius (photo pixels)",
                       info="0: the model's own small patch", interactive=colorizer.accepts_hints)
    return render, temperature, color, radius


def build_app(colorizer=None, *, preset="default", max_upload_mb=DEFAULT_MAX_UPLOAD_MB,
              max_pixels=DEFAULT_MAX_PIXELS):
    """The page, as a ``gradio.Blocks`` (not launched: see :func:`launch`).

    Parameters
    ----------
    colorizer : bwcolor.Colorizer, optional
        The model to use; by default ``Colorizer.from_preset(preset)``.
    preset : str
        A bundled preset's name, or a preset or run folder.
    max_upload_mb : float
        Largest photo file accepted, in MB.
    max_pixels : int
        Largest photo accepted, in pixels (width x height).

    Raises
    ------
    ImportError
        Without Gradio, saying how to install it.
    """
    gr = import_gradio()
    if colorizer is None:
        colorizer = Colorizer.from_preset(preset)
    logic = _Logic(gr, colorizer, max_pixels, max_upload_mb)
    # Gradio keeps a copy of every upload in its own temp folder: delete_cache removes this
    # app's copies when it stops (and any older than a day meanwhile), so a person's photos
    # do not stay on disk after the page is closed.
    with gr.Blocks(title="bwcolor", analytics_enabled=False,
                   delete_cache=(3600, 86400)) as demo:
        gr.Markdown("# bwcolor\nDrop black-and-white photos, pick one, and click on it to tell "
                    "the model a color you know." if colorizer.accepts_hints else
                    "# bwcolor\nDrop black-and-white photos and pick one. (This model does not "
                    "take color hints.)")
        state = gr.State(None)
        files = gr.File(file_count="multiple", label="Photos", file_types=_extensions(),
                        elem_id="bwcolor-photos", height=120)
        with gr.Row():
            choice = gr.Dropdown(choices=[], label="Current photo", scale=2)
            info = gr.Markdown("Drop photos above to begin.", elem_id="bwcolor-info")
        with gr.Row():
            original = gr.Image(label="Original (click to add a hint)", interactive=False,
                                type="numpy", format="png", elem_id="bwcolor-original")
            result = gr.Image(label="Colorized", interactive=False, type="numpy", format="png",
                              elem_id="bwcolor-result")
        with gr.Row():
            with gr.Column():
                render, temperature, color, radius = _controls(gr, colorizer)
                download = gr.DownloadButton("Download PNG (full resolution)", interactive=False)
            with gr.Column():
                table = gr.Dataframe(headers=["#", "x", "y", "color", "radius"], value=[],
                                     label="Hints", interactive=False)
                which = gr.Dropdown(choices=[], label="Hint to remove")
                with gr.Row():
                    remove = gr.Button("Remove hint")
                    clear = gr.Button("Remove all hints")
                with gr.Row():
                    x = gr.Number(label="x (column)", precision=0, minimum=0)
                    y = gr.Number(label="y (row)", precision=0, minimum=0)
                    add = gr.Button("Add hint at x, y")
        note = gr.Markdown("")
        outputs = [state, choice, original, result, table, which, download, info, note]  # view's
        options = [render, temperature]
        files.upload(logic.upload, [files, state, *options], outputs, api_name="load_photos")
        choice.input(logic.pick, [choice, state, *options], outputs, api_name="pick")
        add.click(logic.add_hint, [state, x, y, color, radius, *options], outputs,
                  api_name="add_hint")
        original.select(_click_handler(logic, gr), [state, color, radius, *options], outputs)
        remove.click(logic.remove, [state, which, *options], outputs, api_name="remove_hint")
        clear.click(logic.clear, [state, *options], outputs, api_name="clear_hints")
        for slider in options:
            slider.release(logic.settings, [state, *options], outputs)
    demo.queue(default_concurrency_limit=1)
    return demo


#: The GRADIO_TEMP_DIR values this module set (a value someone else set is theirs, and kept).
_GRADIO_DIRS_SET = set()


def _keep_gradios_copies_in(folder):
    """Point Gradio's cache (its copies of uploads and of results it serves: ``GRADIO_TEMP_DIR``,
    read when a page is built and launched) into ``folder``, inside this app's temporary folder,
    so a killed app's copies go with that folder at the next start (they stayed in the system
    temp folder's ``gradio/``). A GRADIO_TEMP_DIR set outside bwcolor is respected."""
    current = os.environ.get("GRADIO_TEMP_DIR")
    if current and current not in _GRADIO_DIRS_SET:
        return
    os.makedirs(folder, mode=0o700, exist_ok=True)
    os.environ["GRADIO_TEMP_DIR"] = folder
    _GRADIO_DIRS_SET.add(folder)


def _click_handler(logic, gr):
    def on_click(state, color, radius, render_size, temperature, evt):
        return logic.click(state, color, radius, render_size, temperature, evt)

    on_click.__annotations__["evt"] = gr.SelectData  # how Gradio knows to pass the click
    return on_click


def _error(gr, message):
    """A one-line ``gr.Error`` shown on the page (and not printed as a traceback)."""
    try:
        return gr.Error(" ".join(str(message).split()), print_exception=False)
    except TypeError:  # Gradio before 5.x's print_exception
        return gr.Error(" ".join(str(message).split()))


def _extensions():
    """File types the upload offers: every extension Pillow reads, and HEIC (with its plugin)."""
    return sorted({*Image.registered_extensions(), ".heic", ".heif"})


def check_address(host, port):
    """Check that the page can be served at ``host``:``port`` (binding it for a moment), before
    the model is loaded or anything is announced.

    Raises
    ------
    ValueError
        In one line saying which is wrong: a host that is no address or name this machine
        resolves, or not one of its own addresses; a port in use, or one that needs privileges.
    """
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, int(port), type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except (socket.gaierror, UnicodeError, OSError) as e:
        why = getattr(e, "strerror", None) or str(e)
        raise ValueError(f"host {host!r} is not an address or a name this machine can resolve "
                         f"({why}); 127.0.0.1 serves this computer only") from None
    with socket.socket(family, kind, proto) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server itself will
        try:
            s.bind(address)
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                raise ValueError(f"port {port} is in use at {host} (another program, or another "
                                 f"bwcolor app, serves there); choose another port") from None
            if e.errno == errno.EADDRNOTAVAIL:
                raise ValueError(f"host {host!r} is not an address of this machine "
                                 f"({e.strerror}); 127.0.0.1 serves this computer only, 0.0.0.0 "
                                 f"every network interface") from None
            if e.errno == errno.EACCES:
                raise ValueError(f"port {port} needs privileges this user lacks (ports below "
                                 f"1024 usually do); choose a port above 1023") from None
            raise ValueError(f"cannot serve at {host}:{port}: {e.strerror or e}") from None


def launch(colorizer=None, *, preset="default", host="127.0.0.1", port=7860,
           max_upload_mb=DEFAULT_MAX_UPLOAD_MB, max_pixels=DEFAULT_MAX_PIXELS, block=True,
           quiet=False, on_ready=None):
    """Build the page and serve it at ``http://host:port`` (local only by default).

    Parameters are :func:`build_app`'s, and:

    host : str
        Address to bind; ``"0.0.0.0"`` lets anyone on the network use it.
    port : int
        TCP port.
    block : bool
        Serve until interrupted: Ctrl-C (``KeyboardInterrupt``, or bwcolor's SIGTERM/SIGHUP
        ``Stopped``) closes the server and propagates, so a caller can tell a stop from a
        return. False returns once the server is up (tests, notebooks).
    on_ready : callable, optional
        Called with no arguments once the server is up (the command line says "serving at"
        then, not before a failure).

    Returns
    -------
    gradio.Blocks
        The running app (``.close()`` stops it).

    Raises
    ------
    ValueError
        When the page cannot be served at ``host``:``port`` (:func:`check_address`), before
        the page is built.
    """
    check_address(host, port)
    demo = build_app(colorizer, preset=preset, max_upload_mb=max_upload_mb,
                     max_pixels=max_pixels)
    try:
        # Never Gradio's own blocking: it catches Ctrl-C, prints its own words and returns.
        demo.launch(server_name=host, server_port=int(port), share=False, inbrowser=False,
                    max_file_size=int(max_upload_mb * 2**20), prevent_thread_lock=True,
                    show_error=False, quiet=quiet, ssr_mode=False)
    except OSError as e:  # taken between the check and the start
        first = str(e).split(". ")[0]
        raise ValueError(f"cannot serve at {host}:{port}: {first}") from None
    if on_ready is not None:
        on_ready()
    if block:
        try:
            _serve_until_stopped()
        finally:
            demo.close()
    return demo


def _serve_until_stopped():
    """Wait in the main thread until Ctrl-C (or a signal bwcolor turns into ``Stopped``)."""
    while True:
        time.sleep(0.5)
