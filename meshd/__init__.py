"""meshd: serverless, peer-to-peer usage accounting for Claude Code and Codex."""

__version__ = "0.1.0"
__all__ = ["__version__"]
