"""SANDBOX: each emulated provider, one module each: its routes, its success shapes and its documented
failure shapes.

The shapes follow ``shared/contracts/`` field for field. A provider here is data plus pure functions (request
in, reply out, see `emulator`); latency, throttling, 5xx, quotas and malformed bodies are injected by the one
wrapper in ``sandbox.http``, which calls the provider's own renderers so that every failure looks exactly like
the real provider's.
"""

from jengu_pipeline.sandbox.providers.anthropic_messages import ANTHROPIC
from jengu_pipeline.sandbox.providers.brave import BRAVE
from jengu_pipeline.sandbox.providers.duckduckgo import DUCKDUCKGO
from jengu_pipeline.sandbox.providers.emulator import Provider
from jengu_pipeline.sandbox.providers.google_cse import GOOGLE_CSE
from jengu_pipeline.sandbox.providers.hunter import HUNTER
from jengu_pipeline.sandbox.providers.millionverifier import MILLIONVERIFIER
from jengu_pipeline.sandbox.providers.openai_chat import OPENAI
from jengu_pipeline.sandbox.providers.searxng import SEARXNG
from jengu_pipeline.sandbox.providers.site import SITE
from jengu_pipeline.sandbox.providers.webhook import WEBHOOK

ALL_PROVIDERS: tuple[Provider, ...] = (
    BRAVE,
    GOOGLE_CSE,
    DUCKDUCKGO,
    SEARXNG,
    MILLIONVERIFIER,
    OPENAI,
    ANTHROPIC,
    HUNTER,
    WEBHOOK,
    SITE,
)
"""Every emulator the sandbox's HTTP server routes to."""
