"""Platform adapters behind one small interface.

from agency.platforms import get_adapter, PostPayload, PublishResult
adapter = get_adapter("x")
problems = adapter.validate(payload)
result = adapter.publish(account, payload, idempotency_key=key)
"""

from importlib import import_module

from agency.platforms.base import (
    MediaItem,
    PlatformAdapter,
    PlatformRules,
    PostPayload,
    PublishResult,
)

ADAPTERS = {
    "facebook": "agency.platforms.facebook.FacebookAdapter",
    "instagram": "agency.platforms.instagram.InstagramAdapter",
    "x": "agency.platforms.x.XAdapter",
    "linkedin": "agency.platforms.linkedin.LinkedInAdapter",
    "mastodon": "agency.platforms.mastodon.MastodonAdapter",
    "bluesky": "agency.platforms.bluesky.BlueskyAdapter",
    "sandbox": "agency.platforms.sandbox.SandboxAdapter",
}


def adapter_class(platform: str) -> type[PlatformAdapter]:
    try:
        module_name, class_name = ADAPTERS[platform].rsplit(".", 1)
    except KeyError:
        raise ValueError(f"No adapter for platform {platform!r}.") from None
    return getattr(import_module(module_name), class_name)


def get_adapter(platform: str, **kwargs) -> PlatformAdapter:
    return adapter_class(platform)(**kwargs)


__all__ = [
    "ADAPTERS",
    "MediaItem",
    "PlatformAdapter",
    "PlatformRules",
    "PostPayload",
    "PublishResult",
    "adapter_class",
    "get_adapter",
]
