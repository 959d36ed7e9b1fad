"""The PIN prompt in a real terminal (tmux): echo comes back on every way out.

SIGINT (C-c), SIGTERM, SIGHUP and SIGQUIT at the prompt restore the terminal and then kill the
process with that signal (exit status 128+N in the shell).  sh (dash) does not restore the
terminal itself, so without this the shell is left without echo.  Ctrl-Z and `fg` under bash:
echo is on while stopped and off again once continued, so the PIN typed after `fg` is not
shown.
"""

import os
import re
import shlex
import signal
import subprocess
import time
import uuid

import pytest

from ptool_fixtures import PTOOL_BIN, ptool_env, requires_tool, run_ptool

PROMPT = r"Enter (new )?SO PIN:"  # capture-pane drops the trailing space


class Tmux:
    def __init__(self, shell, env):
        self.sock = f"ptool-{uuid.uuid4().hex[:12]}"
        self.tmux(["new-session", "-d", "-s", "t", "-x", "160", "-y", "40", shell], env=env)

    def tmux(self, args, env=None, check=True):
        return subprocess.run(["tmux", "-L", self.sock, "-f", "/dev/null", *args], env=env,
                              capture_output=True, text=True, check=check)

    def keys(self, *keys):
        self.tmux(["send-keys", "-t", "t", *keys])

    def line(self, text):
        self.tmux(["send-keys", "-t", "t", "-l", text])
        self.keys("Enter")

    def screen(self):
        return self.tmux(["capture-pane", "-p", "-t", "t"]).stdout

    def wait_for(self, pattern, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.screen()
            if re.search(pattern, text):
                return text
            time.sleep(0.05)
        raise AssertionError(f"{pattern!r} not on screen:\n{self.screen()}")

    def wait_echo_off(self, timeout=10):
        """Until the pane's terminal has echo off (read from outside, with stty -F)."""
        tty = self.tmux(["display-message", "-p", "-t", "t", "#{pane_tty}"]).stdout.strip()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            flags = subprocess.run(["stty", "-F", tty, "-a"], capture_output=True,
                                   text=True).stdout.split()
            if "-echo" in flags:
                return
            time.sleep(0.05)
        raise AssertionError(f"echo still on in {tty}")

    def shell_pid(self):
        return int(self.tmux(["list-panes", "-t", "t", "-F", "#{pane_pid}"]).stdout.split()[0])

    def kill(self):
        self.tmux(["kill-server"], check=False)


def _children(shell_pid):
    """The tpm2-ptool processes the shell started."""
    found = []
    for task in os.listdir(f"/proc/{shell_pid}/task"):
        with open(f"/proc/{shell_pid}/task/{task}/children") as f:
            for pid in f.read().split():
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as c:
                        if c.read().startswith(PTOOL_BIN.encode()):
                            found.append(int(pid))
                except (FileNotFoundError, ProcessLookupError):
                    pass  # it exited between the listing and the read
    return found


def _prompting_child(shell_pid):
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if _children(shell_pid):
            return _children(shell_pid)[0]
        time.sleep(0.05)
    raise AssertionError("no tpm2-ptool child")


def _exit_status(term):
    """Once tpm2-ptool is gone (its status reaped by the shell), the status the shell saw."""
    deadline = time.monotonic() + 10
    while _children(term.shell_pid()) and time.monotonic() < deadline:
        time.sleep(0.05)
    tag = uuid.uuid4().hex[:6]
    term.line(f"echo status-{tag}=$?")
    # No '^': a dying process can be a zombie (gone from the list above) before the shell has
    # reaped it and printed its prompt, so the typed line is echoed early and the shell's output
    # lands after its prompt ('# status-…=131').  The typed line itself has '$?', never digits.
    found = rf"status-{tag}=(\d+)"
    return int(re.search(found, term.wait_for(found)).group(1))


@pytest.fixture(scope="module")
def env(swtpm_module, tmp_path_factory):
    requires_tool("tmux")
    store = tmp_path_factory.mktemp("tty") / "store"
    e = ptool_env(swtpm_module, store)
    run_ptool(["init"], e)
    e.pop("TPM2_PTOOL_SOPIN", None)
    e["PS1"] = "$ "
    return e


def _echo_on(term, tmp_path):
    tag = uuid.uuid4().hex[:6]
    out = tmp_path / f"stty-{tag}"
    term.line(f"stty -a > {out}; echo stty-done-{tag}")
    term.wait_for(rf"(?m)^(?:[#$] )?stty-done-{tag}")
    flags = out.read_text().split()
    assert "-echo" not in flags and "echo" in flags, out.read_text()


COMMAND = f"{shlex.quote(PTOOL_BIN)} addtoken --pid 1 --label t"


@pytest.mark.parametrize("shell,how", [("sh", "C-c"), ("sh", "TERM"), ("sh", "HUP"),
                                       ("sh", "QUIT"), ("bash", "C-c")])
def test_signal_restores_echo_and_kills_with_the_signal(env, tmp_path, shell, how):
    term = Tmux(shell if shell == "sh" else "bash --norc --noprofile", env)
    try:
        term.line(COMMAND)
        term.wait_for(PROMPT)
        if how == "C-c":
            term.keys("C-c")
            number = 2
        else:
            pid = _prompting_child(term.shell_pid())
            os.kill(pid, getattr(signal, f"SIG{how}"))
            number = {"TERM": 15, "HUP": 1, "QUIT": 3}[how]
        assert _exit_status(term) == 128 + number
        _echo_on(term, tmp_path)
    finally:
        term.kill()


def test_ctrl_z_and_fg_keep_the_pin_hidden(env, tmp_path):
    term = Tmux("bash --norc --noprofile", env)
    try:
        term.line(COMMAND)
        term.wait_for(PROMPT)
        term.keys("C-z")
        term.wait_for(r"Stopped")
        _echo_on(term, tmp_path)  # the shell has its echo while the prompt is stopped
        term.line("fg")
        term.wait_for(r"[#$] fg\n.*addtoken")
        term.wait_echo_off()  # bash hands the terminal over, then SIGCONT; the tool turns it off
        term.keys("-l", "hunter2secret")
        time.sleep(0.5)
        assert "hunter2secret" not in term.screen(), term.screen()
        term.keys("Enter")
        term.wait_for(r"Repeat (new )?SO PIN:")
        term.keys("C-c")
        assert _exit_status(term) == 130
        _echo_on(term, tmp_path)
        assert "hunter2secret" not in term.screen()
    finally:
        term.kill()
