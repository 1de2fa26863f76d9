"""Pages printed to PDF by headless Chromium: one browser for every page of a run.

``Printer`` starts Chromium once and drives it over the DevTools protocol on a pipe
(``--remote-debugging-pipe``: the browser reads commands on its descriptor 3 and answers on 4,
each message JSON ended by a NUL byte), so that a directorate's sheets pay one browser start, not
one each (about 1.4 s a page when every page started its own). What a printed page may reach is
the same either way:

- no network: the browser's own switches (``PRINTER_SWITCHES``) make every host name unresolvable
  and send every connection, loopback included, to a closed proxy;
- no script and no other local file: the content security policy (``CSP_META``) is put first in a
  copy of every page it prints (``with_policy``);
- a throwaway profile, removed with the browser.
"""

from __future__ import annotations

import base64
import fcntl
import itertools
import json
import os
import re
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from sinfonia.errors import UserError


class PrintError(UserError, RuntimeError):
    """Chromium could not print a page (the message names it and says what the browser said)."""


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


# What a sheet may load: its own inline styles and the charts embedded as data: images. No script,
# no network, no other file (a name from the data is escaped, and even unescaped could load nothing).
CONTENT_SECURITY_POLICY = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:; "
                           "script-src 'none'; connect-src 'none'; frame-src 'none'; object-src 'none'; "
                           "base-uri 'none'; form-action 'none'")
CSP_META = f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">'

# The printer's own switches: every host name unresolvable and every connection sent to a closed
# proxy, loopback included (no network), no extensions or plugins. (Chromium's switch that turns
# scripts off, --blink-settings=scriptEnabled=false, also stops headless printing: scripts are
# turned off by the policy the printer puts first in every page it prints.)
PRINTER_SWITCHES = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
    "--disable-extensions", "--disable-plugins", "--deny-permission-prompts",
    "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
)

# Page.printToPDF's settings: those of Chromium's own --print-to-pdf with --no-pdf-header-footer
# (US Letter, its default margins, backgrounds printed: the maps' legend swatches are backgrounds).
PDF_SETTINGS = {"displayHeaderFooter": False, "printBackground": True, "preferCSSPageSize": True,
                "transferMode": "ReturnAsBase64"}
# Seconds Chromium is given to start, to load a page and to print it.
TIMEOUT_S = 120


def with_policy(page_html: str) -> str:
    """``page_html`` with ``CSP_META`` as the first element of its head (before anything that
    could load or run), whatever the page itself declares."""
    head = re.search(r"<head(\s[^>]*)?>", page_html, flags=re.IGNORECASE)
    if head is None:
        return f"<!DOCTYPE html><html><head>{CSP_META}</head>{page_html}"
    return page_html[:head.end()] + CSP_META + page_html[head.end():]


class Printer:
    """One headless Chromium, started on ``__enter__`` and closed on ``__exit__``; ``print``
    prints one page to one PDF file."""

    def __init__(self, browser: str):
        self.browser = browser
        self._next_id = 0
        self._buffer = b""
        self._events: list[dict] = []  # events that arrived while an answer was awaited
        self._proc: subprocess.Popen | None = None

    def __enter__(self) -> Printer:
        self._profile = tempfile.TemporaryDirectory(prefix="sinfonia-chromium-")
        commands_read, self._commands = os.pipe()
        self._answers, answers_write = os.pipe()

        def descriptors() -> None:  # in the child: the pipe's ends as descriptors 3 and 4
            read, write = (fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (commands_read, answers_write))
            os.dup2(read, 3)
            os.dup2(write, 4)
            os.set_inheritable(3, True)
            os.set_inheritable(4, True)

        self._log = Path(self._profile.name) / "chromium.log"  # what it says, for an error message
        try:
            with open(self._log, "wb") as log:
                self._proc = subprocess.Popen(
                    [self.browser, *PRINTER_SWITCHES, f"--user-data-dir={self._profile.name}",
                     "--remote-debugging-pipe", "about:blank"],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                    pass_fds=(3, 4), preexec_fn=descriptors)  # noqa: PLW1509 - os calls only, no lock taken
        except BaseException:  # not started: nothing of it is left behind
            self.__exit__(None, None, None)
            raise
        finally:
            os.close(commands_read)
            os.close(answers_write)
        try:
            self._call("Browser.getVersion")
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            try:
                self._send("Browser.close", {})
                proc.wait(timeout=10)
            except (OSError, PrintError, subprocess.TimeoutExpired):
                proc.kill()
                proc.wait()
        for fd in (self._commands, self._answers):
            try:
                os.close(fd)
            except OSError:
                pass
        self._profile.cleanup()

    def print(self, page: Path, pdf: Path, policy: bool = True) -> None:
        """``page`` printed to ``pdf``; with ``policy`` (always, but in the test that checks the
        switches alone) through a copy of the page led by ``CSP_META``, beside the page, so that
        what it names relatively is what the policy judges."""
        printed = page
        if policy:
            printed = page.with_name(f".{page.stem}.print.html")
            printed.write_text(with_policy(page.read_text(encoding="utf-8")), encoding="utf-8")
        try:
            data = self._print(printed.resolve().as_uri(), page.name)
        finally:
            if printed != page:
                printed.unlink(missing_ok=True)
        pdf.write_bytes(data)

    def _print(self, url: str, name: str) -> bytes:
        target = self._call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self._call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        try:
            self._call("Page.enable", session=session)
            navigated = self._call("Page.navigate", {"url": url}, session=session)
            if navigated.get("errorText"):
                raise PrintError(f"Chromium could not open {name}: {navigated['errorText']}")
            self._wait_event("Page.loadEventFired", session, name)
            data = base64.b64decode(self._call("Page.printToPDF", PDF_SETTINGS, session=session)["data"])
        finally:
            self._call("Target.closeTarget", {"targetId": target})
        if not data:
            raise PrintError(f"Chromium printed {name} to an empty PDF")
        return data

    # -- the protocol ------------------------------------------------------------------------------
    def _send(self, method: str, params: dict | None, session: str | None = None) -> int:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        payload = json.dumps(message).encode() + b"\0"
        try:
            while payload:
                payload = payload[os.write(self._commands, payload):]
        except BrokenPipeError:
            raise PrintError(self._gone(method, "stopped")) from None
        return self._next_id

    def _messages(self, what: str):
        """The browser's messages as they arrive; a ``PrintError`` when it stops or says nothing
        for ``TIMEOUT_S``."""
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            while b"\0" in self._buffer:
                raw, self._buffer = self._buffer.split(b"\0", 1)
                yield json.loads(raw)
            left = deadline - time.monotonic()
            ready = select.select([self._answers], [], [], max(left, 0))[0] if left > 0 else []
            chunk = os.read(self._answers, 1 << 20) if ready else b""
            if not chunk:
                raise PrintError(self._gone(what, "stopped" if ready else f"did not answer in {TIMEOUT_S} s"))
            self._buffer += chunk

    def _call(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        sent = self._send(method, params, session)
        for message in self._messages(method):
            if message.get("id") == sent:
                if "error" in message:
                    raise PrintError(f"Chromium refused {method}: {message['error'].get('message')}")
                return message.get("result", {})
            if "method" in message:
                self._events.append(message)
        raise AssertionError("unreachable")  # _messages raises when the browser stops

    def _wait_event(self, event: str, session: str, name: str) -> None:
        seen, self._events = self._events, []
        for message in itertools.chain(seen, self._messages(f"loading {name}")):
            if message.get("method") == event and message.get("sessionId") == session:
                return

    def _gone(self, what: str, how: str) -> str:
        said = ""
        if self._proc is not None:
            try:
                self._proc.wait(timeout=5)  # what it said is complete once it has exited
            except subprocess.TimeoutExpired:
                pass
        if self._proc is not None and self._proc.poll() is not None and self._log.exists():
            said = self._log.read_bytes().decode(errors="replace").strip()[-500:]
        return f"Chromium {how} ({what})" + (f": {said}" if said else "")


def print_pdf(page: Path, pdf: Path, browser: str, policy: bool = True) -> None:
    """One page printed to PDF by a browser of its own (``Printer``; a batch shares one)."""
    with Printer(browser) as printer:
        printer.print(page, pdf, policy=policy)
