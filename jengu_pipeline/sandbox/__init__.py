"""SANDBOX: loopback emulators of every external provider over a seeded synthetic world.

Start it with ``start_sandbox(home)`` (tests, benchmarks) or ``jengu sandbox`` (demo). See
``runner`` for the environment it exports, ``http`` for the URL layout, ``providers`` for the emulators
(one module each) and the keys they expect, ``smtp`` and ``replies`` for mail, ``world`` for the ground truth.
"""

from jengu_pipeline.sandbox.providers.emulator import SANDBOX_KEYS
from jengu_pipeline.sandbox.providers.google_cse import GOOGLE_CSE_CX
from jengu_pipeline.sandbox.runner import SANDBOX_ENV_VARS, Sandbox, start_sandbox
from jengu_pipeline.sandbox.smtp import SMTP_PASSWORD
from jengu_pipeline.sandbox.world import Behaviour, Mailbox, World, build_world

__all__ = [
    "GOOGLE_CSE_CX",
    "SANDBOX_ENV_VARS",
    "SANDBOX_KEYS",
    "SMTP_PASSWORD",
    "Behaviour",
    "Mailbox",
    "Sandbox",
    "World",
    "build_world",
    "start_sandbox",
]
