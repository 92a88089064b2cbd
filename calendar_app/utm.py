"""UTM parameters from the brand's template, added to a post's link per account at publish time
(so each platform gets its own utm_source)."""

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.utils.text import slugify


def link_with_utm(
    *,
    link: str,
    template: str,
    platform: str,
    account: str = "",
    campaign: str = "",
    post: str = "",
) -> str:
    """`link` with the template's parameters filled in and added; parameters the link already
    has are kept as they are (an explicit utm_campaign in the link wins)."""
    if not link or not template:
        return link
    values = {
        "platform": platform,
        "account": slugify(account.lstrip("@")) or account,
        "campaign": slugify(campaign) or "post",
        "post": post,
    }
    added = []
    for key, raw in parse_qsl(template, keep_blank_values=False):
        try:
            added.append((key, raw.format(**values)))
        except (KeyError, IndexError, ValueError):
            added.append((key, raw))
    parts = urlsplit(link)
    existing = parse_qsl(parts.query, keep_blank_values=True)
    present = {k for k, _ in existing}
    query = urlencode(existing + [(k, v) for k, v in added if k not in present])
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))
