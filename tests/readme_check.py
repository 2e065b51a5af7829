"""README.md tried to the letter: runs its shell blocks against servers of their own and fails when
one does not do what the text around it says. `make check-readme` runs it; so does `.ci/run`.

The blocks run as written, with two changes a newcomer's machine would not need: every `8000` (the
default port) becomes a free port, so the check never meets another server, and TERTULIA_DATA_DIR
points at a temporary directory. curl fails on an HTTP error (`--fail-with-body`), every block
runs under `set -euo pipefail`, and the blocks of one section share their shell variables, as in
one terminal. What each block must do is written below, next to the block it checks; a README whose
blocks change fails here until this file says what the new ones must do.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx2

from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"^```sh\n(.*?)^```", re.MULTILINE | re.DOTALL)
CURL = 'curl() { command curl --silent --show-error --fail-with-body "$@"; }\n'


class ReadmeError(AssertionError):
    pass


def check(ok: object, claim: str, evidence: object = "") -> None:
    if not ok:
        raise ReadmeError(f"{claim}\n{evidence}".strip())


def wait_for(what: str, condition: Callable[[], bool], within: float) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise ReadmeError(f"{what}: not within {within:.0f} s")
        time.sleep(0.2)


def answers(url: str) -> bool:
    try:
        return httpx2.get(url, timeout=2).status_code == 200
    except httpx2.TransportError:
        return False


def json_documents(text: str) -> list[Any]:
    """The JSON documents curl printed back to back (it adds no newline between them)."""
    decoder, found, at = json.JSONDecoder(), [], 0
    while (at := _skip_space(text, at)) < len(text):
        doc, at = decoder.raw_decode(text, at)
        found.append(doc)
    return found


def _skip_space(text: str, at: int) -> int:
    while at < len(text) and text[at].isspace():
        at += 1
    return at


class Shell:
    """Blocks run one after the other as in one terminal: the variables a block sets reach the next."""

    def __init__(self, env: dict[str, str], port: int, work: Path) -> None:
        self.env, self.port, self.state = env, port, work / "shell-state"
        self.state.write_text("")

    def run(self, block: str) -> str:
        names = sorted(set(re.findall(r"^([A-Z_][A-Z0-9_]*)=", block, re.MULTILINE)))
        save = f"\nfor v in {' '.join(names)}; do printf '%s=%q\\n' \"$v\" \"${{!v}}\"; done >> {self.state}\n"
        script = CURL + f"source {self.state}\n" + self.localize(block) + (save if names else "")
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=ROOT, env=self.env,
                              capture_output=True, text=True, timeout=300)
        check(done.returncode == 0, f"this block failed (exit {done.returncode}):\n{block}",
              f"stdout: {done.stdout[-2000:]}\nstderr: {done.stderr[-2000:]}")
        return done.stdout

    def var(self, name: str) -> str:
        values = dict(line.split("=", 1) for line in self.state.read_text().splitlines())
        return shlex.split(values[name])[0]

    def localize(self, text: str) -> str:
        return re.sub(r"\b8000\b", str(self.port), text)


@contextmanager
def background(argv: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            yield proc
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()


def environment(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TERTULIA_")}
    env.update(TERTULIA_DATA_DIR=str(data_dir), PATH=f"{ROOT / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}")
    return env


# -- the blocks, in the README's order ------------------------------------------------------------------

def two_commands(block: str, work: Path, stack: ExitStack) -> tuple[int, dict[str, str]]:
    """`make run` installs, migrates, loads the demo and serves (on the port PORT names, as the text
    says); the demo login is printed; the panel and /docs answer. `make test` is what CI runs before
    this check, so it is not run again here."""
    lines = [line.split("#")[0].strip() for line in block.splitlines() if line.strip()]
    check(lines == ["make run", "make test"], "the block of two commands changed", lines)
    port, data = free_port(), work / "run"
    env = environment(data)
    log = work / "make-run.log"
    proc = stack.enter_context(background(["bash", "-c", f"PORT={port} make run"], env, log))
    base = f"http://127.0.0.1:{port}"
    wait_for(f"`PORT={port} make run` serving on {base}",
             lambda: answers(f"{base}/healthz") or proc.poll() is not None, 600)
    output = log.read_text(errors="replace")
    check(proc.poll() is None, "make run exited", output[-3000:])
    check((data / "tertulia.db").is_file(), "make run migrates <data dir>/tertulia.db", output[-3000:])
    check("created the database schema" in output, "the first migrate says what it created", output[-3000:])
    check("demo login: " in output, "make run prints the demo login", output[-3000:])
    panel = httpx2.get(f"{base}/panel_cliente/demo/chat", timeout=10)
    check(panel.status_code == 200 and "<html" in panel.text.lower(), "the panel answers", panel.status_code)
    check(httpx2.get(f"{base}/docs", timeout=10).status_code == 200, "the API documentation is at /docs")
    return port, env


def sandbox_run(block: str, work: Path) -> None:
    """`make run SANDBOX=1` serves as `make run` does and, beside it, the provider sandbox (on the port
    SANDBOX_PORT names) with the demo's two WhatsApp numbers registered, their webhooks pointing at the
    server, and the customer phone page answering."""
    lines = [line.split("#")[0].strip() for line in block.splitlines() if line.strip()]
    check(lines == ["make run SANDBOX=1"], "the sandbox block changed", lines)
    port, sandbox_port = free_port(), free_port()
    log = work / "make-run-sandbox.log"
    command = f"PORT={port} SANDBOX_PORT={sandbox_port} make run SANDBOX=1"
    with background(["bash", "-c", command], environment(work / "sandbox-run"), log) as proc:
        base, sandbox = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{sandbox_port}"
        wait_for(f"`{command}` serving", lambda: (answers(f"{base}/healthz") and answers(f"{sandbox}/_sandbox/health"))
                 or proc.poll() is not None, 600)
        output = log.read_text(errors="replace")
        check(proc.poll() is None, "make run SANDBOX=1 exited", output[-3000:])
        check(f"{sandbox}/phone" in output, "the customer phone's address is printed", output[-3000:])
        channels = httpx2.get(f"{sandbox}/_sandbox/channels", timeout=10).json()
        check(sorted(c["kind"] for c in channels) == ["facebook", "instagram", "whatsapp_cloud", "ycloud"]
              and all(c["webhook_url"].startswith(f"{base}/webhooks/") for c in channels),
              "the demo's WhatsApp numbers, Messenger page and Instagram account are in the sandbox, their "
              "webhooks going to the server", channels)
        phone = httpx2.get(f"{sandbox}/phone", timeout=10)
        check(phone.status_code == 200 and "Teléfono del cliente" in phone.text, "the customer phone page answers")


def runs_until(command: str, env: dict[str, str], log: Path, up: Callable[[Path], bool]) -> None:
    """A long-running command: it must come up (and keep running), then it is stopped."""
    with background(["bash", "-c", command], env, log) as proc:
        wait_for(f"`{command}` up", lambda: up(log) or proc.poll() is not None, 120)
        check(proc.poll() is None, f"`{command}` exited", log.read_text(errors="replace")[-2000:])


def command_line(block: str, work: Path) -> None:
    """Every line runs, on a database of its own: migrate creates the schema, serve serves, worker
    starts, and the create commands print what the comments say."""
    port = free_port()
    env = environment(work / "cli")
    shell = Shell(env, port, work)
    for line in [line for line in block.splitlines() if line.strip()]:
        command = line.split("  #")[0].strip()
        if command.startswith("tertulia serve"):
            runs_until(shell.localize(command), env, work / "serve.log",
                       lambda log: answers(f"http://127.0.0.1:{port}/readyz"))
            continue
        if command.startswith("tertulia worker"):
            runs_until(command, env, work / "worker.log", lambda log: "ai_worker_started" in log.read_text())
            continue
        if command.startswith("tertulia sandbox"):
            runs_until(re.sub(r"\b8090\b", str(free_port()), command), env, work / "sandbox.log",
                       lambda log: "provider sandbox on" in log.read_text())
            continue
        out = shell.run(command).strip()
        last = out.splitlines()[-1] if out else ""
        if command.startswith("tertulia migrate"):
            check(out.startswith("created the database schema"), "migrate creates the schema", out)
        elif command.startswith("tertulia demo"):
            check("demo tenant loaded" in out and "demo login:" in out, "demo loads the demo tenant", out)
        elif command.startswith("tertulia token create"):
            check(re.fullmatch(r"\S{20,}", last), "the token is alone on the last line", out)
        elif command.startswith("tertulia channel create"):
            check(set(json.loads(last)) == {"channel_id", "inbound_token"}, "channel create prints the ids", out)
        elif command.startswith(("tertulia tenant create", "tertulia user create")):
            check(isinstance(json.loads(last), dict), "create commands print what they created", out)
        else:
            raise ReadmeError(f"the command line block has a line this check does not know: {line}")


def api_setup(block: str, shell: Shell, base: str) -> str:
    """A token and a channel answered by Nora; a customer's message; the conversation's id printed.
    The same external_message_id posted again is stored once."""
    out = shell.run(block).strip()
    conv, channel, inbound = shell.var("CONV"), shell.var("CHANNEL"), shell.var("INBOUND")
    check(out == conv and uuid.UUID(conv), "the block prints the conversation's id", out)
    body = re.search(r"-d '(\{.*?\})'", block, re.DOTALL)
    check(body is not None, "the customer's message is sent with -d '{...}'")
    assert body is not None
    again = httpx2.post(f"{base}/api/v1/inbound/{channel}", content=body.group(1), timeout=10,
                        headers={"Authorization": f"Bearer {inbound}", "content-type": "application/json"})
    check(again.status_code == 202 and again.json()["duplicate"] is True
          and again.json()["conversation_id"] == conv, "the same external_message_id twice is stored once",
          again.text)
    return shell.var("TOKEN")


def api_read(block: str, shell: Shell, base: str, token: str) -> None:
    """A few seconds later: the inbox lists the conversation first; its messages are the customer's and
    Nora's answer."""
    conv = shell.var("CONV")
    headers = {"Authorization": f"Bearer {token}"}

    def nora_answered() -> bool:
        messages = httpx2.get(f"{base}/admin/chats/{conv}/messages", headers=headers, timeout=10).json()
        return any(m["author"] == "ai" for m in messages)

    wait_for("Nora's answer, 'a few seconds later'", nora_answered, 60)
    summary, messages = json_documents(shell.run(block))
    check(summary[0]["id"] == conv, "the inbox lists the new conversation first", summary[:2])
    check([m["author"] for m in messages] == ["contact", "ai"], "the customer's message, then Nora's answer",
          messages)
    check("domingo" in messages[1]["content"].lower() and "8:00" in messages[1]["content"],
          "Nora answers from the café's knowledge (Sundays 8:00 to 15:00)", messages[1]["content"])


def api_take_over(block: str, shell: Shell, base: str, token: str) -> None:
    """A human's message is queued and locks the conversation; the change log shows the three messages
    in order."""
    conv = shell.var("CONV")
    sent, events = json_documents(shell.run(block))
    check(sent["status"] == "queued" and sent["is_locked"] is True, "the human's message locks the conversation",
          sent)
    chat = httpx2.get(f"{base}/admin/chats/{conv}", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    check(chat.json()["is_locked"] is True, "Nora stays out from then on (the conversation is locked)", chat.text)
    ours = [e["data"] for e in events if e["type"] == "message.created" and e["data"].get("conversation_id") == conv]
    check([m.get("author") for m in ours] == ["contact", "ai", "human"], "the change log shows what happened, in order",
          ours)
    check([e["seq"] for e in events] == sorted(e["seq"] for e in events), "events come in sequence order")


def main() -> int:
    blocks = BLOCK.findall((ROOT / "README.md").read_text())
    starts = ["make run", "make run SANDBOX=1", "tertulia migrate", "TOKEN=$(",
              "curl \"localhost:8000/admin/chats/summary\"", "curl -X POST \"localhost:8000/admin/whatsapp/send\""]
    if len(blocks) != len(starts) or not all(b.startswith(s) for b, s in zip(blocks, starts, strict=True)):
        print(f"README.md's shell blocks changed ({len(blocks)} found): tell tests/readme_check.py what they must do",
              file=sys.stderr)
        return 1
    steps = ["two commands", "the sandbox", "command line", "API: setup", "API: reading", "API: taking over"]
    done: list[str] = []
    with tempfile.TemporaryDirectory(prefix="tertulia-readme-") as tmp, ExitStack() as stack:
        work = Path(tmp)
        try:
            port, env = two_commands(blocks[0], work, stack)
            done.append(steps[0])
            sandbox_run(blocks[1], work)
            done.append(steps[1])
            command_line(blocks[2], work)
            done.append(steps[2])
            base, shell = f"http://127.0.0.1:{port}", Shell(env, port, work)
            token = api_setup(blocks[3], shell, base)
            done.append(steps[3])
            api_read(blocks[4], shell, base, token)
            done.append(steps[4])
            api_take_over(blocks[5], shell, base, token)
            done.append(steps[5])
        except ReadmeError as exc:
            print(f"README.md, {steps[len(done)]}: {exc}", file=sys.stderr)
            return 1
    print(f"README.md: {len(blocks)} shell blocks do what the text says ({', '.join(done)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
