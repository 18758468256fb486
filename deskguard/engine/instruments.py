"""The instruments DeskGuard knows: CME futures with tick size, tick value and TopstepX roots.

A ProjectX contract id looks like ``CON.F.US.MNQ.Z25``; its 4th field is the exchange root. TopstepX
uses roots that differ from the names traders type (``EP`` is ES, ``ENQ`` is NQ), so every instrument
lists the roots it may appear under. Tick metadata from the broker (``Contract/search``) always wins;
this table is the fallback and the map from roots to common names.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import lru_cache


@dataclass(frozen=True, slots=True)
class Instrument:
    symbol: str  # the common name traders type: "ES", "MNQ"
    name: str
    sector: str
    tick_size: float
    tick_value: float  # USD per tick per contract
    roots: tuple[str, ...] = ()  # roots seen in ProjectX contract ids besides the symbol itself
    month_codes: str = "HMUZ"  # listed contract months (futures month letters)
    micro: bool = False  # a micro contract: firms count 10 of them as one mini (001's micro_weight)

    @property
    def all_roots(self) -> tuple[str, ...]:
        return (self.symbol, *self.roots)

    def ticks(self, price_move: float) -> float:
        return price_move / self.tick_size

    def round_to_tick(self, price: float) -> float:
        return round(round(price / self.tick_size) * self.tick_size, 10)


_ALL_MONTHS = "FGHJKMNQUVXZ"

_INSTRUMENTS: tuple[Instrument, ...] = (
    # Equity index
    Instrument("ES", "E-mini S&P 500", "equity", 0.25, 12.50, ("EP",)),
    Instrument("MES", "Micro E-mini S&P 500", "equity", 0.25, 1.25, micro=True),
    Instrument("NQ", "E-mini Nasdaq-100", "equity", 0.25, 5.00, ("ENQ",)),
    Instrument("MNQ", "Micro E-mini Nasdaq-100", "equity", 0.25, 0.50, micro=True),
    Instrument("YM", "E-mini Dow ($5)", "equity", 1.0, 5.00),
    Instrument("MYM", "Micro E-mini Dow", "equity", 1.0, 0.50, micro=True),
    Instrument("RTY", "E-mini Russell 2000", "equity", 0.10, 5.00),
    Instrument("M2K", "Micro E-mini Russell 2000", "equity", 0.10, 0.50, micro=True),
    Instrument("NKD", "Nikkei 225 (USD)", "equity", 5.0, 25.00),
    # Energy
    Instrument("CL", "Crude Oil", "energy", 0.01, 10.00, ("CLE",), _ALL_MONTHS),
    Instrument("MCL", "Micro Crude Oil", "energy", 0.01, 1.00, ("MCLE",), _ALL_MONTHS, micro=True),
    Instrument("QM", "E-mini Crude Oil", "energy", 0.025, 12.50, (), _ALL_MONTHS),
    Instrument("NG", "Natural Gas", "energy", 0.001, 10.00, ("NGE",), _ALL_MONTHS),
    Instrument("MNG", "Micro Henry Hub Natural Gas", "energy", 0.001, 1.00, (), _ALL_MONTHS, micro=True),
    Instrument("QG", "E-mini Natural Gas", "energy", 0.005, 12.50, (), _ALL_MONTHS),
    Instrument("RB", "RBOB Gasoline", "energy", 0.0001, 4.20, ("RBE",), _ALL_MONTHS),
    Instrument("HO", "NY Harbor ULSD", "energy", 0.0001, 4.20, ("HOE",), _ALL_MONTHS),
    # Metals
    Instrument("GC", "Gold", "metals", 0.10, 10.00, ("GCE",), "GJMQVZ"),
    Instrument("MGC", "Micro Gold", "metals", 0.10, 1.00, (), "GJMQVZ", micro=True),
    Instrument("SI", "Silver", "metals", 0.005, 25.00, ("SIE",), "HKNUZ"),
    Instrument("SIL", "Micro Silver (1,000 oz)", "metals", 0.005, 5.00, (), "HKNUZ", micro=True),
    Instrument("HG", "Copper", "metals", 0.0005, 12.50, ("CPE",), "HKNUZ"),
    Instrument("MHG", "Micro Copper", "metals", 0.0005, 1.25, (), "HKNUZ", micro=True),
    Instrument("PL", "Platinum", "metals", 0.10, 5.00, ("PLE",), "FJNV"),
    # Interest rates
    Instrument("ZT", "2-Year T-Note", "rates", 0.00390625, 7.8125, ("TUA",)),
    Instrument("ZF", "5-Year T-Note", "rates", 0.0078125, 7.8125, ("FVA",)),
    Instrument("ZN", "10-Year T-Note", "rates", 0.015625, 15.625, ("TYA",)),
    Instrument("TN", "Ultra 10-Year T-Note", "rates", 0.015625, 15.625, ("TNA",)),
    Instrument("ZB", "30-Year T-Bond", "rates", 0.03125, 31.25, ("USA",)),
    Instrument("UB", "Ultra T-Bond", "rates", 0.03125, 31.25, ("ULA",)),
    # FX
    Instrument("6E", "Euro FX", "fx", 0.00005, 6.25, ("EU6",)),
    Instrument("M6E", "Micro Euro FX", "fx", 0.0001, 1.25, micro=True),
    Instrument("6B", "British Pound", "fx", 0.0001, 6.25, ("BP6",)),
    Instrument("M6B", "Micro British Pound", "fx", 0.0001, 0.625, micro=True),
    Instrument("6J", "Japanese Yen", "fx", 0.0000005, 6.25, ("JY6",)),
    Instrument("6A", "Australian Dollar", "fx", 0.00005, 5.00, ("DA6",)),
    Instrument("M6A", "Micro Australian Dollar", "fx", 0.0001, 1.00, micro=True),
    Instrument("6C", "Canadian Dollar", "fx", 0.00005, 5.00, ("CA6",)),
    Instrument("6S", "Swiss Franc", "fx", 0.00005, 6.25, ("SF6",)),
    Instrument("6N", "New Zealand Dollar", "fx", 0.00005, 5.00, ("NE6",)),
    Instrument("6M", "Mexican Peso", "fx", 0.00001, 5.00, ("MX6",)),
    # Grains and livestock
    Instrument("ZC", "Corn", "grains", 0.25, 12.50, (), "HKNUZ"),
    Instrument("ZW", "Chicago SRW Wheat", "grains", 0.25, 12.50, (), "HKNUZ"),
    Instrument("ZS", "Soybeans", "grains", 0.25, 12.50, (), "FHKNQUX"),
    Instrument("ZM", "Soybean Meal", "grains", 0.10, 10.00, (), "FHKNQUVZ"),
    Instrument("ZL", "Soybean Oil", "grains", 0.01, 6.00, (), "FHKNQUVZ"),
    Instrument("HE", "Lean Hogs", "livestock", 0.025, 10.00, (), "GJKMNQVZ"),
    Instrument("LE", "Live Cattle", "livestock", 0.025, 10.00, (), "GJMQVZ"),
    # Crypto (CME)
    Instrument("MBT", "Micro Bitcoin", "crypto", 5.0, 0.50, (), _ALL_MONTHS, micro=True),
    Instrument("MET", "Micro Ether", "crypto", 0.50, 0.05, (), _ALL_MONTHS, micro=True),
)

#: Common symbol (upper case) -> instrument.
CATALOG: dict[str, Instrument] = {i.symbol: i for i in _INSTRUMENTS}
#: Any root seen in a contract id (upper case) -> instrument.
BY_ROOT: dict[str, Instrument] = {r: i for i in _INSTRUMENTS for r in i.all_roots}


@lru_cache(maxsize=8192)
def contract_root(contract_id: str) -> str:
    """The exchange root of a ProjectX contract id (``CON.F.US.EP.Z25`` -> ``EP``).

    Anything that is not a dotted contract id is taken as a root or symbol itself."""
    parts = contract_id.split(".")
    if len(parts) >= 4:
        return parts[3].upper()
    return contract_id.upper()


@lru_cache(maxsize=8192)
def symbol_of(contract_id: str) -> str:
    """The common name a trader uses for a contract id (``CON.F.US.ENQ.H26`` -> ``NQ``).

    Unknown roots are returned as they are, so they can still be matched and shown."""
    root = contract_root(contract_id)
    inst = BY_ROOT.get(root)
    return inst.symbol if inst else root


def instrument_for(contract_id_or_symbol: str) -> Instrument | None:
    return BY_ROOT.get(contract_root(contract_id_or_symbol))


@lru_cache(maxsize=8192)
def is_micro(contract_id_or_symbol: str) -> bool:
    """Whether the catalog marks the contract as a micro (MNQ, MES, M2K, MYM, MGC, MCL…)."""
    inst = instrument_for(contract_id_or_symbol)
    return inst is not None and inst.micro


@lru_cache(maxsize=8192)
def symbol_matches(pattern: str, contract_id: str) -> bool:
    """Shell-style, case-insensitive match of a user's symbol pattern against a contract.

    The pattern is tried against the common symbol and against the exchange root, so ``ES`` and
    ``EP`` both block the S&P contract, and ``CL*`` blocks CL (root CLE) but not MCL."""
    pat = pattern.strip().upper()
    return fnmatchcase(symbol_of(contract_id), pat) or fnmatchcase(contract_root(contract_id), pat)


def normalize_symbol(text: str) -> str:
    """A user-typed symbol or root in its common form (``ep`` -> ``ES``, ``mnq`` -> ``MNQ``)."""
    return symbol_of(text.strip())
