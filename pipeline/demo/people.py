"""Synthetic buyers: who they are, how they type their details, and the ids ThriveCart gives them.

All personal data is made up: example.com/.org/.net mail domains, documentation IP ranges
(RFC 5737) and 555 phone numbers. Emails embed the customer index, so two simulated people never
share an address; the same person does show up with differently cased or space-padded emails and,
now and then, a second ThriveCart customer id, as real buyers do.
"""

from __future__ import annotations

import functools
import string
import unicodedata
from bisect import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import accumulate
from random import Random
from typing import TypeVar

FIRST_NAMES = (
    "Ana", "Bo", "Chloé", "Daniel", "Emma", "Femi", "Grace", "Hiro", "Isabel", "Jonas", "Kofi",
    "Lena", "Mateo", "Nora", "Oliver", "Priya", "Quinn", "Rosa", "Sven", "Tariq", "Uma",
    "Victor", "Wen", "Xavier", "Yara", "Zoë", "José", "Søren", "Aoife", "Łukasz",
)  # fmt: skip
LAST_NAMES = (
    "Example", "Sample", "Müller", "O'Brien", "García", "Nguyen", "Smith", "Johnson",
    "Kowalski", "Rossi", "Dubois", "Jansen", "Okafor", "Tanaka", "Silva", "Larsen", "Murphy",
    "Schmidt", "Brown", "Martin", "Lee", "Patel", "Cohen", "Novak", "Fischer", "López",
)  # fmt: skip
COMPANIES = (
    "Acme Studio", "Bright Ideas Ltd", "Nordlicht GmbH", "Blue Fern Co", "Pixel & Prose",
    "Studio Sørensen", "Kite, String and Sons",
)  # fmt: skip
MAIL_DOMAINS = ("example.com", "example.org", "example.net", "mail.example.com")
# country -> (dialling code, weight for main-currency buyers, street, [(city, state, zip)])
COUNTRIES: dict[str, tuple[str, float, str, tuple[tuple[str, str, str], ...]]] = {
    "US": ("1", 55, "Main Street",
           (("New York", "NY", "10001"), ("Austin", "TX", "78701"), ("Denver", "CO", "80202"))),
    "CA": ("1", 8, "Queen Street West",
           (("Toronto", "ON", "M5V 2T6"), ("Vancouver", "BC", "V6B 1A1"))),
    "GB": ("44", 10, "High Street", (("London", "", "SW1A 1AA"), ("Manchester", "", "M1 1AE"))),
    "AU": ("61", 7, "George Street", (("Sydney", "NSW", "2000"), ("Melbourne", "VIC", "3000"))),
    "DE": ("49", 8, "Hauptstraße", (("Berlin", "BE", "10115"), ("München", "BY", "80331"))),
    "FR": ("33", 5, "Rue de la Paix", (("Paris", "IDF", "75001"), ("Lyon", "ARA", "69001"))),
    "NL": ("31", 4, "Kerkstraat", (("Amsterdam", "NH", "1012 JS"),)),
    "ES": ("34", 3, "Calle Mayor", (("Madrid", "MD", "28001"),)),
}  # fmt: skip
EURO_COUNTRIES = ("DE", "FR", "NL", "ES")
VAT_PERCENT = {"DE": 19, "FR": 20, "NL": 21, "ES": 21, "GB": 20}
PROCESSORS = (("stripe", 0.50), ("thrivepay", 0.20), ("paypal_v2", 0.24), ("paypal", 0.06))
CAMPAIGNS = (
    ("paid-meta", 0.28), ("newsletter-email", 0.18), ("google-ads", 0.10),
    ("youtube-organic", 0.08), ("podcast-guest", 0.04), ("-", 0.32),
)  # fmt: skip
AFFILIATES = (("5123", "Jane Partner"), ("5188", "Growth Lab"), ("6021", "Max Mustermann"))
USER_AGENTS = (
    "Mozilla/5.0 (X11; Linux x86_64)",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) Mobile/15E148",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/124.0 Safari/537.36",
)
_DOC_NETWORKS = ("192.0.2", "198.51.100", "203.0.113")  # RFC 5737
_ID_CHARS = string.ascii_letters + string.digits
_PAYPAL_CHARS = string.ascii_uppercase + string.digits


def _byte_table(chars: str) -> bytes:
    """A `bytes.translate` table mapping each byte value to one of `chars`, in turn."""
    return bytes(ord(chars[value % len(chars)]) for value in range(256))


_ID_TABLE, _PAYPAL_TABLE = _byte_table(_ID_CHARS), _byte_table(_PAYPAL_CHARS)
# A multiplier coprime with 10**17 turns the customer number into a unique, random-looking id.
_CUSTOMER_ID_BASE, _CUSTOMER_ID_MIX = 4 * 10**17, 2862933555777941757


@dataclass(frozen=True, slots=True)
class Affiliate:
    affiliate_id: str
    name: str


@dataclass(slots=True)
class Person:
    """A buyer's stable facts; what they type at each checkout is a `Buyer`.

    Never changed once made, yet not frozen: a frozen dataclass sets each field through
    `object.__setattr__`, which made creating one four times slower (once per customer)."""

    index: int
    first_name: str
    last_name: str
    email: str  # canonical: lower case, no padding
    country: str
    city: str
    state: str
    zip: str
    address_line1: str  # "" when the checkout did not ask for an address
    phone: str
    company: str
    vat_number: str
    ip_address: str
    user_agent: str
    currency: str
    tax_percent: int
    processor: str
    campaign_id: str
    affiliate: Affiliate | None
    customer_ids: tuple[str, str]  # ThriveCart ids: the usual one and a second one


@dataclass(slots=True)
class Buyer:
    """The customer block of one checkout, as typed (trailing spaces, odd casing and all).

    Not frozen, like `Person`, for the cost of creating one (once per order)."""

    person: Person
    email: str
    first_name: str
    last_name: str
    company: str
    address_line1: str
    city: str
    customer_id: str
    shipping: bool  # filled the shipping address too

    @property
    def full_name(self) -> str:
        return f"{self.first_name.strip()} {self.last_name.strip()}"


T = TypeVar("T")


def weighted_choice(rng: Random, values: Sequence[T], cum_weights: list[float]) -> T:
    """`rng.choices(values, cum_weights=cum_weights)[0]`: the same draw (one `random()`,
    bisected the same way), without the argument checks and the one-item list that
    `choices` builds on every call; the simulation makes several such draws per order."""
    return values[bisect(cum_weights, rng.random() * (cum_weights[-1] + 0.0), 0, len(values) - 1)]


def pick(rng: Random, values: Sequence[T]) -> T:
    """A uniform choice from one `random()`: `rng.choice` goes through `_randbelow`'s loop of
    `getrandbits` calls, two Python frames per draw, and the simulation makes many."""
    return values[int(rng.random() * len(values))]


def uniform_int(rng: Random, low: int, high: int) -> int:
    """A uniform integer in [low, high] from one `random()`, cheaper than `rng.randint`."""
    return low + int(rng.random() * (high - low + 1))


class _Weighted:
    """Values and their cumulative weights, summed once: `choices(values, cum_weights=…)` draws
    exactly what `choices(values, weights)` draws, without re-adding the weights every call."""

    __slots__ = ("cum_weights", "values")

    def __init__(self, weighted: Iterable[tuple[str, float]]) -> None:
        self.values, weights = zip(*weighted, strict=True)
        self.cum_weights = list(accumulate(weights))

    def pick(self, rng: Random) -> str:
        return weighted_choice(rng, self.values, self.cum_weights)


_PROCESSORS, _CAMPAIGNS = _Weighted(PROCESSORS), _Weighted(CAMPAIGNS)
_AFFILIATES = tuple(Affiliate(*affiliate) for affiliate in AFFILIATES)
_COUNTRIES = _Weighted((country, facts[1]) for country, facts in COUNTRIES.items())
_EURO_COUNTRIES = _Weighted(zip(EURO_COUNTRIES, (45, 25, 15, 15), strict=True))


@functools.lru_cache(maxsize=256)
def _slug(name: str) -> str:
    """`Chloé` -> `chloe`; cached, as every name comes from the short lists above."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return "".join(c for c in ascii_name.lower() if c.isalnum())


def thrivecart_customer_id(index: int, which: int) -> str:
    """ThriveCart's customer id: 18 digits, beyond 2**53, unique per (index, which).

    `index` -1 is the seller's own (test-mode) customer record.
    """
    number = (index * 2 + which + 3) * _CUSTOMER_ID_MIX % 10**17
    return str(_CUSTOMER_ID_BASE + number)


def _country(rng: Random, currency: str) -> str:
    return (_EURO_COUNTRIES if currency == "EUR" else _COUNTRIES).pick(rng)


def make_person(rng: Random, index: int, currency: str) -> Person:
    """A new buyer whose purchases are in `currency`."""
    first, last = pick(rng, FIRST_NAMES), pick(rng, LAST_NAMES)
    separator = pick(rng, (".", "", "_", "."))
    email = f"{_slug(first)}{separator}{_slug(last)}{index}@{pick(rng, MAIL_DOMAINS)}"
    country = _country(rng, currency)
    dial, _, street, places = COUNTRIES[country]
    city, state, zip_code = pick(rng, places)
    has_address = rng.random() < 0.6
    company = pick(rng, COMPANIES) if rng.random() < 0.12 else ""
    vat = (
        f"{country}{uniform_int(rng, 10**8, 10**9 - 1)}"
        if company and country in VAT_PERCENT
        else ""
    )
    affiliate = pick(rng, _AFFILIATES) if rng.random() < 0.12 else None
    return Person(
        index=index,
        first_name=first,
        last_name=last,
        email=email,
        country=country,
        city=city if has_address else "",
        state=state if has_address else "",
        zip=zip_code if has_address else "",
        address_line1=f"{uniform_int(rng, 1, 240)} {street}" if has_address else "",
        phone=f"+{dial} 555 0{uniform_int(rng, 100, 199)}" if rng.random() < 0.5 else "",
        company=company,
        vat_number=vat,
        ip_address=f"{pick(rng, _DOC_NETWORKS)}.{uniform_int(rng, 1, 254)}",
        user_agent=pick(rng, USER_AGENTS),
        currency=currency,
        tax_percent=VAT_PERCENT.get(country, 0) if rng.random() < 0.8 else 0,
        processor=_PROCESSORS.pick(rng),
        campaign_id=_CAMPAIGNS.pick(rng),
        affiliate=affiliate,
        customer_ids=(thrivecart_customer_id(index, 0), thrivecart_customer_id(index, 1)),
    )


def _typed(rng: Random, value: str) -> str:
    """What a person types: now and then with a trailing space."""
    return value + " " if value and rng.random() < 0.08 else value


def _typed_email(rng: Random, email: str) -> str:
    roll = rng.random()
    if roll < 0.80:
        return email
    if roll < 0.88:
        local, _, domain = email.partition("@")
        return f"{local.capitalize()}@{domain.capitalize()}"
    if roll < 0.93:
        return email + " "
    if roll < 0.97:
        return " " + email
    return email.upper()


def make_buyer(rng: Random, person: Person, first_email: str | None) -> Buyer:
    """The details typed at one checkout; `first_email` is what was typed at the first one.

    ThriveCart keys customers on the typed email, so a differently typed address sometimes
    yields a second ThriveCart customer id for the same person.
    """
    email = _typed_email(rng, person.email)
    second_id = first_email is not None and email != first_email and rng.random() < 0.5
    return Buyer(
        person=person,
        email=email,
        first_name=_typed(rng, person.first_name),
        last_name=_typed(rng, person.last_name),
        company=_typed(rng, person.company),
        address_line1=_typed(rng, person.address_line1),
        city=_typed(rng, person.city),
        customer_id=person.customer_ids[1 if second_id else 0],
        shipping=rng.random() < 0.1,
    )


def _random_text(rng: Random, table: bytes, length: int) -> str:
    """`length` random characters of `table`'s alphabet: one `randbytes` call, translated in C,
    instead of `choices(k=length)`, which costs a Python loop step per character. 256 is not
    a multiple of the alphabet, so its first few characters come up slightly more often; ids
    only need to look right and never repeat."""
    return rng.randbytes(length).translate(table).decode("ascii")


def charge_id(rng: Random, processor: str) -> str:
    """The processor's id of one charge: Stripe `ch_…` or a PayPal transaction id."""
    if processor.startswith("paypal"):
        return _random_text(rng, _PAYPAL_TABLE, 17)
    return "ch_" + _random_text(rng, _ID_TABLE, 24)


def processor_subscription_id(rng: Random, processor: str) -> str:
    """The processor's subscription id: Stripe `sub_…`, PayPal `I-…`, or "" (legacy PayPal)."""
    if processor == "paypal":
        return ""
    if processor == "paypal_v2":
        return "I-" + _random_text(rng, _PAYPAL_TABLE, 12)
    return "sub_" + _random_text(rng, _ID_TABLE, 24)
