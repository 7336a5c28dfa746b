"""A dealer's settings (redaction, tag thresholds: :mod:`callintel.store.policy`), read and
replaced through the API."""

from __future__ import annotations

from sqlalchemy.orm import Session

from callintel.errors import NotFound
from callintel.store.keys import Principal
from callintel.store.models import Dealer
from callintel.store.policy import DealerSettings


def _visible_dealer(session: Session, who: Principal, dealer_id: str) -> Dealer:
    dealer = session.get(Dealer, dealer_id)
    if dealer is None or not who.may_see(dealer_id):
        raise NotFound(f"no dealer {dealer_id!r}")
    return dealer


def dealer_settings(session: Session, who: Principal, dealer_id: str) -> DealerSettings:
    """The dealer's settings, defaults where not set.

    Raises:
        NotFound: there is no such dealer, or ``who`` may not see it.
        ConfigError: the stored settings no longer validate.
    """
    return DealerSettings.of(_visible_dealer(session, who, dealer_id).settings)


def replace_dealer_settings(
    session: Session, who: Principal, dealer_id: str, settings: DealerSettings
) -> DealerSettings:
    """Replace the dealer's settings; they apply to the calls analysed from now on.

    Raises:
        NotFound: there is no such dealer, or ``who`` may not see it.
    """
    _visible_dealer(session, who, dealer_id).settings = settings.model_dump(mode="json")
    return settings
