"""``bwcolor app``: serve the local web page (the app extra)."""

from __future__ import annotations

from bwcolor.cli import _common
from bwcolor.cli._common import EXIT_OK, Formatter, UsageError, console, number


def run(args):
    _common.check_model(args.model)
    try:  # before loading the model: without the app extra there is no page to serve
        from bwcolor.app import import_gradio

        import_gradio()
    except ImportError as e:
        raise UsageError(str(e)) from None
    from bwcolor import app

    try:  # which of --host and --port is wrong, before the model loads or anything is announced
        app.check_address(args.host, args.port)
    except ValueError as e:
        raise UsageError(f"--host {args.host} --port {args.port}: {e}") from None
    colorizer = _common.load_colorizer(args.model)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        console.log(f"warning: --host {args.host}: anyone who can reach this address can use "
                    f"the page and upload photos")
    try:
        # Blocks until Ctrl-C / SIGTERM, which propagate: main says "interrupted", exit 128 + n.
        app.launch(colorizer, host=args.host, port=args.port, max_upload_mb=args.max_upload_mb,
                   max_pixels=args.max_pixels, quiet=True, on_ready=lambda: console.log(
                       f"serving {args.model} at http://{args.host}:{args.port} (Ctrl+C stops "
                       f"it)"))
    except ValueError as e:  # the port was taken between the check and the start
        raise UsageError(str(e)) from None
    return EXIT_OK


def add_parser(sub):
    a = sub.add_parser("app", help="the local web page: drop photos, click color hints",
                       formatter_class=Formatter,
                       description="Serve bwcolor's web page (needs the app extra: pip install "
                       "\"bwcolor[app]\"). It binds 127.0.0.1 unless told otherwise.")
    a.add_argument("--model", default="default", help="bundled preset name, or a preset / run "
                   "folder")
    a.add_argument("--host", default="127.0.0.1",
                   help="address to bind (0.0.0.0: every network interface)")
    a.add_argument("--port", type=number(int, "port", low=1, high=65535), default=7860,
                   help="TCP port")
    a.add_argument("--max-upload-mb", type=number(float, "max_upload_mb", low=0, low_open=True,
                                                  high=4096), default=50,
                   help="largest photo file accepted, in MB")
    a.add_argument("--max-pixels", type=number(int, "max_pixels", low=1024, high=1_000_000_000),
                   default=50_000_000, help="largest photo accepted, in pixels (width x height)")
    a.set_defaults(func=run)
