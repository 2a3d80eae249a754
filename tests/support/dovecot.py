"""A real Dovecot IMAP server on loopback for the tests (Debian's dovecot-imapd, 2.3 or 2.4).

Each instance lives under its own folder: configuration, self-signed certificate, users, maildirs, runtime
sockets and log, so several can run at once and nothing touches /etc or /var. Dovecot will not open mailboxes
as root, so when the tests run as root (sandbox, CI) the server's processes run as a system user made for
them; otherwise everything runs as the current user.
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from imap_tools import MailBoxUnencrypted

MAIL_SYSTEM_USER = "jengu-mail"
_LOGIN_LINE = re.compile(r"^\S+ \S+ \S+ imap-login: Info: (?:Login|Logged in): ", re.MULTILINE)


def dovecot_binary() -> Path | None:
    """Debian installs the server in /usr/sbin, which is not on a normal user's PATH."""
    found = shutil.which("dovecot") or shutil.which("dovecot", path="/usr/sbin:/usr/local/sbin")
    return Path(found) if found else None


def dovecot_version(binary: Path) -> tuple[int, int]:
    out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, check=True).stdout
    found = re.match(r"(\d+)\.(\d+)", out.strip())
    if found is None:
        raise RuntimeError(f"unexpected `dovecot --version`: {out!r}")
    return int(found[1]), int(found[2])


@dataclass
class Dovecot:
    """A running server: plain IMAP (STARTTLS offered) on ``port``, IMAP over TLS on ``ssl_port``."""

    host: str
    port: int
    ssl_port: int
    users: dict[str, str]
    base_dir: Path
    ca_file: Path  # the server's self-signed certificate: trust it to verify TLS
    version: tuple[int, int]
    process: subprocess.Popen[bytes] = field(repr=False)

    @property
    def log_path(self) -> Path:
        return self.base_dir / "dovecot.log"

    def logins(self) -> int:
        """Successful logins so far, as logged (2.3 writes "Login:", 2.4 "Logged in:"), a little after the fact."""
        return len(_LOGIN_LINE.findall(self.log_path.read_text(errors="replace")))

    def maildir(self, user: str) -> Path:
        """The user's Maildir++ root; the Sent mailbox is its ``.Sent`` subfolder."""
        return self.base_dir / "home" / user / "Maildir"

    def empty_mailbox(self, user: str, mailbox: str) -> None:
        """Delete every message in one mailbox, through IMAP so that Dovecot's indexes stay right."""
        with MailBoxUnencrypted(self.host, self.port, timeout=10).login(user, self.users[user], mailbox) as box:
            uids = box.uids()
            if uids:
                box.delete(uids)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> Dovecot:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _server_account() -> pwd.struct_passwd:
    if os.geteuid() != 0:
        return pwd.getpwuid(os.getuid())
    try:
        return pwd.getpwnam(MAIL_SYSTEM_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", MAIL_SYSTEM_USER], check=True
        )
        return pwd.getpwnam(MAIL_SYSTEM_USER)


def _config(
    base: Path,
    account: pwd.struct_passwd,
    version: tuple[int, int],
    port: int,
    ssl_port: int,
    *,
    sent_mailbox: str | None,
) -> str:
    """dovecot.conf for one instance; 2.4 renamed many settings, so those come in two forms."""
    users = base / "users"
    if version >= (2, 4):
        first = "dovecot_config_version = 2.4.0\ndovecot_storage_version = 2.4.0\n"  # must open the file
        specific = f"""auth_allow_cleartext = yes
ssl_server_cert_file = {base}/cert.pem
ssl_server_key_file = {base}/key.pem
mail_driver = maildir
mail_path = ~/Maildir
passdb passwd-file {{
  passwd_file_path = {users}
}}
userdb passwd-file {{
  passwd_file_path = {users}
}}
"""
    else:
        first = ""
        specific = f"""disable_plaintext_auth = no
ssl_cert = <{base}/cert.pem
ssl_key = <{base}/key.pem
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = {users}
}}
userdb {{
  driver = passwd-file
  args = {users}
}}
"""
    sent = ""
    if sent_mailbox is not None:
        sent = f'  mailbox "{sent_mailbox}" {{\n    special_use = \\Sent\n    auto = subscribe\n  }}\n'
    # auth_failure_delay and the anvil penalty socket: a wrong password is answered at once and does not slow
    # the next logins from 127.0.0.1 down by seconds. No chroot: only root may, and tests need no such isolation.
    return (
        first
        + f"""base_dir = {base}/run
state_dir = {base}/state
instance_name = jengu-{port}
log_path = {base}/dovecot.log
protocols = imap
listen = 127.0.0.1
default_internal_user = {account.pw_name}
default_internal_group = {grp.getgrgid(account.pw_gid).gr_name}
default_login_user = {account.pw_name}
first_valid_uid = {account.pw_uid}
last_valid_uid = 0
first_valid_gid = {account.pw_gid}
auth_mechanisms = plain login
auth_failure_delay = 0
ssl = yes
{specific}namespace inbox {{
  inbox = yes
  separator = /
{sent}}}
service anvil {{
  chroot =
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    port = {port}
  }}
  inet_listener imaps {{
    port = {ssl_port}
    ssl = yes
  }}
}}
"""
    )


def _await_greeting(process: subprocess.Popen[bytes], port: int, base: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        if process.poll() is not None:
            break
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                if s.makefile("rb").readline().startswith(b"* OK"):
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            break
        time.sleep(0.02)
    process.kill()
    process.wait()
    logs = "\n".join(
        f"--- {log.name}:\n{log.read_text(errors='replace')}"
        for log in (base / "stderr.log", base / "dovecot.log")
        if log.exists()
    )
    raise RuntimeError(f"Dovecot did not greet on 127.0.0.1:{port} (exit code {process.returncode})\n{logs}")


def start_dovecot(
    base_dir: Path, users: dict[str, str], *, sent_mailbox: str | None = "Sent", timeout_s: float = 15
) -> Dovecot:
    """Start an instance under ``base_dir`` (its parents must be traversable by the server's user, e.g. /tmp).

    ``sent_mailbox``: the mailbox every user gets, flagged \\Sent (RFC 6154); None for a server without one.
    """
    binary = dovecot_binary()
    if binary is None:
        raise FileNotFoundError("dovecot is not installed (Debian: apt-get install dovecot-imapd)")
    if any(":" in name + secret or "\n" in name + secret for name, secret in users.items()):
        raise ValueError("passwd-file users and passwords cannot contain ':' or newlines")
    version = dovecot_version(binary)
    account = _server_account()
    base_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(base_dir / "key.pem"),
            "-out",
            str(base_dir / "cert.pem"),
        ],
        check=True,
        capture_output=True,
    )
    (base_dir / "users").write_text(
        "".join(
            f"{name}:{{PLAIN}}{secret}:{account.pw_uid}:{account.pw_gid}::{base_dir}/home/{name}::\n"
            for name, secret in users.items()
        )
    )
    port, ssl_port = _free_port(), _free_port()
    config = _config(base_dir, account, version, port, ssl_port, sent_mailbox=sent_mailbox)
    (base_dir / "dovecot.conf").write_text(config)
    for path in (base_dir, base_dir / "state", base_dir / "home"):
        path.mkdir(exist_ok=True)
        shutil.chown(path, account.pw_uid, account.pw_gid)
    for name in ("key.pem", "cert.pem", "users"):  # 2.4's login processes read the key after dropping root
        shutil.chown(base_dir / name, account.pw_uid, account.pw_gid)
    with (base_dir / "stderr.log").open("wb") as errors:  # configuration errors come before the log file opens
        process = subprocess.Popen(
            [str(binary), "-F", "-c", str(base_dir / "dovecot.conf")], stdout=errors, stderr=subprocess.STDOUT
        )
    _await_greeting(process, port, base_dir, timeout_s)
    return Dovecot("127.0.0.1", port, ssl_port, dict(users), base_dir, base_dir / "cert.pem", version, process)


def running_dovecot(
    users: dict[str, str], *, sent_mailbox: str | None = "Sent", prefix: str = "jengu-dovecot-"
) -> Iterator[Dovecot]:
    """A fixture body: a server for these users, stopped and removed afterwards. No Dovecot on the machine skips
    loudly, or fails under ``JENGU_REQUIRE_SERVICES=1``.
    """
    from tests.conftest import missing_service

    if dovecot_binary() is None:
        missing_service("no Dovecot IMAP server (Debian: apt-get install dovecot-imapd)")
    # Not pytest's tmp_path: its parents are private to root, and the server's processes run as another user.
    root = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        server = start_dovecot(root, users, sent_mailbox=sent_mailbox)
    except RuntimeError as error:
        shutil.rmtree(root, ignore_errors=True)
        missing_service(str(error))
    with server:
        yield server
    shutil.rmtree(root, ignore_errors=True)
