"""Starting, describing and stopping the sandbox; the ``jengu sandbox`` command."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from click.testing import CliRunner

from jengu_pipeline.sandbox import SANDBOX_ENV_VARS, Sandbox, start_sandbox
from jengu_pipeline.sandbox import cli as sandbox_cli


def test_env_points_every_resource_at_loopback(sandbox: Sandbox) -> None:
    env = sandbox.env
    assert tuple(env) == SANDBOX_ENV_VARS
    assert env["JENGU_SANDBOX"] == "1"
    urls = [value for name, value in env.items() if name.endswith("_URL")]
    assert urls
    assert all(urlsplit(url).hostname == "127.0.0.1" for url in urls)
    assert env["JENGU_LLM_BASE_URL"].endswith("/v1")
    assert Path(env["JENGU_MAILDIR"], "new").is_dir()
    written = sandbox.write_env(sandbox.home / "test.env").read_text(encoding="utf-8")
    assert written.startswith("# Jengu SANDBOX")
    assert f"export JENGU_SMTP_PORT={sandbox.smtp_port}" in written
    truth = json.loads(sandbox.ground_truth_path.read_text(encoding="utf-8"))
    assert truth["sandbox"] is True
    assert len(truth["hotels"]) == 200


def test_every_env_url_answers(sandbox: Sandbox) -> None:
    env = sandbox.env
    with httpx.Client(timeout=5) as client:
        assert client.get(f"{env['JENGU_SANDBOX_URL']}/_sandbox/stats").status_code == 200
        hook = client.post(env["JENGU_ALERT_WEBHOOK_URL"], json={"text": "test"})
        assert hook.text == "ok"
        llm = client.post(
            f"{env['JENGU_LLM_BASE_URL']}/chat/completions",
            json={"model": env["JENGU_LLM_MODEL"], "messages": [{"role": "user", "content": "hi"}]},
            headers={"Authorization": f"Bearer {env['JENGU_LLM_API_KEY']}"},
        )
        assert llm.status_code == 200
        hotel = sandbox.world.hotels[1]
        assert client.get(f"{env['JENGU_SITE_BASE_URL']}{hotel.domain}/").status_code == 200
    assert sandbox.site_url(f"https://www.{hotel.domain}/contact") == f"{sandbox.base_url}/site/{hotel.domain}/contact"


def test_start_options_are_checked_and_applied(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="loopback"):
        start_sandbox(tmp_path, host="0.0.0.0")
    with pytest.raises(ValueError, match="unknown"):
        start_sandbox(tmp_path, brave={"daily_qouta": 3})
    with start_sandbox(tmp_path, seed=3, hotels=12, latency_ms=1, brave={"daily_quota": 3}) as sandbox:
        config = sandbox.state.config()
        assert config["brave"]["daily_quota"] == 3
        assert config["smtp"]["latency_ms"] == 1
        assert len(sandbox.world.hotels) == 12
        port = sandbox.http_port
    with socket.socket() as probe:
        probe.settimeout(1)
        with pytest.raises(ConnectionRefusedError):
            probe.connect(("127.0.0.1", port))


def test_cli_runs_in_the_foreground_and_labels_itself(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupt(seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(sandbox_cli, "sleep", interrupt)
    result = CliRunner().invoke(sandbox_cli.sandbox_command, ["--home", str(tmp_path), "--hotels", "10"])
    assert result.exit_code == 0, result.output
    assert "JENGU SANDBOX" in result.output
    assert "SANDBOX stopped." in result.output
    env = (tmp_path / "sandbox.env").read_text(encoding="utf-8")
    assert "export JENGU_SANDBOX=1" in env
    assert (tmp_path / "sandbox" / "ground_truth.json").exists()
