"""Profile health only reads (community/selectors/health.py); fixing a profile is editing the
social account (agency.services.social_account_update)."""

__all__: list[str] = []
