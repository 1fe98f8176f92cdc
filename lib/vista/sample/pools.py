"""Pools drawn once (names, streets, products); records then sample them by index."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from faker import Faker

from vista.sample.params import CONTENT_CATEGORIES, PRODUCT_CATEGORIES, SampleParams

#: Formal first name -> nicknames people use for it (lone first names only).
NICKNAMES: dict[str, tuple[str, ...]] = {
    "José": ("Pepe",), "Francisco": ("Paco", "Curro", "Pancho"), "Dolores": ("Lola",),
    "Manuel": ("Manolo",), "Concepción": ("Concha",), "Ignacio": ("Nacho",),
    "Guadalupe": ("Lupe",), "Jesús": ("Chus", "Chuy"), "Enrique": ("Quique",),
    "Antonio": ("Toño",), "Rosario": ("Charo",), "Mercedes": ("Merche",),
    "Alejandro": ("Álex",), "Roberto": ("Beto",), "Guillermo": ("Memo",),
    "Eduardo": ("Lalo",), "Cristina": ("Cris",), "Santiago": ("Santi",), "Pilar": ("Pili",),
    "Josefa": ("Pepa",), "Luis": ("Lucho",), "Isabel": ("Isa", "Chabela"),
}  # fmt: skip
_MALE_FORMAL = ("José", "Francisco", "Manuel", "Ignacio", "Jesús", "Enrique", "Antonio",
                "Alejandro", "Roberto", "Guillermo", "Eduardo", "Santiago", "Luis")  # fmt: skip
_FEMALE_FORMAL = ("Dolores", "Concepción", "Guadalupe", "Rosario", "Mercedes", "Cristina",
                  "Pilar", "Josefa", "Isabel")  # fmt: skip

EMAIL_DOMAINS = ("gmail.com", "hotmail.com", "yahoo.es", "outlook.com", "icloud.com",
                 "hotmail.es", "yahoo.com.mx", "live.com")  # fmt: skip
EMAIL_DOMAIN_TYPOS = ("gmial.com", "hotmal.com", "yaho.es", "outlok.com", "icloud.co",
                      "hotmail.con", "yahoo.com.mx", "live.co")  # fmt: skip

BRANDS = ("Aurelia", "Brisa", "Cóndor", "Duna", "Estela", "Faro", "Gaviota", "Huerta",
          "Iris", "Jara", "Lince", "Marea", "Nogal", "Olivo", "Puma Andina", "Quimera",
          "Roble", "Sauce", "Tauro", "Umbral")  # fmt: skip

#: Search vocabulary per product category (Spanish shop search terms).
QUERY_TERMS: dict[str, tuple[str, ...]] = {
    "sports_equipment": ("raqueta pádel", "pesas", "bicicleta estática", "balón fútbol"),
    "sportswear": ("zapatillas running", "mallas deporte", "camiseta técnica"),
    "home_decor": ("cojines", "lámpara salón", "cortinas lino", "espejo"),
    "kitchen": ("sartén", "cafetera", "batidora", "olla exprés"),
    "household_cleaning": ("detergente", "fregona", "lavavajillas pastillas"),
    "electronics": ("auriculares", "televisor 55", "altavoz bluetooth", "móvil"),
    "computing": ("portátil", "ratón inalámbrico", "monitor 27", "teclado"),
    "gaming": ("consola", "mando", "juego fútbol", "silla gaming"),
    "fashion_women": ("vestido", "bolso", "blusa", "botas mujer"),
    "fashion_men": ("camisa hombre", "vaqueros", "chaqueta", "zapatos"),
    "luxury_accessories": ("reloj", "gafas de sol", "cartera piel", "pañuelo seda"),
    "beauty_skincare": ("crema hidratante", "sérum", "protector solar", "maquillaje"),
    "fragrances": ("perfume", "colonia", "eau de parfum"),
    "toys": ("lego", "muñeca", "puzzle", "juego de mesa"),
    "baby": ("pañales", "carrito bebé", "biberón", "cuna"),
    "gourmet_food": ("jamón ibérico", "aceite oliva", "queso manchego", "turrón"),
    "wine": ("vino tinto", "rioja", "cava", "albariño"),
    "outdoor_camping": ("tienda campaña", "saco de dormir", "mochila trekking"),
    "garden": ("barbacoa", "manguera", "semillas", "tumbona"),
    "books": ("novela", "libro cocina", "cómic", "best seller"),
    "music_film": ("vinilo", "serie", "película", "auriculares estudio"),
    "event_tickets": ("entradas concierto", "teatro", "musical", "festival"),
}


@dataclass(frozen=True)
class LocalePool:
    """Names and addresses of one locale, drawn once from Faker."""

    male: np.ndarray
    female: np.ndarray
    surnames: np.ndarray
    streets: np.ndarray
    cities: np.ndarray
    postcodes: np.ndarray


@dataclass(frozen=True)
class Catalogue:
    """The product catalogue: one row per product, columns as arrays."""

    sku: np.ndarray
    category: np.ndarray  # index into PRODUCT_CATEGORIES
    brand: np.ndarray
    tier: np.ndarray  # 0 budget, 1 mid, 2 premium
    price_eur: np.ndarray
    by_cat_tier: np.ndarray  # [n_cat, 3, k] product indices for each category and tier


TIERS = np.array(["budget", "mid", "premium"], dtype=object)


def locale_pool(locale: str, seed: int, size: int) -> LocalePool:
    """Draw a locale's name and street pools with a Faker seeded from ``seed``.

    Spanish locales also get the formal names that have common nicknames, so nicknames
    really occur in the data.
    """
    fake = Faker(locale)
    fake.seed_instance(seed)
    _stable_order(fake)
    male = [fake.first_name_male() for _ in range(size)]
    female = [fake.first_name_female() for _ in range(size)]
    if locale.startswith("es_"):
        male += list(_MALE_FORMAL) * 3
        female += list(_FEMALE_FORMAL) * 3
    cities = [fake.city() for _ in range(size // 4)]
    return LocalePool(
        male=np.array(male, dtype=object),
        female=np.array(female, dtype=object),
        surnames=np.array([fake.last_name() for _ in range(size)], dtype=object),
        streets=np.array([fake.street_name() for _ in range(size)], dtype=object),
        cities=np.array(cities, dtype=object),
        postcodes=np.array([fake.postcode() for _ in range(size // 4)], dtype=object),
    )


#: Provider lists a seeded Faker draws from by position that some locales build from a
#: set (it_IT's ``cities``): their order follows Python's per-process string hashing.
_SET_BUILT_LISTS = ("cities",)


def _stable_order(fake: Faker) -> None:
    """Sort the provider lists whose order changes from one process to the next.

    ``seed_instance`` fixes the positions Faker draws, not what sits at them: a list a
    provider builds from a set is ordered by string hashes, which Python salts per
    process, so the same seed gave other cities in every run. Sorted, the same seed
    gives the same values in any process (``PYTHONHASHSEED`` does not matter).
    """
    for provider in fake.get_providers():
        for name in _SET_BUILT_LISTS:
            values = getattr(provider, name, None)
            if isinstance(values, list):
                setattr(provider, name, sorted(values))


def build_pools(params: SampleParams, seed: int) -> list[LocalePool]:
    """One pool per country, in ``params.countries`` order."""
    return [locale_pool(c.locale, seed + 1000 * i, params.pool_size)
            for i, c in enumerate(params.countries)]


def build_catalogue(params: SampleParams, rng: np.random.Generator) -> Catalogue:
    """A catalogue with ``products_per_category`` products per category, all tiers present."""
    n_cat, k = len(PRODUCT_CATEGORIES), params.products_per_category
    cat = np.repeat(np.arange(n_cat), k)
    tier = np.tile(np.arange(3), n_cat * k // 3 + 1)[: n_cat * k]
    base = rng.lognormal(mean=3.2, sigma=0.5, size=n_cat)[cat]  # category price level
    price = np.round(base * np.array([0.5, 1.0, 2.6])[tier] * rng.uniform(0.7, 1.3, cat.size), 2)
    brand = np.array(BRANDS, dtype=object)[rng.integers(0, len(BRANDS), cat.size)]
    sku = np.char.add("SKU-", np.char.zfill(np.arange(cat.size).astype(str), 5)).astype(object)
    order = np.lexsort((np.arange(cat.size), tier, cat))
    by = order.reshape(n_cat, 3, -1) if k % 3 == 0 else None
    if by is None:
        msg = f"products_per_category must be a multiple of 3, found {k}"
        raise ValueError(msg)
    return Catalogue(sku, cat, brand, tier, price, by)


def nickname_table() -> tuple[dict[str, int], np.ndarray]:
    """Formal name -> row index, and a [n, 3] array of nicknames (padded by repetition)."""
    names = list(NICKNAMES)
    table = np.array([[*v, *v, *v][:3] for v in NICKNAMES.values()], dtype=object)
    return {n: i for i, n in enumerate(names)}, table


def query_table() -> np.ndarray:
    """A [n_categories, 4] array of search terms (padded by repetition)."""
    return np.array([[*QUERY_TERMS[c], *QUERY_TERMS[c]][:4] for c in PRODUCT_CATEGORIES],
                    dtype=object)


def content_titles() -> np.ndarray:
    """Slug-like content ids per content category: [n_content, 5]."""
    return np.array([[f"{c}-{i:02d}" for i in range(1, 6)] for c in CONTENT_CATEGORIES],
                    dtype=object)
