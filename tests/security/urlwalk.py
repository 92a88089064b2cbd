"""Every URL pattern of the project, read from the URLconf (the DRF router's routes included)."""

from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RegexPattern, RoutePattern


@dataclass(frozen=True)
class Route:
    name: str  # "namespace:url_name", the key of the matrix
    route: str  # the pattern as written, for messages
    kwargs: tuple[str, ...]  # the URL's parameters, in order
    callback: object


def _kwargs(pattern) -> tuple[str, ...]:
    if isinstance(pattern, RoutePattern):
        return tuple(pattern.converters)
    if isinstance(pattern, RegexPattern):
        index = pattern.regex.groupindex
        return tuple(sorted(index, key=index.get))
    return ()


def _walk(patterns, prefix: str, namespace: str | None, kwargs: tuple[str, ...]):
    for entry in patterns:
        here = kwargs + _kwargs(entry.pattern)
        text = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            ns = namespace
            if entry.namespace:
                ns = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
            yield from _walk(entry.url_patterns, text, ns, here)
        elif isinstance(entry, URLPattern):
            name = entry.name or f"<unnamed {text}>"
            yield Route(f"{namespace}:{name}" if namespace else name, text, here, entry.callback)


def project_routes() -> list[Route]:
    """One Route per named pattern. The router's `.json`-style format-suffix twins are left out:
    they reach the same view with the same checks as the pattern they copy."""
    seen: dict[str, Route] = {}
    for route in _walk(get_resolver().url_patterns, "", None, ()):
        if "format" in route.kwargs:
            continue
        if route.name in seen and seen[route.name].route != route.route:
            # Two patterns under one name: the second needs its own entry, keyed by its route.
            route = Route(f"{route.name} {route.route}", route.route, route.kwargs, route.callback)
        seen.setdefault(route.name, route)
    return list(seen.values())
