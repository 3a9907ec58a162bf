"""Screenshot the web app (``bwcolor app``) in headless Chromium: upload the bundled photo, click
on it to place a color hint, wait for the result, save the page as a PNG.

Needs the app extra, selenium and Debian's chromium and chromium-driver::

    pip install "bwcolor[app]" selenium && apt-get install chromium chromium-driver
    python scripts/screenshot_app.py docs/images/app.png [--model default]

The app is served on a free 127.0.0.1 port in this process and stopped at the end. The model
must take hints (the bundled ``default`` does), so the page can show a placed hint. The picture is shrunk to
``--width`` px and quantized to stay small (docs/images/app.png is kept under ~300 KB).
"""

from __future__ import annotations

import argparse
import io
import socket
import sys
import time

from PIL import Image

from bwcolor import Colorizer
from bwcolor._io import atomic_write
from bwcolor.app import launch
from bwcolor.data import sample_photo


def hint_capable(name):
    """The preset as a Colorizer, refused (exit 2) when it takes no hints."""
    colorizer = Colorizer.from_preset(name)
    if not colorizer.accepts_hints:
        sys.exit(f"screenshot_app: {name!r} takes no color hints; give a preset that does")
    return colorizer


def browser(width, height):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 f"--window-size={width},{height}", "--hide-scrollbars"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def drive(url, out, *, click=(0.35, 0.62), color=None, timeout=300):
    """Upload the sample photo, click on it at ``click`` (fractions of its width and height) and
    return the page's screenshot (PNG bytes) once the hint's result is shown."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    driver = browser(1400, 1250)
    try:
        wait = WebDriverWait(driver, timeout)
        driver.get(url)
        upload = wait.until(ec.presence_of_element_located(
            (By.CSS_SELECTOR, "#bwcolor-photos input[type=file]")))
        upload.send_keys(str(sample_photo()))
        image = wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "#bwcolor-original img")))
        wait.until(ec.text_to_be_present_in_element((By.ID, "bwcolor-info"), "0 hints"))
        wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "#bwcolor-result img")))
        if color:  # as a person does: open the picker, type the hex code, press Enter, close it
            from selenium.webdriver.common.keys import Keys

            driver.find_element(By.CSS_SELECTOR, "#bwcolor-color button.dialog-button").click()
            field = wait.until(ec.visibility_of_element_located(
                (By.CSS_SELECTOR, "#bwcolor-color input[type=text]")))
            field.send_keys(Keys.CONTROL, "a")
            field.send_keys(color, Keys.ENTER)
            driver.find_element(By.TAG_NAME, "h1").click()  # closes the picker
            time.sleep(1)
        w, h = image.size["width"], image.size["height"]
        ActionChains(driver).move_to_element_with_offset(
            image, round((click[0] - 0.5) * w), round((click[1] - 0.5) * h)).click().perform()
        wait.until(ec.text_to_be_present_in_element((By.ID, "bwcolor-info"), "1 hint"))
        time.sleep(2)  # the new pictures load
        return driver.get_screenshot_as_png()
    finally:
        driver.quit()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("output", help="PNG file to write")
    p.add_argument("--model", default="default", help="preset name or folder")
    p.add_argument("--color", default="#3f7f3a", help="the hint's color (#rrggbb)")
    p.add_argument("--click", type=float, nargs=2, default=(0.12, 0.42),
                   help="where to click, as fractions of the photo's width and height")
    p.add_argument("--width", type=int, default=1100, help="width of the saved picture, px")
    args = p.parse_args(argv)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo = launch(hint_capable(args.model), port=port, block=False, quiet=True)
    try:
        png = drive(f"http://127.0.0.1:{port}/", args.output, click=tuple(args.click),
                    color=args.color)
    finally:
        demo.close()
    picture = Image.open(io.BytesIO(png)).convert("RGB")
    picture = picture.resize((args.width, round(picture.height * args.width / picture.width)),
                             Image.Resampling.LANCZOS)
    picture = picture.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    with atomic_write(args.output) as f:
        picture.save(f, format="PNG", optimize=True)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
