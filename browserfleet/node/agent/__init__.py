"""The browsing agent: an LLM loop that reads the page and acts on it through the shared actions.

Modules: ``page_state`` (the page as the model sees it), ``prompt`` (system prompt and the
conversation), ``loop`` (the agent: steps, limits, loop detection), ``screenshots`` (per mode),
``sessions`` (browsers kept per ``session_key``), ``executor`` (the ``agent`` job kind).
"""

from browserfleet.node.agent.executor import AgentExecutor
from browserfleet.node.agent.sessions import AgentSessions

__all__ = ["AgentExecutor", "AgentSessions"]
