"""Every tunable of the sample world, in one place.

The sample lake defines its own small world: countries, lifestyles, categories, rates of
noise and bad rows. All of it lives in :class:`SampleParams`, a frozen dataclass whose
defaults are documented field by field. Nothing else in ``vista.sample`` hard-codes a
rate or a distribution.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Product categories (what is bought).
PRODUCT_CATEGORIES: tuple[str, ...] = (
    "sports_equipment", "sportswear", "home_decor", "kitchen", "household_cleaning",
    "electronics", "computing", "gaming", "fashion_women", "fashion_men",
    "luxury_accessories", "beauty_skincare", "fragrances", "toys", "baby",
    "gourmet_food", "wine", "outdoor_camping", "garden", "books", "music_film",
    "event_tickets",
)  # fmt: skip

#: Content categories (what is read and watched on the web site).
CONTENT_CATEGORIES: tuple[str, ...] = (
    "training_tips", "match_highlights", "interior_ideas", "recipes", "tech_reviews",
    "gaming_news", "fashion_trends", "beauty_tutorials", "parenting", "travel",
    "hiking_routes", "culture_agenda", "weekly_deals", "wine_pairing",
)  # fmt: skip


@dataclass(frozen=True)
class Lifestyle:
    """A latent lifestyle: affinities over product and content categories.

    Attributes:
        name: Label written to ground truth.
        products: Category -> affinity weight (added on top of the background weight).
        content: Content category -> affinity weight.
        price_shift: Added to the price-sensitivity score (positive = more deal-driven).
    """

    name: str
    products: dict[str, float]
    content: dict[str, float]
    price_shift: float = 0.0


def _default_lifestyles() -> tuple[Lifestyle, ...]:
    return (
        Lifestyle("sporty", {"sports_equipment": 6, "sportswear": 5, "outdoor_camping": 1.5},
                  {"training_tips": 6, "match_highlights": 4}),
        Lifestyle("home_maker", {"home_decor": 6, "kitchen": 5, "household_cleaning": 3, "garden": 1.5},
                  {"interior_ideas": 6, "recipes": 3}),
        Lifestyle("tech_enthusiast", {"electronics": 6, "computing": 5, "gaming": 3},
                  {"tech_reviews": 6, "gaming_news": 3}),
        Lifestyle("fashion_luxury", {"fashion_women": 5, "luxury_accessories": 5, "fragrances": 3, "fashion_men": 2},
                  {"fashion_trends": 6, "beauty_tutorials": 1.5}, price_shift=-0.3),
        Lifestyle("bargain_hunter", {"household_cleaning": 4, "fashion_men": 2.5, "electronics": 2.5, "toys": 2},
                  {"weekly_deals": 8}, price_shift=0.35),
        Lifestyle("family_shopper", {"toys": 5, "baby": 5, "household_cleaning": 2, "kitchen": 1.5},
                  {"parenting": 6, "recipes": 2}, price_shift=0.1),
        Lifestyle("beauty", {"beauty_skincare": 7, "fragrances": 4, "fashion_women": 1.5},
                  {"beauty_tutorials": 7, "fashion_trends": 2}),
        Lifestyle("gourmet", {"gourmet_food": 6, "wine": 5, "kitchen": 2},
                  {"recipes": 5, "wine_pairing": 5}, price_shift=-0.15),
        Lifestyle("outdoor", {"outdoor_camping": 6, "garden": 3, "sportswear": 2},
                  {"hiking_routes": 6, "travel": 4}),
        Lifestyle("culture", {"books": 6, "music_film": 5, "event_tickets": 4},
                  {"culture_agenda": 7, "travel": 2}),
    )  # fmt: skip


@dataclass(frozen=True)
class Country:
    """A country of the sample world.

    Attributes:
        locale: Faker locale used for its name and street pools.
        iso2: ISO 3166-1 alpha-2 code.
        currency: ISO 4217 currency code.
        fx_per_eur: Units of ``currency`` per euro (fixed for the whole period).
        decimals: Decimals the currency is written with.
        calling_code: International calling code without ``+``.
        mobile_prefix: First digits of a mobile number (national significant number).
        mobile_len: Length of the national significant number.
        trunk: National trunk prefix written in national format ("0" in FR, GB, AR).
        share: Share of households living there.
    """

    locale: str
    iso2: str
    currency: str
    fx_per_eur: float
    decimals: int
    calling_code: str
    mobile_prefix: str
    mobile_len: int
    trunk: str
    share: float


def _default_countries() -> tuple[Country, ...]:
    return (
        Country("es_ES", "ES", "EUR", 1.0, 2, "34", "6", 9, "", 0.45),
        Country("es_MX", "MX", "MXN", 20.0, 2, "52", "55", 10, "", 0.15),
        Country("es_AR", "AR", "ARS", 1000.0, 2, "54", "11", 10, "0", 0.08),
        Country("es_CO", "CO", "COP", 4300.0, 0, "57", "3", 10, "", 0.08),
        Country("es_CL", "CL", "CLP", 1000.0, 0, "56", "9", 9, "", 0.06),
        Country("en_US", "US", "USD", 1.08, 2, "1", "2", 10, "", 0.05),
        Country("fr_FR", "FR", "EUR", 1.0, 2, "33", "6", 9, "0", 0.04),
        Country("pt_PT", "PT", "EUR", 1.0, 2, "351", "9", 9, "", 0.03),
        Country("it_IT", "IT", "EUR", 1.0, 2, "39", "3", 10, "", 0.03),
        Country("en_GB", "GB", "GBP", 0.85, 2, "44", "7", 10, "0", 0.03),
    )


@dataclass(frozen=True)
class NoiseProfile:
    """How one source system distorts the identity it holds (all are probabilities).

    Attributes:
        drop_accents: Accents and ñ are folded to ASCII.
        upper: Names are written in upper case.
        typo: One character swap or drop in the first or last name.
        swap_names: First and last name are swapped.
        missing_first: First name is empty.
        missing_last: Last name is empty.
        nickname: A nickname replaces the first name (when the name has one).
        first_surname_only: Only the first of two surnames is kept.
        email_case: The e-mail address is written with mixed case.
        email_dots: Dots are removed from the e-mail's local part.
        email_typo: The e-mail domain has a typo.
        missing_email: The e-mail is empty even though the person has one.
        missing_phone: The phone is empty.
        missing_birth: The birth date is empty.
        duplicate: The person has a second record in this source.
    """

    drop_accents: float = 0.2
    upper: float = 0.0
    typo: float = 0.04
    swap_names: float = 0.02
    missing_first: float = 0.02
    missing_last: float = 0.02
    nickname: float = 0.05
    first_surname_only: float = 0.3
    email_case: float = 0.1
    email_dots: float = 0.05
    email_typo: float = 0.02
    missing_email: float = 0.05
    missing_phone: float = 0.15
    missing_birth: float = 0.2
    duplicate: float = 0.03


def _default_noise() -> dict[str, NoiseProfile]:
    return {
        "crm": NoiseProfile(drop_accents=0.15, typo=0.03, missing_birth=0.1, duplicate=0.04),
        "ecommerce": NoiseProfile(drop_accents=0.35, typo=0.05, nickname=0.12, missing_phone=0.4,
                                  missing_birth=0.6, first_surname_only=0.55, duplicate=0.05),
        "loyalty": NoiseProfile(drop_accents=0.7, upper=0.8, typo=0.06, swap_names=0.05,
                                missing_email=0.25, missing_phone=0.05, missing_birth=0.1, duplicate=0.04),
        "support": NoiseProfile(drop_accents=0.4, nickname=0.15, missing_email=0.3, missing_phone=0.4,
                                first_surname_only=0.6, duplicate=0.0),
        "survey": NoiseProfile(drop_accents=0.3, email_case=0.2, missing_email=0.0, duplicate=0.0),
        # an e-mail platform always knows the address it sends to: an empty one is a bad row
        "email": NoiseProfile(email_case=0.15, email_dots=0.05, email_typo=0.0, duplicate=0.0,
                              missing_email=0.0),
    }  # fmt: skip


@dataclass(frozen=True)
class SampleParams:
    """Generation parameters of the sample lake, with documented defaults.

    Rates are probabilities per person or per record unless said otherwise. Money is in
    euros before conversion to each country's currency.
    """

    # --- scale and chunking
    chunk_size: int = 20_000  # customers generated (and held in memory) at a time
    # --- world
    countries: tuple[Country, ...] = field(default_factory=_default_countries)
    lifestyles: tuple[Lifestyle, ...] = field(default_factory=_default_lifestyles)
    background_affinity: float = 0.25  # weight every category gets on top of a lifestyle's
    pool_size: int = 400  # names / surnames / streets drawn from Faker per locale
    products_per_category: int = 30
    n_stores: int = 60
    # --- households
    household_size_probs: tuple[float, ...] = (0.42, 0.30, 0.16, 0.12)  # sizes 1..4
    same_surname_in_household: float = 0.7  # a member shares the head's first surname
    twin_rate: float = 0.05  # households of >= 2 whose 2nd member is the 1st's twin
    namesake_rate: float = 0.015  # persons who get the full name of someone unrelated
    landline_rate: float = 0.45  # households with a landline
    landline_given_rate: float = 0.25  # loyalty/support records giving the landline instead
    family_email_rate: float = 0.12  # households of >= 2 sharing one family e-mail
    move_rate: float = 0.15  # households that move once during the period
    # --- persons
    no_email_rate: float = 0.12  # people who never give an e-mail anywhere
    email_change_rate: float = 0.12  # people who change e-mail during the period
    age_range: tuple[int, int] = (18, 85)
    devices_range: tuple[int, int] = (1, 4)  # web devices/cookies per person (inclusive)
    existing_customer_share: float = 0.5  # already customers when the period starts
    non_buyer_rate: float = 0.15  # people who never buy (browse, complain, answer surveys)
    channel_probs: tuple[float, float, float] = (0.35, 0.35, 0.30)  # online, store, omni
    online_share_by_channel: tuple[float, float, float] = (0.92, 0.12, 0.5)
    # --- BG/NBD-like purchase process (rates per year)
    purchase_rate_shape: float = 1.3  # gamma shape r of the purchase rate
    purchase_rate_mean: float = 5.0  # mean purchases per year while alive
    dropout_a: float = 1.0  # beta(a, b) dropout probability after each purchase
    dropout_b: float = 7.0
    reactivation_rate: float = 0.12  # dropped-out customers who come back once
    reactivation_gap_days: float = 270.0  # mean gap before a reactivation
    max_purchases: int = 120
    lines_mean_extra: float = 1.2  # order lines = 1 + Poisson(this)
    # --- price sensitivity: score in [0,1], high = deal-driven; Beta(a, b) + lifestyle shift
    price_beta: tuple[float, float] = (2.0, 2.0)
    price_labels: tuple[str, str, str] = ("premium", "balanced", "deal_only")
    # --- lifecycle rule (days before the period end)
    active_days: int = 90
    at_risk_days: int = 180
    lapsed_days: int = 365
    reactivation_gap_rule_days: int = 180
    # --- source coverage
    crm_rate: float = 0.8
    crm_export_every_months: int = 3
    consent_flip_rate: float = 0.15  # per consent flag and person over the period
    loyalty_rate_by_channel: tuple[float, float, float] = (0.15, 0.7, 0.6)
    loyalty_card_presented: float = 0.85
    account_rate_online: float = 0.97  # people who buy online have an account (if e-mail)
    account_rate_browser: float = 0.25  # people who only browse but register
    web_sessions_per_year: tuple[float, float, float] = (14.0, 3.0, 9.0)  # by channel
    web_events_per_session: float = 4.0
    web_login_rate: float = 0.45
    web_event_types: tuple[tuple[str, float], ...] = (
        ("page_view", 0.55), ("search", 0.17), ("video_view", 0.13), ("add_to_cart", 0.15),
    )  # fmt: skip
    content_event_share: float = 0.45  # page/video views about content rather than products
    email_campaigns_per_month: int = 1
    email_open_base: float = 0.25
    email_click_given_open: float = 0.25
    email_unsubscribe: float = 0.004
    support_tickets_per_year: float = 0.12  # scaled up by dissatisfaction
    survey_invite_rate: float = 0.3
    survey_response_rate: float = 0.35
    # --- noise
    noise: dict[str, NoiseProfile] = field(default_factory=_default_noise)
    bad_row_rate: float = 0.01
